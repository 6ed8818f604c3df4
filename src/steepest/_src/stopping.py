"""Why a run stops: the named stop rules, the one ``Status`` type and its messages.

The compiled loop carries a status as an int32 code (``Status.code``); the host
reads it back as the same ``Status`` (``Status.of_code``) and words it with
``describe``. Each rule is a small function of arrays, usable inside ``jit``,
and ``decide`` is the one place their precedence is written: divergence first,
then convergence, then the step budget.
"""

import enum
import math

import jax
import jax.numpy as jnp

# A cost that rises more than this many times max(|start|, 1) above its start counts as diverged.
DIVERGENCE_FACTOR = 1e8


class Status(enum.Enum):
    """Why a run stopped (``RUNNING``: not yet; it is never a finished run's status).

    Inside the compiled loop a status is its ``code``, an int32; on the host the
    same member, with ``describe`` for its sentence.

    Example:
        >>> Status.of_code(Status.CONVERGED.code) is Status.CONVERGED
        True
        >>> Status.DIVERGED.value
        'diverged'
    """

    RUNNING = "running"
    CONVERGED = "converged"
    MAX_STEPS = "max_steps"
    DIVERGED = "diverged"
    INTERRUPTED = "interrupted"

    @property
    def code(self) -> int:
        """The int32 the compiled loop carries for this status."""
        return _CODES[self]

    @classmethod
    def of_code(cls, code: int) -> "Status":
        """The status of a code the compiled loop returned."""
        return _MEMBERS[int(code)]


_CODES = {status: code for code, status in enumerate(Status)}
_MEMBERS = dict(enumerate(Status))


def has_converged(grad_norm: jax.Array, tol: jax.Array) -> jax.Array:
    """The convergence rule: the gradient's Euclidean norm (over all leaves) is at most ``tol``.

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


def is_out_of_steps(step: jax.Array, max_steps: jax.Array) -> jax.Array:
    """The budget rule: ``max_steps`` updates have been applied.

    Example:
        >>> bool(is_out_of_steps(jnp.int32(10), jnp.int32(10)))
        True
    """
    return step >= max_steps


def decide(diverged: jax.Array, converged: jax.Array, out_of_steps: jax.Array) -> jax.Array:
    """The status code the rules give together; the first rule that holds wins.

    Example:
        >>> Status.of_code(decide(jnp.bool_(True), jnp.bool_(True), jnp.bool_(False))).value
        'diverged'
        >>> Status.of_code(decide(jnp.bool_(False), jnp.bool_(False), jnp.bool_(False))).value
        'running'
    """
    return jnp.select(
        [diverged, converged, out_of_steps],
        [Status.DIVERGED.code, Status.CONVERGED.code, Status.MAX_STEPS.code],
        Status.RUNNING.code,
    ).astype(jnp.int32)


def describe(
    status: Status,
    *,
    num_steps: int,
    grad_norm: float,
    tol: float,
    initial_loss: float = math.nan,
    last_loss: float = math.nan,
    frozen: bool = False,
    dtype_name: str = "",
) -> str:
    """The sentence that says why a run stopped, with its numbers.

    ``num_steps`` is the number of updates behind the params returned; a diverged
    run's cost blew up at the step after them.

    Example:
        >>> describe(Status.CONVERGED, num_steps=3, grad_norm=2e-6, tol=1e-5)
        'converged after 3 steps: gradient norm 2e-06 <= tol 1e-05'
    """
    if status is Status.DIVERGED:
        return (
            f"diverged at step {num_steps + 1}: the cost went from {initial_loss:.6g} "
            f"to {last_loss:.6g}; returning the params of step {num_steps}, "
            "the last before it. Lower the learning rate"
        )
    if status is Status.INTERRUPTED:
        return f"interrupted after {_steps(num_steps)}; returning the params reached"
    if status is Status.CONVERGED:
        return (
            f"converged after {_steps(num_steps)}: gradient norm {grad_norm:.3g} <= tol {tol:.3g}"
        )
    if status is Status.MAX_STEPS:
        message = (
            f"stopped at max_steps={num_steps}: gradient norm {grad_norm:.3g} "
            f"is still above tol {tol:.3g}"
        )
        if frozen:
            message += (
                "; the last update changed no parameter (each step is below the spacing "
                f"of {dtype_name} numbers there): use float64 or rescale the problem"
            )
        return message
    raise ValueError(f"a run that is still running has no final message: {status}")


def _steps(count: int) -> str:
    return f"{count} step" if count == 1 else f"{count} steps"
