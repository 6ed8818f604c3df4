"""``steepest.compare``: several optimizers on the same data, to the same tolerance.

What ``steepest compare`` prints: each optimizer at its default learning rate (1/L, or
its own default) on the data set up once (``linear.setup``), one ``LinearFit`` each,
and the closed form they all aim at.
"""

import dataclasses
from typing import Any

import jax
import numpy as np

from .. import display, model, optimizers
from ..fit import MAX_STEPS, batches_per_epoch, budget_of, fit, scheduled
from ..history import frame
from ..io import records
from ..losses import mse
from ..model import Linear
from ..processes import Processes
from ..stopping import Status, default_rtol
from .linear import Problem, report, setup
from .render import Printed
from .report import LinearFit, learning_rate_source

DEFAULT_OPTIMIZERS = optimizers.COMPARED


@dataclasses.dataclass(frozen=True, repr=False)
class Comparison(Printed):
    """One ``LinearFit`` per optimizer, on the same data, beside the closed form.

    Attributes:
        fits: optimizer name -> its fit, in the order run.
        closed_form: the least-squares params every run aims at (original units).
        closed_form_loss: their cost.
        source: the data.
        rule: the stop rule in words (``rtol 1e-05``).
        tol, rtol: as given.
        optimizers: every optimizer asked for (``fits`` holds those that ran).
        interrupted: Ctrl-C stopped the comparison; the runs finished are kept.
    """

    fits: dict[str, LinearFit]
    closed_form: Linear
    closed_form_loss: float
    source: str
    rule: str
    tol: float | None
    rtol: float | None
    optimizers: tuple[str, ...]
    interrupted: bool = False

    @property
    def title(self) -> str:
        return f"steepest compare: {self.source}, {self.rule}"

    def rows(self) -> list[dict[str, Any]]:
        """One row per run: optimizer, learning rate, steps, status, certain digits, the
        distance to the closed form in original units, seconds."""
        rows = []
        for name, run in self.fits.items():
            distance = np.linalg.norm(model.flat(run.params) - model.flat(self.closed_form))
            rows.append(
                {
                    "optimizer": name,
                    "learning_rate": run.learning_rate,
                    "steps": run.steps,
                    "status": run.status.value,
                    "loss": run.loss,
                    "digits": None if run.certificate is None else run.certificate.digits,
                    "distance_to_closed_form": float(distance),
                    "seconds": run.seconds,
                }
            )
        return rows

    def to_dict(self) -> dict[str, Any]:
        """``steepest compare --json``'s record."""
        runs = [
            {**row, "params": records.params_to_dict(run.params)}
            for row, run in zip(self.rows(), self.fits.values(), strict=True)
        ]
        return {
            "data": self.source,
            "tol": self.tol,
            "rtol": self.rtol,
            "closed_form": records.params_to_dict(self.closed_form),
            "closed_form_loss": self.closed_form_loss,
            "runs": runs,
        }

    def to_frame(self) -> Any:
        """The runs as a pandas DataFrame, one row per optimizer."""
        rows = self.rows()
        return frame({key: [row[key] for row in rows] for key in (rows[0] if rows else {})})

    def curves(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """optimizer -> (steps, costs): the loss curves, for ``plots.loss_curves``."""
        return {name: (run.history.steps, run.history.costs) for name, run in self.fits.items()}

    def _cells(self) -> list[list[str]]:
        return [
            [
                row["optimizer"],
                f"{row['learning_rate']:.4g}",
                f"{row['steps']}",
                row["status"],
                "" if row["digits"] is None else f"{row['digits']}",
                f"{row['distance_to_closed_form']:.1e}",
                f"{row['seconds']:.4f}",
            ]
            for row in self.rows()
        ]

    COLUMNS = ("optimizer", "lr", "steps", "status", "certain digits", "|p - p*|", "seconds")

    def __rich__(self):
        from rich.console import Group
        from rich.table import Table

        table = Table(title=self.title)
        for column in self.COLUMNS:
            left = column in ("optimizer", "status")
            table.add_column(column, justify="left" if left else "right", no_wrap=left)
        for cells in self._cells():
            table.add_row(*cells)
        return Group(table, f"least-squares cost {self.closed_form_loss:.8g}")

    def _repr_html_(self) -> str:
        table = display.html_table(self._cells(), header=self.COLUMNS, caption=self.title)
        return f"{table}<p>least-squares cost {self.closed_form_loss:.8g}</p>"


def compare(
    data: Any = None,
    y: Any = None,
    *,
    x: list[str] | tuple[str, ...] | None = None,
    optimizers: tuple[str, ...] | list[str] = DEFAULT_OPTIMIZERS,
    intercept: bool = True,
    standardize: bool = True,
    max_steps: int = MAX_STEPS,
    tol: float | None = None,
    rtol: float | None = None,
    x64: bool = False,
    devices: int | str | None = None,
    batch_size: int | None = None,
    epochs: int | None = None,
    seed: int = 0,
    schedule=None,
) -> Comparison:
    """Fit the same data with each optimizer, each at its default learning rate, to the
    same tolerance: ``linear`` once per optimizer, the data set up once.

    Args:
        data, y, x: as ``linear``'s (default: the built-in dataset's three features).
        optimizers: names from ``steepest.optimizers.names()``, each run once, in order.
        the rest: as ``linear``'s.

    A Ctrl-C (or one while an optimizer's loop compiles) stops the comparison; the runs
    that finished are kept, and ``interrupted`` says so.

    Example:
        >>> import steepest
        >>> runs = steepest.compare(optimizers=["gd", "lbfgs"])
        >>> [run.status.value for run in runs.fits.values()]
        ['converged', 'converged']
    """
    from .. import optimizers as known

    names = list(dict.fromkeys(optimizers))  # in order, each once
    unknown = [name for name in names if name not in known.names()]
    if unknown:
        listed = ", ".join(known.names())
        raise ValueError(f"optimizers: unknown {', '.join(map(repr, unknown))}; known: {listed}")
    with jax.enable_x64(x64):
        problem = setup(
            data, y, x, intercept=intercept, standardize=standardize, x64=x64, devices=devices,
            processes=Processes.current(), builtin_x=None,
        )  # fmt: skip
        fits, interrupted = {}, False
        for name in names:
            try:
                fits[name] = _run(problem, name, max_steps, tol, rtol, batch_size, epochs, seed,
                                  schedule)  # fmt: skip
            except KeyboardInterrupt:  # while compiling: the runs finished so far are kept
                interrupted = True
                break
            if fits[name].status is Status.INTERRUPTED:  # Ctrl-C stops the comparison
                interrupted = True
                break
    dtype = np.float64 if x64 else np.float32
    assert problem.solution is not None  # set up with its closed form
    return Comparison(
        fits=fits,
        closed_form=problem.solution.params,
        closed_form_loss=problem.closed_form_loss,
        source=problem.ready.dataset.source,
        rule=stop_rule(tol, rtol, dtype),
        tol=tol,
        rtol=rtol,
        optimizers=tuple(names),
        interrupted=interrupted,
    )


def _run(problem: Problem, name, max_steps, tol, rtol, batch_size, epochs, seed, schedule):
    """One optimizer's ``LinearFit`` on the problem."""
    ready = problem.ready
    budget = budget_of(max_steps, batch_size, epochs)
    schedule = scheduled(schedule, budget, batches_per_epoch((ready.y,), batch_size))
    result = fit(
        mse, ready.start, ready.X, ready.y, optimizer=name, max_steps=max_steps, tol=tol,
        rtol=rtol, evaluate64=ready.evaluate64, batch_size=batch_size, epochs=epochs, seed=seed,
        schedule=schedule,
    )  # fmt: skip
    source = learning_rate_source(name, None, ready.X.shape[1], problem.intercept)
    return report(
        problem, result, optimizer=name, learning_rate_source=source, method="loop",
        batch_size=batch_size, schedule=schedule,
    )  # fmt: skip


def stop_rule(tol: float | None, rtol: float | None, dtype) -> str:
    """The stop rule in words, for titles.

    Example:
        >>> stop_rule(None, None, np.float32), stop_rule(1e-3, None, np.float32)
        ('rtol 1e-05', 'tol 0.001')
    """
    if tol is None and rtol is None:
        rtol = default_rtol(dtype)
    parts = [f"{name} {value:g}" for name, value in (("rtol", rtol), ("tol", tol))
             if value is not None]  # fmt: skip
    return " or ".join(parts)
