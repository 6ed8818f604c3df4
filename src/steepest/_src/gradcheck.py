"""Check a hand-derived gradient against autodiff and finite differences, and say what is wrong.

``check_gradient`` compares three gradients of ``loss`` at ``params`` and at a
few random points near it: the hand-derived one, ``jax.grad(loss)``, and
central finite differences. Everything runs in float64 with matmuls at
"highest" precision, whatever the caller's dtype and whether or not x64 is on:
on a GPU, float32 matmuls at the default precision (TF32) put a gradient 1.6e-4
away from float64, which a checker must not mistake for a wrong derivation.

When the hand-derived gradient is wrong, ``diagnose.py`` names the shape of
the mistake (sign, constant factor, swapped or copied leaves, a transpose,
some elements only).
"""

import dataclasses
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from .diagnose import diagnose

# Hand-derived vs autodiff: both exact up to float64 rounding, so a tight tolerance.
DEFAULT_RTOL = 1e-6
# Autodiff vs central differences: their truncation and rounding error is about
# eps**(2/3) ~ 4e-11 relative on smooth losses; 1e-5 leaves a wide margin.
DEFAULT_FD_RTOL = 1e-5
# Random points are params + PERTURBATION * s * N(0, 1), element by element, with the
# element's scale s = max(|p_i|, 0.1 * max|leaf|) (1 in an all-zero leaf): relative, so
# that small positive params stay positive (inside a log's domain, say).
PERTURBATION = 0.1
# An absolute floor for every leaf, relative to the largest gradient of any leaf: a leaf
# whose true gradient is zero shows autodiff rounding of about eps times the others' size.
RELATIVE_FLOOR = 1e-8
# Finite differences cannot resolve better than the rounding of the cost they difference:
# about eps * |f| / h. This many times that is added to their tolerance, element by element.
FD_ROUNDING_MARGIN = 100
FD_BATCH = 64


@dataclasses.dataclass(frozen=True)
class Discrepancy:
    """How far one gradient is from another on one leaf at one point.

    Attributes:
        max_abs: the largest absolute difference over the leaf's elements.
        max_rel: ``max_abs`` divided by the leaf's gradient scale (the largest
            autodiff magnitude of that leaf over all points checked).
        index: the worst element's index in the leaf.
        value: the tested gradient at that element.
        reference: the reference gradient at that element.
        ok: whether ``max_abs <= rtol * scale + atol``.
    """

    max_abs: float
    max_rel: float
    index: tuple[int, ...]
    value: float
    reference: float
    ok: bool


@dataclasses.dataclass(frozen=True)
class LeafCheck:
    """The comparisons for one leaf of params at one point."""

    point: int
    leaf: str
    shape: tuple[int, ...]
    hand_shape: tuple[int, ...]  # the hand-derived gradient's; compared reshaped when it differs
    hand_vs_autodiff: Discrepancy
    autodiff_vs_fd: Discrepancy

    @property
    def ok(self) -> bool:
        return self.hand_shape == self.shape and self.hand_vs_autodiff.ok and self.autodiff_vs_fd.ok


@dataclasses.dataclass(frozen=True)
class GradientReport:
    """The verdict of ``check_gradient``.

    ``ok`` is true when the hand-derived gradient matches autodiff and autodiff
    matches finite differences, on every leaf at every point. ``diagnosis`` is a
    sentence naming the shape of the mismatch when one is recognized (else a
    general one), and None when all is well. ``str(report)`` is a table.
    """

    ok: bool
    checks: tuple[LeafCheck, ...]
    diagnosis: str | None
    num_points: int
    rtol: float
    fd_rtol: float
    atol: float

    def __str__(self) -> str:
        return _format(self)

    def raise_if_failed(self) -> None:
        """Raise an AssertionError carrying the report's table when the check failed."""
        if not self.ok:
            raise AssertionError("gradient check failed\n" + str(self))

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
) -> GradientReport:
    """Compare a hand-derived gradient with ``jax.grad`` and with finite differences.

    At ``params`` and at ``num_points - 1`` random points near it (reproducible
    from ``key``), three gradients are computed in float64: ``grad(p, *args)``,
    ``jax.grad(loss)(p, *args)`` and central differences

    .. math::

        \\frac{f(p + h_i e_i) - f(p - h_i e_i)}{2 h_i}, \\qquad
        h_i = \\epsilon^{1/3} \\max(|p_i|, 1),

    with :math:`\\epsilon` the float64 epsilon (the step that balances
    truncation against rounding). On each leaf, a gradient passes when its
    largest absolute difference from the reference is at most
    ``rtol * scale + floor``, where ``scale`` is the largest autodiff magnitude
    of that leaf over all points, and ``floor = atol + 1e-8 * (the largest scale
    of any leaf)``: relative to the gradient's size, yet not a false alarm
    where the gradient is near zero (at an optimum the random points nearby set
    the scale; a leaf whose true gradient is zero falls under the floor). Finite
    differences are also allowed the rounding of the cost they difference,
    ``100 * eps * |f| / h``. With ``num_points=1`` at a stationary point, pass
    an ``atol``. The step :math:`h_i` and the random points scale with each
    element's size (``max(|p_i|, 0.1 max|leaf|)`` in place of ``max(|p_i|, 1)``).

    Args:
        loss: ``loss(params, *args) -> scalar``.
        grad: the hand-derived gradient, ``grad(params, *args) -> pytree like params``.
        params: any pytree of floating arrays; it is upcast to float64 for the
            check, and the caller's arrays are left as they are.
        *args: the other arguments of both functions (data), upcast likewise.
        num_points: how many points to check, ``params`` included.
        key: a ``jax.random`` key or an int seed for the random points (default 0).
        rtol: tolerance of hand-derived vs autodiff, relative to the scale.
        fd_rtol: tolerance of autodiff vs finite differences, relative to the scale.
        atol: an absolute floor for both.
        num_rows: N, for naming a factor of N or 1/N in the diagnosis; by
            default the leading dimension of the first array in ``args``.

    Returns:
        A ``GradientReport``.

    Example:
        >>> import jax.numpy as jnp
        >>> def loss(p, x): return jnp.sum((p * x) ** 2)
        >>> def grad(p, x): return 2 * p * x**2
        >>> check_gradient(loss, grad, jnp.array([1.0, -2.0]), jnp.array([3.0, 0.5])).ok
        True
        >>> def wrong(p, x): return p * x**2
        >>> check_gradient(loss, wrong, jnp.array([1.0, -2.0]), jnp.array([3.0, 0.5])).diagnosis
        'off by a constant factor: the hand-derived gradient is 1/2 times the true one'
    """
    if num_points < 1:
        raise ValueError(f"num_points must be at least 1, got {num_points}")
    with jax.enable_x64(True), jax.default_matmul_precision("highest"):
        params64, args64 = _upcast(params), _upcast(args)
        element_scales = _element_scales(params64)
        points = _points(params64, element_scales, num_points, key)
        names, shapes = _leaf_names_and_shapes(params64)
        problem = _non_finite_cost(loss, points, args64)
        # Everything runs eagerly, op by op: nothing is cached across calls (a loss that
        # reads a global sees its current value), and non-array args stay concrete.
        # The hand-derived gradient runs as given: it need not be traceable by JAX.
        hand = [grad(p, *args64) for p in points] if problem is None else []
        problem = problem or _structure_problem(hand[0], params64, names, shapes)
        if problem is not None:
            return GradientReport(
                ok=False, checks=(), diagnosis=problem, num_points=num_points,
                rtol=rtol, fd_rtol=fd_rtol, atol=atol,
            )  # fmt: skip
        hand = [_leaves(h) for h in hand]
        autodiff = [_leaves(jax.grad(loss)(p, *args64)) for p in points]
        differences = [_central_differences(loss, p, args64, element_scales) for p in points]
        finite_differences = [_leaves(f) for f, _ in differences]
        fd_rounding = [_leaves(r) for _, r in differences]

    scales = [
        max(float(np.max(np.abs(a[j]), initial=0.0)) for a in autodiff) for j in range(len(names))
    ]
    floor = atol + RELATIVE_FLOOR * max(scales, default=0.0)
    fd_floors = [
        floor + max(float(np.max(r[j], initial=0.0)) for r in fd_rounding)
        for j in range(len(names))
    ]
    checks = []
    for point in range(num_points):
        for j, (name, shape) in enumerate(zip(names, shapes, strict=True)):
            tested = hand[point][j]
            checks.append(
                LeafCheck(
                    point=point,
                    leaf=name,
                    shape=shape,
                    hand_shape=tested.shape,
                    hand_vs_autodiff=_discrepancy(
                        tested.reshape(shape), autodiff[point][j], scales[j], rtol, floor
                    ),
                    autodiff_vs_fd=_discrepancy(
                        autodiff[point][j],
                        finite_differences[point][j],
                        scales[j],
                        fd_rtol,
                        fd_floors[j],
                    ),
                )
            )
    ok = all(check.ok for check in checks)
    diagnosis = None
    if not ok:
        tolerances = [rtol * scale + floor for scale in scales]
        diagnosis = diagnose(
            names, hand, autodiff, finite_differences, tolerances,
            fd_tolerances=[fd_rtol * scale + f for scale, f in zip(scales, fd_floors, strict=True)],
            num_rows=num_rows if num_rows is not None else _num_rows(args),
        )  # fmt: skip
    return GradientReport(
        ok=ok, checks=tuple(checks), diagnosis=diagnosis, num_points=num_points,
        rtol=rtol, fd_rtol=fd_rtol, atol=atol,
    )  # fmt: skip


def _upcast(tree):
    """Floating leaves as new float64 arrays; other leaves as they are."""

    def upcast(leaf):
        array = jnp.asarray(leaf)
        if jnp.issubdtype(array.dtype, jnp.floating):
            return jnp.array(array, dtype=jnp.float64)
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


def _non_finite_cost(loss, points, args) -> str | None:
    for index, point in enumerate(points):
        value = float(loss(point, *args))
        if not math.isfinite(value):
            where = "at params" if index == 0 else f"at point {index}, a random point near params"
            return (
                f"the cost is {value} {where}: outside the loss's domain? "
                "Check other params, a smaller neighbourhood, or num_points=1"
            )
    return None


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
    if jax.tree.structure(hand) != jax.tree.structure(params):
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


def _central_differences(loss: Callable, params, args, element_scales: np.ndarray):
    """Central differences of ``loss`` along each parameter, and their rounding error.

    Returns two pytrees like params: the differences, and ``100 eps |f| / h``
    for each element, the resolution below which they cannot be trusted.
    """
    flat, unravel = ravel_pytree(params)
    flat = np.asarray(flat)
    eps = np.finfo(np.float64).eps
    steps = eps ** (1 / 3) * element_scales
    derivatives = np.zeros(flat.size)
    rounding = np.zeros(flat.size)
    batched = jax.vmap(lambda vector: loss(unravel(vector), *args))
    for start in range(0, flat.size, FD_BATCH):
        which = np.arange(start, min(start + FD_BATCH, flat.size))
        rows = np.arange(which.size)
        shift = np.zeros((which.size, flat.size))
        shift[rows, which] = steps[which]
        forward, backward = flat + shift, flat - shift
        f_forward = np.asarray(batched(jnp.asarray(forward)), np.float64)
        f_backward = np.asarray(batched(jnp.asarray(backward)), np.float64)
        # The steps actually taken, after rounding, are what the difference divides by.
        taken = forward[rows, which] - backward[rows, which]
        derivatives[which] = (f_forward - f_backward) / taken
        largest = np.maximum(np.abs(f_forward), np.abs(f_backward))
        rounding[which] = FD_ROUNDING_MARGIN * eps * largest / taken
    return unravel(jnp.asarray(derivatives)), unravel(jnp.asarray(rounding))


def _discrepancy(tested, reference, scale, rtol, atol) -> Discrepancy:
    difference = np.abs(tested - reference)
    index = np.unravel_index(np.argmax(difference), difference.shape) if difference.size else ()
    max_abs = float(difference[index]) if difference.size else 0.0
    return Discrepancy(
        max_abs=max_abs,
        max_rel=max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else math.inf),
        index=tuple(int(i) for i in index),
        value=float(tested[index]) if difference.size else 0.0,
        reference=float(reference[index]) if difference.size else 0.0,
        ok=max_abs <= rtol * scale + atol,
    )


def _num_rows(args) -> int | None:
    for arg in args:
        if np.ndim(arg) >= 1:
            return int(np.shape(arg)[0])
    return None


def _format(report: GradientReport) -> str:
    header = (
        "point", "leaf", "shape", "max|hand-auto|", "rel", "max|auto-fd|", "rel", "worst element",
        "",
    )  # fmt: skip
    rows = [header]
    for check in report.checks:
        hand = check.hand_vs_autodiff
        fd = check.autodiff_vs_fd
        worst = fd if hand.ok else hand
        shape = str(check.shape)
        if check.hand_shape != check.shape:
            shape += f" (hand {check.hand_shape})"
        rows.append(
            (
                str(check.point),
                check.leaf,
                shape,
                f"{hand.max_abs:.2e}",
                f"{hand.max_rel:.1e}",
                f"{fd.max_abs:.2e}",
                f"{fd.max_rel:.1e}",
                _describe_worst(check, worst),
                "ok" if check.ok else "FAIL",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    verdict = "PASS" if report.ok else "FAIL"
    lines.append(
        f"{verdict}: hand-derived vs autodiff within rtol {report.rtol:g}, autodiff vs "
        f"finite differences within rtol {report.fd_rtol:g} (atol {report.atol:g}), "
        f"at {report.num_points} point{'s' if report.num_points != 1 else ''}, in float64"
    )
    if report.diagnosis:
        lines.append(f"diagnosis: {report.diagnosis}")
    return "\n".join(lines)


def _describe_worst(check: LeafCheck, worst: Discrepancy) -> str:
    index = f"[{', '.join(map(str, worst.index))}]" if worst.index else "(scalar)"
    if worst is check.autodiff_vs_fd:
        return f"{index} auto {worst.value:.6g} fd {worst.reference:.6g}"
    return f"{index} hand {worst.value:.6g} auto {worst.reference:.6g}"
