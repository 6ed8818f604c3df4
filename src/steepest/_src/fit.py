"""``fit``: minimize a loss with the compiled engine, and ``FitResult``, what it returns."""

import dataclasses
import inspect
import math
from collections.abc import Callable, Collection
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import blocks, optimizers, quadratic, theory
from .driver import Progress, drive
from .engine import Engine, LoopState, check_settings, equations_of, unroll_for
from .stopping import DIVERGENCE_FACTOR, Status, describe


@dataclasses.dataclass(frozen=True)
class FitResult:
    """The outcome of ``fit``.

    Attributes:
        params: the final parameters; for a diverged run, the last ones before
            the cost blew up (never NaN).
        losses: the cost history, the start included: ``losses[i]`` is the cost
            at step ``loss_steps[i]``, and ``losses[-1]`` the cost at ``params``.
        loss_steps: the steps of ``losses``: every step when ``max_steps`` is at
            most ``MAX_HISTORY`` (1e5), else every k-th, the last step always included.
        num_steps: the number of updates that led to ``params``.
        status: why the run stopped.
        message: the same, as a sentence with the numbers.
        grad_norm: the gradient's norm at ``params``.
        learning_rate: the learning rate used (None for a caller's own optimizer).
        seconds: wall time of the steps, compilation excluded.
        compile_seconds: wall time of tracing and compiling (near zero on reuse).
    """

    params: Any
    losses: np.ndarray
    loss_steps: np.ndarray
    num_steps: int
    status: Status
    message: str
    grad_norm: float
    learning_rate: float | None
    seconds: float
    compile_seconds: float

    @property
    def loss(self) -> float:
        """The cost at ``params``."""
        return float(self.losses[-1])

    @property
    def steps_per_second(self) -> float:
        return self.num_steps / self.seconds if self.seconds > 0 else math.inf

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
        finished = status in (Status.CONVERGED, Status.MAX_STEPS)
        num_steps = step if finished else step - 1
        stride = int(state.settings.stride)
        losses = np.asarray(state.history)[: num_steps // stride + 1]  # sliced on the host
        loss_steps = np.arange(len(losses)) * stride
        if loss_steps[-1] != num_steps:
            losses = np.append(losses, state.good_loss)
            loss_steps = np.append(loss_steps, num_steps)
        grad_norm = float(state.good_grad_norm)
        message = describe(
            status,
            num_steps=num_steps,
            grad_norm=grad_norm,
            tol=float(state.settings.tol),
            initial_loss=initial_loss,
            last_loss=float(state.loss),
            frozen=bool(state.frozen),
            dtype_name=str(state.history.dtype),
        )
        return cls(
            params=state.good_params,
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
    max_steps: int = 10_000,
    tol: float = 1e-5,
    divergence_factor: float = DIVERGENCE_FACTOR,
    on_chunk: Callable[[Progress], None] | None = None,
    method: str = "loop",
    tags: Collection = frozenset(),
    block_rows: int | str | None = "auto",
) -> FitResult:
    """Minimize ``loss(params, *data)`` by a compiled optimizer loop.

    Each step evaluates the cost and its gradient ``g`` (``jax.value_and_grad``)
    at the current params, then applies the optimizer's update; for ``"gd"``,
    the tutorial's rule ``params <- params - learning_rate * g``. The run stops
    when ``||g|| <= tol`` (converged), after ``max_steps`` updates, when the
    cost is not finite or has exploded (``has_diverged``; diverged), or on
    Ctrl-C (interrupted; what was reached is returned, and a second Ctrl-C
    raises ``KeyboardInterrupt`` at once).

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
        tol: the gradient-norm tolerance of the stopping rule.
        divergence_factor: how far the cost may rise above its start, in units
            of ``max(|start|, 1)``; ``math.inf`` leaves only non-finite costs.
        on_chunk: called with a ``Progress`` after each chunk of steps.
        method: ``"loop"`` evaluates ``loss`` and its gradient on the data at every
            step. ``"quadratic"``, for a loss exactly quadratic in its params (the
            mean squared error of a linear model, ridge), first takes its Hessian H
            and gradient g once by autodiff (one pass over the data), then steps
            with the gradient ``g + H (p - p0)``: O(d^2) a step whatever N is, the
            same iterates up to rounding. It refuses a loss that is not quadratic.
        tags: what the caller declares about the loss's structure, as optimistix
            and lineax take ``tags``: ``{steepest.row_mean_tag}`` says it is a mean
            over the rows of its data. ``mse``'s own tags are known already.
        block_rows: for a row-mean loss (see ``tags``), evaluate the cost and
            gradient as the weighted sum over blocks of this many rows, which
            reads the data from memory once per step; the same iterates up to
            rounding. ``"auto"`` picks blocks only where they were measured to
            pay off (data of 32 MB or more, on the CPU); None never uses them.
            The Hessian behind the default learning rate and the quadratic
            method follows the same setting.

    Returns:
        A ``FitResult``.

    Example:
        >>> import jax.numpy as jnp
        >>> from steepest import Linear, mse
        >>> X = jnp.array([0.0, 1.0, 2.0]); y = 2 * X + 1
        >>> result = fit(mse, Linear(jnp.zeros(1), jnp.array(0.0)), X, y, learning_rate=0.2)
        >>> result.status.value, [round(v, 3) for v in result.params.w.tolist()]
        ('converged', [2.0])
    """
    engine, state, learning_rate, data = _prepare(
        loss,
        params,
        data,
        optimizer=optimizer,
        learning_rate=learning_rate,
        max_steps=max_steps,
        tol=tol,
        divergence_factor=divergence_factor,
        method=method,
        tags=tags,
        block_rows=block_rows,
    )
    driven = drive(engine.run, state, data, max_steps, on_chunk)
    return FitResult.from_state(
        driven.state,
        learning_rate=learning_rate,
        seconds=driven.seconds,
        compile_seconds=driven.compile_seconds,
    )


def _prepare(
    loss, params, data, *, optimizer, learning_rate, max_steps, tol, divergence_factor, method,
    tags, block_rows,
) -> tuple[Engine, LoopState, float | None, tuple]:  # fmt: skip
    """What ``fit`` runs: the engine, its initial state, the learning rate, the data."""
    check_settings(max_steps, tol)
    if method not in ("loop", "quadratic"):
        raise ValueError(f"method must be 'loop' or 'quadratic', got {method!r}")
    rows_per_block = blocks.resolve_block_rows(block_rows, loss, data, tags)  # checks it first
    if method == "quadratic":
        if block_rows not in ("auto", None):
            raise ValueError(
                "block_rows applies to method='loop': the quadratic method reads the data once"
            )
        model = quadratic.quadratic_model(loss, params, *data, tags=tags, block_rows=block_rows)
        loss, data, rows_per_block = quadratic.quadratic_loss, model, None
    unroll = unroll_for(optimizer, data, equations_of(loss, params, *data))  # checks the loss
    learning_rate = _learning_rate(
        optimizer, learning_rate, loss, params, *data, block_rows=rows_per_block
    )
    engine = Engine(loss, optimizer, block_rows=rows_per_block, unroll=unroll)
    state = engine.init(
        params,
        *data,
        learning_rate=learning_rate,
        max_steps=max_steps,
        tol=tol,
        divergence_factor=divergence_factor,
    )
    return engine, state, learning_rate, tuple(data)


def _learning_rate(optimizer, learning_rate, loss, params, *data, block_rows=None):
    """The learning rate a run uses: as given, the optimizer's default, or 1/L.

    A caller's own transformation carries its rate: ``Engine.init`` refuses another.
    """
    if not isinstance(optimizer, str):
        return learning_rate
    optimizers.get(optimizer)  # an unknown name: the error that lists the known ones
    if learning_rate is None:
        learning_rate = optimizers.DEFAULT_LEARNING_RATES.get(optimizer)
    if learning_rate is None:
        curvature = theory.largest_eigenvalue(loss, params, *data, block_rows=block_rows)
        if not (math.isfinite(curvature) and curvature > 0):
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
        if name not in ("loss", "params", "data", "on_chunk")
    }
    engine, state, _, loop_data = _prepare(loss, params, data, **settings)
    loop_data = jax.tree.map(jnp.asarray, loop_data)
    compiled = engine.compiled(state, *loop_data)
    return {
        "data": blocks.size_in_bytes(data),
        "state": blocks.size_in_bytes(state),
        "temporary": int(compiled.memory_analysis().temp_size_in_bytes),
    }
