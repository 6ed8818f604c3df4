"""Checking a hand-derived Hessian against autodiff, with a diagnosis of the mistake.

``check_hessian(loss, hessian, params, *data)`` evaluates ``hessian(params, *data)``
(a dense ``(n, n)`` matrix over the params flattened as ``jax.flatten_util.ravel_pytree``
orders them, or the nested blocks ``jax.hessian`` returns) at the params and at a few
points around them, and compares it with ``jax.hessian`` of the loss in float64, itself
checked against central differences of the float64 gradient. Where they differ, it says
how, in the words ``check_gradient`` uses: not symmetric, off by a factor (2, N, 1/2),
a penalty ``(c/2)·||p||²`` missing or extra (a difference of ``c·I`` on a leaf), a cross
term missing (an off-diagonal block zero where autodiff's is not), the Gauss-Newton
approximation given as the Hessian, or the entry where they part.
"""

import dataclasses
import functools
import itertools
import math
from collections.abc import Callable, Iterable

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from .diagnose import name_factor
from .gradcheck import upcast
from .theory import MAX_DENSE_HESSIAN

# A Hessian entry computed in the hand's dtype may be off by this many roundings of the
# largest entry, times the square root of the rows its sums run over.
ROUNDINGS = 64
EPS64 = float(np.finfo(np.float64).eps)


class CheckReport:
    """What the reports of ``check_hessian``, ``check_hvp`` and ``check_rule`` share: the
    headline, the diagnosis under it, an AssertionError for pytest, plain data for JSON.
    A report has ``ok``, ``diagnosis`` and ``headline``."""

    ok: bool
    diagnosis: str | None

    @property
    def headline(self) -> str:
        raise NotImplementedError

    def __str__(self) -> str:
        return self.headline if self.diagnosis is None else f"{self.headline}\n{self.diagnosis}"

    def raise_if_failed(self) -> None:
        """An AssertionError when the check failed: the diagnosis first, then the headline."""
        if not self.ok:
            raise AssertionError(f"{self.diagnosis}\n{self.headline}")

    def to_dict(self) -> dict:
        """The report as plain data (for JSON): tuples as lists."""
        fields = dataclasses.asdict(self)  # type: ignore[call-overload]
        return {name: list(v) if isinstance(v, tuple) else v for name, v in fields.items()}


@dataclasses.dataclass(frozen=True)
class HessianReport(CheckReport):
    """What ``check_hessian`` (and ``check_hvp``) found.

    Attributes:
        ok: the hand Hessian equals autodiff's within ``tolerance`` at every point.
        largest_error: the largest ``|hand - autodiff|`` of an entry, over the points.
        tolerance: the largest difference allowed (from the hand's dtype and the data).
        diagnosis: what the mistake is, in one sentence, or None when ok.
        points: how many points were checked.
        names: the flat params' names, in the order of the matrix's rows.
    """

    ok: bool
    largest_error: float
    tolerance: float
    diagnosis: str | None
    points: int
    names: tuple[str, ...]

    @property
    def headline(self) -> str:
        verdict = "Hessian check passed" if self.ok else "Hessian check failed"
        return (
            f"{verdict} at {self.points} points: largest difference from autodiff "
            f"{self.largest_error:.3g} (tolerance {self.tolerance:.3g})"
        )


def check_hessian(
    loss: Callable, hessian: Callable, params, *data, num_points: int = 3, seed: int = 0
) -> HessianReport:
    """Check ``hessian(params, *data)``, derived by hand, against ``jax.hessian(loss)``.

    The points: ``params``, and ``num_points - 1`` draws around them (each entry moved by
    a normal draw times ``max(1, |entry|)``, from ``seed``). The hand Hessian is evaluated
    in the params' own dtype, the reference in float64; an entry may differ by
    ``ROUNDINGS · eps · sqrt(N) · max|H|`` (``eps`` of the params' dtype, ``N`` the data's
    rows). Where autodiff itself disagrees with central differences of the gradient (a
    loss not twice differentiable there), the report says so instead of judging.

    Example:
        >>> import jax.numpy as jnp
        >>> loss = lambda p, x: jnp.sum(p**2 * x)
        >>> print(check_hessian(loss, lambda p, x: jnp.diag(2 * x), jnp.ones(2), jnp.arange(2.0)))
        Hessian check passed at 3 points: largest difference from autodiff 0 (tolerance 2.16e-05)
        >>> print(check_hessian(loss, lambda p, x: jnp.diag(x), jnp.ones(2), jnp.arange(2.0)))
        ... # doctest: +ELLIPSIS
        Hessian check failed at 3 points: ...
        the hand Hessian is off by a factor of 1/2: it is 1/2 times autodiff's
    """
    names, sizes = _flat_names(params)
    if len(names) > MAX_DENSE_HESSIAN:
        raise ValueError(
            f"a dense Hessian of {len(names):,} params is too big to check entry by entry "
            f"(at most {MAX_DENSE_HESSIAN:,})"
        )
    dtype = jnp.result_type(*jax.tree.leaves(params))
    eps = float(jnp.finfo(dtype).eps)
    rows = _num_rows(data)
    hands: list[np.ndarray] = []
    references: list[np.ndarray] = []
    with jax.enable_x64(True):
        flat, unravel = ravel_pytree(upcast(params))
        data64 = upcast(data)

        def flat_loss(vector):
            return loss(unravel(vector), *data64)

        reference = jax.jit(jax.hessian(flat_loss))
        gradient = jax.jit(jax.grad(flat_loss))
        for point in nearby_points(np.asarray(flat), num_points, seed):
            expected = np.asarray(reference(jnp.asarray(point)))
            if (kink := _not_twice_differentiable(gradient, point, expected)) is not None:
                return HessianReport(False, math.nan, math.nan, kink, len(hands) + 1, names)
            hand_params = _like(params, unravel(jnp.asarray(point)))
            hands.append(_dense(hessian(hand_params, *data), len(flat), sizes))
            references.append(expected)
    scale = max(float(np.max(np.abs(h))) for h in references) or 1.0
    tolerance = ROUNDINGS * eps * math.sqrt(rows or 1) * scale
    largest = max(float(np.max(np.abs(h - a))) for h, a in zip(hands, references, strict=True))
    if largest <= tolerance:
        return HessianReport(True, largest, tolerance, None, len(hands), names)
    shapes = [np.shape(leaf) for leaf in jax.tree.leaves(params)]
    diagnosis = _diagnose(hands, references, tolerance, names, sizes, rows) or _layout(
        hands, references, tolerance, sizes, shapes, isinstance(params, dict)
    )
    if diagnosis is None:  # at params, the first point: its Hessians, with the targets moved
        diagnosis = _gauss_newton(loss, hessian, params, data, hands[0], references[0],
                                  tolerance, seed)  # fmt: skip
    if diagnosis is None:
        diagnosis = _where_they_part(hands, references, tolerance, names)
    return HessianReport(False, largest, tolerance, diagnosis, len(hands), names)


def _num_rows(data) -> int | None:
    lengths = {np.shape(leaf)[0] for leaf in jax.tree.leaves(data) if np.ndim(leaf)}
    return lengths.pop() if len(lengths) == 1 else None


def _flat_names(params) -> tuple[tuple[str, ...], list[tuple[str, int]]]:
    """Each flat entry's name (``w[1]``, ``b``) and each leaf's name and size, in
    ``ravel_pytree``'s order."""
    names: list[str] = []
    sizes: list[tuple[str, int]] = []
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        name = jax.tree_util.keystr(path, simple=True, separator=".") or "params"
        shape = np.shape(leaf)
        sizes.append((name, int(np.prod(shape))))
        names += [name] if not shape else [f"{name}{list(i)}" for i in np.ndindex(shape)]
    return tuple(names), sizes


def nearby_points(flat: np.ndarray, num_points: int, seed: int) -> list[np.ndarray]:
    """``flat`` itself, then ``num_points - 1`` draws around it: each entry moved by a
    normal draw times ``max(1, |entry|)``, from ``seed``."""
    rng = np.random.default_rng(seed)
    moved = [flat + rng.normal(size=flat.shape) * np.maximum(1.0, np.abs(flat))
             for _ in range(num_points - 1)]  # fmt: skip
    return [flat, *moved]


def _dense(found, size: int, sizes: list[tuple[str, int]]) -> np.ndarray:
    """The hand Hessian as an ``(n, n)`` float64 matrix: as given, or assembled from the
    nested blocks ``jax.hessian`` returns (leaf ``a``'s block of leaf ``b``)."""
    if not isinstance(found, dict | list | tuple) or isinstance(found, np.ndarray):
        matrix = np.asarray(found, np.float64)
        if matrix.shape == (size, size):
            return matrix
        if len(sizes) == 1 and matrix.size == size * size:
            return matrix.reshape(size, size)
    blocks = [np.asarray(block, np.float64) for block in jax.tree.leaves(found)]
    if len(blocks) != len(sizes) ** 2:
        raise ValueError(
            f"the hand Hessian must be an ({size}, {size}) matrix over the flattened params "
            f"or the nested blocks jax.hessian returns; got {len(blocks)} arrays"
        )
    rows = []
    for i, (_, height) in enumerate(sizes):
        rows.append([blocks[i * len(sizes) + j].reshape(height, width)
                     for j, (_, width) in enumerate(sizes)])  # fmt: skip
    return np.block(rows)


def central_differences(function: Callable, point: np.ndarray) -> np.ndarray:
    """The Jacobian of ``function`` (flat in, flat out) at ``point`` by central differences
    in float64, column ``k`` from steps of ``eps^(1/3) max(1, |point_k|)`` along entry ``k``.

    Example:
        >>> with jax.enable_x64(True):  # as the checkers call it
        ...     found = central_differences(lambda v: v**2, np.array([1.0, 3.0]))
        >>> found.round(6).tolist()
        [[2.0, 0.0], [0.0, 6.0]]
    """
    return np.column_stack(
        [(upper - lower) / (2 * step) for step, (upper, lower) in _along_each(function, point)]
    )


def central_differences_with_error(function: Callable, point: np.ndarray):
    """``central_differences``, and a bound on the error of each entry: their truncation,
    ``|D(2h) - D(h)|`` (the differences with steps twice as long err four times as much),
    plus their rounding, ``100 eps max|f_o(p ± h_k)| / 2 h_k``, below which a difference
    of outputs that large cannot be trusted."""
    columns, errors = [], []
    for step, values in _along_each(function, point, (1, -1, 2, -2)):
        short = (values[0] - values[1]) / (2 * step)
        long = (values[2] - values[3]) / (4 * step)
        largest = np.max(np.abs(values), axis=0)
        columns.append(short)
        errors.append(np.abs(long - short) + 100 * EPS64 * largest / (2 * step))
    return np.column_stack(columns), np.column_stack(errors)


def _along_each(function: Callable, point: np.ndarray, multiples=(1, -1)):
    """For each entry ``k`` of ``point``: its step ``h_k = eps^(1/3) max(1, |point_k|)``,
    and ``function`` at ``point + m h_k e_k`` for each multiple ``m``, in float64."""
    for k, step in enumerate(np.cbrt(EPS64) * np.maximum(1.0, np.abs(point))):
        shift = np.zeros_like(point)
        shift[k] = step
        yield (
            step,
            [np.asarray(function(jnp.asarray(point + m * shift)), np.float64) for m in multiples],
        )


def _not_twice_differentiable(gradient, point: np.ndarray, expected: np.ndarray) -> str | None:
    """A sentence when autodiff's Hessian disagrees with central differences of the
    float64 gradient at ``point`` (a kink, a branch): no reference to judge by there."""
    differences = central_differences(gradient, point)
    scale = max(float(np.max(np.abs(expected))), 1e-300)
    if float(np.max(np.abs(differences - expected))) <= 1e-5 * scale:
        return None
    return (
        "autodiff's Hessian disagrees with central differences of the gradient here: the "
        "loss is not twice differentiable at these params (a kink or a branch); nothing "
        "to judge the hand Hessian by"
    )


def _diagnose(hands, references, tolerance, names, sizes, rows) -> str | None:
    """The mistake, in one sentence: the first of the known kinds that explains every
    point, or None."""
    for hand in hands:
        asymmetry = np.abs(hand - hand.T)
        if float(np.max(asymmetry)) > tolerance:
            i, j = np.unravel_index(int(np.argmax(asymmetry)), hand.shape)
            return (
                f"the hand Hessian is not symmetric: entry ({names[i]}, {names[j]}) is "
                f"{hand[i, j]:.6g}, entry ({names[j]}, {names[i]}) is {hand[j, i]:.6g}"
            )
    if (factor := common_factor(hands, references, tolerance)) is not None:
        named = name_factor(factor, rows)
        return f"the hand Hessian is off by a factor of {named}: it is {named} times autodiff's"
    if (penalty := _penalty(hands, references, tolerance, sizes)) is not None:
        return penalty
    if (missing := _missing_cross_term(hands, references, tolerance, sizes)) is not None:
        return missing
    return None


def common_factor(tested, references, tolerance, near_one: float = 1e-9) -> float | None:
    """The one constant ``c`` (not 1, nor within ``near_one`` of it) with every tested array
    within ``tolerance · max(1, |c|)`` of ``c`` times its reference, if any.

    Example:
        >>> common_factor([np.array([2.0, 4.0])], [np.array([1.0, 2.0])], 1e-12)
        2.0
    """
    numerator = sum(float(np.sum(t * r)) for t, r in zip(tested, references, strict=True))
    denominator = sum(float(np.sum(r * r)) for r in references)
    if denominator <= 0:
        return None
    factor = numerator / denominator
    if abs(factor - 1) <= near_one or not all(
        np.all(np.abs(t - factor * r) <= tolerance * max(1.0, abs(factor)))
        for t, r in zip(tested, references, strict=True)
    ):
        return None
    return factor


def _where_they_part(hands, references, tolerance, names) -> str:
    """The entry where the hand Hessian and autodiff's differ most, at the first point
    where they differ."""
    hand, reference = next(
        (h, a) for h, a in zip(hands, references, strict=True) if np.max(np.abs(h - a)) > tolerance
    )
    i, j = np.unravel_index(int(np.argmax(np.abs(hand - reference))), hand.shape)
    return (
        f"the hand Hessian differs from autodiff's at entry ({names[i]}, {names[j]}): "
        f"{hand[i, j]:.6g} against {reference[i, j]:.6g}"
    )


def _gauss_newton(loss, hessian, params, data, hand, reference, tolerance, seed) -> str | None:
    """The Gauss-Newton approximation given as the Hessian: moving the targets (the last
    data array) moves autodiff's Hessian (``reference``, at ``params``), through the
    residual-weighted second derivatives of the model ``sum_i r_i ∇²f_i``, and leaves the
    hand Hessian (``hand``) where it was."""
    other = _targets_moved(data, seed)
    if other is None:
        return None
    with jax.enable_x64(True):
        flat, unravel = ravel_pytree(upcast(params))
        other64 = upcast(other)
        # Compiled: eagerly, op by op, a Hessian takes seconds where compiling it takes 0.3.
        moved = np.asarray(jax.jit(jax.hessian(lambda v: loss(unravel(v), *other64)))(flat))
    reference_moves = float(np.max(np.abs(moved - reference))) > tolerance
    _, sizes = _flat_names(params)
    hand_moves = (
        float(np.max(np.abs(_dense(hessian(params, *other), len(flat), sizes) - hand))) > tolerance
    )
    if not reference_moves or hand_moves:
        return None
    return (
        "the hand Hessian is the Gauss-Newton approximation, not the Hessian: it leaves out "
        "the residual-weighted second derivatives of the model (sum_i r_i ∇²f_i), so it "
        "stays the same when the targets move while autodiff's does not"
    )


def _targets_moved(data: tuple, seed: int) -> tuple | None:
    """``data`` with its last array (the targets) moved by a normal draw of their size, for
    the Gauss-Newton test; None when the last array is not floating (no targets to move)."""
    leaves, tree = jax.tree.flatten(data)
    if not leaves or not np.issubdtype(np.asarray(leaves[-1]).dtype, np.floating):
        return None
    targets = np.asarray(leaves[-1])
    moved = targets + np.random.default_rng(seed + 1).normal(size=targets.shape) * max(
        1.0, float(np.max(np.abs(targets), initial=0.0))
    )
    return jax.tree.unflatten(tree, [*leaves[:-1], moved.astype(targets.dtype)])


# Leaf orders tried when a hand Hessian may list the params in another order than
# ravel_pytree's: all of them up to this many leaves (5! = 120 orders), and only while
# the entries compared, orders times entries times points, stay under MAX_LAYOUT_WORK.
MAX_LEAVES_REORDERED = 5
MAX_LAYOUT_WORK = 10**8


def _layout(hands, references, tolerance, sizes, shapes, dict_keys: bool) -> str | None:
    """The hand Hessian is autodiff's laid out another way: a matrix leaf taken column by
    column (``vec(W)`` of matrix calculus, where ``ravel_pytree`` goes row by row), the
    leaves in another order than ``ravel_pytree``'s, or one off-diagonal block
    transposed. A sentence saying which, or None."""
    spans = _offsets(sizes)
    by_column = _column_major_leaves(hands, references, tolerance, spans, shapes)
    natural = tuple(range(len(sizes)))
    entries = hands[0].size * len(hands)
    orders: Iterable[tuple[int, ...]] = [natural]
    if (
        1 < len(sizes) <= MAX_LEAVES_REORDERED
        and math.factorial(len(sizes)) * entries <= MAX_LAYOUT_WORK
    ):
        orders = itertools.permutations(natural)
    for order in orders:
        if order == natural and not by_column:
            continue
        index = np.concatenate([_entries(spans[j], shapes[j], j in by_column) for j in order])
        if _matches(hands, [r[np.ix_(index, index)] for r in references], tolerance):
            return _said_layout(sizes, order, by_column, dict_keys)
    return _transposed_block(hands, references, tolerance, sizes, spans)


def _column_major_leaves(hands, references, tolerance, spans, shapes) -> set[int]:
    """The matrix leaves whose diagonal block in the hand Hessian is autodiff's with the
    leaf's entries taken column by column (and not as they are)."""
    found = set()
    for j, (span, shape) in enumerate(zip(spans, shapes, strict=True)):
        if len(shape) != 2 or min(shape) < 2:
            continue
        index = _entries(span, shape, True) - span.start
        blocks = [h[span, span] for h in hands]
        theirs = [r[span, span] for r in references]
        if not _matches(blocks, theirs, tolerance) and _matches(
            blocks, [r[np.ix_(index, index)] for r in theirs], tolerance
        ):
            found.add(j)
    return found


def _transposed_block(hands, references, tolerance, sizes, spans) -> str | None:
    """One off-diagonal block (of two leaves of one size) transposed, its mirror with it."""
    for a, b in itertools.combinations(range(len(sizes)), 2):
        if sizes[a][1] != sizes[b][1]:
            continue
        flipped = []
        for reference in references:
            moved = reference.copy()
            moved[spans[a], spans[b]] = reference[spans[a], spans[b]].T
            moved[spans[b], spans[a]] = reference[spans[b], spans[a]].T
            flipped.append(moved)
        if _matches(hands, flipped, tolerance):
            return (
                f"the hand Hessian's block of ({sizes[a][0]}, {sizes[b][0]}) is transposed "
                "(and its mirror image with it)"
            )
    return None


def _entries(span: slice, shape, by_column: bool) -> np.ndarray:
    """A leaf's entries in the flat params: in row-major order, or column by column."""
    entries = np.arange(span.start, span.stop)
    return entries.reshape(shape).T.ravel() if by_column else entries


def _matches(hands, references, tolerance) -> bool:
    return all(
        float(np.max(np.abs(h - r))) <= tolerance for h, r in zip(hands, references, strict=True)
    )


def _said_layout(sizes, order, by_column: set[int], dict_keys: bool) -> str:
    said = []
    if order != tuple(range(len(sizes))):
        hand_order = ", ".join(sizes[j][0] for j in order)
        true_order = ", ".join(name for name, _ in sizes)
        why = "autodiff's order, a dict's keys sorted" if dict_keys else "autodiff's order"
        said.append(
            f"orders the params {hand_order}, where ravel_pytree ({why}) orders them {true_order}"
        )
    for j in sorted(by_column):
        said.append(
            f"lays out {sizes[j][0]} column by column (vec of matrix calculus), where "
            "ravel_pytree goes row by row: Kronecker factors swapped?"
        )
    return f"the hand Hessian is autodiff's laid out another way: it {'; and it '.join(said)}"


def _offsets(sizes: list[tuple[str, int]]) -> list[slice]:
    ends = np.cumsum([0] + [size for _, size in sizes])
    return [slice(int(a), int(b)) for a, b in itertools.pairwise(ends)]


def _penalty(hands, references, tolerance, sizes) -> str | None:
    """The difference is ``c_a·I`` on the diagonal block of some leaves ``a`` and nothing
    else, the same at every point: a penalty ``(c_a/2)·||a||²`` missing or extra."""
    spans = _offsets(sizes)
    differences = [h - a for h, a in zip(hands, references, strict=True)]
    constants = [float(np.mean(np.diag(differences[0])[span])) for span in spans]
    expected = np.diag(np.concatenate([
        np.full(span.stop - span.start, c) for span, c in zip(spans, constants, strict=True)
    ]))  # fmt: skip
    if not all(np.max(np.abs(d - expected)) <= tolerance for d in differences):
        return None
    said = []
    for (name, _), c in zip(sizes, constants, strict=True):
        if abs(c) > tolerance:
            what = "extra" if c > 0 else "missing"
            said.append(f"a penalty ({abs(c):.6g}/2)·||{name}||² {what} (a difference of "
                        f"{c:+.6g}·I on {name})")  # fmt: skip
    return "the hand Hessian has " + "; ".join(said) if said else None


def _missing_cross_term(hands, references, tolerance, sizes) -> str | None:
    """Every difference lies in off-diagonal blocks where the hand's block is zero and
    autodiff's is not: those cross terms are missing."""
    spans = _offsets(sizes)
    missing = []
    for a, row in enumerate(spans):
        for b, column in enumerate(spans):
            differs = any(
                np.max(np.abs(h[row, column] - r[row, column])) > tolerance
                for h, r in zip(hands, references, strict=True)
            )
            if not differs:
                continue
            zero = all(np.max(np.abs(h[row, column])) <= tolerance for h in hands)
            if a == b or not zero:
                return None
            if a < b:
                missing.append(f"{sizes[a][0]} and {sizes[b][0]}")
    if not missing:
        return None
    return (
        f"the hand Hessian is missing the cross term between {', '.join(missing)}: its "
        "block is zero where autodiff's is not"
    )


def check_hvp(
    loss: Callable, hvp: Callable, params, *data, num_points: int = 2,
    num_directions: int = 4, seed: int = 0,
) -> HessianReport:  # fmt: skip
    """Check ``hvp(params, vector, *data)``, a Hessian-vector product derived by hand (a
    pytree like ``params``: ``H v`` for ``v`` shaped as ``params``), against forward-over-
    reverse autodiff (``jax.jvp`` of ``jax.grad``) in float64: any number of params, no
    matrix formed.

    Along ``num_directions`` random directions and, for each leaf, the direction of its
    first entry, at ``params`` and ``num_points - 1`` points around them; tolerances and
    diagnoses as ``check_hessian``'s (a factor, a penalty ``c·v`` on a leaf, the
    Gauss-Newton approximation, the entry where they part).

    Example:
        >>> import jax.numpy as jnp
        >>> loss = lambda p: jnp.sum(p**4) / 4
        >>> check_hvp(loss, lambda p, v: 3 * p**2 * v, jnp.arange(3.0)).ok
        True
        >>> print(check_hvp(loss, lambda p, v: p**2 * v, jnp.arange(3.0)).diagnosis)
        the hand Hessian-vector product is off by a factor of 0.333333: it is 0.333333 times ...
    """
    names, sizes = _flat_names(params)
    dtype = jnp.result_type(*jax.tree.leaves(params))
    eps = float(jnp.finfo(dtype).eps)
    rows = _num_rows(data)
    hands: list[np.ndarray] = []
    references: list[np.ndarray] = []
    directions: list[np.ndarray] = []
    gaps: list[float] = []  # autodiff against central differences, product by product
    with jax.enable_x64(True):
        flat, unravel = ravel_pytree(upcast(params))
        data64 = upcast(data)
        gradient = jax.jit(jax.grad(lambda vector: loss(unravel(vector), *data64)))
        product = jax.jit(lambda x, v: jax.jvp(gradient, (x,), (v,))[1])
        rng = np.random.default_rng(seed + 2)
        basis = np.eye(len(flat))[[span.start for span in _offsets(sizes)]]
        along = [*rng.normal(size=(num_directions, len(flat))), *basis]
        for point in nearby_points(np.asarray(flat), num_points, seed):
            for direction in along:
                expected = np.asarray(product(jnp.asarray(point), jnp.asarray(direction)))
                step = float(np.cbrt(EPS64)) * max(1.0, float(np.max(np.abs(point))))
                step /= max(float(np.max(np.abs(direction))), 1e-300)
                differenced = (
                    np.asarray(gradient(jnp.asarray(point + step * direction)))
                    - np.asarray(gradient(jnp.asarray(point - step * direction)))
                ) / (2 * step)
                gaps.append(float(np.max(np.abs(differenced - expected))))
                in_dtype = functools.partial(_like, params)
                found = hvp(in_dtype(unravel(jnp.asarray(point))),
                            in_dtype(unravel(jnp.asarray(direction))), *data)  # fmt: skip
                hands.append(_product_values(found, len(flat)))
                references.append(expected)
                directions.append(direction)
    scale = max(float(np.max(np.abs(r))) for r in references) or 1.0
    if max(gaps) > 1e-5 * scale:  # measured against the largest product, as a matrix's
        kink = (
            "autodiff's Hessian-vector product disagrees with central differences of the "
            "gradient at a point checked: the loss is not twice differentiable there (a "
            "kink or a branch); nothing to judge the hand product by"
        )
        return HessianReport(False, math.nan, math.nan, kink, num_points, names)
    tolerance = ROUNDINGS * eps * math.sqrt(rows or 1) * scale
    largest = max(float(np.max(np.abs(h - r))) for h, r in zip(hands, references, strict=True))
    if largest <= tolerance:
        return HessianReport(True, largest, tolerance, None, num_points, names)
    diagnosis = (
        _product_factor(hands, references, tolerance, rows)
        or _product_penalty(hands, references, directions, tolerance, sizes)
        or _product_gauss_newton(loss, hvp, params, data, tolerance, seed)
        or _product_part(hands, references, tolerance, names)
    )
    return HessianReport(False, largest, tolerance, diagnosis, num_points, names)


def _product_values(found, size: int) -> np.ndarray:
    """A hand Hessian-vector product flattened to float64; a ValueError naming what is
    wrong when it is not ``size`` real numbers (a pytree like params)."""
    values = np.concatenate(
        [np.ravel(np.asarray(leaf)) for leaf in jax.tree.leaves(found)] or [np.zeros(0)]
    )
    if values.size != size or not np.issubdtype(values.dtype, np.number):
        raise ValueError(
            f"the hand Hessian-vector product returns {values.size} values of type "
            f"{values.dtype}, but params have {size} numbers: it returns a pytree like params"
        )
    if np.iscomplexobj(values):
        raise ValueError("the hand Hessian-vector product returns complex values")
    return values.astype(np.float64)


def _like(params, tree):
    """``tree`` in the dtypes of ``params``' leaves (the hand's own dtype)."""
    return jax.tree.map(lambda leaf, like: jnp.asarray(leaf, jnp.result_type(like)), tree, params)


def _product_factor(hands, references, tolerance, rows) -> str | None:
    if (factor := common_factor(hands, references, tolerance)) is None:
        return None
    named = name_factor(factor, rows)
    return (
        f"the hand Hessian-vector product is off by a factor of {named}: it is {named} "
        "times autodiff's"
    )


def _product_penalty(hands, references, directions, tolerance, sizes) -> str | None:
    """``hand - autodiff = c_a · v_a`` on each leaf ``a``, the same ``c_a`` along every
    direction: a penalty ``(c_a/2)·||a||²`` missing or extra."""
    said = []
    for (name, _), span in zip(sizes, _offsets(sizes), strict=True):
        differences = np.concatenate(
            [(h - r)[span] for h, r in zip(hands, references, strict=True)]
        )
        along = np.concatenate([v[span] for v in directions])
        c = float(np.dot(differences, along) / max(float(np.dot(along, along)), 1e-300))
        if np.max(np.abs(differences - c * along)) > tolerance:
            return None
        if abs(c) > tolerance:
            what = "extra" if c > 0 else "missing"
            said.append(f"a penalty ({abs(c):.6g}/2)·||{name}||² {what} (a difference of "
                        f"{c:+.6g}·v on {name})")  # fmt: skip
    return "the hand Hessian-vector product has " + "; ".join(said) if said else None


def _product_gauss_newton(loss, hvp, params, data, tolerance, seed) -> str | None:
    """``_gauss_newton`` for a product: a dense Hessian of both sides is not formed; the
    product along one direction, with the targets moved and not."""
    other = _targets_moved(data, seed)
    if other is None:
        return None
    with jax.enable_x64(True):
        flat, unravel = ravel_pytree(upcast(params))
        direction = jnp.asarray(np.random.default_rng(seed + 3).normal(size=flat.shape))

        def reference(arguments):
            arguments = upcast(arguments)
            gradient = jax.grad(lambda vector: loss(unravel(vector), *arguments))
            return np.asarray(jax.jvp(gradient, (flat,), (direction,))[1])

        reference_moves = np.max(np.abs(reference(other) - reference(data))) > tolerance
    vector = _like(params, unravel(direction))
    hand_moves = np.max(np.abs(
        ravel_pytree(hvp(params, vector, *other))[0] - ravel_pytree(hvp(params, vector, *data))[0]
    )) > tolerance  # fmt: skip
    if not reference_moves or hand_moves:
        return None
    return (
        "the hand Hessian-vector product is that of the Gauss-Newton approximation, not the "
        "Hessian: it leaves out the residual-weighted second derivatives of the model "
        "(sum_i r_i ∇²f_i), so it stays the same when the targets move while autodiff's "
        "does not"
    )


def _product_part(hands, references, tolerance, names) -> str:
    k = next(
        i for i, (h, r) in enumerate(zip(hands, references, strict=True))
        if np.max(np.abs(h - r)) > tolerance
    )  # fmt: skip
    i = int(np.argmax(np.abs(hands[k] - references[k])))
    return (
        f"the hand Hessian-vector product differs from autodiff's in entry {names[i]} "
        f"(product {k + 1}): {hands[k][i]:.6g} against {references[k][i]:.6g}"
    )
