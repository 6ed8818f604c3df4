"""The cost, written once.

This module is the only place the mean squared error is written. Its gradient
(``jax.grad``), its Hessian and the critical learning rate all derive from it
by autodiff; ``analytic.py`` holds the hand derivation kept to check against it.
"""

import jax
import jax.numpy as jnp

from .blocks import row_mean
from .models import Linear, predict


@row_mean
def mse(params: Linear, X: jax.Array, y: jax.Array) -> jax.Array:
    """Mean squared error of a linear model.

    .. math::

        f(w, b) = \\frac{1}{N} \\sum_{i=1}^{N} \\bigl(y_i - (x_i \\cdot w + b)\\bigr)^2

    With one feature this is the tutorial's ``f(m, b)``. It is marked ``row_mean``
    (a mean over the rows of ``X`` and ``y``), so ``fit`` may evaluate it in row blocks.

    Args:
        params: a ``Linear(w, b)``.
        X: features, shape ``(N,)`` (one feature) or ``(N, d)``.
        y: targets, shape ``(N,)``.

    Returns:
        The cost, a scalar.

    Example:
        >>> import jax.numpy as jnp
        >>> from steepest import Linear
        >>> X = jnp.array([1.0, 2.0, 3.0]); y = jnp.array([2.0, 4.0, 6.0])
        >>> float(mse(Linear(jnp.array([2.0]), jnp.array(0.0)), X, y))
        0.0
        >>> round(float(mse(Linear(jnp.array([0.0]), jnp.array(0.0)), X, y)), 4)  # (4+16+36)/3
        18.6667
    """
    residual = y - predict(params, X)
    return jnp.mean(residual**2)
