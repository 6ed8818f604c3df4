"""The tutorial's gradient-descent loop, in pure Python: our oracle and slowest baseline.

``update_weights`` keeps the tutorial's semantics exactly: plain Python floats,
a ``for`` loop over the rows, the two partial derivatives accumulated, then
one step of size ``learning_rate``. No NumPy, no JAX.
"""

from collections.abc import Sequence


def update_weights(
    m: float, b: float, X: Sequence[float], Y: Sequence[float], learning_rate: float
) -> tuple[float, float]:
    """One step of gradient descent on the mean squared error, as the tutorial writes it.

    .. math::

        m \\leftarrow m - \\eta \\frac{1}{N}\\sum_i -2 x_i (y_i - (m x_i + b))
        \\qquad
        b \\leftarrow b - \\eta \\frac{1}{N}\\sum_i -2 (y_i - (m x_i + b))

    Example:
        >>> update_weights(0.0, 0.0, [1.0, 2.0], [1.0, 2.0], 0.1)
        (0.5, 0.30000000000000004)
    """
    # The tutorial's lines, verbatim: its derivatives start as the int 0 and add up floats.
    m_deriv = 0
    b_deriv = 0
    N = len(X)
    for i in range(N):
        # Calculate partial derivatives
        # -2x(y - (mx + b))
        m_deriv += -2 * X[i] * (Y[i] - (m * X[i] + b))  # type: ignore[assignment]
        # -2(y - (mx + b))
        b_deriv += -2 * (Y[i] - (m * X[i] + b))  # type: ignore[assignment]
    # We subtract because the derivatives point in direction of steepest ascent
    m -= (m_deriv / float(N)) * learning_rate
    b -= (b_deriv / float(N)) * learning_rate
    return m, b


def train(
    m: float,
    b: float,
    X: Sequence[float],
    Y: Sequence[float],
    learning_rate: float,
    steps: int,
) -> list[tuple[float, float]]:
    """Run ``update_weights`` ``steps`` times; return every iterate, the start included.

    Example:
        >>> train(0.0, 0.0, [1.0, 2.0], [1.0, 2.0], 0.1, 2)[-1]
        (0.66, 0.39)
    """
    iterates = [(m, b)]
    for _ in range(steps):
        m, b = update_weights(m, b, X, Y, learning_rate)
        iterates.append((m, b))
    return iterates
