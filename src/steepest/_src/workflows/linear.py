"""``steepest.linear``: the tutorial's problem as one call, returning a ``LinearFit``.

Load (or take) the data, standardize the features, fit ``y ≈ X w + b`` by a compiled
descent on the mean squared error, map the answer back to the original units, set it
beside the closed-form least-squares answer (with its own error), and bound each
coefficient by the certificate. ``steepest fit`` is this call, rendered.
"""

import dataclasses
import math
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np
import optax

from .. import model, optimizers, theory
from ..checkpoint import Checkpoint
from ..fit import MAX_STEPS, FitResult, batches_per_epoch, budget_of, fit, scheduled
from ..interrupts import Interrupts
from ..io.dataset import DataError
from ..io.tables import BUILTIN_DEFAULT_X, dataset_of
from ..least_squares import LeastSquares, closed_form_cost, cost_rounding, least_squares
from ..losses import mse
from ..model import Linear
from ..processes import Processes
from ..stopping import Status, steps_phrase
from .prepared import Prepared, prepare
from .report import LinearFit, learning_rate_source, optimizer_name, original_bounds
from .streamed import linear_streamed


def linear(
    data: Any = None,
    y: Any = None,
    *,
    x: list[str] | tuple[str, ...] | None = None,
    intercept: bool = True,
    standardize: bool = True,
    optimizer: str | optax.GradientTransformation = "gd",
    learning_rate: float | None = None,
    max_steps: int = MAX_STEPS,
    tol: float | None = None,
    rtol: float | None = None,
    method: str = "loop",
    x64: bool = False,
    devices: int | str | None = None,
    batch_size: int | None = None,
    epochs: int | None = None,
    seed: int = 0,
    schedule: optimizers.Schedule | None = None,
    stream: bool = False,
    closed_form: bool = True,
    progress: bool = False,
    batch_shards: int | None = None,
    checkpoint: Checkpoint | str | Path | None = None,
    resume: str | Path | None = None,
) -> LinearFit:
    """Fit ``y ≈ X w + b`` by gradient descent on the mean squared error, certified, in the
    data's original units, beside the closed form: what ``steepest fit`` prints.

    The features are standardized first (``standardize``; the target centered), which
    makes the Hessian of the cost well conditioned; the default learning rate is
    ``1/L`` of that Hessian (for one feature, Newton's step). The answer is mapped back
    to the original units, with a bound on each coefficient's distance to the exact
    least-squares answer (``bounds``) from the certificate, and the closed form, solved
    in float64, beside it with its own error.

    Args:
        data: the built-in dataset (None), a file path (``.csv``, ``.npy``, ``.npz``,
            ``.parquet``), a pandas or polars DataFrame, a mapping of column name to
            array, a ``Dataset``, or an array ``X`` of features (then ``y`` is the
            array of targets).
        y: the target column's name (default: the last column), or the targets.
        x: the feature columns by name (default: every other column; for the built-in
            dataset, ``radio``).
        intercept: fit ``b``; False fits ``y ≈ X w`` through the origin (the features
            are then scaled, not centered).
        standardize: descend on standardized features (False: on the raw ones).
        optimizer: a name from ``steepest.optimizers.names()`` or an optax
            transformation (with its own rate).
        learning_rate: the step size (default: ``1/L``, or the optimizer's own default).
        max_steps, tol, rtol, method, batch_size, epochs, seed, schedule: as ``fit``'s.
        x64: run in float64 (default float32); the certificate and the closed form are
            float64 either way.
        devices: split the rows over this many local devices (``"all"``: every one).
        stream: read the file ``data`` (``.npy`` or ``.parquet``) a chunk of rows at a
            time, never all in memory (``fit_stream``): certified alike, no closed form.
        closed_form: solve the closed form beside the descent (False: skip it, a float64
            QR of the whole design with refinement, on big data most of the time; the
            certificate stays).
        progress: show a progress bar on stderr for a run longer than a second.
        batch_shards: as ``fit``'s: each batch drawn as that many equal shares of as
            many ranges of rows (default: the devices the rows are split over).
        checkpoint, resume: as ``fit``'s: save the descent's state as it goes, and go
            on from a saved one (in memory only).

    In a run of several processes (``jax.distributed``), every process makes the same
    call: each reads only its own rows of a ``.npy`` or ``.parquet`` file, or keeps its
    own rows of data in memory, and every process returns the same report.

    Returns:
        A ``LinearFit``.

    Raises:
        DataError: bad data (named by file, row and column) or settings that do not go
            together (named by argument).

    Example:
        >>> import steepest
        >>> fit = steepest.linear()  # the built-in dataset: sales ~ radio
        >>> fit.status == "converged", fit.x_names, round(float(fit.params.w[0]), 4)
        (True, ('radio',), 0.2399)
        >>> fit.to_dict()["closed_form"]["b"] == float(fit.closed_form.params.b)
        True
    """
    with jax.enable_x64(x64):
        processes = Processes.current()
        if stream:
            if batch_shards is not None:
                raise DataError(
                    "--batch-shards applies in memory: a stream's batches end with their chunk"
                )
            if checkpoint is not None or resume is not None:
                raise DataError("--checkpoint and --resume apply in memory, not with --stream yet")
            return linear_streamed(
                data, y, x=x, intercept=intercept, standardize=standardize,
                optimizer=optimizer, learning_rate=learning_rate, max_steps=max_steps,
                tol=tol, rtol=rtol, method=method, x64=x64, devices=devices,
                batch_size=batch_size, epochs=epochs, seed=seed, schedule=schedule,
                progress=progress, processes=processes,
            )  # fmt: skip
        problem = setup(
            data, y, x, intercept=intercept, standardize=standardize, x64=x64,
            devices=devices, processes=processes, solve=closed_form,
        )  # fmt: skip
        ready = problem.ready
        if not intercept and not _any_nonzero(ready.dataset.X, problem.processes):
            raise DataError(
                f"{ready.dataset.source}: every feature is 0 in every row and there is no "
                "intercept: the cost does not depend on the coefficients, nothing to fit"
            )
        source = learning_rate_source(optimizer, learning_rate, ready.X.shape[1], intercept)
        budget = budget_of(max_steps, batch_size, epochs)
        schedule = scheduled(schedule, budget, batches_per_epoch((ready.y,), batch_size))
        result = fit(
            mse, ready.start, ready.X, ready.y, optimizer=optimizer, learning_rate=learning_rate,
            max_steps=max_steps, tol=tol, rtol=rtol, progress=progress, method=method,
            evaluate64=ready.evaluate64, batch_size=batch_size, epochs=epochs, seed=seed,
            schedule=schedule, batch_shards=batch_shards, checkpoint=checkpoint, resume=resume,
        )  # fmt: skip
        return report(
            problem, result, optimizer=optimizer, learning_rate_source=source, method=method,
            batch_size=batch_size, schedule=schedule,
        )  # fmt: skip


class Problem(NamedTuple):
    """The tutorial's problem set up once, for one descent or several (``compare``): the
    data made ready (``prepare``), the closed form and its cost, the processes."""

    ready: Prepared
    solution: LeastSquares | None  # None: not solved (solve=False)
    closed_form_loss: float
    intercept: bool
    standardized: bool
    processes: Processes


def setup(
    data, y, x, *, intercept: bool, standardize: bool, x64: bool, devices, processes: Processes,
    builtin_x=BUILTIN_DEFAULT_X, solve: bool = True,
) -> Problem:  # fmt: skip
    """The data read, standardized and placed, and (``solve``) the closed form solved
    beside them (call under ``jax.enable_x64(x64)``)."""
    dataset = dataset_of(data, y, x, builtin_x=builtin_x, processes=processes)
    Interrupts.check()  # a Ctrl-C during the load that a callback swallowed
    ready = prepare(
        dataset,
        standardize=standardize,
        intercept=intercept,
        dtype=np.float64 if x64 else np.float32,
        devices=devices,
        processes=processes,
    )
    if not solve:
        return Problem(ready, None, math.nan, intercept, standardize, processes)
    across = processes.many
    solution = least_squares(dataset.X, dataset.y, fit_intercept=intercept, across_processes=across)
    exact_loss = closed_form_cost(solution.params, dataset.X, dataset.y, across_processes=across)
    return Problem(ready, solution, float(exact_loss), intercept, standardize, processes)


def report(
    problem: Problem, result: FitResult, *, optimizer, learning_rate_source: str, method: str,
    batch_size: int | None, schedule,
) -> LinearFit:  # fmt: skip
    """The ``LinearFit`` of a descent on ``problem``: the result mapped to original units,
    bounded, beside the closed form."""
    ready, processes, dataset = problem.ready, problem.processes, problem.ready.dataset
    with np.errstate(over="ignore"):  # an overflow is reported, in words, below
        fitted = ready.standardizer.to_original(result.params)
    if result.status is Status.CONVERGED and not np.all(np.isfinite(model.flat(fitted))):
        result = dataclasses.replace(result, status=Status.IMPRECISE, message=(
            f"imprecise after {steps_phrase(result.num_steps)}: the coefficients, mapped back "
            "to the data's units, overflow float64; rescale the features"
        ))  # fmt: skip
    certified = result.certificate is not None
    if result.status is Status.CONVERGED and certified and problem.solution is not None:
        result = _checked_against_the_closed_form(problem, result, fitted)
    message = result.message
    if result.status is Status.DIVERGED:
        message += _critical_rate(learning_rate_source, result.learning_rate, batch_size, ready)
    return LinearFit(
        params=fitted,
        bounds=original_bounds(result, ready.standardizer, fitted, problem.intercept),
        closed_form=problem.solution,
        closed_form_loss=None if problem.solution is None else problem.closed_form_loss,
        result=result,
        status=result.status,
        message=message,
        learning_rate=result.learning_rate,
        learning_rate_source=learning_rate_source,
        optimizer=optimizer_name(optimizer),
        method=method,
        dtype=np.dtype(ready.X.dtype).name,
        intercept=problem.intercept,
        standardized=problem.standardized,
        devices=len(ready.X.devices()),
        processes=processes.count,
        batch_size=batch_size,
        schedule=schedule,
        source=dataset.source,
        rows=int(processes.sum(len(dataset.y))),
        x_names=dataset.x_names,
        y_name=dataset.y_name,
    )


def _checked_against_the_closed_form(problem: Problem, result: FitResult, fitted: Linear):
    """``result`` (converged, certified), imprecise when its float64 cost exceeds the
    closed form's by more than the two costs' rounding (``cost_rounding``) and the
    excess its certificate allows.

    No params cost less than the minimizer, and the closed form's cost is at least the
    minimum, whatever its own accuracy; a certified fit's excess is at most
    ``g . (p - p*) / 2 <= (||g|| + rounding) distance / 2``. More than that, and the
    certificate is wrong. (A fit with no certificate claims no digit: its excess, up to
    ``||g||^2 / (2 mu)``, is no contradiction.)
    """
    ready, solution = problem.ready, problem.solution
    assert solution is not None, "checked only beside a closed form"
    dataset, across = ready.dataset, problem.processes.many
    standardizer = ready.standardizer
    # The standardized evaluation shifts x by its mean and y by its own (Standardizer).
    means = float(np.abs(standardizer.mean) @ np.abs(fitted.w))
    shift = 2 * (means + abs(standardizer.target_mean))
    allowance = cost_rounding(
        fitted, dataset.X, dataset.y, result.loss, offset=shift, across_processes=across
    ) + cost_rounding(
        solution.params, dataset.X, dataset.y, problem.closed_form_loss, across_processes=across
    )  # fmt: skip
    proof = result.certificate
    assert proof is not None, "checked only with a certificate"
    allowance += (proof.gradient_norm + proof.rounding) * proof.distance / 2
    excess = result.loss - problem.closed_form_loss
    if not excess > allowance:
        return result
    message = (
        f"imprecise after {steps_phrase(result.num_steps)}: the stop rule held, but the cost "
        f"{result.loss:.10g} is above the closed form's {problem.closed_form_loss:.10g} by "
        f"{excess:.2g}, more than rounding and the certificate allow ({allowance:.2g}): the "
        "fit is not at the minimizer"
    )
    return dataclasses.replace(result, status=Status.IMPRECISE, message=message)


def _any_nonzero(X, processes: Processes) -> bool:
    """Whether any feature of any process's rows is not 0 (every process decides alike)."""
    return bool(processes.max(np.array([float(np.any(X))]))[0])


def _critical_rate(source: str, learning_rate, batch_size, ready) -> str:
    """What a diverged run is told of 2/L, the rate above which full-batch descent
    diverges."""
    if learning_rate is None:  # an optax transformation's own rate: not known here
        return " (its learning rate is the optax transformation's own)"
    used = f"this run used {learning_rate:.6g}"
    if batch_size is not None:  # 2/L is the limit of full-batch descent only
        return (
            f" ({used}; with mini-batches the stable rate depends on the curvature of each "
            "batch, often well below 1/L)"
        )
    if source == "1/L":
        critical = 2 * learning_rate
    elif ready.X.shape[1] + 1 <= theory.MAX_DENSE_HESSIAN:
        critical = theory.critical_learning_rate(mse, ready.start, ready.X, ready.y)
    else:
        return f" ({used}; 2/L is not computed above {theory.MAX_DENSE_HESSIAN} parameters)"
    return f" (critical learning rate 2/L = {critical:.6g}; {used})"
