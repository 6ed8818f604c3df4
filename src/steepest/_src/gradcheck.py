"""Check a hand-derived gradient against autodiff and finite differences, and say what is wrong.

``check_gradient`` compares three gradients of ``loss`` at ``params`` and at a
few random points near it: the hand-derived one, ``jax.grad(loss)``, and
central finite differences. Everything runs in float64 with matmuls at
"highest" precision, whatever the caller's dtype and whether or not x64 is on:
on a GPU, float32 matmuls at the default precision (TF32) put a gradient 1.6e-4
away from float64, which a checker must not mistake for a wrong derivation.

The tolerance is element by element: each element is held to its own size,
``rtol * max_points |autodiff_i|``, above a floor that estimates the float64
rounding of that element (see ``check_gradient``). A small wrong term in a
small element is seen, however large the leaf's other elements. The size of
the cost does not loosen hand-derived vs autodiff (an offset in the cost
changes neither); it loosens only autodiff vs finite differences, which
difference the cost, and an element whose finite-difference tolerance exceeds
its size is reported as unresolved rather than as agreeing.

Nothing is compiled with jit. The loss and the hand-derived gradient run
eagerly, point by point; autodiff and finite differences run under
``jax.vmap`` (op by op), and, where vmap fails, one point or one direction at
a time, eagerly. So Python control flow on values (``max(row)``,
``if cost > 0``) is fine wherever ``jax.grad`` accepts it; the report says
when finite differences ran eagerly.

When the hand-derived gradient is wrong, ``diagnose.py`` names the shape of
the mistake (sign, constant factor, a penalty term off by ``c · params``, the
data term N times too large, swapped or copied leaves, a transpose, some
elements only). When a user's function raises, ``GradientCheckError`` names
the stage: the loss, the hand-derived gradient, autodiff or finite differences.
"""

import dataclasses
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from . import display
from .diagnose import diagnose
from .io.sources import describe_error
from .losses import not_a_scalar
from .tolerances import DEFAULT_FD_RTOL, DEFAULT_RTOL

# Random points are params + PERTURBATION * s * N(0, 1), element by element, with the
# element's scale s = max(|p_i|, 0.1 * max|leaf|) (1 in an all-zero leaf): relative, so
# that small positive params stay positive (inside a log's domain, say).
PERTURBATION = 0.1
# The rounding floor of an element is this many times the estimate of its float64 rounding
# error (from autodiff in float32): one realization of a rounding error can be 10x another,
# and the hand-derived gradient may sum its terms less accurately than autodiff does. (On
# 300 random regressions, hand gradients summed by a Python loop included, the largest
# ratio of the actual difference to the estimate was 18.)
ROUNDING_MARGIN = 1000
# Finite differences cannot resolve better than the rounding of the cost they difference
# divided by 2h: its last place, eps * |f|, and its change at inputs nudged by 1 ± eps. This
# many times that is added to their tolerance, element by element, point by point.
FD_ROUNDING_MARGIN = 100
FD_BATCH = 64
EPS = float(np.finfo(np.float64).eps)
# Float64 rounding errors are float32's times this: eps64 / eps32 = 2**-29.
FLOAT32_TO_64 = EPS / float(np.finfo(np.float32).eps)

STAGES = {
    "loss": "evaluating the loss",
    "hand-derived gradient": "evaluating the hand-derived gradient",
    "autodiff": "autodiff of the loss (jax.grad)",
    "finite differences": "finite differences of the loss",
}


class GradientCheckError(ValueError):
    """A user's function raised during ``check_gradient``.

    Attributes:
        stage: which evaluation failed: ``"loss"``, ``"hand-derived gradient"``,
            ``"autodiff"`` or ``"finite differences"``.
        point: at which point (0 is ``params``, the others random points near it).
        error: the user's exception (also the ``__cause__``).

    Example:
        >>> import jax.numpy as jnp
        >>> def grad(p): raise TypeError("grad() is not written yet")
        >>> try:
        ...     check_gradient(lambda p: jnp.sum(p**2), grad, jnp.ones(2))
        ... except GradientCheckError as error:
        ...     print(error)
        evaluating the hand-derived gradient failed at params: TypeError: grad() is not written yet
    """

    def __init__(self, stage: str, point: int, error: BaseException):
        self.stage, self.point, self.error = stage, point, error
        where = "at params" if point == 0 else f"at point {point} (a random point near params)"
        super().__init__(f"{STAGES[stage]} failed {where}: {describe_error(error)}")


@dataclasses.dataclass(frozen=True)
class Discrepancy:
    """How far one gradient is from another on one leaf at one point, element by element.

    Attributes:
        max_abs: the largest absolute difference over the leaf's elements.
        max_rel: the largest difference relative to its element's size, the larger
            of the element's gradient scale (its largest autodiff magnitude over all
            points) and its rounding floor.
        index: the worst element's index in the leaf: the one whose difference is
            the largest multiple of its tolerance.
        value: the tested gradient at that element.
        reference: the reference gradient at that element.
        tolerance: that element's tolerance.
        ok: whether every element's difference is within its tolerance.
    """

    max_abs: float
    max_rel: float
    index: tuple[int, ...]
    value: float
    reference: float
    tolerance: float
    ok: bool


@dataclasses.dataclass(frozen=True)
class LeafCheck:
    """The comparisons for one leaf of params at one point.

    ``unresolved`` counts the leaf's elements that finite differences cannot
    resolve at this point: their tolerance there exceeds the element's size
    (its largest autodiff magnitude over the points), so their agreement with
    autodiff says nothing; only hand-derived vs autodiff checks those.

    Checked against finite differences alone (a loss JAX cannot differentiate),
    ``hand_vs_fd`` holds the one comparison and the other two are None; an
    unresolved element is then held only to that tolerance.
    """

    point: int
    leaf: str
    shape: tuple[int, ...]
    hand_shape: tuple[int, ...]  # the hand-derived gradient's; compared reshaped when it differs
    hand_vs_autodiff: Discrepancy | None
    autodiff_vs_fd: Discrepancy | None
    unresolved: int = 0
    hand_vs_fd: Discrepancy | None = None

    @property
    def ok(self) -> bool:
        compared = (self.hand_vs_autodiff, self.autodiff_vs_fd, self.hand_vs_fd)
        return self.hand_shape == self.shape and all(c.ok for c in compared if c is not None)


@dataclasses.dataclass(frozen=True)
class GradientReport:
    """The verdict of ``check_gradient``.

    ``ok`` is true when the hand-derived gradient matches autodiff and autodiff
    matches finite differences, on every element of every leaf at every point.
    ``diagnosis`` is a sentence naming the shape of the mismatch when one is
    recognized (else a general one), ending with at how many points a failure
    was seen, and None when all is well. ``failed_points`` counts those points.
    ``fd_eager`` says that finite differences were evaluated one direction at a
    time, eagerly, because ``jax.vmap`` of the loss failed (``fd_eager_reason``
    says how). ``unresolved`` counts the elements, over all points, that
    finite differences could not resolve (see ``LeafCheck``); they do not fail
    the check. ``reference`` is what the hand-derived gradient was held to:
    ``"autodiff"``, or ``"finite differences"`` alone when autodiff was not run,
    ``autodiff_skipped`` saying why (JAX cannot differentiate the loss, or
    ``autodiff=False``). ``str(report)`` is a table.
    """

    ok: bool
    checks: tuple[LeafCheck, ...]
    diagnosis: str | None
    num_points: int
    rtol: float
    fd_rtol: float
    atol: float
    failed_points: int = 0
    fd_eager: bool = False
    fd_eager_reason: str | None = None
    unresolved: int = 0
    reference: str = "autodiff"
    autodiff_skipped: str | None = None

    def __str__(self) -> str:
        return _format(self)

    def __repr__(self) -> str:
        """The verdict and the diagnosis first, then the table."""
        verdict = "PASS" if self.ok else "FAIL"
        first = f"GradientReport: {verdict}" + (f"; {self.diagnosis}" if self.diagnosis else "")
        return f"{first}\n{_format(self)}"

    def _repr_html_(self) -> str:
        return display.preformatted(repr(self))

    def raise_if_failed(self) -> None:
        """Raise an AssertionError when the check failed: the diagnosis first, then the table."""
        if not self.ok:
            raise AssertionError(f"gradient check failed: {self.diagnosis}\n{self}")

    def to_dict(self) -> dict:
        """The report as plain data (for JSON)."""
        return dataclasses.asdict(self)


def check_gradient(
    loss: Callable,
    grad: Callable,
    params,
    *args,
    num_points: int = 3,
    key: jax.Array | int | None = None,
    rtol: float = DEFAULT_RTOL,
    fd_rtol: float = DEFAULT_FD_RTOL,
    atol: float = 0.0,
    num_rows: int | None = None,
    autodiff: bool | None = None,
) -> GradientReport:
    """Compare a hand-derived gradient with ``jax.grad`` and with finite differences.

    At ``params`` and at ``num_points - 1`` random points near it (reproducible
    from ``key``), three gradients are computed in float64: ``grad(p, *args)``,
    ``jax.grad(loss)(p, *args)`` and central differences

    .. math::

        \\frac{f(p + h_i e_i) - f(p - h_i e_i)}{2 h_i}, \\qquad
        h_i = \\epsilon^{1/3} s_i, \\qquad s_i = \\max(|p_i|, 0.1 \\max|\\text{leaf}|),

    with :math:`\\epsilon` the float64 epsilon (the step that balances
    truncation against rounding) and :math:`s_i` the element's size (1 in an
    all-zero leaf). Element :math:`i` of the hand-derived gradient passes when

    .. math::

        |\\text{hand}_i - \\text{auto}_i| \\le \\text{rtol}\\, S_i + R_i + \\text{atol},
        \\qquad S_i = \\max_\\text{points} |\\text{auto}_i|,

    .. math::

        R_i = 1000 \\max_\\text{points} \\Bigl(
              \\frac{\\epsilon_{64}}{\\epsilon_{32}} |\\text{auto32}_i - \\text{auto}_i|
              + |\\text{auto}_i(\\tilde p) - \\text{auto}_i(p)| \\Bigr).

    :math:`S_i` is the element's own size (at an optimum, the random points
    nearby set it). :math:`R_i` is the floor for elements whose gradient is
    zero or cancels, two estimates of the float64 rounding of that element:
    autodiff evaluated in float32 (inputs rounded to float32) errs by the
    float32 rounding of the element's computation, which, scaled to float64's
    epsilon, estimates the float64 rounding (where float32 raises or
    overflows, it is 0); and :math:`\\tilde p` is the point with every floating
    input, params and data, multiplied by :math:`1 \\pm \\epsilon` (signs at
    random), which is what rounding them does (a gradient whose terms cancel
    to 0 moves by their rounding, 1e-16, where float32 may cancel them
    exactly). Both run only when some element fails without them (they can
    only loosen a tolerance, so the verdict is the same). The size of the cost
    is no part of this tolerance: an offset in the cost changes neither
    gradient. At point :math:`p`, autodiff and finite differences agree on
    element :math:`i` when

    .. math::

        |\\text{auto}_i - \\text{fd}_i| \\le \\text{fd\\_rtol}\\, S_i + R_i
            + \\text{atol} + F_i(p),

    .. math::

        F_i(p) = 100\\, \\frac{\\epsilon \\max |f(p \\pm h_i e_i)|
            + |f(\\tilde p) - f(p)|}{2 h_i},

    the rounding of the cost they difference at that point: its last place
    (so a cost with a large offset passes) and its change at the nudged
    inputs :math:`\\tilde p` (computed, like :math:`R_i`, only when something
    fails without it), since a small cost can be made of large terms that
    cancel (residuals ``1e6 - 1e6``). Where that tolerance exceeds
    :math:`S_i`, finite differences cannot tell the element from zero: it is
    reported as unresolved (``LeafCheck.unresolved``,
    ``GradientReport.unresolved``), not as agreeing, and there the
    hand-derived gradient is checked against autodiff alone. With
    ``num_points=1`` at a stationary point, pass an ``atol``.

    A loss written in NumPy that JAX cannot differentiate (it converts a traced
    value to a NumPy array or a Python number, and given NumPy arrays returns
    no JAX array) is checked against finite differences alone, and the report
    says so: element :math:`i` passes when
    :math:`|\\text{hand}_i - \\text{fd}_i| \\le \\text{fd\\_rtol}\\, S_i
    + \\text{atol} + F_i(p)`, with :math:`S_i = \\max_\\text{points}
    |\\text{fd}_i|`; both functions then get NumPy float64 arrays, and where
    finite differences cannot resolve an element, nothing checks it, and the
    check fails saying so.

    Args:
        loss: ``loss(params, *args) -> scalar``.
        grad: the hand-derived gradient, ``grad(params, *args) -> pytree like params``.
        params: any pytree of floating arrays; it is upcast to float64 for the
            check, and the caller's arrays are left as they are.
        *args: the other arguments of both functions (data), upcast likewise.
        num_points: how many points to check, ``params`` included.
        key: a ``jax.random`` key or an int seed for the random points (default 0).
        rtol: tolerance of hand-derived vs autodiff, relative to each element's size.
        fd_rtol: tolerance of autodiff vs finite differences, likewise.
        atol: an absolute floor for both.
        num_rows: N, for naming a factor of N or 1/N in the diagnosis; by
            default the leading dimension of the first array in ``args``.
        autodiff: compare with ``jax.grad(loss)`` (True: a loss JAX cannot
            differentiate raises GradientCheckError), with finite differences
            alone (False: both functions then get NumPy arrays), or (None, the
            default) with autodiff, except for a
            loss written in NumPy that JAX cannot differentiate (given NumPy
            arrays, it runs with no JAX array made): finite differences alone. A JAX
            loss that JAX cannot trace (``float(...)`` of a value) still raises.

    Returns:
        A ``GradientReport``.

    Raises:
        GradientCheckError: the loss, the hand-derived gradient, autodiff or
            finite differences raised; the message names the stage and the point,
            with the user's exception.
        ValueError: ``num_points`` is not a whole number >= 1, or ``rtol``,
            ``fd_rtol`` or ``atol`` is not a finite number >= 0 (the message
            names the argument).

    A hand-derived gradient that is complex fails the check (its diagnosis names
    the leaf and the size of the imaginary part), and so does a loss that
    returns a complex value: a gradient of real params must be real.

    Example:
        >>> import jax.numpy as jnp
        >>> def loss(p, x): return jnp.sum((p * x) ** 2)
        >>> def grad(p, x): return 2 * p * x**2
        >>> check_gradient(loss, grad, jnp.array([1.0, -2.0]), jnp.array([3.0, 0.5])).ok
        True
        >>> def wrong(p, x): return p * x**2
        >>> report = check_gradient(loss, wrong, jnp.array([1.0, -2.0]), jnp.array([3.0, 0.5]))
        >>> print(report.diagnosis)  # doctest: +NORMALIZE_WHITESPACE
        off by a constant factor: the hand-derived gradient is 1/2 times the true one
        (failed at 3 of 3 points)

        A loss in NumPy alone is held to finite differences:

        >>> import numpy as np
        >>> def numpy_loss(p, x): return float(np.sum((np.asarray(p) * x) ** 2))
        >>> report = check_gradient(numpy_loss, grad, np.array([1.0, -2.0]), np.array([3.0, 0.5]))
        >>> report.ok, report.reference
        (True, 'finite differences')
    """
    _check_settings(num_points, rtol=rtol, fd_rtol=fd_rtol, atol=atol)
    if autodiff is not None and not isinstance(autodiff, bool):
        raise ValueError(f"autodiff must be True, False or None, got {autodiff!r}")
    with jax.enable_x64(True), jax.default_matmul_precision("highest"):
        params64, args64 = upcast(params), upcast(args)
        element_scales = _element_scales(params64)
        points = _points(params64, element_scales, num_points, key)
        names, shapes = _leaf_names_and_shapes(params64)
        skipped = "autodiff=False" if autodiff is False else None
        if autodiff is None:
            skipped = _written_in_numpy(loss, params64, args64)
        if skipped is not None:  # a NumPy loss: NumPy arrays in, finite differences alone
            points, args64 = [_numpy(p) for p in points], _numpy(args64)
        # Nothing is compiled with jit, everything runs op by op: nothing is cached across
        # calls (a loss that reads a global sees its current value), and non-array args
        # stay concrete. The loss and the hand-derived gradient run eagerly, point by point
        # (the hand-derived gradient need not be traceable by JAX); autodiff and finite
        # differences run under vmap, or eagerly where vmap fails.
        values = [_evaluate("loss", i, loss, p, *args64) for i, p in enumerate(points)]
        for point, value in enumerate(values):
            if (returned := not_a_scalar(value)) is not None:
                name = getattr(loss, "__name__", "the loss")
                error = TypeError(f"{name} returned {returned}; a loss returns one number")
                raise GradientCheckError("loss", point, error)
        problem, failed = _complex_cost(values)
        if problem is None:
            costs = [float(value) for value in values]
            problem, failed = _non_finite_cost(costs)
        if problem is None:
            hand = [
                _evaluate("hand-derived gradient", i, grad, p, *args64)
                for i, p in enumerate(points)
            ]
            problem, failed = _structure_problem(hand[0], params64, names, shapes), num_points
        if problem is None:
            problem, failed = _complex_gradient(hand, names)
        if problem is not None:
            return GradientReport(
                ok=False, checks=(), diagnosis=problem, num_points=num_points,
                rtol=rtol, fd_rtol=fd_rtol, atol=atol, failed_points=failed,
            )  # fmt: skip
        hand = [_leaves(h) for h in hand]
        # A loss that computes in float32 (a cast inside) rounds its cost at float32's eps:
        # the steps and the resolution of its finite differences are taken at that eps.
        cost_eps = _cost_eps(values[0], costs)
        if skipped is not None:
            return _check_by_finite_differences(
                loss, points, args64, names, shapes, hand, element_scales, cost_eps, costs,
                (rtol, fd_rtol, atol), num_rows if num_rows is not None else _num_rows(args),
                skipped,
            )  # fmt: skip
        auto = _autodiff(loss, points, args64)
        differences, eager_reason = _finite_differences(
            loss, points, args64, element_scales, cost_eps
        )
        finite_differences = [_leaves(f) for f, _ in differences]
        scales = _largest([[np.abs(leaf) for leaf in point] for point in auto])
        floors = [np.zeros_like(scale) for scale in scales]
        fd_floors = [_leaves(rounding) for _, rounding in differences]
        compared = (names, shapes, hand, auto, finite_differences, scales)
        checks, tolerances = _checks(*compared, floors, fd_floors, rtol, fd_rtol, atol)
        if not all(check.ok for check in checks):
            # The estimates of rounding can only loosen the tolerances: they are computed
            # (autodiff in float32, autodiff and the cost at nudged inputs) only where
            # something fails without them.
            float32 = _largest(_float32_rounding(loss, points, args64, auto))
            nudged, cost_rounding = _nudged_rounding(loss, points, args64, costs, auto)
            floors = [
                ROUNDING_MARGIN * (a + b) for a, b in zip(float32, _largest(nudged), strict=True)
            ]
            fd_floors = _with_cost_rounding(
                fd_floors, cost_rounding, params64, element_scales, cost_eps
            )
            checks, tolerances = _checks(*compared, floors, fd_floors, rtol, fd_rtol, atol)

    ok = all(check.ok for check in checks)
    failed = len({check.point for check in checks if not check.ok})
    diagnosis = None
    if not ok:
        diagnosis = _non_finite_gradient(names, auto, finite_differences) or diagnose(
            names, hand, auto, finite_differences, tolerances[0],
            fd_tolerances=tolerances[1],
            params=[_leaves(p) for p in points],
            num_rows=num_rows if num_rows is not None else _num_rows(args),
        )  # fmt: skip
        diagnosis += f" (failed at {failed} of {_count(num_points, 'point')})"
    return GradientReport(
        ok=ok, checks=tuple(checks), diagnosis=diagnosis, num_points=num_points,
        rtol=rtol, fd_rtol=fd_rtol, atol=atol, failed_points=failed,
        fd_eager=eager_reason is not None, fd_eager_reason=eager_reason,
        unresolved=sum(check.unresolved for check in checks),
    )  # fmt: skip


# What JAX raises when a loss turns a traced value into a NumPy array or a Python number.
NOT_TRACEABLE = (
    jax.errors.TracerArrayConversionError,
    jax.errors.ConcretizationTypeError,
    jax.errors.TracerIntegerConversionError,
)


def _written_in_numpy(loss: Callable, params, args) -> str | None:
    """Why the loss is checked without autodiff: ``jax.grad`` cannot differentiate it, and
    it is written in NumPy (``runs_without_jax``). None otherwise: a JAX loss that JAX
    cannot trace (``float(...)`` of a value inside) is an error to fix, which the check
    then names."""
    try:
        jax.grad(loss)(params, *args)
    except Exception as error:
        if runs_without_jax(loss, params, *args):
            return f"JAX cannot differentiate the loss, written in NumPy ({describe_error(error)})"
    return None


def runs_without_jax(function: Callable, *arguments) -> bool:
    """Whether ``function``, given NumPy arrays, runs with no array moved to a JAX device
    and returns no JAX array: a function written in NumPy (or PyTorch, through
    ``from_torch``), which only finite differences can check."""
    try:
        with jax.transfer_guard("disallow"):
            returned = function(*_numpy(arguments))
    except Exception:
        return False
    return not any(isinstance(leaf, jax.Array) for leaf in jax.tree.leaves(returned))


def _numpy(tree):
    """JAX arrays as writable NumPy arrays; other leaves as they are."""
    return jax.tree.map(lambda leaf: np.array(leaf) if isinstance(leaf, jax.Array) else leaf, tree)


def _check_by_finite_differences(
    loss, points, args, names, shapes, hand, element_scales, cost_eps, costs,
    tolerances, num_rows, skipped,
) -> GradientReport:  # fmt: skip
    """The hand-derived gradient against central differences alone (no autodiff).

    Element i at point p passes when ``|hand_i - fd_i| <= fd_rtol * S_i + atol + F_i(p)``,
    ``S_i`` its largest finite difference over the points and ``F_i(p)`` the rounding of
    the cost differenced (as in ``check_gradient``; the cost at nudged inputs is added
    only when something fails without it). ``tolerances``: the caller's rtol (reported,
    unused), fd_rtol and atol.
    """
    rtol, fd_rtol, atol = tolerances
    differences, _ = _finite_differences(
        loss, points, args, element_scales, cost_eps, costs=_costs_numpy
    )
    fd = [_leaves(f) for f, _ in differences]
    fd_floors = [_leaves(rounding) for _, rounding in differences]
    scales = _largest([[np.abs(leaf) for leaf in point] for point in fd])
    compared = (names, shapes, hand, fd, scales)
    checks, tolerances = _checks_by_finite_differences(*compared, fd_floors, fd_rtol, atol)
    if not all(check.ok for check in checks):
        nudged_points, nudged_args = _nudge((points, args))
        cost_rounding = _cost_rounding(loss, nudged_points, nudged_args, costs)
        fd_floors = _with_cost_rounding(
            fd_floors, cost_rounding, points[0], element_scales, cost_eps
        )
        checks, tolerances = _checks_by_finite_differences(*compared, fd_floors, fd_rtol, atol)
    ok = all(check.ok for check in checks)
    failed = len({check.point for check in checks if not check.ok})
    diagnosis = None
    if not ok:
        diagnosis = _non_finite_gradient(names, [], fd) or diagnose(
            names, hand, fd, fd, _largest(tolerances), fd_tolerances=tolerances,
            params=[_leaves(p) for p in points], num_rows=num_rows,
            reference="finite differences",
        )  # fmt: skip
        diagnosis += f" (failed at {failed} of {_count(len(points), 'point')})"
    elif unchecked := _unchecked(names, hand, scales, tolerances, fd_rtol):
        ok, failed, diagnosis = False, len(points), unchecked
    return GradientReport(
        ok=ok, checks=tuple(checks), diagnosis=diagnosis, num_points=len(points),
        rtol=rtol, fd_rtol=fd_rtol, atol=atol, failed_points=failed,
        unresolved=sum(check.unresolved for check in checks),
        reference="finite differences", autodiff_skipped=skipped,
    )  # fmt: skip


def _unchecked(names, hand, scales, tolerances, fd_rtol) -> str | None:
    """A sentence when finite differences, the only reference, cannot check an element:
    its tolerance exceeds both its gradient (by finite differences and by hand) and
    ``fd_rtol`` times the largest gradient of all (below that, a gradient that is zero
    within the rounding, an unused param's, is checked). Else None."""
    largest = max((float(np.max(scale, initial=0.0)) for scale in scales), default=0.0)
    count, total, first = 0, 0, None
    for j, name in enumerate(names):
        size = np.maximum(
            scales[j], np.max([np.abs(h[j]).reshape(scales[j].shape) for h in hand], axis=0)
        )
        tolerance = np.max([point[j] for point in tolerances], axis=0)
        blind = tolerance > np.maximum(size, fd_rtol * largest)
        count, total = count + int(np.sum(blind)), total + blind.size
        if first is None and np.any(blind):
            index = tuple(int(i) for i in np.argwhere(blind)[0])
            first = f"{name}{list(index) if index else ''}"
    if not count:
        return None
    return (
        f"finite differences, with no autodiff to check against, cannot resolve {count} of "
        f"{_count(total, 'element')} ({first} first): the rounding of the cost they "
        "difference exceeds the gradient there, so those were not checked; a cost made "
        "smaller (an offset taken out) or written in JAX can be checked"
    )


def _checks_by_finite_differences(names, shapes, hand, fd, scales, fd_floors, fd_rtol, atol):
    """The LeafChecks of hand-derived vs finite differences at every point, and the
    tolerances (one array per leaf per point); unresolved where a tolerance exceeds ``S_i``."""
    tolerances = [
        [fd_rtol * scale + floor + atol for scale, floor in zip(scales, floors, strict=True)]
        for floors in fd_floors
    ]
    checks = []
    for point, point_tolerances in enumerate(tolerances):
        for j, (name, shape) in enumerate(zip(names, shapes, strict=True)):
            tolerance = point_tolerances[j]
            compared = _discrepancy(
                hand[point][j].reshape(shape), fd[point][j], tolerance, scales[j]
            )
            checks.append(
                LeafCheck(
                    point=point, leaf=name, shape=shape, hand_shape=hand[point][j].shape,
                    hand_vs_autodiff=None, autodiff_vs_fd=None, hand_vs_fd=compared,
                    unresolved=int(np.sum(tolerance > scales[j])),
                )
            )  # fmt: skip
    return checks, tolerances


def _largest(points: list[list[np.ndarray]]) -> list[np.ndarray]:
    """Leaf by leaf, element by element, the largest value over the points."""
    return [np.max([point[j] for point in points], axis=0) for j in range(len(points[0]))]


def _checks(names, shapes, hand, autodiff, fd, scales, floors, fd_floors, rtol, fd_rtol, atol):
    """The LeafChecks at every point, and the tolerances.

    Hand-derived vs autodiff: ``rtol * S_i + R_i + atol`` (``scales``, ``floors``),
    one array per leaf. Autodiff vs finite differences at point p:
    ``fd_rtol * S_i + R_i + atol + F_i(p)`` (``fd_floors[p]``), one array per leaf
    per point; an element is unresolved where that exceeds ``S_i``.
    """
    tolerances = [rtol * scale + floor + atol for scale, floor in zip(scales, floors, strict=True)]
    fd_tolerances = [
        [
            fd_rtol * scale + floor + fd_floor + atol
            for scale, floor, fd_floor in zip(scales, floors, point_floors, strict=True)
        ]
        for point_floors in fd_floors
    ]
    sizes = [np.maximum(scale, floor) for scale, floor in zip(scales, floors, strict=True)]
    checks = []
    for point in range(len(hand)):
        for j, (name, shape) in enumerate(zip(names, shapes, strict=True)):
            auto, fd_tolerance = autodiff[point][j], fd_tolerances[point][j]
            checks.append(
                LeafCheck(
                    point=point,
                    leaf=name,
                    shape=shape,
                    hand_shape=hand[point][j].shape,
                    hand_vs_autodiff=_discrepancy(
                        hand[point][j].reshape(shape), auto, tolerances[j], sizes[j]
                    ),
                    autodiff_vs_fd=_discrepancy(auto, fd[point][j], fd_tolerance, sizes[j]),
                    unresolved=int(np.sum(fd_tolerance > scales[j])),
                )
            )
    return checks, (tolerances, fd_tolerances)


def _evaluate(stage: str, point: int, function: Callable, *arguments):
    """``function(*arguments)``; a GradientCheckError naming the stage when it raises."""
    try:
        return function(*arguments)
    except Exception as error:
        raise GradientCheckError(stage, point, error) from error


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def upcast(tree, dtype=jnp.float64):
    """Floating leaves as new arrays of ``dtype``; other leaves as they are."""

    def upcast(leaf):
        kind = np.asarray(leaf).dtype.kind if not isinstance(leaf, jax.Array) else "f"
        if kind not in "biufc":
            raise ValueError(
                f"a params or data leaf holds {np.asarray(leaf).dtype} values, not numbers"
            )
        array = jnp.asarray(leaf)
        if jnp.issubdtype(array.dtype, jnp.floating):
            return jnp.array(array, dtype=dtype)
        return array

    return jax.tree.map(upcast, tree)


def _element_scales(params) -> np.ndarray:
    """Each element's size, ``max(|p_i|, 0.1 max|leaf|)`` (1 in an all-zero leaf), flattened."""
    scales = []
    for leaf in jax.tree.leaves(params):
        if not jnp.issubdtype(leaf.dtype, jnp.floating):
            raise ValueError(f"params must be floating arrays to differentiate, got {leaf.dtype}")
        values = np.abs(np.asarray(leaf, np.float64)).ravel()
        typical = float(values.max(initial=0.0))
        scales.append(np.maximum(values, 0.1 * typical) if typical > 0 else np.ones_like(values))
    return np.concatenate(scales) if scales else np.zeros(0)


def _points(params, element_scales: np.ndarray, num_points: int, key) -> list:
    """``params`` itself, then random points around it."""
    if key is None:
        key = 0
    if isinstance(key, int):
        key = jax.random.key(key)
    flat, unravel = ravel_pytree(params)
    points = [params]
    for subkey in jax.random.split(key, num_points - 1) if num_points > 1 else []:
        noise = jax.random.normal(subkey, flat.shape, jnp.float64)
        points.append(unravel(flat + PERTURBATION * element_scales * noise))
    return points


def _check_settings(num_points, **tolerances) -> None:
    """ValueError naming the argument: num_points a whole number >= 1, tolerances finite, >= 0."""
    if isinstance(num_points, bool) or not isinstance(num_points, int | np.integer):
        raise ValueError(f"num_points must be a whole number, got {num_points!r}")
    if num_points < 1:
        raise ValueError(f"num_points must be at least 1, got {num_points}")
    for name, value in tolerances.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a number, got {value!r}") from None
        if isinstance(value, bool) or not math.isfinite(number) or number < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def _complex_cost(values: list) -> tuple[str | None, int]:
    """A sentence when the loss returns a complex number (a cost must be real), else None."""
    bad = [index for index, value in enumerate(values) if np.iscomplexobj(value)]
    if not bad:
        return None, 0
    index = bad[0]
    where = "at params" if index == 0 else f"at point {index}, a random point near params"
    imaginary = float(np.max(np.abs(np.imag(np.asarray(values[index])))))
    return (
        f"the loss returns a complex value {where} (imaginary part {imaginary:g}): "
        "a cost must be real to be minimized"
    ), len(bad)


def _complex_gradient(hand: list, names: list[str]) -> tuple[str | None, int]:
    """A sentence naming the first leaf where the hand-derived gradient is complex, else None.

    Its imaginary part would be dropped, unseen, when it is compared in float64.
    """
    failed = 0
    problem = None
    for point in hand:
        leaves = jax.tree.leaves(point)
        complex_leaves = [j for j, leaf in enumerate(leaves) if np.iscomplexobj(leaf)]
        if not complex_leaves:
            continue
        failed += 1
        if problem is None:
            j = complex_leaves[0]
            imaginary = float(np.max(np.abs(np.imag(np.asarray(leaves[j]))), initial=0.0))
            problem = (
                f"the hand-derived gradient of {names[j]} is complex (imaginary part up to "
                f"{imaginary:g}): a gradient of real params must be real"
            )
    return problem, failed


def _non_finite_gradient(names, autodiff, finite_differences) -> str | None:
    """A sentence on the first element where autodiff or finite differences is not finite.

    The cost is finite at every point (checked first), so a finite difference that
    is not is a cost that is not finite a step away (the edge of the loss's domain);
    no comparison with it says anything about the hand derivation.
    """
    for label, gradients, cause in (
        ("autodiff of the loss gives", autodiff, "the loss is not differentiable there"),
        (
            "finite differences of the loss give",
            finite_differences,
            "the cost is not finite a step away (at the edge of the loss's domain?)",
        ),
    ):
        for point, leaves in enumerate(gradients):
            for name, leaf in zip(names, leaves, strict=True):
                bad = np.argwhere(~np.isfinite(leaf))
                if not bad.size:
                    continue
                index = tuple(int(i) for i in bad[0])
                where = (
                    "at params" if point == 0 else f"at point {point}, a random point near params"
                )
                element = f"{name}{list(index) if index else ''}"
                return f"{label} {leaf[index]} for {element} {where}: {cause}"
    return None


def _non_finite_cost(costs: list[float]) -> tuple[str | None, int]:
    """A sentence on the first point where the cost is not finite, and at how many it is not."""
    bad = [index for index, cost in enumerate(costs) if not math.isfinite(cost)]
    if not bad:
        return None, 0
    index = bad[0]
    where = "at params" if index == 0 else f"at point {index}, a random point near params"
    return (
        f"the cost is {costs[index]} {where}: outside the loss's domain? "
        "Check other params, a smaller neighbourhood, or num_points=1"
    ), len(bad)


def _leaf_names_and_shapes(params) -> tuple[list[str], list[tuple[int, ...]]]:
    with_paths, _ = jax.tree_util.tree_flatten_with_path(params)
    names = [
        jax.tree_util.keystr(path, simple=True, separator=".") or "params" for path, _ in with_paths
    ]
    return names, [tuple(leaf.shape) for _, leaf in with_paths]


def _leaves(tree) -> list[np.ndarray]:
    return [np.asarray(leaf, np.float64) for leaf in jax.tree.leaves(tree)]


def _structure_problem(hand, params, names, shapes) -> str | None:
    """A sentence when the hand gradient's pytree does not line up with params', else None."""
    # jaxlib ships no type stubs for PyTreeDef, whose != mypy cannot see.
    if jax.tree.structure(hand) != jax.tree.structure(params):  # type: ignore[operator]
        return (
            f"the hand-derived gradient has structure {jax.tree.structure(hand)}, "
            f"but params have {jax.tree.structure(params)}"
        )
    for name, shape, leaf in zip(names, shapes, jax.tree.leaves(hand), strict=True):
        if np.size(leaf) != math.prod(shape):
            return (
                f"the hand-derived gradient of {name} has shape {np.shape(leaf)}, "
                f"but {name} has shape {shape}"
            )
    return None


def _autodiff(loss: Callable, points: list, args) -> list[list[np.ndarray]]:
    """``jax.grad(loss)`` at each point, as leaves: vmapped over the points (fast),
    or one point at a time, eagerly, when vmap fails (Python control flow on values)."""
    gradient = jax.grad(loss)
    try:
        stacked = jax.tree.map(lambda *leaves: jnp.stack(leaves), *points)
        batched = _leaves(jax.vmap(lambda point: gradient(point, *args))(stacked))
        return [[leaf[index] for leaf in batched] for index in range(len(points))]
    except Exception:
        return [_leaves(_evaluate("autodiff", i, gradient, p, *args)) for i, p in enumerate(points)]


def _float32_rounding(loss: Callable, points: list, args, autodiff) -> list[list[np.ndarray]]:
    """An estimate of the float64 rounding error of each element of autodiff, at each point.

    Autodiff in float32, on inputs rounded to float32, errs by about eps32
    times the magnitude of the terms that make up each element (and their
    conditioning); scaled by eps64 / eps32, that estimates float64's error.
    0 where float32 raises, overflows or underflows to a non-finite value.
    """
    try:
        low = _autodiff(loss, [upcast(p, jnp.float32) for p in points], upcast(args, jnp.float32))
    except GradientCheckError:  # a loss that needs float64: the floor keeps its other term
        return [[np.zeros_like(leaf) for leaf in point] for point in autodiff]
    estimates = []
    for low_point, point in zip(low, autodiff, strict=True):
        with np.errstate(all="ignore"):
            errors = [FLOAT32_TO_64 * np.abs(a - b) for a, b in zip(low_point, point, strict=True)]
        estimates.append([np.where(np.isfinite(error), error, 0.0) for error in errors])
    return estimates


def _nudged_rounding(loss: Callable, points: list, args, costs: list[float], autodiff):
    """Estimates of the float64 rounding error of autodiff and of the cost, at each point.

    Rounding moves the loss's inputs and intermediates by about one part in
    1/eps. How much autodiff and the cost change when every floating input
    (params and data) is multiplied by ``1 ± eps``, signs at random, measures
    what that does to them, cancellations included: a gradient whose terms
    cancel to zero comes out of rounding as 1e-16, not 0, and a residual
    ``1e6 - 1e6`` is known to about 1e-10, however small the cost made of it.
    Returns autodiff's (leaves, at each point) and the cost's (a number at
    each point); 0 where the loss raises or is not finite at the nudged inputs.
    """
    nudged_points, nudged_args = _nudge((points, args))
    try:
        nudged = _autodiff(loss, nudged_points, nudged_args)
    except GradientCheckError:
        nudged = autodiff
    gradient = []
    for point, nudged_point in zip(autodiff, nudged, strict=True):
        with np.errstate(all="ignore"):
            changes = [np.abs(b - a) for a, b in zip(point, nudged_point, strict=True)]
        gradient.append([np.where(np.isfinite(change), change, 0.0) for change in changes])
    return gradient, _cost_rounding(loss, nudged_points, nudged_args, costs)


def _with_cost_rounding(fd_floors, cost_rounding: list[float], params, element_scales, cost_eps):
    """The finite differences' floors at each point, each element's raised by the cost's
    rounding there over its step: ``100 |f(p~) - f(p)| / 2 h_i``."""
    _, unravel = ravel_pytree(params)
    two_h = _leaves(unravel(2 * cost_eps ** (1 / 3) * element_scales))
    return [
        [f + FD_ROUNDING_MARGIN * cost / step for f, step in zip(floors, two_h, strict=True)]
        for floors, cost in zip(fd_floors, cost_rounding, strict=True)
    ]


def _cost_rounding(loss: Callable, nudged_points: list, nudged_args, costs: list[float]):
    """How far the cost moves at each nudged point (0 where it raises or is not finite)."""
    changes = []
    for point, value in zip(nudged_points, costs, strict=True):
        try:
            change = abs(float(loss(point, *nudged_args)) - value)
        except Exception:
            change = 0.0
        changes.append(change if math.isfinite(change) else 0.0)
    return changes


def _nudge(tree):
    """Floating leaves times ``1 ± eps``, signs at random (seed 0); other leaves as they are."""
    rng = np.random.default_rng(0)

    def nudge(leaf):
        if not jnp.issubdtype(jnp.asarray(leaf).dtype, jnp.floating):
            return leaf
        return leaf * (1 + EPS * rng.choice([-1.0, 1.0], size=np.shape(leaf)))

    return jax.tree.map(nudge, tree)


def _cost_eps(value, costs: list[float]) -> float:
    """The spacing at 1 of the floats the loss computes its cost in: its dtype's, or
    float32's (float16's) where the costs at two points or more, whole numbers aside, are
    all float32s (float16s) made float64: a loss computing in float32 that returns a
    Python float. (At a random point, a float64 cost is a float32 by chance once in
    2**29; at the params, a simple value such as 1.5 is one, so one point says nothing.)"""
    eps = max(EPS, _eps_of(value))
    fractional = [cost for cost in costs if cost != round(cost)]
    for dtype in (np.float16, np.float32):
        narrower = float(np.finfo(dtype).eps)
        if len(fractional) >= 2 and narrower > eps:
            with np.errstate(over="ignore"):
                if all(cost == float(dtype(cost)) for cost in fractional):
                    return narrower
    return eps


def _eps_of(value) -> float:
    """The spacing of the loss's own floats at 1: float32's for a float32 cost."""
    dtype = np.asarray(value).dtype
    return float(np.finfo(dtype).eps) if np.issubdtype(dtype, np.floating) else EPS


def _finite_differences(
    loss: Callable, points, args, element_scales: np.ndarray, eps=EPS, costs=None
):
    """Central differences at each point, and why they ran eagerly (None when under vmap);
    ``eps`` the spacing of the cost's floats (``_central_differences``).

    Under ``jax.vmap`` first; when that raises (Python control flow on values,
    a conversion to a Python float), one direction at a time, eagerly. With
    ``costs``, that way of evaluating the loss, and no vmap.
    """
    reason = None
    results = []
    for index, point in enumerate(points):
        if costs is not None:
            arguments = (costs, loss, point, args, element_scales, eps)
            results.append(_evaluate("finite differences", index, _central_differences, *arguments))
            continue
        if reason is None:
            try:
                vectorized = _central_differences(
                    _costs_vectorized, loss, point, args, element_scales, eps
                )
                results.append(vectorized)
                continue
            except Exception as error:
                reason = f"jax.vmap of the loss failed ({describe_error(error)})"
        eager = _evaluate(
            "finite differences", index,
            _central_differences, _costs_one_by_one, loss, point, args, element_scales, eps,
        )  # fmt: skip
        results.append(eager)
    return results, reason


def _costs_vectorized(loss, unravel, args, vectors: np.ndarray) -> np.ndarray:
    costs = jax.vmap(lambda vector: loss(unravel(vector), *args))(jnp.asarray(vectors))
    return np.asarray(costs, np.float64)


def _costs_one_by_one(loss, unravel, args, vectors: np.ndarray) -> np.ndarray:
    return np.array([float(loss(unravel(jnp.asarray(vector)), *args)) for vector in vectors])


def _costs_numpy(loss, unravel, args, vectors: np.ndarray) -> np.ndarray:
    """One by one, params as NumPy arrays: for a loss written in NumPy."""
    return np.array(
        [float(loss(_numpy(unravel(jnp.asarray(vector))), *args)) for vector in vectors]
    )


def _central_differences(
    costs: Callable, loss: Callable, params, args, element_scales, eps: float = EPS
):
    """Central differences of ``loss`` along each parameter, and their rounding error.

    ``costs(loss, unravel, args, vectors)`` evaluates the loss at each row of
    ``vectors``. Returns two pytrees like params: the differences, and
    ``100 eps |f| / h`` for each element, the resolution below which they
    cannot be trusted; ``eps`` is the spacing of the cost's floats (float64's, or
    float32's for a loss that computes in float32), and the steps ``eps^(1/3)`` scaled.
    """
    raveled, unravel = ravel_pytree(params)
    flat = np.asarray(raveled)
    steps = eps ** (1 / 3) * element_scales
    derivatives = np.zeros(flat.size)
    rounding = np.zeros(flat.size)
    for start in range(0, flat.size, FD_BATCH):
        which = np.arange(start, min(start + FD_BATCH, flat.size))
        rows = np.arange(which.size)
        shift = np.zeros((which.size, flat.size))
        shift[rows, which] = steps[which]
        forward, backward = flat + shift, flat - shift
        f_forward = costs(loss, unravel, args, forward)
        f_backward = costs(loss, unravel, args, backward)
        # The steps actually taken, after rounding, are what the difference divides by.
        taken = forward[rows, which] - backward[rows, which]
        derivatives[which] = (f_forward - f_backward) / taken
        largest = np.maximum(np.abs(f_forward), np.abs(f_backward))
        rounding[which] = FD_ROUNDING_MARGIN * eps * largest / taken
    return unravel(jnp.asarray(derivatives)), unravel(jnp.asarray(rounding))


def _discrepancy(tested, reference, tolerance, size) -> Discrepancy:
    """Element by element: ``|tested - reference| <= tolerance``; ``size`` for the relative one."""
    difference = np.abs(tested - reference)
    if not difference.size:
        return Discrepancy(0.0, 0.0, (), 0.0, 0.0, 0.0, True)
    index = np.unravel_index(np.argmax(_ratio(difference, tolerance)), difference.shape)
    return Discrepancy(
        max_abs=float(np.max(difference)),
        max_rel=float(np.max(_ratio(difference, size))),
        index=tuple(int(i) for i in index),
        value=float(tested[index]),
        reference=float(reference[index]),
        tolerance=float(tolerance[index]),
        ok=bool(np.all(difference <= tolerance)),
    )


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator``, with 0 / 0 as 0 (and x / 0 as inf)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = numerator / denominator
    return np.where((numerator == 0) & (denominator == 0), 0.0, ratio)


def _num_rows(args) -> int | None:
    for arg in args:
        if np.ndim(arg) >= 1:
            return int(np.shape(arg)[0])
    return None


def _format(report: GradientReport) -> str:
    alone = report.reference != "autodiff"
    columns = ("max|hand-fd|", "rel") if alone else ("max|hand-auto|", "rel", "max|auto-fd|", "rel")
    header = ("point", "leaf", "shape", *columns, "worst element", "")
    rows = [header]
    for check in report.checks:
        shape = str(check.shape)
        if check.hand_shape != check.shape:
            shape += f" (hand {check.hand_shape})"
        compared = [check.hand_vs_fd] if alone else [check.hand_vs_autodiff, check.autodiff_vs_fd]
        cells = [
            text
            for c in compared
            if c is not None
            for text in (f"{c.max_abs:.2e}", f"{c.max_rel:.1e}")
        ]
        rows.append(
            (str(check.point), check.leaf, shape, *cells, _describe_worst(check), _status(check))
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    verdict = "PASS" if report.ok else "FAIL"
    points = _count(report.num_points, "point")
    failed = "" if report.ok else f"; failed at {report.failed_points} of {points}"
    unresolved = ""
    if report.unresolved:
        checked = sum(math.prod(check.shape) for check in report.checks)
        fallback = (
            "so there the hand-derived gradient is held only to that tolerance"
            if alone
            else "so there the hand-derived gradient is checked against autodiff alone"
        )
        unresolved = (
            f"; finite differences could not resolve {report.unresolved} of "
            f"{_count(checked, 'element')} checked (marked unresolved: their tolerance exceeds "
            f"the element's gradient), {fallback}"
        )
    if alone:
        lines.append(
            f"{verdict}: hand-derived vs finite differences within rtol {report.fd_rtol:g} "
            f"(atol {report.atol:g}), element by element above their rounding, at {points}, "
            f"in float64{failed}{unresolved}"
        )
        lines.append(
            f"not compared with autodiff: {report.autodiff_skipped}; finite differences "
            f"alone cannot see a mistake smaller than about {report.fd_rtol:g} of an element"
        )
    else:
        lines.append(
            f"{verdict}: hand-derived vs autodiff within rtol {report.rtol:g}, autodiff vs "
            f"finite differences within rtol {report.fd_rtol:g} (atol {report.atol:g}), "
            f"element by element above a rounding floor, at {points}, "
            f"in float64{failed}{unresolved}"
        )
        if report.fd_eager:
            lines.append(
                "finite differences were evaluated eagerly, one direction at a time: "
                f"{report.fd_eager_reason}"
            )
    if report.diagnosis:
        lines.append(f"diagnosis: {report.diagnosis}")
    return "\n".join(lines)


def _status(check: LeafCheck) -> str:
    """FAIL, ok, or, when it passes, how many elements finite differences cannot resolve."""
    if not check.ok:
        return "FAIL"
    if not check.unresolved:
        return "ok"
    size = math.prod(check.shape)
    return "unresolved" if check.unresolved == size else f"{check.unresolved} of {size} unresolved"


def _describe_worst(check: LeafCheck) -> str:
    """The worst element of the comparison that failed (else of the last one made)."""
    if check.hand_vs_fd is not None:
        worst, tested, reference = check.hand_vs_fd, "hand", "fd"
    elif check.hand_vs_autodiff is not None and not check.hand_vs_autodiff.ok:
        worst, tested, reference = check.hand_vs_autodiff, "hand", "auto"
    else:
        assert check.autodiff_vs_fd is not None  # made whenever autodiff was
        worst, tested, reference = check.autodiff_vs_fd, "auto", "fd"
    index = f"[{', '.join(map(str, worst.index))}]" if worst.index else "(scalar)"
    return f"{index} {tested} {worst.value:.6g} {reference} {worst.reference:.6g}"
