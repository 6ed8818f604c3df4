"""The tutorial's hand-derived partial derivatives, vectorized.

This is the deliberate second derivation of the gradient of ``losses.mse``,
kept so that it can be checked against ``jax.grad``. Nothing else uses it.
"""

import jax
import jax.numpy as jnp

from .model import Linear, predict


def mse_grad(params: Linear, X: jax.Array, y: jax.Array) -> Linear:
    """Gradient of the mean squared error, derived by hand.

    With residuals :math:`r_i = y_i - (x_i \\cdot w + b)`:

    .. math::

        \\frac{\\partial f}{\\partial w} = \\frac{1}{N} \\sum_i -2\\, x_i\\, r_i
        \\qquad
        \\frac{\\partial f}{\\partial b} = \\frac{1}{N} \\sum_i -2\\, r_i

    For one feature these are the tutorial's ``df/dm`` and ``df/db``.

    Args:
        params: a ``Linear(w, b)``.
        X: features, shape ``(N,)`` or ``(N, d)``.
        y: targets, shape ``(N,)``.

    Returns:
        A ``Linear`` holding ``df/dw`` (shape ``(d,)``) and ``df/db`` (scalar).

    Example:
        >>> import jax.numpy as jnp
        >>> X = jnp.array([1.0, 2.0]); y = jnp.array([1.0, 2.0])
        >>> g = mse_grad(Linear(jnp.array([0.0]), jnp.array(0.0)), X, y)
        >>> g.w.tolist(), g.b.tolist()  # -2 * (1*1 + 2*2) / 2, -2 * (1 + 2) / 2
        ([-5.0], -3.0)
    """
    residual = y - predict(params, X)
    features = X[:, None] if X.ndim == 1 else X
    n = y.shape[0]
    dw = -2.0 * (features.T @ residual) / n
    db = -2.0 * jnp.sum(residual) / n
    return Linear(w=dw, b=db)
