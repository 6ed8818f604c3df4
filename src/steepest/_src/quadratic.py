"""The quadratic model: a loss exactly quadratic in its params, as H, g and f at one point.

For such a loss (the mean squared error of a linear model, ridge) the gradient
at any point is ``g + H (p - p0)``, so once H and g are known a step costs
O(d^2) whatever the size of the data: ``fit(..., method="quadratic")``.
"""

import functools
from collections.abc import Callable, Collection

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from . import blocks
from .theory import check_dense, flat_gradient, hessian_columns, symmetric


def quadratic_model(
    loss: Callable,
    params,
    *data,
    tags: Collection = frozenset(),
    block_rows: int | str | None = "auto",
) -> tuple:
    """The exact quadratic a quadratic loss is, from autodiff at ``params``: one pass over data.

    A loss that is exactly quadratic in its params (the mean squared error of a
    linear model, ridge) equals

    .. math::

        f(p) = f(p_0) + g^\\top (p - p_0) + \\tfrac12 (p - p_0)^\\top H (p - p_0)

    with :math:`g = \\nabla f(p_0)` and :math:`H` its Hessian, so its gradient
    :math:`g + H (p - p_0)` costs O(d^2) whatever the size of the data.

    Returns:
        ``(hessian, gradient, value, center)``: H, g and f(p_0) at
        ``center`` = p_0, flattened as ``jax.flatten_util.ravel_pytree`` does.

    ``tags``, ``block_rows``: as for ``fit``.

    Raises:
        ValueError: when the loss is not quadratic: its Hessian or its value at
            a second point disagrees with the model beyond rounding.

    Example:
        >>> import jax.numpy as jnp
        >>> from steepest import Linear, mse
        >>> X = jnp.array([-1.0, 1.0]); y = jnp.array([0.0, 2.0])
        >>> H, g, value, center = quadratic_model(mse, Linear(jnp.zeros(1), jnp.array(0.0)), X, y)
        >>> H.tolist(), g.tolist(), float(value)  # w, then b
        ([[2.0, 0.0], [0.0, 2.0]], [-2.0, -2.0], 2.0)
    """
    check_dense(params)
    flat = ravel_pytree(params)[0]
    pieces = _compiled_quadratic_pieces(
        loss, blocks.resolve_block_rows(block_rows, loss, data, tags), blocks.row_sharding(data)
    )
    hessian_matrix, value, gradient, actual, curvature_there = pieces(params, *data)
    hessian_matrix = jnp.asarray(symmetric(hessian_matrix), flat.dtype)
    # A second point, along a fixed random direction: the model's value and its
    # curvature along that direction must hold there too.
    step = probe(flat.size, flat.dtype)
    predicted = value + gradient @ step + 0.5 * step @ hessian_matrix @ step
    terms = jnp.abs(value) + jnp.abs(actual) + jnp.abs(gradient @ step)
    rounding = 1e3 * jnp.finfo(flat.dtype).eps * (terms + jnp.abs(step @ hessian_matrix @ step) + 1)
    expected = hessian_matrix @ step
    scale = float(jnp.max(jnp.abs(expected))) + 1.0
    if not (
        abs(float(predicted) - float(actual)) <= float(rounding)
        and float(jnp.max(jnp.abs(curvature_there - expected))) <= 1e-4 * scale
    ):
        raise ValueError(
            "the loss is not quadratic in its params (its Hessian or value moves between "
            "two points): the quadratic method does not apply"
        )
    return hessian_matrix, gradient, value, flat


@functools.lru_cache(maxsize=64)
def _compiled_quadratic_pieces(loss: Callable, block_rows: int | None, sharding):
    """One compiled pass over the data for ``quadratic_model``: at ``params`` = p0, the
    Hessian, value and gradient; at p0 + 1 (every coordinate), the value and the
    curvature along the ones vector."""
    columns = hessian_columns(loss)

    def pieces(params, *data):
        flat, unravel = ravel_pytree(params)
        step = probe(flat.size, flat.dtype)
        value, grad = jax.value_and_grad(loss)(params, *data)
        flat_grad = flat_gradient(loss, unravel, data)
        curvature_there = jax.jvp(flat_grad, (flat + step,), (step,))[1]
        value_there = loss(unravel(flat + step), *data)
        return columns(params, *data), value, ravel_pytree(grad)[0], value_there, curvature_there

    return jax.jit(blocks.by_blocks(pieces, block_rows, sharding))


def probe(size: int, dtype) -> jax.Array:
    """The direction along which a loss is tested for being quadratic: fixed, and random
    (standard normal, NumPy's generator with seed 0), so that no term of the loss is
    constant along it by design, as ``(p0 - p1)**4`` is along the all-ones direction.
    Drawn by NumPy: outside a jit, ``jax.random`` would compile three operations.

    Example:
        >>> probe(3, jnp.float32).shape
        (3,)
    """
    return jnp.asarray(np.random.default_rng(0).standard_normal(size), dtype)


def quadratic_loss(params, hessian_matrix, gradient, value, center):
    """The model of ``quadratic_model`` evaluated at ``params``: a loss ``fit`` can run.

    Example:
        >>> import jax.numpy as jnp
        >>> float(quadratic_loss(jnp.array([1.0]), jnp.eye(1), jnp.zeros(1), 0.0, jnp.zeros(1)))
        0.5
    """
    delta = ravel_pytree(params)[0] - center
    return value + gradient @ delta + 0.5 * delta @ (hessian_matrix @ delta)
