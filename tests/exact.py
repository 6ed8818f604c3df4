"""Exact least squares in rational arithmetic: the reference no rounding can fool."""

from fractions import Fraction

import numpy as np


def exact_fractions(X, y, fit_intercept: bool = True) -> list[Fraction]:
    """The minimizer ``[w..., b]`` (``[w...]`` without an intercept) of
    ``sum_i (x_i . w + b - y_i)**2`` for the exact values of the floats in ``X`` and
    ``y``: Gaussian elimination on the normal equations, in ``Fraction``s.

    Example:
        >>> [str(v) for v in exact_fractions(np.array([0.0, 1.0, 2.0]), np.array([1.0, 3.0, 6.0]))]
        ['5/2', '5/6']
    """
    X = np.asarray(X, np.float64).reshape(len(y), -1)
    columns = [[Fraction(value) for value in column] for column in X.T.tolist()]
    if fit_intercept:
        columns.append([Fraction(1)] * len(y))
    target = [Fraction(value) for value in np.asarray(y, np.float64).tolist()]
    size = len(columns)
    # The augmented normal equations [X~^T X~ | X~^T y], row by row.
    system = [
        [sum(map(Fraction.__mul__, row, column)) for column in [*columns, target]]
        for row in columns
    ]
    for k in range(size):
        pivot = next(i for i in range(k, size) if system[i][k] != 0)
        system[k], system[pivot] = system[pivot], system[k]
        for i in range(k + 1, size):
            factor = system[i][k] / system[k][k]
            system[i] = [a - factor * b for a, b in zip(system[i], system[k], strict=True)]
    solution = [Fraction(0)] * size
    for k in reversed(range(size)):
        known = sum(system[k][j] * solution[j] for j in range(k + 1, size))
        solution[k] = (system[k][size] - known) / system[k][k]
    return solution


def exact_least_squares(X, y, *, intercept: bool = True) -> np.ndarray:
    """``exact_fractions``, rounded to float64 only at the end.

    Example:
        >>> exact_least_squares(np.array([[0.0], [1.0], [2.0]]), np.array([1.0, 3.0, 5.0])).tolist()
        [2.0, 1.0]
    """
    return np.array([float(v) for v in exact_fractions(X, y, fit_intercept=intercept)])
