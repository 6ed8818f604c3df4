"""The compiled loop: ``fit``, its stopping rules and ``FitResult``.

One compiled call runs a chunk of steps inside ``lax.while_loop`` (loss and
gradient, the stopping rules, the optimizer update, the loss history), so the
host touches the device only between chunks: to time them, to report progress
and to honour Ctrl-C. The learning rate, the tolerance and the chunk's end are
traced arguments; a second ``fit`` with other values, or other data of the same
shape, reuses the compiled loop.
"""

import dataclasses
import enum
import functools
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

from . import optimizers, theory

# A cost that grows this many times above its starting value counts as diverged.
DIVERGENCE_FACTOR = 1e8
# The host aims for chunks of about this many seconds: short enough for a live
# progress bar and a prompt Ctrl-C, long enough that the sync between chunks is noise.
CHUNK_SECONDS = 0.2
FIRST_CHUNK_STEPS = 16


class Status(enum.Enum):
    """Why a fit stopped."""

    CONVERGED = "converged"
    MAX_STEPS = "max_steps"
    DIVERGED = "diverged"
    INTERRUPTED = "interrupted"


# Status codes as the compiled loop carries them; RUNNING means "not stopped yet".
_RUNNING, _CONVERGED, _MAX_STEPS, _DIVERGED = 0, 1, 2, 3
_STATUS_OF_CODE = {_CONVERGED: Status.CONVERGED, _MAX_STEPS: Status.MAX_STEPS}


def has_converged(grad_norm: jax.Array, tol: jax.Array) -> jax.Array:
    """The stopping rule: the gradient's Euclidean norm (over all leaves) is at most ``tol``.

    Example:
        >>> bool(has_converged(jnp.float32(1e-7), jnp.float32(1e-6)))
        True
    """
    return grad_norm <= tol


def has_diverged(loss: jax.Array, initial_loss: jax.Array, factor: float) -> jax.Array:
    """The divergence rule: the cost is not finite, or is above ``factor`` times its start.

    Example:
        >>> bool(has_diverged(jnp.float32(jnp.nan), jnp.float32(1.0), 1e8))
        True
        >>> bool(has_diverged(jnp.float32(2e8), jnp.float32(1.0), 1e8))
        True
        >>> bool(has_diverged(jnp.float32(5.0), jnp.float32(1.0), 1e8))
        False
    """
    return ~jnp.isfinite(loss) | (loss > factor * initial_loss)


class Progress(NamedTuple):
    """What ``fit`` reports to its ``on_chunk`` callback after each chunk of steps."""

    step: int
    max_steps: int
    loss: float
    grad_norm: float
    seconds: float


@dataclasses.dataclass(frozen=True)
class FitResult:
    """The outcome of ``fit``.

    Attributes:
        params: the final parameters; for a diverged run, the last ones whose
            cost was finite (never NaN).
        losses: the cost at every iterate, the start included, so
            ``losses[-1]`` is the cost at ``params`` and ``len(losses) == num_steps + 1``.
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


def _global_norm(tree) -> jax.Array:
    """The Euclidean norm of all leaves together, as if flattened into one vector."""
    return jnp.sqrt(sum(jnp.sum(leaf**2) for leaf in jax.tree.leaves(tree)))


class _LoopState(NamedTuple):
    params: Any
    last_finite_params: Any
    opt_state: Any
    step: jax.Array
    losses: jax.Array
    loss: jax.Array
    initial_loss: jax.Array
    grad_norm: jax.Array
    status: jax.Array


@functools.cache
def _compiled_chunk(loss: Callable, transformation: optax.GradientTransformation):
    """The jitted chunk runner of one (loss, optimizer) pair, cached so jit's own cache applies."""
    value_and_grad = jax.value_and_grad(loss)

    def run_chunk(state: _LoopState, chunk_end, tol, divergence_factor, data):
        max_steps = state.losses.shape[0] - 1

        def not_done(s: _LoopState):
            return (s.status == _RUNNING) & (s.step < chunk_end)

        def one_step(s: _LoopState) -> _LoopState:
            value, grad = value_and_grad(s.params, *data)
            grad_norm = _global_norm(grad)
            # Kept apart from the history: reading the buffer in the loop would make XLA copy it.
            initial = jnp.where(s.step == 0, value, s.initial_loss)
            diverged = has_diverged(value, initial, divergence_factor)
            status = jnp.select(
                [diverged, has_converged(grad_norm, tol), s.step >= max_steps],
                [_DIVERGED, _CONVERGED, _MAX_STEPS],
                _RUNNING,
            )
            updates, opt_state = transformation.update(grad, s.opt_state, s.params)
            stepped = optax.apply_updates(s.params, updates)
            running = status == _RUNNING

            def keep_unless_running(new, old):
                return jax.tree.map(lambda a, b: jnp.where(running, a, b), new, old)

            return _LoopState(
                params=keep_unless_running(stepped, s.params),
                last_finite_params=jax.tree.map(
                    lambda old, now: jnp.where(diverged, old, now), s.last_finite_params, s.params
                ),
                opt_state=keep_unless_running(opt_state, s.opt_state),
                step=s.step + running.astype(s.step.dtype),
                losses=s.losses.at[s.step].set(value),
                loss=value,
                initial_loss=initial,
                grad_norm=jnp.where(diverged, s.grad_norm, grad_norm),
                status=status.astype(s.status.dtype),
            )

        return jax.lax.while_loop(not_done, one_step, state)

    return jax.jit(run_chunk, donate_argnums=0)


class _InterruptFlag:
    """Turns Ctrl-C (SIGINT) into a flag that the host loop checks between chunks."""

    def __init__(self):
        self.raised = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        self.raised = True

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def _check_finite_start(loss_value: float) -> None:
    if not math.isfinite(loss_value):
        raise ValueError(f"the cost at the initial params is {loss_value}; nothing to descend")


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
) -> FitResult:
    """Minimize ``loss(params, *data)`` by a compiled optimizer loop.

    Each step evaluates the cost and its gradient ``g`` (``jax.value_and_grad``)
    at the current params, then applies the optimizer's update; for ``"gd"``,
    the tutorial's rule ``params <- params - learning_rate * g``. The run stops
    when ``||g|| <= tol`` (converged), after ``max_steps`` updates, when the
    cost is not finite or exceeds ``divergence_factor`` times its start
    (diverged), or on Ctrl-C (interrupted; what was reached is returned).

    Args:
        loss: a differentiable function ``loss(params, *data) -> scalar``.
        params: the starting point, any pytree of arrays.
        *data: the remaining arguments of ``loss`` (e.g. ``X, y``).
        optimizer: a name from ``steepest.optimizers.names()``, or any
            ``optax.GradientTransformation`` (then ``learning_rate`` must be None).
        learning_rate: the step size. When None with a named optimizer:
            ``1 / L``, with ``L`` the largest eigenvalue of the Hessian of
            ``loss`` at the starting point (the safe step for gradient descent
            on a quadratic; a rough default for adaptive optimizers).
        max_steps: the most updates to apply.
        tol: the gradient-norm tolerance of the stopping rule.
        divergence_factor: how far the cost may grow above its start.
        on_chunk: called with a ``Progress`` after each chunk of steps.

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
    if max_steps < 0:
        raise ValueError(f"max_steps must be >= 0, got {max_steps}")
    if not tol >= 0:
        raise ValueError(f"tol must be >= 0, got {tol}")
    transformation, learning_rate = _resolve_optimizer(
        optimizer, learning_rate, loss, params, *data
    )
    run_chunk = _compiled_chunk(loss, transformation)
    dtype = jnp.result_type(*jax.tree.leaves(params))
    opt_state = transformation.init(params)
    if isinstance(optimizer, str):
        opt_state = optimizers.with_learning_rate(opt_state, learning_rate)
    state = _LoopState(
        params=params,
        last_finite_params=params,
        opt_state=opt_state,
        step=jnp.asarray(0, jnp.int32),
        losses=jnp.zeros(max_steps + 1, dtype),
        loss=jnp.asarray(jnp.nan, dtype),
        initial_loss=jnp.asarray(jnp.nan, dtype),
        grad_norm=jnp.asarray(jnp.inf, dtype),
        status=jnp.asarray(_RUNNING, jnp.int32),
    )
    # Copy the leaves so that donating the loop state never invalidates the caller's arrays.
    state = jax.tree.map(jnp.array, state)
    data = jax.tree.map(jnp.asarray, data)  # on the device once, not at every chunk
    tol = jnp.asarray(tol, dtype)
    factor = jnp.asarray(divergence_factor, dtype)

    started = time.perf_counter()
    state = run_chunk(state, 0, tol, factor, data)  # an empty chunk: compiles, runs no step
    jax.block_until_ready(state)
    compile_seconds = time.perf_counter() - started

    run_seconds = 0.0
    chunk = FIRST_CHUNK_STEPS
    step = 0
    status_code = _RUNNING
    with _InterruptFlag() as interrupt:
        while True:
            chunk_end = min(step + chunk, max_steps + 1)
            began = time.perf_counter()
            state = run_chunk(state, chunk_end, tol, factor, data)
            new_step, status_code = int(state.step), int(state.status)  # the one sync per chunk
            elapsed = time.perf_counter() - began
            run_seconds += elapsed
            done = max(new_step - step, 1)
            chunk = max(FIRST_CHUNK_STEPS, min(100 * chunk, int(done * CHUNK_SECONDS / elapsed)))
            step = new_step
            if on_chunk is not None:
                on_chunk(
                    Progress(
                        step=step,
                        max_steps=max_steps,
                        loss=float(state.loss),
                        grad_norm=float(state.grad_norm),
                        seconds=run_seconds,
                    )
                )
            if status_code != _RUNNING or interrupt.raised:
                break
    return _result(state, status_code, learning_rate, tol, run_seconds, compile_seconds)


def _resolve_optimizer(optimizer, learning_rate, loss, params, *data):
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
        learning_rate = 1.0 / theory.largest_eigenvalue(loss, params, *data)
    if not (math.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(f"learning_rate must be a positive number, got {learning_rate}")
    return transformation, float(learning_rate)


def _steps(count: int) -> str:
    return f"{count} step" if count == 1 else f"{count} steps"


def _result(state: _LoopState, status_code, learning_rate, tol, run_seconds, compile_seconds):
    step = int(state.step)
    losses = np.asarray(state.losses)[: step + 1]  # sliced on the host: no compile per length
    grad_norm = float(state.grad_norm)
    if status_code == _DIVERGED:
        if step == 0:
            _check_finite_start(float(losses[0]))
        params = state.last_finite_params
        status = Status.DIVERGED
        message = (
            f"diverged at step {step}: the cost went from {losses[0]:.6g} to {losses[step]:.6g}; "
            f"returning the params of step {step - 1}, the last before it. "
            "Lower the learning rate"
        )
        losses = losses[:step]
        step -= 1
    elif status_code == _RUNNING:
        status = Status.INTERRUPTED
        # The loop stopped between an update and the evaluation of its cost: return the
        # last evaluated params. At least one step ran, since every chunk holds at least one.
        step -= 1
        params = state.last_finite_params
        losses = losses[: step + 1]
        message = f"interrupted after {_steps(step)}; returning the params reached"
    else:
        params = state.params
        status = _STATUS_OF_CODE[status_code]
        if status is Status.CONVERGED:
            message = (
                f"converged after {_steps(step)}: gradient norm {grad_norm:.3g} "
                f"<= tol {float(tol):.3g}"
            )
        else:
            message = (
                f"stopped at max_steps={step}: gradient norm {grad_norm:.3g} "
                f"is still above tol {float(tol):.3g}"
            )
    return FitResult(
        params=params,
        losses=losses,
        num_steps=step,
        status=status,
        message=message,
        grad_norm=grad_norm,
        learning_rate=learning_rate,
        seconds=run_seconds,
        compile_seconds=compile_seconds,
    )
