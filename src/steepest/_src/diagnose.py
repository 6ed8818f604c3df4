"""Name the shape of a mismatch between a hand-derived gradient and the true one.

Given, at each checked point, the leaves of the hand-derived gradient, of
autodiff, of finite differences and of params (and each element's tolerance),
say in one sentence what went wrong: autodiff and finite differences disagree
(the loss is not differentiable there), or they agree and the hand derivation
is wrong, and then how: sign flipped, a constant factor (2, 1/2, N, 1/N, ...),
a penalty term off by a factor or a sign (hand = autodiff + c · params), the
data term off by a factor such as N with the penalty right
(hand = a · autodiff + c · params), two leaves swapped, one leaf computed as
another's, a transpose, or some elements only. A pattern is named only when it
holds at every point checked, element by element within the tolerances.
"""

import numpy as np

# Leaves are lists over points of arrays: hand[p][j] is leaf j at point p.
Leaves = list[list[np.ndarray]]
# A fit is believed only where its columns are this far from collinear (relative singular value).
COLLINEAR = 1e-8


def diagnose(
    names: list[str],
    hand: Leaves,
    autodiff: Leaves,
    finite_differences: Leaves,
    tolerances: list,
    *,
    fd_tolerances: list[list],
    params: Leaves | None = None,
    num_rows: int | None = None,
    reference: str = "autodiff",
) -> str:
    """One sentence on what is wrong; call it only when something is.

    ``tolerances[j]`` is leaf j's tolerance of hand-derived vs autodiff, and
    ``fd_tolerances[p][j]`` its tolerance of autodiff vs finite differences at
    point p (which grows with the cost there); each is element by element (an
    array shaped like the leaf) or one number for the leaf. Without ``params``,
    the penalty patterns are not looked for. ``reference`` names what
    ``autodiff`` holds in the sentences: ``"finite differences"`` when the
    hand-derived gradient was held to them alone (then pass them as both).

    Example:
        >>> a = [[np.array([1.0, 2.0])]]
        >>> diagnose(["w"], [[np.array([-1.0, -2.0])]], a, a, [1e-9], fd_tolerances=[[1e-9]])
        'sign flipped: the hand-derived gradient is the negative of the true one'
        >>> p = [[np.array([1.0, -1.0])], [np.array([0.5, 2.0])]]
        >>> auto = [[np.array([3.0, 1.0])], [np.array([-1.0, 4.0])]]
        >>> off = [[a - 2 * q for a, q in zip(h, x)] for h, x in zip(auto, p)]
        >>> print(diagnose(["w"], off, auto, auto, [1e-9], fd_tolerances=[[1e-9]] * 2, params=p))
        ... # doctest: +NORMALIZE_WHITESPACE
        the hand-derived gradient differs from autodiff by -2.0 · params:
        a penalty term with the wrong sign or factor?
    """
    notes = [
        f"the hand-derived gradient of {name} has shape {hand[0][j].shape}, "
        f"but {name} has shape {autodiff[0][j].shape}"
        for j, name in enumerate(names)
        if hand[0][j].shape != autodiff[0][j].shape
    ]
    sentence = _fd_disagreement(
        names, hand, autodiff, finite_differences, fd_tolerances, tolerances
    )
    if sentence is None:
        sentence = _hand_mistake(names, hand, autodiff, tolerances, num_rows, params, reference)
    return "; ".join([*notes, sentence] if sentence else notes)


def _close(x: np.ndarray, y: np.ndarray, tolerance) -> bool:
    """Every element of x within its tolerance of y's (sizes must match; shapes may not)."""
    if x.size != y.size:
        return False
    tolerance = np.asarray(tolerance)
    tolerance = tolerance.ravel() if tolerance.size == x.size else np.max(tolerance, initial=0.0)
    return bool(np.all(np.abs(x.ravel() - y.ravel()) <= tolerance))


def _close_everywhere(first: Leaves, j: int, second: Leaves, k: int, tolerance) -> bool:
    return all(_close(a[j], b[k], tolerance) for a, b in zip(first, second, strict=True))


def _fd_disagreement(names, hand, autodiff, finite_differences, fd_tolerances, tolerances):
    """A sentence when autodiff and finite differences disagree somewhere, else None."""
    for point, (auto, fd) in enumerate(zip(autodiff, finite_differences, strict=True)):
        for j, name in enumerate(names):
            tolerance = fd_tolerances[point][j]
            if _close(auto[j], fd[j], tolerance):
                continue
            with np.errstate(divide="ignore", invalid="ignore"):  # the most out of tolerance
                excess = np.abs(auto[j] - fd[j]) / np.broadcast_to(tolerance, auto[j].shape)
            index = np.unravel_index(np.nanargmax(excess), auto[j].shape)
            where = f"{name}{list(map(int, index)) if index else ''}"
            found = (
                f"autodiff and finite differences disagree at point {point} on {where} "
                f"(autodiff {auto[j][index]:.6g}, finite differences {fd[j][index]:.6g}): "
                "the loss is not differentiable there, or is numerically unstable"
            )
            hand_matches_autodiff = all(
                _close_everywhere(hand, i, autodiff, i, tolerances[i]) for i in range(len(names))
            )
            if hand_matches_autodiff:
                return found + "; the hand-derived gradient agrees with autodiff"
            if _close(hand[point][j], fd[j], tolerance):
                return found + "; the hand-derived gradient agrees with finite differences"
            return found + "; the hand-derived gradient matches neither"
    return None


def _hand_mistake(names, hand, autodiff, tolerances, num_rows, params, reference) -> str | None:
    """What is wrong with the hand-derived gradient, autodiff and finite differences agreeing."""
    everything = range(len(names))
    wrong = [j for j in everything if not _close_everywhere(hand, j, autodiff, j, tolerances[j])]
    if not wrong:
        return None
    if all(_close_everywhere(hand, j, _negated(autodiff), j, tolerances[j]) for j in everything):
        return "sign flipped: the hand-derived gradient is the negative of the true one"
    factor = _factor(hand, autodiff, list(everything), tolerances)
    if factor is not None:
        return (
            "off by a constant factor: the hand-derived gradient is "
            f"{name_factor(factor, num_rows)} times the true one"
        )
    if params is not None:
        sentence = _penalty_mistake(names, hand, autodiff, tolerances, num_rows, params, reference)
        if sentence is not None:
            return sentence
    described = []
    explained: set[int] = set()
    for j in wrong:
        if j in explained:
            continue
        described.append(
            _describe_leaf(
                j, names, hand, autodiff, tolerances, num_rows, explained, params, reference
            )
        )
    right = [names[j] for j in everything if j not in wrong]
    suffix = f" ({', '.join(right)} {'is' if len(right) == 1 else 'are'} right)" if right else ""
    sides = (
        "autodiff, and finite differences side with autodiff"
        if reference == "autodiff"
        else reference
    )
    return (
        f"the hand-derived gradient disagrees with {sides}, so the hand derivation is wrong: "
        f"{'; '.join(described)}{suffix}"
    )


def _penalty_mistake(names, hand, autodiff, tolerances, num_rows, params, reference):
    """The sentence for a penalty term off by c · params, or a data term off by a, else None.

    The first is hand = autodiff + c · params with one c for every leaf: a
    penalty (regularization) term whose gradient is off by a factor or a sign.
    The second is hand = a · (autodiff - penalty) + penalty with a named factor
    a != 1 (N, 1/N, 2, ...) and a penalty gradient k_j · params_j on each leaf
    (k_j = 0 on an unpenalized leaf): then hand = a · autodiff + c_j · params_j
    with c_j = (1 - a) k_j, so k_j = c_j / (1 - a).
    """
    every = range(len(names))
    if any(h[j].size != a[j].size for h, a in zip(hand, autodiff, strict=True) for j in every):
        return None
    tolerance = _flat_tolerances(tolerances, autodiff, every)
    offset = _flat(hand, every) - _flat(autodiff, every)
    c = _fit(offset, [_flat(params, every)], tolerance)
    if c is not None:
        return (
            f"the hand-derived gradient differs from {reference} by {_number(c[0])} · params: "
            "a penalty term with the wrong sign or factor?"
        )
    penalized = [j for j in every if np.any(_flat(params, [j]))]
    columns = [_flat(autodiff, every)] + [_flat(params, every, only=j) for j in penalized]
    x = _fit(
        _flat(hand, every), columns, tolerance, slack=lambda x: max(1.0, abs(x[0])), needed=[0]
    )
    symbol = None if x is None else _symbol(x[0], num_rows)
    if symbol is None or abs(x[0] - 1) < 1e-6:
        return None
    data_factor, penalties = x[0], dict(zip(penalized, x[1:], strict=True))
    terms = [
        f"{_number(c / (1 - data_factor))} · {names[j]}"
        for j, c in penalties.items()
        if _significant(c * _flat(params, every, only=j), tolerance)
    ]
    if not terms:  # a plain factor after all (named above when it is one)
        return None
    hint = ": is the 1/N missing from the data term?" if symbol.startswith("N ") else ""
    return (
        f"{symbol} times on the data term, penalty right: the hand-derived gradient is "
        f"{symbol.split(' ')[0]} · ({reference} - penalty) + penalty, with a penalty gradient of "
        f"{' and '.join(terms)}{hint}"
    )


def _flat(tree: Leaves, leaves, only: int | None = None) -> np.ndarray:
    """These leaves at every point, in one vector; with ``only``, the other leaves as zeros."""
    return np.concatenate(
        [np.ravel(point[j]) * (only is None or j == only) for point in tree for j in leaves]
        or [np.zeros(0)]
    )


def _flat_tolerances(tolerances, autodiff: Leaves, leaves) -> np.ndarray:
    """The tolerances in the order of ``_flat``: each leaf's, repeated at every point."""
    tiled = [np.broadcast_to(tolerances[j], p[j].shape).ravel() for p in autodiff for j in leaves]
    return np.concatenate(tiled or [np.zeros(0)])


def _fit(target, columns: list[np.ndarray], tolerance, slack=None, needed=None):
    """Coefficients x with target = sum_k x_k columns[k], element by element, or None.

    Least squares with each element weighted by 1 / its tolerance. Believed when
    the columns are far from collinear, when each coefficient (or those in
    ``needed``) rests on at least two values above their tolerance, and when
    every element is then within its tolerance (times ``slack(x)``: a gradient
    scaled by a carries a times its rounding).
    """
    design = np.stack(columns, axis=1)
    if not (np.all(np.isfinite(design)) and np.all(np.isfinite(target))):
        return None
    weights = 1 / _positive(tolerance)
    weighted = design * weights[:, None]
    if weighted.shape[0] <= weighted.shape[1]:
        return None
    singular = np.linalg.svd(weighted, compute_uv=False)
    if not singular[-1] > COLLINEAR * singular[0]:
        return None
    x = np.linalg.lstsq(weighted, target * weights, rcond=None)[0]
    needed = range(len(columns)) if needed is None else needed
    if not all(_significant(x[k] * design[:, k], tolerance) for k in needed):
        return None
    if np.any(np.abs(target - design @ x) > tolerance * (slack(x) if slack else 1.0)):
        return None
    return x


def _positive(tolerance: np.ndarray) -> np.ndarray:
    """Tolerances with zeros replaced by the smallest positive one (or 1)."""
    positive = tolerance[tolerance > 0]
    return np.where(tolerance > 0, tolerance, positive.min() if positive.size else 1.0)


def _significant(values: np.ndarray, tolerance: np.ndarray) -> bool:
    """At least two values stand above their tolerance: one number fits any pattern."""
    return int(np.sum(np.abs(values) > tolerance)) >= 2


def _number(value: float) -> str:
    """Six significant digits, written as Python writes a float: -2.0, 0.3, 1e-05."""
    return repr(float(f"{value:.6g}"))


def _describe_leaf(
    j, names, hand, autodiff, tolerances, num_rows, explained, params, reference
) -> str:
    name = names[j]
    tolerance = tolerances[j]
    if _negligible(hand, j, tolerance):
        return f"{name} is zero, but its true gradient is not"
    if _close_everywhere(hand, j, _negated(autodiff), j, tolerance):
        return f"{name} has its sign flipped"
    factor = _factor(hand, autodiff, [j], tolerances)
    if factor is not None:
        return f"{name} is off by a factor of {name_factor(factor, num_rows)}"
    for k, other in enumerate(names):
        if k == j or _negligible(autodiff, k, tolerances[k]):  # a zero gradient matches nothing
            continue
        if _close_everywhere(hand, j, autodiff, k, tolerances[k]):
            if _close_everywhere(hand, k, autodiff, j, tolerance):
                explained.add(k)
                return f"{name} and {other} are swapped"
            return (
                f"{name} equals the true gradient of {other} "
                f"(computed with respect to the wrong variable?)"
            )
    if hand[0][j].ndim == 2 and all(
        _close(h[j], a[j].T, np.transpose(tolerance)) for h, a in zip(hand, autodiff, strict=True)
    ):
        return f"{name} is transposed"
    where = _where_wrong(j, name, hand, autodiff, tolerance)
    c = None if params is None else _leaf_penalty(j, hand, autodiff, tolerances, params)
    if c is not None:
        return (
            f"{where}: it differs from {reference} by {_number(c)} · {name} "
            "(a penalty term with the wrong sign or factor?)"
        )
    if where.endswith("every element"):
        return f"{where}, in no pattern recognized"
    return where


def _leaf_penalty(j, hand, autodiff, tolerances, params) -> float | None:
    """The c with hand = autodiff + c · params on leaf j at every point, if any."""
    if any(h[j].size != a[j].size for h, a in zip(hand, autodiff, strict=True)):
        return None
    tolerance = _flat_tolerances(tolerances, autodiff, [j])
    offset = _flat(hand, [j]) - _flat(autodiff, [j])
    c = _fit(offset, [_flat(params, [j])], tolerance)
    return None if c is None else float(c[0])


def _where_wrong(j, name, hand, autodiff, tolerance) -> str:
    """Where leaf j is wrong: "w is wrong in every element", "w is wrong only in element 2"."""
    wrong_elements = np.zeros(autodiff[0][j].shape, bool)
    for h, a in zip(hand, autodiff, strict=True):
        if h[j].size == a[j].size:
            wrong_elements |= np.abs(h[j].reshape(a[j].shape) - a[j]) > tolerance
    count = int(wrong_elements.sum())
    if 0 < count < wrong_elements.size:
        indices = [
            list(map(int, i)) if len(i) > 1 else int(i[0]) for i in np.argwhere(wrong_elements)
        ]
        shown = ", ".join(map(str, indices[:8])) + (", ..." if count > 8 else "")
        return f"{name} is wrong only in element{'s' if count > 1 else ''} {shown}"
    return f"{name} is wrong in every element"


def _negligible(leaves: Leaves, j: int, tolerance) -> bool:
    return all(_close(point[j], np.zeros_like(point[j]), tolerance) for point in leaves)


def _negated(leaves: Leaves) -> Leaves:
    return [[-leaf for leaf in point] for point in leaves]


def _factor(hand, autodiff, leaves: list[int], tolerances) -> float | None:
    """The one constant c with hand = c * autodiff on these leaves at every point, if any.

    Named only where at least two values of the true gradient stand above their
    tolerance: any one wrong number is some multiple of one right number.
    """
    numerator = denominator = 0.0
    for h, a in zip(hand, autodiff, strict=True):
        for j in leaves:
            if h[j].size != a[j].size:
                return None
            numerator += float(np.dot(h[j].ravel(), a[j].ravel()))
            denominator += float(np.dot(a[j].ravel(), a[j].ravel()))
    significant = _significant(
        _flat(autodiff, leaves), _flat_tolerances(tolerances, autodiff, leaves)
    )
    if denominator == 0.0 or not significant:
        return None
    factor = numerator / denominator
    if abs(factor - 1.0) < 1e-9 or factor == 0.0:
        return None
    scaled = [[factor * leaf for leaf in point] for point in autodiff]
    if all(
        _close_everywhere(hand, j, scaled, j, tolerances[j] * max(1.0, abs(factor))) for j in leaves
    ):
        return factor
    return None


def _symbol(factor: float, num_rows: int | None) -> str | None:
    """2, 1/2, 4, 1/4, N, 1/N, 2N, 1/(2N) (with N's value), their negatives, or None.

    Example:
        >>> _symbol(0.5, None), _symbol(200.0, 200), _symbol(-0.005, 200), _symbol(3.0, None)
        ('1/2', 'N (= 200)', '-1/N (= -1/200)', None)
    """
    sign = "-" if factor < 0 else ""
    size = abs(factor)
    candidates: list[tuple[float, str, str | None]] = [
        (2.0, "2", None),
        (0.5, "1/2", None),
        (4.0, "4", None),
        (0.25, "1/4", None),
    ]
    if num_rows:
        candidates += [
            (float(num_rows), "N", f"{num_rows}"),
            (1.0 / num_rows, "1/N", f"1/{num_rows}"),
            (2.0 * num_rows, "2N", f"{2 * num_rows}"),
            (0.5 / num_rows, "1/(2N)", f"1/{2 * num_rows}"),
        ]
    for value, symbol, number in candidates:
        if abs(size - value) <= 1e-6 * value:
            return sign + symbol + (f" (= {sign}{number})" if number else "")
    return None


def name_factor(factor: float, num_rows: int | None) -> str:
    """The factor's symbol (see ``_symbol``), or the number itself.

    Example:
        >>> name_factor(0.5, None), name_factor(200.0, 200), name_factor(3.0, None)
        ('1/2', 'N (= 200)', '3')
    """
    return _symbol(factor, num_rows) or f"{factor:.6g}"
