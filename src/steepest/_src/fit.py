"""``fit``: minimize a loss with the compiled engine, and ``FitResult``, what it returns."""

import dataclasses
import functools
import inspect
import itertools
import math
import numbers
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import blocks, display, optimizers, quadratic, theory
from . import checkpoint as checkpoints
from .arguments import whole_number
from .certificate import (
    ROUNDING_FACTOR,
    Certificate,
    QuadraticCost,
    certify,
    quadratic_cost,
    rule_mu,
    value_and_grad64,
)
from .driver import Progress, drive
from .engine import (
    Engine,
    LoopState,
    RunSpec,
    check_settings,
    equations_of,
    step_block_rows,
    unroll_for,
    value_and_norm_dtypes,
)
from .history import History
from .losses import quadratic_tag, tags_of
from .processes import spans_processes
from .progress import ProgressBar
from .stopping import (
    DIVERGENCE_FACTOR,
    FLOAT64_HINT,
    STALL_PATIENCE,
    Status,
    describe,
    has_plateaued,
    steps_phrase,
)

MAX_STEPS = 10_000  # fit's default budget of updates (full batch)
DEFAULT_EPOCHS = 100  # and of epochs, with batch_size


@dataclasses.dataclass(frozen=True)
class FitResult:
    """The outcome of ``fit``.

    Attributes:
        params: the final parameters; for a diverged run, the last ones before
            the cost blew up (never NaN).
        loss: the cost at ``params``; from ``fit``, the loss itself evaluated there
            in float64, whatever the run's dtype and method.
        losses: the cost history in the run's dtype, the start included:
            ``losses[i]`` is the cost at step ``loss_steps[i]``.
        loss_steps: the steps of ``losses``: every step when ``max_steps`` is at
            most ``MAX_HISTORY`` (1e5), else every k-th, the last step always included.
        num_steps: the number of updates that led to ``params``.
        status: why the run stopped.
        message: the same, as a sentence with the numbers.
        grad_norm: the gradient's norm at ``params``.
        learning_rate: the learning rate used (None for a caller's own optimizer).
        seconds: wall time of the steps, compilation excluded.
        compile_seconds: wall time of tracing and compiling (near zero on reuse).
        certificate: for a cost quadratic in its params, the bound on the distance
            to the exact minimizer (``certificate.Certificate``); else None.
        warnings: what the caller should know beside the status: float64 inputs
            run in float32, data that do not determine the coefficients.
    """

    params: Any
    loss: float
    losses: np.ndarray
    loss_steps: np.ndarray
    num_steps: int
    status: Status
    message: str
    grad_norm: float
    learning_rate: float | None
    seconds: float
    compile_seconds: float
    certificate: Certificate | None = None
    warnings: tuple[str, ...] = ()

    @property
    def steps_per_second(self) -> float:
        return self.num_steps / self.seconds if self.seconds > 0 else math.inf

    @property
    def history(self) -> History:
        """The cost at each recorded step: ``.to_frame()`` for a pandas DataFrame."""
        return History(self.loss_steps, self.losses)

    def to_frame(self) -> Any:
        """The cost history as a pandas DataFrame (columns ``step``, ``cost``)."""
        return self.history.to_frame()

    def __repr__(self) -> str:
        return (
            f"FitResult(status={self.status.value!r}, steps={self.num_steps}, "
            f"loss={self.loss:.8g}, params={self.params!r}, message={self.message!r})"
        )

    def _repr_html_(self) -> str:
        params = display.html_table(
            self.params_rows(), header=("parameter", "shape", "fitted"), caption="steepest.fit"
        )
        return params + display.html_table(self.summary())

    def __rich__(self):
        from rich.console import Group
        from rich.table import Table

        params = Table()
        for column in ("parameter", "shape", "fitted"):
            params.add_column(column, justify="left" if column == "parameter" else "right")
        for row in self.params_rows():
            params.add_row(*row)
        summary = Table(show_header=False, box=None, padding=(0, 2))
        summary.add_column(style="bold")
        summary.add_column()
        for what, words in self.summary():
            summary.add_row(what, words)
        return Group(params, summary)

    def params_rows(self) -> list[tuple[str, str, str]]:
        """One row per leaf of the params: its path, its shape, its values (the first six)."""
        rows = []
        for path, leaf in jax.tree_util.tree_flatten_with_path(self.params)[0]:
            values = np.ravel(np.asarray(leaf, np.float64))
            shown = ", ".join(f"{value:.8g}" for value in values[:6])
            more = f", ... ({values.size} in all)" if values.size > 6 else ""
            rows.append((jax.tree_util.keystr(path) or "params", str(np.shape(leaf)), shown + more))
        return rows

    def summary(self) -> list[tuple[str, str]]:
        """(what, the words) of the result, as its table shows them."""
        rate = "-" if self.learning_rate is None else f"{self.learning_rate:.6g}"
        rows = [
            ("status", self.message),
            ("final cost", f"{self.loss:.8g}"),
            ("steps", f"{self.num_steps}"),
            ("gradient norm", f"{self.grad_norm:.3g}"),
            ("learning rate", rate),
            ("wall time", f"{self.seconds:.4f} s, plus {self.compile_seconds:.2f} s to compile"),
        ]
        return rows + [("warning", warning) for warning in self.warnings]

    def to_dict(self) -> dict[str, Any]:
        """The result as plain data (for JSON): the params as nested lists (a ``Linear``
        as ``{"w": [...], "b": ...}``), the certificate's numbers, the history."""
        proof = self.certificate
        return {
            "params": display.plain(self.params),
            "loss": self.loss,
            "steps": self.num_steps,
            "status": self.status.value,
            "message": self.message,
            "grad_norm": self.grad_norm,
            "learning_rate": self.learning_rate,
            "seconds": self.seconds,
            "compile_seconds": self.compile_seconds,
            "certificate": None if proof is None else proof.to_dict(),
            "warnings": list(self.warnings),
            "loss_steps": self.loss_steps.tolist(),
            "losses": self.losses.tolist(),
        }

    @classmethod
    def from_state(
        cls,
        state: LoopState,
        *,
        learning_rate: float | None,
        seconds: float,
        compile_seconds: float,
    ) -> "FitResult":
        """The result of a run that ``drive`` stopped, from its final (host or device) state.

        Raises:
            ValueError: when the cost is not finite at the start: nothing to descend.
        """
        step = int(state.step)
        code = Status.of_code(state.status)
        initial_loss = float(state.initial_loss)
        if code is Status.DIVERGED and step == 0:
            raise ValueError(
                f"the cost at the initial params is {initial_loss} in {state.loss.dtype}; "
                "nothing to descend"
            )
        # A state still running was interrupted (Ctrl-C between chunks).
        status = Status.INTERRUPTED if code is Status.RUNNING else code
        # Diverged and interrupted runs return the iterate before `step`: the last evaluated
        # one that did not diverge (an interrupted loop stops between an update and its cost).
        finished = status in (Status.CONVERGED, Status.MAX_STEPS, Status.STALLED)
        num_steps = step if finished else step - 1
        stride = int(state.settings.stride)
        losses = np.asarray(state.history)[: num_steps // stride + 1]  # sliced on the host
        loss_steps = np.arange(len(losses)) * stride
        if loss_steps[-1] != num_steps:
            losses = np.append(losses, state.good_loss)
            loss_steps = np.append(loss_steps, num_steps)
        grad_norm = float(state.good_grad_norm)
        settings = state.settings
        message = describe(
            status,
            num_steps=num_steps,
            grad_norm=grad_norm,
            tol=float(settings.tol),
            rtol=float(settings.rtol),
            mu=float(settings.mu),
            initial_grad_norm=float(state.initial_grad_norm),
            initial_loss=initial_loss,
            last_loss=float(state.loss),
            dtype_name=str(state.history.dtype),
            plateau=_plateau(int(state.steps_since_best), step, int(settings.patience)),
        )
        return cls(
            params=state.good_params,
            loss=float(losses[-1]),
            losses=losses,
            loss_steps=loss_steps,
            num_steps=num_steps,
            status=status,
            message=message,
            grad_norm=grad_norm,
            learning_rate=learning_rate,
            seconds=seconds,
            compile_seconds=compile_seconds,
        )


def fit(
    loss: Callable,
    params,
    *data,
    optimizer: str | optax.GradientTransformation = "gd",
    learning_rate: float | None = None,
    max_steps: int = MAX_STEPS,
    tol: float | None = None,
    rtol: float | None = None,
    divergence_factor: float = DIVERGENCE_FACTOR,
    on_chunk: Callable[[Progress], None] | None = None,
    progress: bool = False,
    method: str = "loop",
    tags: Collection = frozenset(),
    block_rows: int | str | None = "auto",
    certificate: bool = True,
    stall_patience: int | None = STALL_PATIENCE,
    evaluate64: Callable | None = None,
    batch_size: int | None = None,
    epochs: int | None = None,
    seed: int = 0,
    schedule: optimizers.Schedule | None = None,
    batch_shards: int | None = None,
    checkpoint: checkpoints.Checkpoint | str | Path | None = None,
    resume: str | Path | None = None,
) -> FitResult:
    """Minimize ``loss(params, *data)`` by a compiled optimizer loop, and certify the result.

    Each step evaluates the cost and its gradient ``g`` (``jax.value_and_grad``)
    at the current params, then applies the optimizer's update; for ``"gd"``,
    the tutorial's rule ``params <- params - learning_rate * g``. The run stops
    when the stop rule holds (converged), when an update changes nothing
    (stalled), after ``max_steps`` updates, when the cost is not finite or has
    exploded (``has_diverged``; diverged), or on Ctrl-C (interrupted; what was
    reached is returned, and a second Ctrl-C raises ``KeyboardInterrupt`` at once).

    The stop rule is scale-free by default. For a cost quadratic in its params
    (``mse``, ridge: whatever ``method="quadratic"`` accepts), ``fit`` takes the
    Hessian's smallest eigenvalue ``mu`` once, in float64, and stops when
    ``||g|| / mu <= rtol * ||params||``: the params are then within ``rtol`` of the
    exact minimizer, relative to their size. For other costs it stops when
    ``||g|| <= rtol * ||g_0||``. ``tol`` adds the absolute rule ``||g|| <= tol``
    (given alone, it is the only rule).

    After the run, the cost and gradient are evaluated in float64 at the final
    params. For a quadratic cost they give ``result.certificate``: a bound on
    the distance to the exact minimizer, per parameter too. Then ``converged``
    means that the certificate meets ``rtol`` (whichever rule stopped the
    loop); at float64's rounding floor short of ``rtol`` the run reports
    ``stalled`` (no step could certify more), and a loop whose rule held but
    whose certificate falls short reports ``imprecise``, as does a quadratic
    cost with no certificate at all. When the condition number exceeds ``1/eps`` of the run's
    dtype, the message and ``warnings`` say that the data do not determine the
    coefficients to that precision.

    Args:
        loss: a differentiable function ``loss(params, *data) -> scalar``.
        params: the starting point, any pytree of arrays.
        *data: the remaining arguments of ``loss`` (e.g. ``X, y``).
        optimizer: a name from ``steepest.optimizers.names()``, or any
            ``optax.GradientTransformation`` (then ``learning_rate`` must be None).
        learning_rate: the step size. When None with a named optimizer: the
            optimizer's entry in ``optimizers.DEFAULT_LEARNING_RATES`` (1 for
            L-BFGS, whose line search sets the step), else ``1 / L``, with ``L``
            the largest eigenvalue of the Hessian of ``loss`` at the starting
            point (the safe step for gradient descent on a quadratic; a rough
            default for adaptive optimizers).
        max_steps: the most updates to apply.
        tol: the absolute gradient-norm tolerance; None: not used.
        rtol: the relative tolerance of the scale-free rule, and the precision
            the certificate must meet. None: ``stopping.default_rtol`` of the
            run's dtype (1e-5 in float32, 1e-10 in float64), unless ``tol`` is given.
        divergence_factor: how far the cost may rise above its start, in units
            of ``max(|start|, 1)``; ``math.inf`` leaves only non-finite costs.
        on_chunk: called with a ``Progress`` after each chunk of steps.
        progress: show a progress bar on stderr for a run longer than a second.
        method: ``"loop"`` evaluates ``loss`` and its gradient on the data at every
            step. ``"quadratic"``, for a loss exactly quadratic in its params (the
            mean squared error of a linear model, ridge), first takes its Hessian H
            and gradient g once by autodiff (one pass over the data), then steps
            with the gradient ``g + H (p - p0)``: O(d^2) a step whatever N is, the
            same iterates up to rounding. It refuses a loss that is not quadratic.
            With ``certificate``, H and g are the certificate's, computed in
            float64 and rounded to the params' dtype: no pass over the data beyond
            the certificate's.
        tags: what the caller declares about the loss's structure, as optimistix
            and lineax take ``tags``: ``{steepest.row_mean_tag}`` says it is a mean
            over the rows of its data. ``mse``'s own tags are known already.
        block_rows: for a row-mean loss (see ``tags``), evaluate the cost and
            gradient as the weighted sum over blocks of this many rows, which
            reads the data from memory once per step; the same iterates up to
            rounding. ``"auto"``: on the CPU, for data of 24 MB or more, blocks of
            about 4 MB in the Hessian and the float64 evaluations, and in the loop
            where they are sure to pay (one core, or a value over the rows that one
            pass would hold of a quarter of the data or more: the residual at d <= 3,
            a network's activations); elsewhere the loop reads the data in one pass,
            steadier on several cores. None never uses them; a number of rows is
            used in all of these (with ``method="loop"``).
        certificate: False skips the float64 Hessian (one pass over the data at
            the start) and the certificate; the rule is then the one without ``mu``.
        evaluate64: ``evaluate64(params) -> (cost, flat gradient)``, both float64: how
            the final cost and the certificate's gradient are evaluated. By default,
            ``loss`` on ``data`` in float64; pass one that reads the data as they were
            before rounding to the run's dtype to certify against those (the CLI does).
        stall_patience: a run stalls after an update that changes no parameter
            and leaves the optimizer's state as it was, or after this many such
            updates in a row (``has_stalled``). None: never stall, so that the run
            takes every step it may (a benchmark of a fixed number of steps).
        batch_size: rows per mini-batch, for a loss that is a mean over the rows of its
            data (``tags``): each step is then an epoch, one update per batch of rows
            in an order shuffled from ``seed`` every epoch (``minibatch``), all inside
            the compiled loop; the stop rules are checked on the whole data at each
            epoch's end, and ``num_steps`` counts epochs. None: full batch.
        epochs: with ``batch_size``, the most epochs to run (default
            ``DEFAULT_EPOCHS``); ``max_steps`` is for full batch.
        seed: the seed of the rows' order in the epochs; the same seed, the same run.
        schedule: a learning-rate schedule for a named optimizer
            (``optimizers.Schedule``: cosine, exponential, warmup-cosine), over updates.
        batch_shards: with ``batch_size``, draw each batch as this many equal shares,
            one from each of as many equal ranges of rows (``minibatch.batch_rows``).
            On data split over devices (``steepest.data.shard``) that is the device
            count, and the default: each device draws its share from its own rows and
            the devices' gradients are summed once per update (data-parallel). Give the
            device count on one device to take the same steps as the split run.
        checkpoint: save the loop state whole into this folder as the run goes (a
            ``Checkpoint``, which says how often; a folder: every 60 seconds) and when
            it stops, Ctrl-C included (``checkpoint``; needs ``steepest[checkpoint]``).
        resume: go on from the state saved last in this folder, by a run with the same
            settings and data: the steps are those the run would have taken unbroken,
            bit for bit on a CPU.

    Returns:
        A ``FitResult``.

    Example:
        >>> import jax.numpy as jnp
        >>> from steepest import Linear, mse
        >>> X = jnp.array([0.0, 1.0, 2.0]); y = 2 * X + 1
        >>> result = fit(mse, Linear(jnp.zeros(1), jnp.array(0.0)), X, y, learning_rate=0.2)
        >>> result.status.value, [round(v, 3) for v in result.params.w.tolist()]
        ('converged', [2.0])
        >>> result.certificate.digits >= 5
        True
    """
    check_arguments(params, optimizer, max_steps)
    check_data(data)
    budget = step_budget(loss, data, tags, method, max_steps, batch_size, epochs)
    check_batch_shards(batch_shards, batch_size, blocks.num_rows(data))
    schedule = scheduled(schedule, budget, batches_per_epoch(data, batch_size))
    warnings = _float64_inputs(loss, params, data)
    engine, state, learning_rate, loop_data, cost = _prepare(
        loss,
        params,
        data,
        optimizer=optimizer,
        learning_rate=learning_rate,
        max_steps=budget,
        tol=tol,
        rtol=rtol,
        divergence_factor=divergence_factor,
        method=method,
        tags=tags,
        block_rows=block_rows,
        certificate=certificate,
        stall_patience=stall_patience,
        batch_size=batch_size,
        seed=seed,
        schedule=schedule,
        batch_shards=batch_shards,
    )
    target = float(state.settings.rtol)
    saver, state, resumed_at = checkpoints.prepared(
        checkpoint, resume, engine, state, learning_rate, loop_data
    )
    if progress:
        with ProgressBar(budget, enabled=True) as bar:
            driven = drive(engine.run, state, loop_data, budget, _both(bar.update, on_chunk), saver)
    else:  # nothing to call between chunks but the caller's
        driven = drive(engine.run, state, loop_data, budget, on_chunk, saver)
    try:
        result = FitResult.from_state(
            driven.state,
            learning_rate=learning_rate,
            seconds=driven.seconds,
            compile_seconds=driven.compile_seconds,
        )
    except ValueError:  # a cost not finite at the start: NaN data, if that is why
        check_data(data, on_device=True)
        raise
    callers_evaluate64 = evaluate64 is not None
    if evaluate64 is None:
        rows_per_block = blocks.resolve_block_rows(block_rows, loss, data, tags)

        def evaluate64(params):
            return value_and_grad64(loss, params, *data, block_rows=rows_per_block)

    # A caller's evaluate64 may be on other data (the data as read, of which the loop has
    # a float32 copy): the start's model is then checked only against fit's own.
    declared = quadratic_tag in tags_of(loss, tags) or callers_evaluate64
    result = checked(result, evaluate64, cost, rtol=target, warnings=warnings, declared=declared)
    if resumed_at is not None:
        note = f"resumed at step {resumed_at:,} from {resume}"
        result = dataclasses.replace(result, message=f"{result.message} ({note})")
    if batch_size is None:
        return result
    rows = blocks.num_rows(data)
    assert rows is not None, "step_budget checked that the data share their rows"
    full_batches, rest = divmod(rows, batch_size)
    last = f" (the last of {rest:,})" if rest else ""
    return with_epoch_message(result, full_batches + bool(rest), batch_size, last)


def cuts_epochs(batch_size) -> bool:
    """Whether ``batch_size`` cuts an epoch into batches: a whole number of at least 1
    (another one, but None, is named by ``step_budget``).

    Example:
        >>> cuts_epochs(32), cuts_epochs(None), cuts_epochs(0)
        (True, False, False)
    """
    return isinstance(batch_size, numbers.Integral) and int(batch_size) >= 1


def batches_per_epoch(data, batch_size: int | None) -> int | None:
    """Updates an epoch of mini-batches of ``batch_size`` rows makes; None for full batch
    (or a batch size, or data without rows, that ``step_budget`` refuses)."""
    rows = blocks.num_rows(data)
    if rows is None or batch_size is None or not cuts_epochs(batch_size):
        return None
    return -(-rows // int(batch_size))


def _both(first: Callable, second: Callable | None) -> Callable:
    """``first``, then ``second`` when there is one: two listeners to the chunks of a run."""
    if second is None:
        return first

    def both(progress: Progress) -> None:
        first(progress)
        second(progress)

    return both


def with_epoch_message(result: FitResult, updates: int, batch_size: int, detail: str) -> FitResult:
    """``result`` with its message saying what a step was: an epoch of ``updates`` updates
    on batches of ``batch_size`` rows, then ``detail``."""
    epoch = f"a step is an epoch: {updates:,} updates, on batches of {batch_size:,} rows{detail}"
    return dataclasses.replace(result, message=f"{result.message} ({epoch})")


def step_budget(loss, data, tags, method, max_steps, batch_size, epochs, rows=None) -> int:
    """The loop's budget of steps: ``max_steps`` updates, or with ``batch_size`` ``epochs``
    (checked, with what mini-batches need: a row-mean loss on data that share their rows).
    ``rows``: the data's rows when ``data`` does not hold them (read a chunk at a time).

    Example:
        >>> import numpy as np
        >>> from steepest import mse
        >>> data = (np.zeros((10, 2)), np.zeros(10))
        >>> step_budget(mse, data, (), "loop", MAX_STEPS, 4, None)  # epochs
        100
        >>> step_budget(mse, data, (), "loop", 50, None, None)  # updates
        50
    """
    if batch_size is None:
        if epochs is not None:
            raise ValueError("epochs applies with batch_size (full batch: max_steps)")
        return max_steps
    if max_steps != MAX_STEPS:
        raise ValueError("with batch_size the budget is epochs, not max_steps")
    if method != "loop":
        raise ValueError("batch_size applies to method='loop'")
    if rows is None:
        rows = blocks.require_row_mean("batch_size", loss, tags, data)
    whole_number("batch_size", batch_size, 1, rows)
    return whole_number("epochs", DEFAULT_EPOCHS if epochs is None else epochs, 0)


def check_batch_shards(batch_shards, batch_size: int | None, rows: int | None) -> None:
    """A ValueError for ``batch_shards`` without ``batch_size``, or shares that do not
    split the ``rows`` evenly (``Engine`` checks that they split the batch).

    Example:
        >>> check_batch_shards(4, 8, 100)
        >>> check_batch_shards(3, 9, 100)
        Traceback (most recent call last):
        ...
        ValueError: batch_shards 3 does not split the 100 rows evenly: give a divisor of 100
    """
    if batch_shards is None:
        return
    if batch_size is None:
        raise ValueError("batch_shards applies with batch_size (full batch has no batches)")
    batch_shards = whole_number("batch_shards", batch_shards, 1)
    if rows is not None and rows % batch_shards:
        raise ValueError(
            f"batch_shards {batch_shards} does not split the {rows:,} rows evenly: "
            f"give a divisor of {rows:,}"
        )


def budget_of(max_steps: int, batch_size: int | None, epochs: int | None) -> int:
    """The loop's budget before it is checked (``step_budget`` checks it): ``max_steps``
    updates, or with ``batch_size`` ``epochs`` (default ``DEFAULT_EPOCHS``).

    Example:
        >>> budget_of(500, None, None), budget_of(500, 32, None), budget_of(500, 32, 7)
        (500, 100, 7)
    """
    if batch_size is None:
        return max_steps
    return DEFAULT_EPOCHS if epochs is None else epochs


def scheduled(schedule, budget: int, updates_per_epoch: int | None):
    """``schedule`` over the run's updates where its ``steps`` is None: ``budget`` updates,
    or ``budget`` epochs of ``updates_per_epoch`` (mini-batches).

    Example:
        >>> scheduled(optimizers.Schedule("cosine"), 5, 4).steps  # 5 epochs of 4 batches
        20
    """
    if schedule is None:
        return None
    return schedule.over(budget * (updates_per_epoch or 1))


def check_arguments(params, optimizer, max_steps) -> None:
    """A ValueError naming the argument, for what would otherwise fail deep inside JAX.

    Example:
        >>> check_arguments({}, "gd", 10)
        Traceback (most recent call last):
        ...
        ValueError: params holds no array: nothing to fit (got {})
    """
    leaves = jax.tree.leaves(params)
    if not leaves:
        raise ValueError(f"params holds no array: nothing to fit (got {params!r})")
    paths = jax.tree_util.tree_flatten_with_path(params)[0]
    for path, leaf in paths:
        dtype = jnp.result_type(leaf)
        if not jnp.issubdtype(dtype, jnp.floating):
            where = jax.tree_util.keystr(path) or "params"
            raise ValueError(
                f"params{where if where != 'params' else ''} is {dtype}: the params must be "
                "floating-point arrays (gradients of integers are zero)"
            )
    if not isinstance(optimizer, str) and not isinstance(optimizer, optax.GradientTransformation):
        raise ValueError(
            "optimizer must be a name from steepest.optimizers.names() or an "
            f"optax.GradientTransformation, got {optimizer!r}"
        )
    if isinstance(max_steps, bool) or not isinstance(max_steps, numbers.Integral):
        raise ValueError(f"max_steps must be a whole number, got {max_steps!r}")
    if any(isinstance(leaf, jax.core.Tracer) for leaf in leaves):
        raise _traced("params")


def check_data(data, *, on_device: bool = False) -> None:
    """A ValueError naming the data argument (counted from 1, after params) that ``fit``
    cannot take: a traced value (``fit`` inside ``jax.jit``), a list of Python numbers
    (to JAX a pytree of scalars, not an array), or a value that is NaN or infinite.

    NumPy's arrays are checked on the host; JAX's only ``on_device`` (a reduction
    compiled for each new shape, 0.15-0.2 s on a CPU: ``fit`` asks for it only once the
    cost or the curvature at the start came out not finite, to say why).

    Example:
        >>> check_data((np.array([1.0, np.nan]),))
        Traceback (most recent call last):
        ...
        ValueError: data argument 1 holds NaN or infinity (first at index (1,))
    """
    for number, argument in enumerate(data, start=1):
        leaves = jax.tree.leaves(argument)
        if any(isinstance(leaf, jax.core.Tracer) for leaf in leaves):
            raise _traced(f"data argument {number}")
        if isinstance(argument, list) and all(isinstance(v, numbers.Number) for v in leaves):
            raise ValueError(
                f"data argument {number} is a list of numbers: pass an array (np.asarray(...))"
            )
        for leaf in leaves:
            if isinstance(leaf, jax.Array) and not on_device:
                continue
            if (problem := _leaf_problem(leaf)) is not None:
                raise ValueError(f"data argument {number} {problem}")


def _traced(what: str) -> ValueError:
    """The error for traced ``what``: ``fit`` called inside a JAX transformation."""
    return ValueError(
        f"{what} is traced: fit was called inside jax.jit, vmap or grad; it runs its own "
        "compiled loop and reads its result on the host: call it outside (for many runs "
        "at once, steepest.sweep)"
    )


def _leaf_problem(leaf) -> str | None:
    """What ``fit`` cannot take in one data leaf, in words, else None: NaN or infinity
    (its first index), or a NumPy float64 value beyond float32, in which JAX runs it
    without x64. NumPy's are checked on the host, as they are (no copy to the device).

    Example:
        >>> _leaf_problem(np.array([[1.0, 2.0], [np.inf, 0.0]]))
        'holds NaN or infinity (first at index (1, 0))'
    """
    if isinstance(leaf, jax.Array):
        if not jnp.issubdtype(leaf.dtype, jnp.inexact) or bool(jnp.all(jnp.isfinite(leaf))):
            return None
        if not leaf.is_fully_addressable:  # rows on other processes: no index here
            return "holds NaN or infinity"
        values = np.asarray(leaf)
    else:
        values = np.asarray(leaf)
        if values.dtype.kind not in "fc":
            return None
        if np.all(np.isfinite(values)):
            runs_in = jax.dtypes.canonicalize_dtype(values.dtype)  # float32 without x64
            if values.size and runs_in != values.dtype:
                largest = float(np.max(np.abs(values)))
                if largest > float(np.finfo(runs_in).max):
                    return (
                        f"holds a value of magnitude {largest:.3g}, beyond {runs_in.name}, in "
                        "which JAX runs it without x64 (jax.config.update('jax_enable_x64', "
                        "True), or scale the data)"
                    )
            return None
    first = np.argwhere(~np.isfinite(values))[0]
    return f"holds NaN or infinity (first at index {tuple(int(i) for i in first)})"


def checked(result: FitResult, evaluate64, cost, *, rtol, warnings, declared) -> FitResult:
    """``result`` with its cost evaluated in float64, its certificate, and the verdict.
    ``declared``: the loss is tagged ``quadratic_tag``, or ``evaluate64`` is the caller's
    (on other data, maybe): the start's quadratic model is not checked at the final params."""
    value, gradient = evaluate64(result.params)
    params = result.params
    flat = np.concatenate([np.ravel(leaf) for leaf in jax.tree.leaves(params)] or [np.zeros(0)])
    proof = None
    not_quadratic: tuple[str, ...] = ()
    if cost is not None and not declared and not cost.predicts(flat, value, gradient):
        # Quadratic near the start only (Huber's loss, a squared hinge): no certificate.
        not_quadratic = (
            "no digit is certified: the quadratic model formed at the start misses the cost "
            "at the final params, so the cost is not (provably) quadratic over the run; tag "
            "a loss quadratic everywhere with steepest.quadratic_tag",
        )
        cost = None
    if cost is not None:
        proof = certify(
            cost, flat, value=value, gradient=gradient, unravel=lambda b: _like(params, b)
        )
    status, message = _verdict(result, proof, rtol)
    if status is Status.CONVERGED and not np.all(np.isfinite(flat)):
        status = Status.IMPRECISE
        message = f"imprecise after {steps_phrase(result.num_steps)}: a parameter is not finite"
    if not_quadratic and status is Status.CONVERGED:
        # The loop's rule took its mu from the start's curvature, which the cost did not keep.
        status = Status.IMPRECISE
        message = (
            f"imprecise after {steps_phrase(result.num_steps)}: the stop rule held with the "
            "curvature at the start"
        )
    for note in not_quadratic:
        message += f"; {note}"
    warnings += not_quadratic
    dtype = result.losses.dtype
    limit = 1 / float(np.finfo(dtype).eps)  # a Python float: a float32 would overflow the test
    if cost is not None and proof is None and status is Status.CONVERGED:
        # A quadratic cost whose smallest eigenvalue is lost in rounding: the gradient's
        # rule held, but it says nothing about the params (they can be off by 100%).
        status = Status.IMPRECISE
        message = (
            f"imprecise after {steps_phrase(result.num_steps)}: the stop rule held in {dtype}, "
            "but no digit of the coefficients can be certified"
        )
    if (
        cost is None
        and status is Status.CONVERGED
        and _falls_along_the_params(evaluate64, params, value)
    ):
        status = Status.IMPRECISE
        message = (
            f"imprecise after {steps_phrase(result.num_steps)}: the stop rule held, but the "
            "cost has no minimizer at finite params: it still falls along the params' own "
            "direction (lower at 2x and 4x the params), so they would grow without bound "
            "(separable classes? add a penalty, such as ridge's)"
        )
    if cost is not None and not cost.condition_number <= limit:
        why = (
            f"the Hessian's condition number {display.compact(cost.condition_number)} exceeds "
            f"1/eps = {display.compact(limit)}"
            if cost.mu > 0
            else f"the Hessian's smallest eigenvalue, {cost.eigenvalues[0]:.3g}, is within "
            f"its rounding error, {cost.noise:.2g}"
        )
        undetermined = f"the data do not determine the coefficients to {dtype} precision: {why}"
        warnings += (undetermined,)
        message += f"; {undetermined}"
    return dataclasses.replace(
        result,
        loss=float(value),
        status=status,
        message=message,
        certificate=proof,
        warnings=warnings,
    )


def _plateau(steps_since_best: int, step: int, patience: int) -> int:
    """The steps without progress of a run the plateau rule stopped (``has_plateaued``),
    else 0."""
    return steps_since_best if has_plateaued(steps_since_best, step, patience) else 0


def _falls_along_the_params(evaluate64, params, value: float) -> bool:
    """Whether the float64 cost at ``params`` (``value``) falls on along their own direction,
    at 2x and 4x the params, each beyond rounding: at a minimizer it would rise (convexity),
    so the params a stop rule accepted are on the way to a minimum at infinity (separable
    logistic regression). False for params of norm 0."""
    if not any(np.any(np.asarray(leaf) != 0) for leaf in jax.tree.leaves(params)):
        return False
    as_float64 = jax.tree.map(lambda leaf: np.asarray(leaf, np.float64), params)
    values = [value]
    for factor in (2.0, 4.0):
        scaled = jax.tree.map(functools.partial(np.multiply, factor), as_float64)
        values.append(float(evaluate64(scaled)[0]))
    eps = float(np.finfo(np.float64).eps)
    return all(
        np.isfinite(lower) and lower < higher - ROUNDING_FACTOR * eps * abs(higher)
        for higher, lower in itertools.pairwise(values)
    )


def _verdict(result: FitResult, proof: Certificate | None, rtol: float) -> tuple[Status, str]:
    """The final status and message: ``converged`` when the certificate meets ``rtol``,
    whichever rule stopped the loop; ``stalled`` when it does not but the float64 gradient
    is within its own rounding (no step can certify more); ``imprecise`` when the loop's
    rule held but the certificate falls short. With ``tol`` alone (``rtol`` 0) the absolute
    rule decides, and the certificate is reported beside it."""
    status, message = result.status, result.message
    if proof is None or status is Status.DIVERGED:
        return status, message
    steps = steps_phrase(result.num_steps)
    if rtol > 0 and status in (Status.CONVERGED, Status.STALLED, Status.MAX_STEPS):
        if proof.meets(rtol):
            return Status.CONVERGED, f"converged after {steps}: {proof.sentence()}"
        if proof.at_floor:  # further steps cannot certify more: a stall, whatever the rule said
            return Status.STALLED, (
                f"stalled after {steps}: the float64 gradient is within its own rounding "
                f"error, so nothing more can be certified: {proof.sentence()}, short of rtol "
                f"{rtol:.3g} (rescaled features, or the closed form, may do better)"
            )
        if status is Status.CONVERGED:
            dtype = result.losses.dtype
            further = "" if dtype == np.float64 else f"; {FLOAT64_HINT} to go further"
            return Status.IMPRECISE, (
                f"imprecise after {steps}: the stop rule held in {dtype}, but "
                f"{proof.sentence()}, short of rtol {rtol:.3g}{further}"
            )
    return status, f"{message}; {proof.sentence()}"


def _like(params, flat: np.ndarray):
    """``flat`` cut into float64 NumPy leaves of the shapes of ``params``' leaves."""
    leaves, treedef = jax.tree.flatten(params)
    sizes = np.cumsum([np.size(leaf) for leaf in leaves])[:-1]
    pieces = np.split(flat, sizes)
    return jax.tree.unflatten(
        treedef,
        [np.reshape(piece, np.shape(leaf)) for piece, leaf in zip(pieces, leaves, strict=True)],
    )


def _float64_inputs(loss, params, data) -> tuple[str, ...]:
    """A warning naming the float64 inputs when x64 is off: they ran in float32."""
    if jax.config.read("jax_enable_x64"):
        return ()
    try:
        parameters = list(inspect.signature(loss).parameters.values())[1:]
    except (TypeError, ValueError):
        parameters = []
    names = []
    for parameter in parameters:
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            break
        names.append(parameter.name)
    names += [f"data[{i}]" for i in range(len(names), len(data))]
    found = [
        name
        for name, tree in [("params", params), *zip(names, data, strict=False)]
        if any(getattr(leaf, "dtype", None) == np.float64 for leaf in jax.tree.leaves(tree))
    ]
    if not found:
        return ()
    return (
        f"{', '.join(found)} {'is' if len(found) == 1 else 'are'} float64 but x64 is off: "
        "the run was in float32 (run under `with jax.enable_x64(True):` for float64)",
    )


def _prepare(
    loss, params, data, *, optimizer, learning_rate, max_steps, tol, rtol, divergence_factor,
    method, tags, block_rows, certificate=True, stall_patience=STALL_PATIENCE,
    batch_size=None, seed=0, schedule=None, batch_shards=None,
) -> tuple[Engine, LoopState, float | None, tuple, QuadraticCost | None]:  # fmt: skip
    """What ``fit`` runs: the engine, its initial state, the learning rate, the data, and
    the float64 Hessian of a quadratic cost (None for another cost, or without ``certificate``)."""
    check_settings(max_steps, tol, rtol)
    if method not in ("loop", "quadratic"):
        raise ValueError(f"method must be 'loop' or 'quadratic', got {method!r}")
    rows_per_block = blocks.resolve_block_rows(block_rows, loss, data, tags)  # checks it first
    try:
        unroll_equations = equations_of(loss, params, *data)  # checks the loss
    except TypeError as error:  # shapes or types that do not go together, from JAX
        raise ValueError(
            f"the loss cannot be evaluated at these params and data: {error}"
        ) from error
    cost = (
        quadratic_cost(loss, params, *data, tags=tags, block_rows=block_rows)
        if certificate
        else None
    )
    if method == "quadratic":
        if block_rows not in ("auto", None):
            raise ValueError(
                "block_rows applies to method='loop': the quadratic method reads the data once"
            )
        if cost is not None and not spans_processes(data):  # no second pass over the data
            model = cost.model(params, value_and_norm_dtypes(loss, params, *data)[0])
        else:  # made from data that span processes, the model spans them too: the
            # driver then keeps the processes in step
            model = quadratic.quadratic_model(loss, params, *data, tags=tags, block_rows=block_rows)
        loss, data, rows_per_block = quadratic.quadratic_loss, model, None
        unroll_equations = equations_of(loss, params, *data)
    # The loop's own blocks (the Hessian behind 1/L keeps rows_per_block).
    step_rows = rows_per_block
    if method == "loop":
        step_rows = step_block_rows(block_rows, loss, params, data, tags)
    unroll = unroll_for(optimizer, data, unroll_equations, batch_size, max_steps=max_steps)
    largest = cost.L if cost is not None else None
    learning_rate = resolve_learning_rate(
        optimizer, learning_rate, loss, params, *data, block_rows=rows_per_block, largest=largest
    )
    spec = RunSpec(
        loss, optimizer, learning_rate=learning_rate, max_steps=max_steps, tol=tol, rtol=rtol,
        mu=rule_mu(cost), divergence_factor=divergence_factor, stall_patience=stall_patience,
        seed=seed, block_rows=step_rows, unroll=unroll, sharding=blocks.row_sharding(data),
        batch_size=batch_size, schedule=schedule, batch_shards=batch_shards,
    )  # fmt: skip
    return spec.engine, spec.init(params, *data), learning_rate, tuple(data), cost


def resolve_learning_rate(
    optimizer, learning_rate, loss, params, *data, block_rows=None, largest=None
):
    """The learning rate a run uses: as given, the optimizer's default, or 1/L
    (``largest``, when known, is L).

    A caller's own transformation carries its rate: ``Engine.init`` refuses another.
    """
    if learning_rate is not None and (
        isinstance(learning_rate, bool) or not isinstance(learning_rate, numbers.Real)
    ):
        numeric = np.issubdtype(np.asarray(learning_rate).dtype, np.number)
        if np.ndim(learning_rate) != 0 or not numeric:
            raise ValueError(
                f"learning_rate must be a number, got {type(learning_rate).__name__} "
                f"{learning_rate!r}"
            )
        learning_rate = float(learning_rate)  # a 0-d array, NumPy's or JAX's
    if not isinstance(optimizer, str):
        return learning_rate
    optimizers.get(optimizer)  # an unknown name: the error that lists the known ones
    if learning_rate is None:
        learning_rate = optimizers.DEFAULT_LEARNING_RATES.get(optimizer)
    if learning_rate is None:
        try:
            curvature = (
                largest
                if largest is not None
                else theory.largest_eigenvalue(loss, params, *data, block_rows=block_rows)
            )
        except ValueError as error:  # too many parameters for the dense Hessian
            raise ValueError(f"no default learning rate: {error}; pass learning_rate") from error
        if not (math.isfinite(curvature) and curvature > 0):
            check_data(data, on_device=True)  # NaN data, if that is why
            raise ValueError(
                f"no default learning rate: the largest eigenvalue of the Hessian at the "
                f"start is {curvature:.6g}, not a positive number; pass learning_rate"
            )
        learning_rate = 1.0 / curvature
    if not (math.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(f"learning_rate must be a positive number, got {learning_rate}")
    return float(learning_rate)


def memory(loss: Callable, params, *data, **options) -> dict[str, int]:
    """Bytes of device memory a ``fit`` with these arguments uses, from XLA's plan.

    ``data``: the bytes of ``data``. ``state``: the loop state (params, optimizer
    state, loss history), which is donated, so updated in place. ``temporary``:
    XLA's scratch memory while the compiled loop runs. Peak use is about
    ``data + state + temporary``. ``options`` are ``fit``'s keywords. (With
    ``method="quadratic"`` the loop runs on the quadratic model, of O(d^2) bytes;
    forming it is one more pass over the data, in blocks where ``fit`` uses them.)

    Example:
        >>> import jax.numpy as jnp
        >>> from steepest import Linear, mse
        >>> X = jnp.zeros((100_000, 4)); y = jnp.zeros(100_000)
        >>> plan = memory(mse, Linear(jnp.zeros(4), jnp.array(0.0)), X, y, learning_rate=0.1)
        >>> plan["data"], plan["temporary"] < plan["data"]
        (2000000, True)
    """
    arguments = inspect.signature(fit).bind(loss, params, *data, **options)
    arguments.apply_defaults()
    settings = {
        name: value
        for name, value in arguments.arguments.items()
        if name
        not in (
            "loss", "params", "data", "on_chunk", "progress", "evaluate64", "epochs",
            "checkpoint", "resume",
        )
    }  # fmt: skip
    settings["max_steps"] = step_budget(
        loss, data, settings["tags"], settings["method"], settings["max_steps"],
        settings["batch_size"], arguments.arguments["epochs"],
    )  # fmt: skip
    settings["schedule"] = scheduled(
        settings["schedule"], settings["max_steps"], batches_per_epoch(data, settings["batch_size"])
    )
    engine, state, _, loop_data, _ = _prepare(loss, params, data, **settings)
    loop_data = jax.tree.map(jnp.asarray, loop_data)
    compiled = engine.compiled(state, *loop_data)
    return {
        "data": blocks.size_in_bytes(data),
        "state": blocks.size_in_bytes(state),
        "temporary": int(compiled.memory_analysis().temp_size_in_bytes),
    }
