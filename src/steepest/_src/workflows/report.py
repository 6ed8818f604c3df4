"""``LinearFit``: the report of ``steepest.linear``, a table on every face and a record."""

import dataclasses
from typing import Any

import numpy as np

from .. import model, optimizers, theory
from ..fit import FitResult
from ..history import History, frame
from ..io.dataset import DataError
from ..io.standardizer import Standardizer
from ..least_squares import LeastSquares
from ..model import Linear
from ..stopping import Status
from . import render


@dataclasses.dataclass(frozen=True, repr=False)
class LinearFit(render.Printed):
    """What ``linear`` found: the fit in the data's original units, how sure it is, and
    the closed form beside it. Shown as a table (``print(fit)``, or a notebook's HTML);
    ``to_dict()`` is ``steepest fit --json``'s record, key for key.

    Attributes:
        params: the fitted ``Linear`` in original units (float64 NumPy; ``b`` None
            without an intercept).
        bounds: per coefficient, the certificate's bound on its distance to the exact
            least-squares answer, in original units (a ``Linear``); None without a
            certificate (streamed data).
        closed_form: the least-squares answer in float64 with its own error estimate
            (``theory.LeastSquares``); None for streamed data, or ``closed_form=False``.
        closed_form_loss: the cost at the closed form (None without one).
        result: the descent itself (``FitResult``), in the coordinates it ran in
            (standardized features, centered target).
        status: why the run stopped (``Status``: compares equal to its name).
        message: the same, as a sentence with the numbers.
        learning_rate: the rate used (None for an optax transformation, which carries its
            own); ``learning_rate_source`` says where it came from ("1/L", "given", "the
            default for lbfgs").
        optimizer, method, dtype: as run.
        intercept, standardized: the model and the coordinates of the descent.
        devices, processes: over how many the rows were split.
        batch_size, schedule: mini-batches and the learning-rate schedule, or None.
        source, rows, x_names, y_name: the data.
        streamed: ``{"chunks": ..., "chunk_rows": ...}`` for data read a chunk at a
            time, else None.
    """

    params: Linear
    bounds: Linear | None
    closed_form: LeastSquares | None
    closed_form_loss: float | None
    result: FitResult
    status: Status
    message: str
    learning_rate: float | None
    learning_rate_source: str
    optimizer: str
    method: str
    dtype: str
    intercept: bool
    standardized: bool
    devices: int
    processes: int
    batch_size: int | None
    schedule: optimizers.Schedule | None
    source: str
    rows: int
    x_names: tuple[str, ...]
    y_name: str
    streamed: dict | None = None

    @property
    def loss(self) -> float:
        """The cost at ``params`` in float64, on the data as read."""
        return self.result.loss

    @property
    def steps(self) -> int:
        """Updates (epochs, with mini-batches) that led to ``params``."""
        return self.result.num_steps

    @property
    def seconds(self) -> float:
        return self.result.seconds

    @property
    def compile_seconds(self) -> float:
        return self.result.compile_seconds

    @property
    def certificate(self):
        """The descent's ``Certificate`` (in its own coordinates), or None."""
        return self.result.certificate

    @property
    def warnings(self) -> tuple[str, ...]:
        return self.result.warnings

    @property
    def history(self) -> History:
        """The cost at each recorded step (epoch, with mini-batches): ``.to_frame()``."""
        unit = "step" if self.batch_size is None else "epoch"
        return History(self.result.loss_steps, self.result.losses, unit)

    @property
    def coef_(self) -> np.ndarray:
        """The weights in original units (scikit-learn's name)."""
        return np.asarray(self.params.w)

    @property
    def intercept_(self) -> float:
        """The intercept in original units, 0.0 without one (scikit-learn's name)."""
        return 0.0 if self.params.b is None else float(self.params.b)

    def predict(self, X) -> np.ndarray:
        """``X @ w + b`` in float64, for features in the original units (shape ``(N, d)``,
        or ``(N,)`` for one feature).

        Example:
            >>> import numpy as np, steepest
            >>> fit = steepest.linear(np.array([0.0, 1.0, 2.0]), np.array([1.0, 3.0, 5.0]))
            >>> fit.predict(np.array([3.0])).round(4).tolist()
            [7.0]
        """
        X = np.asarray(X, np.float64)
        X = X[:, None] if X.ndim == 1 else X
        return X @ self.coef_ + self.intercept_

    def score(self, X, y) -> float:
        """The coefficient of determination of ``predict(X)`` against ``y`` (scikit-learn's
        ``score``): ``1 - sum((y - predict(X))^2) / sum((y - mean(y))^2)``, in float64.

        Example:
            >>> import numpy as np, steepest
            >>> x = np.array([0.0, 1.0, 2.0, 3.0])
            >>> fit = steepest.linear(x, 2 * x + 1)
            >>> round(fit.score(x, 2 * x + 1), 6)
            1.0
        """
        y = np.asarray(y, np.float64)
        residual = y - self.predict(X)
        return float(1 - residual @ residual / np.sum((y - y.mean()) ** 2))

    def __rich__(self):
        return render.renderable(self)

    def _repr_html_(self) -> str:
        return render.to_html(self)

    def to_frame(self) -> Any:
        """The coefficients as a pandas DataFrame: ``parameter``, ``fitted``,
        ``certain_to``, ``closed_form``, ``difference`` (the table's columns)."""
        rows = render.coefficient_rows(self)
        return frame({key: [row[key] for row in rows] for key in rows[0]})

    def to_dict(self) -> dict[str, Any]:
        """The record of ``steepest fit --json``: plain numbers, lists and strings."""
        from ..io import records

        certificate = self.certificate
        solution = self.closed_form
        return {
            "params": records.params_to_dict(self.params),
            "loss": self.loss,
            "steps": self.steps,
            "status": self.status.value,
            "message": self.message,
            "seconds": self.seconds,
            "compile_seconds": self.compile_seconds,
            "certificate": None
            if certificate is None or self.bounds is None
            else certificate.to_dict(bounds=records.params_to_dict(self.bounds)),
            "warnings": list(self.warnings),
            "closed_form": None if solution is None else records.params_to_dict(solution.params),
            "closed_form_loss": self.closed_form_loss,
            "closed_form_error": None if solution is None else solution.relative_error,
            "closed_form_reliable": None if solution is None else solution.reliable,
            "closed_form_message": None if solution is None else solution.message,
            "intercept": self.intercept,
            "learning_rate": self.learning_rate,
            "learning_rate_source": self.learning_rate_source,
            "optimizer": self.optimizer,
            "method": self.method,
            "dtype": self.dtype,
            "devices": self.devices,
            "processes": self.processes,
            "batch_size": self.batch_size,
            "schedule": None if self.schedule is None else self.schedule._asdict(),
            "standardized": self.standardized,
            "streamed": self.streamed,
            "data": {
                "source": self.source,
                "rows": self.rows,
                "x": list(self.x_names),
                "y": self.y_name,
            },
            "loss_steps": self.result.loss_steps.tolist(),
            "losses": self.result.losses.tolist(),
        }


def learning_rate_source(
    optimizer, learning_rate: float | None, features: int, intercept: bool = True
) -> str:
    """Where the run's learning rate comes from, in the report's words; a DataError when
    the default ``1/L`` would need a Hessian too large to form (of ``features`` weights
    and the intercept).

    Example:
        >>> learning_rate_source("gd", None, 2), learning_rate_source("lbfgs", None, 2)
        ('1/L', 'the default for lbfgs')
    """
    if learning_rate is not None:
        return "given"
    if not isinstance(optimizer, str):
        return "the optax transformation's own"
    if optimizer in optimizers.DEFAULT_LEARNING_RATES:
        return f"the default for {optimizer}"
    if features + intercept > theory.MAX_DENSE_HESSIAN:
        raise DataError(
            f"--lr is needed for {features} features: the default 1/L takes the Hessian, "
            f"formed only up to {theory.MAX_DENSE_HESSIAN} parameters"
        )
    return "1/L"  # fit derives it


def optimizer_name(optimizer) -> str:
    """The optimizer's name in a record: its own, or that it is a caller's transformation."""
    return optimizer if isinstance(optimizer, str) else "custom (an optax transformation)"


def original_bounds(result: FitResult, standardizer: Standardizer, fitted: Linear, intercept: bool):
    """The certificate's per-coefficient bounds mapped to original units, or None."""
    if result.certificate is None:
        return None
    # Plus the float64 rounding of the map back to original units: a few ulps of each.
    mapped = result.certificate.bounds_of(standardizer.jacobian(intercept))
    flat = mapped + 8 * np.finfo(np.float64).eps * np.abs(model.flat(fitted))
    return Linear(w=flat[:-1], b=flat[-1]) if intercept else Linear(w=flat)
