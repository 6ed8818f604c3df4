"""The compiled loop: ``fit``, its stopping rules and ``FitResult``.

One compiled call runs a chunk of steps inside ``lax.while_loop`` (loss and
gradient, the stopping rules, the optimizer update, the loss history), so the
host touches the device only between chunks: to time them, to report progress
and to honour Ctrl-C. The learning rate, the tolerance, max_steps and the chunk's
end are traced arguments and the loss history has a fixed size; a second ``fit``
with other values, or other data of the same shape, reuses the compiled loop.
"""

import dataclasses
import enum
import functools
import inspect
import math
import signal
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import blocks, optimizers, theory

# A cost that rises more than this many times max(|start|, 1) above its start counts as diverged.
DIVERGENCE_FACTOR = 1e8
# The host aims for chunks of about this many seconds: short enough for a live
# progress bar and a prompt Ctrl-C, long enough that the sync between chunks is noise.
CHUNK_SECONDS = 0.2
# The loss history keeps at most this many entries (every k-th step on longer runs), so
# that memory does not grow with max_steps and a new max_steps does not recompile.
MAX_HISTORY = 100_000
# Small problems take UNROLL steps per trip of the compiled loop, which halves the loop's
# overhead (1.0 -> 0.6 us a step at N = 200 on a 2-core CPU). Not for a line search
# (L-BFGS) nor a large cost (a deep net: 126 operations, against 13 for mse): their
# compile time grows several-fold, and their steps are slow anyway.
UNROLL = 8
UNROLL_MAX_DATA_BYTES = 256 * 2**10
UNROLL_MAX_EQUATIONS = 64
_NOT_UNROLLED = frozenset({"lbfgs"})
# The step counter is int32 on every backend.
MAX_STEPS_LIMIT = 2**31 - 2


class Status(enum.Enum):
    """Why a fit stopped."""

    CONVERGED = "converged"
    MAX_STEPS = "max_steps"
    DIVERGED = "diverged"
    INTERRUPTED = "interrupted"


# Status codes as the compiled loop carries them; RUNNING means "not stopped yet".
_RUNNING, _CONVERGED, _MAX_STEPS, _DIVERGED = 0, 1, 2, 3


def has_converged(grad_norm: jax.Array, tol: jax.Array) -> jax.Array:
    """The stopping rule: the gradient's Euclidean norm (over all leaves) is at most ``tol``.

    Example:
        >>> bool(has_converged(jnp.float32(1e-7), jnp.float32(1e-6)))
        True
    """
    return grad_norm <= tol


def has_diverged(loss: jax.Array, initial_loss: jax.Array, factor: float) -> jax.Array:
    """The divergence rule: the cost is not finite, or has exploded above its start.

    Exploded means ``loss - initial_loss > factor * max(|initial_loss|, 1)``: relative
    to the start for costs of size 1 or more, absolute below that, so that a cost
    starting near zero (a warm start) or below zero is not flagged by a small rise.

    Example:
        >>> bool(has_diverged(jnp.float32(jnp.nan), jnp.float32(1.0), 1e8))
        True
        >>> bool(has_diverged(jnp.float32(2e8), jnp.float32(1.0), 1e8))
        True
        >>> bool(has_diverged(jnp.float32(5.0), jnp.float32(1.0), 1e8))
        False
        >>> bool(has_diverged(jnp.float32(0.5), jnp.float32(1e-12), 1e8))  # a warm start
        False
    """
    scale = jnp.maximum(jnp.abs(initial_loss), 1.0)
    return ~jnp.isfinite(loss) | (loss - initial_loss > factor * scale)


class Progress(NamedTuple):
    """What ``fit`` reports to its ``on_chunk`` callback after each chunk of steps.

    ``loss`` and ``grad_norm`` are those of the last iterate evaluated that did not diverge.
    """

    step: int
    max_steps: int
    loss: float
    grad_norm: float
    seconds: float


@dataclasses.dataclass(frozen=True)
class FitResult:
    """The outcome of ``fit``.

    Attributes:
        params: the final parameters; for a diverged run, the last ones before
            the cost blew up (never NaN).
        losses: the cost history, the start included: ``losses[i]`` is the cost
            at step ``loss_steps[i]``, and ``losses[-1]`` the cost at ``params``.
        loss_steps: the steps of ``losses``: every step when ``max_steps`` is at
            most ``MAX_HISTORY``, else every k-th, the last step always included.
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


class _LoopState(NamedTuple):
    params: Any  # the current iterate, number `step`; its cost may not be evaluated yet
    opt_state: Any
    step: jax.Array
    status: jax.Array
    loss: jax.Array  # the cost last evaluated
    initial_loss: jax.Array
    # The last evaluated iterate that did not diverge: what a stopped run returns.
    good_params: Any
    good_loss: jax.Array
    good_grad_norm: jax.Array
    frozen: jax.Array  # the last update left every parameter exactly as it was
    # history[i] is the cost at step i * stride; the last slot takes the other steps' writes.
    history: jax.Array


@functools.lru_cache(maxsize=64)  # bounded: each entry holds a loss closure and its executables
def _compiled_chunk(
    loss: Callable,
    transformation: optax.GradientTransformation,
    batched: bool = False,
    block_rows: int | None = None,
    unroll: int = 1,
):
    """The jitted chunk runner of one (loss, optimizer) pair, cached so jit's own cache applies.

    ``batched``: the runner takes a stack of loop states (one per learning rate, say)
    and runs them side by side, ``jax.vmap`` over the states with the data shared.
    ``block_rows``: evaluate the cost and gradient in blocks of rows (``blocks``).
    ``unroll``: steps per trip of the while_loop (``unroll_for``).
    """
    value_and_grad = blocks.value_and_grad(loss, block_rows)
    # Line searches (L-BFGS) need the value and a value function; others ignore them.
    transformation = optax.with_extra_args_support(transformation)

    def run_chunk(state: _LoopState, chunk_end, max_steps, stride, tol, divergence_factor, data):
        def not_done(s: _LoopState):
            return (s.status == _RUNNING) & (s.step < chunk_end)

        def one_step(s: _LoopState) -> _LoopState:
            value, grad = value_and_grad(s.params, *data)
            grad_norm = optax.tree_utils.tree_norm(grad)
            # Kept apart from the history: reading the buffer in the loop makes XLA copy it.
            initial = jnp.where(s.step == 0, value, s.initial_loss)
            diverged = has_diverged(value, initial, divergence_factor)
            status = jnp.select(
                [diverged, has_converged(grad_norm, tol), s.step >= max_steps],
                [_DIVERGED, _CONVERGED, _MAX_STEPS],
                _RUNNING,
            )
            stepped, opt_state = _update(
                transformation, loss, data, s.params, s.opt_state, value, grad
            )
            unchanged = jax.tree.map(lambda new, old: jnp.all(new == old), stepped, s.params)
            frozen = jnp.all(jnp.stack(jax.tree.leaves(unchanged)))
            running = status == _RUNNING
            slot = jnp.where(s.step % stride == 0, s.step // stride, s.history.shape[0] - 1)

            def pick(condition, new, old):
                return jax.tree.map(lambda a, b: jnp.where(condition, a, b), new, old)

            return _LoopState(
                params=pick(running, stepped, s.params),
                opt_state=pick(running, opt_state, s.opt_state),
                step=s.step + running.astype(s.step.dtype),
                status=status.astype(s.status.dtype),
                loss=value,
                initial_loss=initial,
                good_params=pick(diverged, s.good_params, s.params),
                good_loss=jnp.where(diverged, s.good_loss, value),
                good_grad_norm=jnp.where(diverged, s.good_grad_norm, grad_norm),
                frozen=frozen,
                history=s.history.at[slot].set(value),
            )

        def steps(s: _LoopState) -> _LoopState:
            # Unrolled: a state that stops is held from then on (`pick`), so the steps
            # after a stop change nothing. A trip may run past chunk_end (by up to
            # unroll - 1 real steps): chunks only pace the host, max_steps is enforced
            # at each step.
            for _ in range(unroll):
                s = one_step(s)
            return s

        if not batched:
            return jax.lax.while_loop(not_done, steps, state)
        # Side by side: one loop steps every state until none is running. A stopped state
        # is stepped too, and stays as it was: its params, optimizer state and step are
        # held (see `pick`), so it recomputes the same cost and status. (vmap of the
        # while_loop itself would select the whole state, the loss history included,
        # lane by lane at every step: a copy of the history per step.)
        return jax.lax.while_loop(lambda s: jnp.any(jax.vmap(not_done)(s)), jax.vmap(steps), state)

    return jax.jit(run_chunk, donate_argnums=0)


def _update(transformation, loss, data, params, opt_state, value, grad):
    """One optimizer step: the new params and optimizer state.

    Every optimizer gets ``value``, ``grad`` and ``value_fn`` as extra arguments:
    line searches (L-BFGS) need them, the others ignore them.
    """
    updates, opt_state = transformation.update(
        grad, opt_state, params, value=value, grad=grad, value_fn=lambda p: loss(p, *data)
    )
    return optax.apply_updates(params, updates), opt_state


class _InterruptFlag:
    """Turns Ctrl-C (SIGINT) into a flag that the host loop checks between chunks.

    A second Ctrl-C restores the previous handler and raises ``KeyboardInterrupt``
    at once, for when waiting for the chunk to end is not wanted.
    """

    def __init__(self):
        self.raised = False
        self._installed = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def _handle(self, signum, frame):
        if self.raised:
            self._restore()
            raise KeyboardInterrupt
        self.raised = True

    def _restore(self):
        if self._installed:
            # None means a handler not installed from Python; Python's default stands in.
            previous = signal.default_int_handler if self._previous is None else self._previous
            signal.signal(signal.SIGINT, previous)
            self._installed = False

    def __exit__(self, *exc):
        self._restore()


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
        block_rows: for a loss marked ``@row_mean`` (``mse`` is), evaluate the cost
            and gradient as the weighted sum over blocks of this many rows, which
            reads the data from memory once per step (``steepest.blocks``);
            the same iterates up to rounding. ``"auto"`` picks blocks only where
            they were measured to pay off (data of 32 MB or more, on the CPU);
            None never uses them. The Hessian behind the default learning rate
            and the quadratic method follows the same setting.

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
    setup = _setup(
        loss,
        params,
        data,
        optimizer,
        learning_rate,
        max_steps,
        tol,
        divergence_factor,
        method,
        block_rows,
    )
    state, run_seconds, compile_seconds = _drive(
        setup.run_chunk, setup.state, setup.settings, setup.data, max_steps, on_chunk
    )
    return _result(state, setup.stride, setup.learning_rate, tol, run_seconds, compile_seconds)


class _Setup(NamedTuple):
    run_chunk: Callable
    state: _LoopState
    settings: tuple
    data: tuple
    stride: int
    learning_rate: float | None


def _setup(
    loss,
    params,
    data,
    optimizer,
    learning_rate,
    max_steps,
    tol,
    divergence_factor,
    method,
    block_rows,
) -> _Setup:
    """What ``fit`` runs: the chunk runner, the initial loop state, its settings, the data."""
    _check_settings(max_steps, tol)
    if method not in ("loop", "quadratic"):
        raise ValueError(f"method must be 'loop' or 'quadratic', got {method!r}")
    rows_per_block = blocks.resolve_block_rows(block_rows, loss, data)  # checks it first
    if method == "quadratic":
        if block_rows not in ("auto", None):
            raise ValueError(
                "block_rows applies to method='loop': the quadratic method reads the data once"
            )
        model = theory.quadratic_model(loss, params, *data, block_rows=rows_per_block)
        loss, data, rows_per_block = theory.quadratic_loss, model, None
    shape = _step_shape(loss, params, *data)
    transformation, learning_rate = _resolve_optimizer(
        optimizer, learning_rate, loss, params, *data, block_rows=rows_per_block
    )
    run_chunk = _compiled_chunk(
        loss,
        transformation,
        block_rows=rows_per_block,
        unroll=unroll_for(optimizer, data, shape.equations),
    )
    opt_state = transformation.init(params)
    if isinstance(optimizer, str):
        opt_state = optimizers.with_learning_rate(opt_state, learning_rate)
    stride = max(1, math.ceil(max_steps / MAX_HISTORY))
    state = _initial_state(params, opt_state, shape.loss_dtype, shape.norm_dtype)
    settings = (
        max_steps,
        stride,
        jnp.asarray(tol, shape.norm_dtype),
        jnp.asarray(divergence_factor, shape.loss_dtype),
    )
    return _Setup(run_chunk, state, settings, tuple(data), stride, learning_rate)


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
    setup = _setup(loss, params, data, **settings)
    loop_data = jax.tree.map(jnp.asarray, setup.data)
    compiled = setup.run_chunk.lower(setup.state, 0, *setup.settings, loop_data).compile()
    return {
        "data": blocks.size_in_bytes(data),
        "state": blocks.size_in_bytes(setup.state),
        "temporary": int(compiled.memory_analysis().temp_size_in_bytes),
    }


def unroll_for(
    optimizer: str | optax.GradientTransformation, data: tuple, equations: int = 0
) -> int:
    """Steps per trip of the compiled loop: ``UNROLL`` for a named optimizer (L-BFGS
    aside) on data of at most ``UNROLL_MAX_DATA_BYTES`` with a cost and gradient of at
    most ``UNROLL_MAX_EQUATIONS`` traced operations (``equations``), else 1.

    Example:
        >>> import numpy as np
        >>> unroll_for("gd", (np.zeros(200), np.zeros(200))), unroll_for("lbfgs", ())
        (8, 1)
        >>> unroll_for("gd", (np.zeros(200), np.zeros(200)), equations=500)  # a deep net
        1
    """
    if not isinstance(optimizer, str) or optimizer in _NOT_UNROLLED:
        return 1
    small = blocks.size_in_bytes(data) <= UNROLL_MAX_DATA_BYTES
    return UNROLL if small and equations <= UNROLL_MAX_EQUATIONS else 1


def _check_settings(max_steps: int, tol: float) -> None:
    if not 0 <= max_steps <= MAX_STEPS_LIMIT:
        raise ValueError(f"max_steps must be between 0 and {MAX_STEPS_LIMIT}, got {max_steps}")
    if not tol >= 0:
        raise ValueError(f"tol must be >= 0, got {tol}")


def _initial_state(
    params, opt_state, loss_dtype, norm_dtype, history_size: int = MAX_HISTORY + 2
) -> _LoopState:
    nan = jnp.asarray(jnp.nan, loss_dtype)
    state = _LoopState(
        params=params,
        opt_state=opt_state,
        step=jnp.asarray(0, jnp.int32),
        status=jnp.asarray(_RUNNING, jnp.int32),
        loss=nan,
        initial_loss=nan,
        good_params=params,
        good_loss=nan,
        good_grad_norm=jnp.asarray(jnp.nan, norm_dtype),
        frozen=jnp.asarray(False),
        history=jnp.zeros(history_size, loss_dtype),
    )
    # Copy the leaves so that donating the loop state never invalidates the caller's arrays.
    return jax.tree.map(jnp.array, state)


def _drive(run_chunk, state, settings, data, max_steps, on_chunk):
    """Run chunks until the state (every state, when batched) stops or Ctrl-C.

    Returns the final state, the seconds spent in steps, and the seconds spent compiling.
    """
    data = jax.tree.map(jnp.asarray, data)  # on the device once, not at every chunk
    started = time.perf_counter()
    # Empty chunks: they compile and run no step. Twice, since an optimizer's state may
    # come back with other weak types than it went in (L-BFGS's does): a second variant.
    for _ in range(2):
        state = run_chunk(state, 0, *settings, data)
    jax.block_until_ready(state)
    compile_seconds = time.perf_counter() - started

    run_seconds = 0.0
    chunk = 1
    step = 0
    with _InterruptFlag() as interrupt:
        while True:
            chunk_end = min(step + chunk, max_steps + 1)
            began = time.perf_counter()
            state = run_chunk(state, chunk_end, *settings, data)
            steps, statuses = np.asarray(state.step), np.asarray(state.status)  # the one sync
            elapsed = time.perf_counter() - began
            run_seconds += elapsed
            new_step = int(steps.max())
            done = max(new_step - step, 1)
            chunk = max(1, min(100 * chunk, int(done * CHUNK_SECONDS / elapsed)))
            step = new_step
            if on_chunk is not None:
                on_chunk(
                    Progress(
                        step=step,
                        max_steps=max_steps,
                        loss=float(np.asarray(state.good_loss).min()),
                        grad_norm=float(np.asarray(state.good_grad_norm).min()),
                        seconds=run_seconds,
                    )
                )
            if not np.any(statuses == _RUNNING) or interrupt.raised:
                break
    return state, run_seconds, compile_seconds


def _resolve_optimizer(optimizer, learning_rate, loss, params, *data, block_rows=None):
    """The transformation to run, and the learning rate it runs with."""
    if not isinstance(optimizer, str):
        if learning_rate is not None:
            raise ValueError(
                "learning_rate applies to a named optimizer; "
                "an optax transformation carries its own"
            )
        return optimizer, None
    transformation = optimizers.get(optimizer)
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
    return transformation, float(learning_rate)


class _StepShape(NamedTuple):
    loss_dtype: Any
    norm_dtype: Any
    equations: int  # operations in the traced cost and gradient: a proxy for compile time


def _step_shape(loss, params, *data) -> _StepShape:
    """The dtypes of the cost and of the gradient's norm, and the step's size, by tracing."""
    value = jax.eval_shape(loss, params, *data)
    if getattr(value, "shape", None) != ():
        raise ValueError(f"the loss must return a scalar, got {value}")
    traced = jax.make_jaxpr(jax.value_and_grad(loss))(params, *data)
    grads = traced.out_avals[1:]
    return _StepShape(value.dtype, jnp.result_type(*grads), _count_equations(traced.jaxpr))


def _count_equations(jaxpr) -> int:
    """Equations in a jaxpr, those of the jaxprs inside it (jit, cond, scan) included."""
    count = 0
    for equation in jaxpr.eqns:
        count += 1
        for value in equation.params.values():
            for inner in value if isinstance(value, tuple | list) else (value,):
                inner = getattr(inner, "jaxpr", inner)  # a ClosedJaxpr holds a Jaxpr
                if hasattr(inner, "eqns"):
                    count += _count_equations(inner)
    return count


def _steps(count: int) -> str:
    return f"{count} step" if count == 1 else f"{count} steps"


def _result(state: _LoopState, stride, learning_rate, tol, run_seconds, compile_seconds):
    step, status_code = int(state.step), int(state.status)
    initial_loss = float(state.initial_loss)
    if status_code == _DIVERGED and step == 0:
        raise ValueError(
            f"the cost at the initial params is {initial_loss} in {state.loss.dtype}; "
            "nothing to descend"
        )
    # Diverged and interrupted runs return the iterate before `step`: the last evaluated
    # one that did not diverge (an interrupted loop stops between an update and its cost).
    num_steps = step if status_code in (_CONVERGED, _MAX_STEPS) else step - 1
    losses = np.asarray(state.history)[: num_steps // stride + 1]  # sliced on the host
    loss_steps = np.arange(len(losses)) * stride
    if loss_steps[-1] != num_steps:
        losses = np.append(losses, state.good_loss)
        loss_steps = np.append(loss_steps, num_steps)
    grad_norm = float(state.good_grad_norm)
    if status_code == _DIVERGED:
        status = Status.DIVERGED
        message = (
            f"diverged at step {step}: the cost went from {initial_loss:.6g} "
            f"to {float(state.loss):.6g}; returning the params of step {num_steps}, "
            "the last before it. Lower the learning rate"
        )
    elif status_code == _RUNNING:
        status = Status.INTERRUPTED
        message = f"interrupted after {_steps(num_steps)}; returning the params reached"
    elif status_code == _CONVERGED:
        status = Status.CONVERGED
        message = (
            f"converged after {_steps(num_steps)}: gradient norm {grad_norm:.3g} "
            f"<= tol {float(tol):.3g}"
        )
    else:
        status = Status.MAX_STEPS
        message = (
            f"stopped at max_steps={num_steps}: gradient norm {grad_norm:.3g} "
            f"is still above tol {float(tol):.3g}"
        )
        if bool(state.frozen):
            message += (
                "; the last update changed no parameter (each step is below the spacing "
                f"of {state.history.dtype} numbers there): use float64 or rescale the problem"
            )
    return FitResult(
        params=state.good_params,
        losses=losses,
        loss_steps=loss_steps,
        num_steps=num_steps,
        status=status,
        message=message,
        grad_norm=grad_norm,
        learning_rate=learning_rate,
        seconds=run_seconds,
        compile_seconds=compile_seconds,
    )


def trajectory(
    loss: Callable, params, *data, learning_rate: float, steps: int, optimizer: str = "gd"
):
    """Every iterate of ``steps`` plain steps (no stopping rule): for drawing paths.

    Returns the iterates stacked along a new leading axis, the start included
    (``steps + 1`` of them), as a pytree like ``params``. Iterates that overflow
    are kept as they are: this is for pictures of short runs, not for results.

    Example:
        >>> import jax.numpy as jnp
        >>> path = trajectory(lambda p: jnp.sum(p**2), jnp.array([1.0]), learning_rate=0.25,
        ...                   steps=2)
        >>> path.ravel().tolist()  # each step multiplies p by 1 - 2 * 0.25
        [1.0, 0.5, 0.25]
    """
    transformation = optax.with_extra_args_support(optimizers.get(optimizer))
    state = optimizers.with_learning_rate(transformation.init(params), learning_rate)

    def one_step(carry, _):
        current, opt_state = carry
        value, grad = jax.value_and_grad(loss)(current, *data)
        following, opt_state = _update(transformation, loss, data, current, opt_state, value, grad)
        return (following, opt_state), following

    _, path = jax.lax.scan(one_step, (params, state), length=steps)
    return jax.tree.map(lambda start, rest: jnp.concatenate([start[None], rest]), params, path)
