"""Name the shape of a mismatch between a hand-derived gradient and the true one.

Given, at each checked point, the leaves of the hand-derived gradient, of
autodiff and of finite differences (and the tolerance of each leaf), say in one
sentence what went wrong: autodiff and finite differences disagree (the loss is
not differentiable there), or they agree and the hand derivation is wrong, and
then how: sign flipped, a constant factor (2, 1/2, N, 1/N, ...), two leaves
swapped, one leaf computed as another's, a transpose, or some elements only.
A pattern is named only when it holds at every point checked.
"""

import numpy as np

# Leaves are lists over points of arrays: hand[p][j] is leaf j at point p.
Leaves = list[list[np.ndarray]]


def diagnose(
    names: list[str],
    hand: Leaves,
    autodiff: Leaves,
    finite_differences: Leaves,
    tolerances: list[float],
    *,
    fd_tolerances: list[float],
    num_rows: int | None = None,
) -> str:
    """One sentence on what is wrong; call it only when something is.

    Example:
        >>> a = [[np.array([1.0, 2.0])]]
        >>> diagnose(["w"], [[np.array([-1.0, -2.0])]], a, a, [1e-9], fd_tolerances=[1e-9])
        'sign flipped: the hand-derived gradient is the negative of the true one'
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
        sentence = _hand_mistake(names, hand, autodiff, tolerances, num_rows)
    return "; ".join([*notes, sentence] if sentence else notes)


def _close(x: np.ndarray, y: np.ndarray, tolerance: float) -> bool:
    if x.size != y.size:
        return False
    return float(np.max(np.abs(x.ravel() - y.ravel()), initial=0.0)) <= tolerance


def _close_everywhere(first: Leaves, j: int, second: Leaves, k: int, tolerance: float) -> bool:
    return all(_close(a[j], b[k], tolerance) for a, b in zip(first, second, strict=True))


def _fd_disagreement(names, hand, autodiff, finite_differences, fd_tolerances, tolerances):
    """A sentence when autodiff and finite differences disagree somewhere, else None."""
    for point, (auto, fd) in enumerate(zip(autodiff, finite_differences, strict=True)):
        for j, name in enumerate(names):
            if _close(auto[j], fd[j], fd_tolerances[j]):
                continue
            index = np.unravel_index(np.argmax(np.abs(auto[j] - fd[j])), auto[j].shape)
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
            if _close(hand[point][j], fd[j], fd_tolerances[j]):
                return found + "; the hand-derived gradient agrees with finite differences"
            return found + "; the hand-derived gradient matches neither"
    return None


def _hand_mistake(names, hand, autodiff, tolerances, num_rows) -> str | None:
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
            f"{_name_factor(factor, num_rows)} times the true one"
        )
    described = []
    explained = set()
    for j in wrong:
        if j in explained:
            continue
        described.append(_describe_leaf(j, names, hand, autodiff, tolerances, num_rows, explained))
    right = [names[j] for j in everything if j not in wrong]
    suffix = f" ({', '.join(right)} {'is' if len(right) == 1 else 'are'} right)" if right else ""
    return (
        "the hand-derived gradient disagrees with autodiff, and finite differences side with "
        f"autodiff, so the hand derivation is wrong: {'; '.join(described)}{suffix}"
    )


def _describe_leaf(j, names, hand, autodiff, tolerances, num_rows, explained) -> str:
    name = names[j]
    tolerance = tolerances[j]
    if _negligible(hand, j, tolerance):
        return f"{name} is zero, but its true gradient is not"
    if _close_everywhere(hand, j, _negated(autodiff), j, tolerance):
        return f"{name} has its sign flipped"
    factor = _factor(hand, autodiff, [j], tolerances)
    if factor is not None:
        return f"{name} is off by a factor of {_name_factor(factor, num_rows)}"
    for k, other in enumerate(names):
        if k == j or _negligible(autodiff, k, tolerances[k]):  # a zero gradient matches nothing
            continue
        pair_tolerance = max(tolerance, tolerances[k])
        if _close_everywhere(hand, j, autodiff, k, pair_tolerance):
            if _close_everywhere(hand, k, autodiff, j, pair_tolerance):
                explained.add(k)
                return f"{name} and {other} are swapped"
            return (
                f"{name} equals the true gradient of {other} "
                f"(computed with respect to the wrong variable?)"
            )
    if hand[0][j].ndim == 2 and all(
        _close(h[j], a[j].T, tolerance) for h, a in zip(hand, autodiff, strict=True)
    ):
        return f"{name} is transposed"
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
    return f"{name} is wrong in every element, in no pattern recognized"


def _negligible(leaves: Leaves, j: int, tolerance: float) -> bool:
    return all(float(np.max(np.abs(point[j]), initial=0.0)) <= tolerance for point in leaves)


def _negated(leaves: Leaves) -> Leaves:
    return [[-leaf for leaf in point] for point in leaves]


def _factor(hand, autodiff, leaves: list[int], tolerances) -> float | None:
    """The one constant c with hand = c * autodiff on these leaves at every point, if any.

    Named only where at least two values of the true gradient stand above their
    tolerance: any one wrong number is some multiple of one right number.
    """
    numerator = denominator = 0.0
    significant = 0
    for h, a in zip(hand, autodiff, strict=True):
        for j in leaves:
            if h[j].size != a[j].size:
                return None
            numerator += float(np.dot(h[j].ravel(), a[j].ravel()))
            denominator += float(np.dot(a[j].ravel(), a[j].ravel()))
            significant += int(np.sum(np.abs(a[j]) > tolerances[j]))
    if denominator == 0.0 or significant < 2:
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


def _name_factor(factor: float, num_rows: int | None) -> str:
    """2, 1/2, N, 1/N (with N's value), their negatives, or the number itself.

    Example:
        >>> _name_factor(0.5, None), _name_factor(200.0, 200), _name_factor(-0.005, 200)
        ('1/2', 'N (= 200)', '-1/N (= -1/200)')
    """
    sign = "-" if factor < 0 else ""
    size = abs(factor)
    candidates = [(2.0, "2", None), (0.5, "1/2", None), (4.0, "4", None), (0.25, "1/4", None)]
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
    return f"{factor:.6g}"
