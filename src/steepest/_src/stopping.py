"""Why a run stops: the named stop rules, the one ``Status`` type and its messages.

The compiled loop carries a status as an int32 code (``Status.code``); the host
reads it back as the same ``Status`` (``Status.of_code``) and words it with
``describe``. Each rule is a small function of arrays, usable inside ``jit``,
and ``decide`` is the one place their precedence is written: divergence first,
then convergence, then a stall, then the step budget.

The default convergence rule is scale-free (``rtol``): with the smallest
eigenvalue ``mu`` of the Hessian known (a quadratic cost: ``fit`` computes it),
it is the certificate ``||g|| / mu <= rtol * ||p|| / 2``, since then
``||p - p*|| <= ||g|| / mu``: the params are within ``rtol`` of the minimizer,
relative to their own size, with half of ``rtol`` left to the rounding of ``g``.
Without ``mu`` it is ``||g|| <= rtol * ||g_0||``, the gradient shrunk
``1 / rtol``-fold from the start, in the manner of optimistix's relative
tolerances. ``tol`` adds the absolute rule ``||g|| <= tol``.
"""

import enum
import math
from typing import SupportsInt

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

# A cost that rises more than this many times max(|start|, 1) above its start counts as diverged.
DIVERGENCE_FACTOR = 1e8
# A run stalls when an update changes no parameter and leaves the optimizer's state as it
# was (a fixed point), or, for an optimizer whose state keeps moving (momentum, Adam),
# after this many updates in a row that changed no parameter.
STALL_PATIENCE = 100
# The plateau rule (has_plateaued): PLATEAU_PER_PATIENCE times the stall rule's patience
# (10,000 steps by default), and twice the steps that the last low took to reach, in a row
# with neither a new lowest cost nor a new lowest gradient norm (each below its lowest by
# PLATEAU_ROUNDING * eps of it) stop a run of any optimizer. A line search (L-BFGS) keeps
# moving the last bits, so the stall rule alone never fires there. Both lows, as either
# alone stops runs still on their way: the cost stops showing progress once the params
# are within sqrt(eps), and an adaptive or momentum method's gradient norm can go 10,000
# steps without a new low while its cost falls.
PLATEAU_PER_PATIENCE = 100
PLATEAU_ROUNDING = 8
# The share of rtol the certified rule gives the loop's gradient; the rest is left to
# the gradient's rounding error, which the float64 certificate adds after the run.
CERTIFIED_SHARE = 0.5
# What a float32 run that can go no further is told, in the words of both faces.
FLOAT64_HINT = "run in float64 (x64=True; --x64 on the command line)"
# The default rtol of each float size: about two thirds of the dtype's digits.
DEFAULT_RTOL = {8: 1e-10, 4: 1e-5}


def default_rtol(dtype) -> float:
    """The relative tolerance a run in ``dtype`` aims at by default.

    1e-10 in float64, 1e-5 in float32, ``sqrt(eps)`` in a smaller float.

    Example:
        >>> default_rtol(jnp.float32), default_rtol(jnp.float64)
        (1e-05, 1e-10)
    """
    dtype = jnp.dtype(dtype)
    return DEFAULT_RTOL.get(dtype.itemsize, math.sqrt(float(jnp.finfo(dtype).eps)))


class Status(enum.StrEnum):
    """Why a run stopped (``RUNNING``: not yet; it is never a finished run's status).

    Inside the compiled loop a status is its ``code``, an int32; on the host the
    same member, with ``describe`` for its sentence. A member is a ``str`` equal to
    its name: ``result.status == "converged"``.

    Example:
        >>> Status.of_code(Status.CONVERGED.code) is Status.CONVERGED
        True
        >>> Status.CONVERGED == "converged", f"{Status.STALLED}"
        (True, 'stalled')
        >>> Status.DIVERGED.value
        'diverged'
    """

    RUNNING = "running"
    CONVERGED = "converged"
    MAX_STEPS = "max_steps"
    DIVERGED = "diverged"
    INTERRUPTED = "interrupted"
    STALLED = "stalled"  # an update changed nothing: the loop can go no further
    IMPRECISE = "imprecise"  # the stop rule held, the certificate falls short of the target

    @property
    def code(self) -> int:
        """The int32 the compiled loop carries for this status."""
        return _CODES[self]

    @classmethod
    def of_code(cls, code: SupportsInt) -> "Status":
        """The status of a code the compiled loop returned (an int, or an array of one)."""
        return _MEMBERS[int(code)]


_CODES = {status: code for code, status in enumerate(Status)}
_MEMBERS = dict(enumerate(Status))


def resolve_tolerances(tol: float | None, rtol: float | None, dtype) -> tuple[float, float]:
    """``(tol, rtol)`` as the rule applies them: given ones as given, the others 0,
    and ``default_rtol(dtype)`` when neither is given.

    Example:
        >>> resolve_tolerances(None, None, jnp.float32), resolve_tolerances(1e-3, None, "float32")
        ((0.0, 1e-05), (0.001, 0.0))
    """
    if tol is None and rtol is None:
        return 0.0, default_rtol(dtype)
    return float(tol or 0.0), float(rtol or 0.0)


def has_converged(
    grad_norm: jax.Array,
    *,
    params_norm: jax.Array,
    initial_grad_norm: jax.Array,
    tol: jax.Array,
    rtol: jax.Array,
    mu: jax.Array,
) -> jax.Array:
    """The convergence rule, on Euclidean norms over all leaves; either part suffices.

    - absolute: ``||g|| <= tol``;
    - relative: ``||g|| / mu <= rtol * ||p|| / 2`` when ``mu > 0`` (the smallest
      eigenvalue of a quadratic cost's Hessian: then ``||g|| / mu`` bounds the
      distance to the minimizer; half of ``rtol`` is left to the rounding error
      of ``g``, which the certificate adds), else ``||g|| <= rtol * ||g_0||``.

    A zero ``tol`` or ``rtol`` turns its part off (it then holds only at ``g = 0``).

    Example:
        >>> rule = dict(params_norm=1.0, initial_grad_norm=1.0, tol=0.0, rtol=1e-5, mu=0.0)
        >>> bool(has_converged(jnp.float32(1e-6), **rule)), bool(has_converged(1e-4, **rule))
        (True, False)
        >>> bool(has_converged(jnp.float32(1e-6), **(rule | dict(mu=0.01))))  # 1e-4 from p*
        False
    """
    relative = jnp.where(
        mu > 0,
        grad_norm <= CERTIFIED_SHARE * rtol * mu * params_norm,
        grad_norm <= rtol * initial_grad_norm,
    )
    return (grad_norm <= tol) | relative


def has_stalled(unchanged_steps: jax.Array, state_fixed: jax.Array, patience) -> jax.Array:
    """The stall rule: the last update changed no parameter, and either left the
    optimizer's state as it was (nothing will ever change again) or was the
    ``patience``-th such update in a row. A negative ``patience`` turns the rule off.

    Example:
        >>> bool(has_stalled(jnp.int32(1), jnp.bool_(True), 100))
        True
        >>> bool(has_stalled(jnp.int32(1), jnp.bool_(False), 100))  # momentum may move on
        False
    """
    stalled = (unchanged_steps >= 1) & (state_fixed | (unchanged_steps >= patience))
    return stalled & (patience >= 0)


def improves_on(value: jax.Array, best: jax.Array) -> jax.Array:
    """Whether ``value`` (a cost, a gradient norm) is below ``best`` by more than its rounding,
    ``PLATEAU_ROUNDING * eps * |best|`` (``best`` infinite: any finite value improves).

    Example:
        >>> bool(improves_on(jnp.float32(0.5), jnp.float32(1.0)))
        True
        >>> bool(improves_on(jnp.float32(1.0 - 1e-7), jnp.float32(1.0)))  # within rounding
        False
    """
    eps = jnp.finfo(jnp.result_type(value)).eps
    margin = PLATEAU_ROUNDING * eps * jnp.abs(best)
    return jnp.isfinite(value) & (~jnp.isfinite(best) | (value < best - margin))


def has_plateaued(
    steps_since_best: jax.Array | int, step: jax.Array | int, patience
) -> jax.Array | bool:
    """The plateau rule: at step ``step``, ``steps_since_best`` steps in a row with neither
    a new lowest cost nor a new lowest gradient norm (``improves_on``), at least
    ``PLATEAU_PER_PATIENCE * patience`` of them and twice the steps the last low took
    (an adaptive method may pause long, then go on), whatever the optimizer. A negative
    ``patience`` (the stall rule's) turns it off too. Operators only: in the compiled
    loop on arrays, and on the host on the final state's numbers (``FitResult``'s words).

    Example:
        >>> bool(has_plateaued(jnp.int32(10_000), 10_100, 100))  # the last low at step 100
        True
        >>> has_plateaued(10_000, 20_000, 100)  # ... at 10,000: not yet
        False
        >>> has_plateaued(10**6, 10**6, -1)
        False
    """
    long_enough = steps_since_best >= PLATEAU_PER_PATIENCE * patience
    return long_enough & (steps_since_best >= 2 * (step - steps_since_best)) & (patience >= 0)


def has_diverged(loss: jax.Array, initial_loss: jax.Array, factor: ArrayLike) -> jax.Array:
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


def is_out_of_steps(step: jax.Array, max_steps: ArrayLike) -> jax.Array:
    """The budget rule: ``max_steps`` updates have been applied.

    Example:
        >>> bool(is_out_of_steps(jnp.int32(10), jnp.int32(10)))
        True
    """
    return step >= max_steps


def decide(
    diverged: jax.Array, converged: jax.Array, stalled: jax.Array, out_of_steps: jax.Array
) -> jax.Array:
    """The status code the rules give together; the first rule that holds wins.

    Example:
        >>> yes, no = jnp.bool_(True), jnp.bool_(False)
        >>> Status.of_code(decide(yes, yes, no, no)).value
        'diverged'
        >>> Status.of_code(decide(no, no, yes, yes)).value
        'stalled'
        >>> Status.of_code(decide(no, no, no, no)).value
        'running'
    """
    return jnp.select(
        [diverged, converged, stalled, out_of_steps],
        [Status.DIVERGED.code, Status.CONVERGED.code, Status.STALLED.code, Status.MAX_STEPS.code],
        Status.RUNNING.code,
    ).astype(jnp.int32)


def describe(
    status: Status,
    *,
    num_steps: int,
    grad_norm: float,
    tol: float = 0.0,
    rtol: float = 0.0,
    mu: float = 0.0,
    initial_grad_norm: float = math.nan,
    initial_loss: float = math.nan,
    last_loss: float = math.nan,
    dtype_name: str = "",
    plateau: int = 0,
) -> str:
    """The sentence that says why a run stopped, with its numbers.

    ``num_steps`` is the number of updates behind the params returned; a diverged
    run's cost blew up at the step after them. ``tol``, ``rtol``, ``mu``: the stop
    rule's (``has_converged``). ``plateau``: the steps without progress of a stall by
    the plateau rule (``has_plateaued``), 0 for another stall. ``IMPRECISE`` is a
    verdict on a certificate, which ``fit`` words itself.

    Example:
        >>> describe(Status.CONVERGED, num_steps=3, grad_norm=2e-6, tol=1e-5)
        'converged after 3 steps: gradient norm 2e-06 <= tol 1e-05'
        >>> describe(Status.STALLED, num_steps=9, grad_norm=2e-6, dtype_name="float32")[:60]
        'stalled after 9 steps: the last update changed no parameter '
    """
    if status is Status.DIVERGED:
        return (
            f"diverged at step {num_steps + 1}: the cost went from {initial_loss:.6g} "
            f"to {last_loss:.6g}; returning the params of step {num_steps}, "
            "the last before it. Lower the learning rate"
        )
    if status is Status.INTERRUPTED:
        return f"interrupted after {steps_phrase(num_steps)}; returning the params reached"
    if status is Status.CONVERGED:
        converged = f"converged after {steps_phrase(num_steps)}: gradient norm {grad_norm:.3g}"
        if tol > 0 and grad_norm <= tol:
            return f"{converged} <= tol {tol:.3g}"
        if mu > 0:
            return f"{converged} / mu <= rtol {rtol:.3g} x ||params|| / 2"
        return f"{converged} <= rtol {rtol:.3g} x the starting norm {initial_grad_norm:.3g}"
    if status is Status.MAX_STEPS:
        return (
            f"stopped at max_steps={num_steps}: gradient norm {grad_norm:.3g} has not met "
            f"the stop rule ({_rule(tol, rtol, mu)})"
        )
    if status is Status.STALLED:
        stalled = f"stalled after {steps_phrase(num_steps)}: " + (
            f"neither the cost nor the gradient norm has gone below its lowest in {plateau:,} steps"
            if plateau
            else "the last update changed no parameter"
        )
        if jnp.dtype(dtype_name or "float32") == jnp.float64:
            return (
                f"{stalled}, even in float64: rescale the features, "
                "try L-BFGS if this is not it, or solve in closed form"
            )
        if plateau:
            return f"{stalled}: {FLOAT64_HINT}, or another optimizer, to go further"
        return (
            f"{stalled} (each step is below the spacing of {dtype_name} numbers there): "
            f"{FLOAT64_HINT} to go further"
        )
    raise ValueError(f"no message for a run whose status is {status.value}")


def _rule(tol: float, rtol: float, mu: float) -> str:
    parts = [f"tol {tol:.3g}"] if tol > 0 else []
    if rtol > 0:
        parts.append(f"rtol {rtol:.3g}" + (" x mu x ||params|| / 2" if mu > 0 else " x ||g_0||"))
    return " or ".join(parts) or "tol 0: a zero gradient"


def steps_phrase(count: int) -> str:
    """``"1 step"``, ``"3 steps"``: a count of steps in a message."""
    return f"{count} step" if count == 1 else f"{count} steps"
