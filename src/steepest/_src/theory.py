"""What theory says about the problem: the Hessian, its curvature, the critical learning rate.

(The closed form is ``least_squares.py``.) The Hessian comes from the cost by
autodiff (it is never written by hand), so these numbers hold for whatever loss
is passed, ``losses.mse`` included. For the mean squared error of a linear
model the Hessian is constant,

.. math::

    H = \\frac{2}{N} \\tilde X^\\top \\tilde X, \\qquad \\tilde X = [X \\; 1],

and gradient descent with a fixed learning rate converges exactly when it is
below the critical learning rate :math:`2 / L`, with :math:`L` the largest
eigenvalue of :math:`H`. With :math:`\\mu` the smallest, the error after each
step of size :math:`\\eta` shrinks by at most :math:`\\max_i |1 - \\eta \\lambda_i|
= \\max(|1 - \\eta \\mu|, |1 - \\eta L|)`; the step :math:`2 / (L + \\mu)` makes
that smallest, :math:`(\\kappa - 1) / (\\kappa + 1)` with :math:`\\kappa = L / \\mu`
the condition number. For other losses these hold locally, at ``params``.
"""

import dataclasses
import functools
import math
from collections.abc import Callable, Collection

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from . import blocks

# Above this many parameters the dense Hessian is too big to be worth forming.
MAX_DENSE_HESSIAN = 2048


def hessian(
    loss: Callable,
    params,
    *data,
    tags: Collection = frozenset(),
    block_rows: int | str | None = "auto",
) -> np.ndarray:
    """The Hessian of ``loss`` at ``params``, by autodiff, as a dense float64 matrix.

    The parameters are flattened in the order of ``jax.flatten_util.ravel_pytree``
    (for ``Linear``: the weights, then the intercept). Each column is one
    Hessian-vector product (forward over reverse), computed a few at a time so
    that memory stays a small multiple of the data.

    ``tags``, ``block_rows``: as for ``fit``; for a row-mean loss the Hessian is then
    the weighted sum over blocks of rows (``blocks.by_blocks``).

    Raises:
        ValueError: for more than ``MAX_DENSE_HESSIAN`` parameters.

    Example:
        >>> import jax.numpy as jnp
        >>> from steepest import Linear, mse
        >>> X = jnp.array([-1.0, 1.0]); y = jnp.zeros(2)
        >>> hessian(mse, Linear(jnp.zeros(1), jnp.array(0.0)), X, y).tolist()  # 2/N X~^T X~
        [[2.0, 0.0], [0.0, 2.0]]
    """
    check_dense(params)
    rows_per_block = blocks.resolve_block_rows(block_rows, loss, data, tags)
    columns = _compiled_hessian(loss, rows_per_block, blocks.row_sharding(data))
    return symmetric(columns(params, *data))


def check_dense(params) -> None:
    """A ValueError above ``MAX_DENSE_HESSIAN`` parameters (the caller says what to do)."""
    size = sum(np.size(leaf) for leaf in jax.tree.leaves(params))
    if size > MAX_DENSE_HESSIAN:
        raise ValueError(
            f"the Hessian of {size} parameters is too large to form (limit {MAX_DENSE_HESSIAN})"
        )


def symmetric(matrix) -> np.ndarray:
    """float64, symmetric exactly: the Hessian is symmetric up to rounding."""
    matrix = np.asarray(matrix, np.float64)
    return (matrix + matrix.T) / 2


def flat_gradient(loss: Callable, unravel: Callable, data: tuple) -> Callable:
    """The gradient of ``loss`` as a function of the flattened params, flattened."""
    return lambda flat: ravel_pytree(jax.grad(loss)(unravel(flat), *data))[0]


def hessian_columns(loss: Callable) -> Callable:
    """``columns(params, *data)``: the Hessian, one Hessian-vector product per column."""

    def columns(params, *data):
        flat, unravel = ravel_pytree(params)
        flat_grad = flat_gradient(loss, unravel, data)

        def column(direction):
            return jax.jvp(flat_grad, (flat,), (direction,))[1]

        basis = jnp.eye(flat.size, dtype=flat.dtype)
        # As many columns at once as keep the intermediates (a few of the data's length
        # each) near 2**26 elements: for the mean squared error a batch of columns is two
        # matmuls over X, so fewer, larger batches mean fewer passes over the data.
        rows = max((leaf.shape[0] for leaf in jax.tree.leaves(data) if leaf.ndim), default=1)
        batch = max(1, min(flat.size, 2**26 // rows))
        return jax.lax.map(column, basis, batch_size=batch)

    return columns


@functools.lru_cache(maxsize=64)
def _compiled_hessian(loss: Callable, block_rows: int | None, sharding):
    """The jitted Hessian of one loss, cached so that a second call with new values reuses it.

    In row blocks (``blocks.by_blocks``) for a row-mean loss on large data: the two
    matmuls over each block then run in the cache, 3.5x faster at N = 1e6, d = 64.
    """
    return jax.jit(blocks.by_blocks(hessian_columns(loss), block_rows, sharding))


def largest_eigenvalue(
    loss: Callable,
    params,
    *data,
    tags: Collection = frozenset(),
    block_rows: int | str | None = "auto",
) -> float:
    """L, the largest eigenvalue of the Hessian of ``loss`` at ``params``.

    Example:
        >>> import jax.numpy as jnp
        >>> from steepest import Linear, mse
        >>> X = jnp.array([-1.0, 1.0]); y = jnp.zeros(2)
        >>> largest_eigenvalue(mse, Linear(jnp.zeros(1), jnp.array(0.0)), X, y)
        2.0
    """
    matrix = hessian(loss, params, *data, tags=tags, block_rows=block_rows)
    return float(np.linalg.eigvalsh(matrix)[-1])


def critical_learning_rate(loss: Callable, params, *data) -> float:
    """``2 / L``: gradient descent on a quadratic cost diverges at and above it.

    Example:
        >>> import jax.numpy as jnp
        >>> from steepest import Linear, mse
        >>> X = jnp.array([-1.0, 1.0]); y = jnp.zeros(2)
        >>> critical_learning_rate(mse, Linear(jnp.zeros(1), jnp.array(0.0)), X, y)
        1.0
    """
    return 2.0 / largest_eigenvalue(loss, params, *data)


@dataclasses.dataclass(frozen=True)
class Curvature:
    """The Hessian's spectrum and what it says about gradient descent with a fixed step.

    Attributes:
        eigenvalues: of the Hessian, ascending.
        L: the largest eigenvalue.
        mu: the smallest eigenvalue.
        condition_number: ``L / mu`` (infinite when ``mu <= 0``).
        critical_learning_rate: ``2 / L``; at and above it gradient descent diverges.
        optimal_learning_rate: ``2 / (L + mu)``, the fixed step that converges fastest
            (NaN unless ``mu > 0``).
        optimal_rate: ``(L - mu) / (L + mu)``, the factor by which that step shrinks
            the distance to the minimum at every step (NaN unless ``mu > 0``).
    """

    eigenvalues: np.ndarray
    L: float
    mu: float
    condition_number: float
    critical_learning_rate: float
    optimal_learning_rate: float
    optimal_rate: float

    def rate(self, learning_rate: float) -> float:
        """``max_i |1 - learning_rate * lambda_i|``: the worst-case error factor per step.

        Below 1 the descent converges linearly; at or above 1 it does not.
        """
        return float(np.max(np.abs(1.0 - learning_rate * self.eigenvalues)))


def curvature(loss: Callable, params, *data) -> Curvature:
    """The spectrum of the Hessian of ``loss`` at ``params``, and the step sizes it implies.

    Example:
        >>> import jax.numpy as jnp
        >>> from steepest import Linear, mse
        >>> X = jnp.array([[1.0, 0.0], [0.0, 3.0], [-1.0, 0.0], [0.0, -3.0]])
        >>> c = curvature(mse, Linear(jnp.zeros(2), jnp.array(0.0)), X, jnp.zeros(4))
        >>> c.eigenvalues.tolist(), c.L, c.mu, c.condition_number  # 2/N X~^T X~ = diag(1, 9, 2)
        ([1.0, 2.0, 9.0], 9.0, 1.0, 9.0)
        >>> c.critical_learning_rate, c.optimal_learning_rate, c.optimal_rate
        (0.2222222222222222, 0.2, 0.8)
    """
    eigenvalues = np.linalg.eigvalsh(hessian(loss, params, *data))
    largest, smallest = float(eigenvalues[-1]), float(eigenvalues[0])
    convex = smallest > 0  # else no fixed step converges from everywhere: no optimum to name
    return Curvature(
        eigenvalues=eigenvalues,
        L=largest,
        mu=smallest,
        condition_number=largest / smallest if convex else math.inf,
        critical_learning_rate=2.0 / largest if largest > 0 else math.inf,
        optimal_learning_rate=2.0 / (largest + smallest) if convex else math.nan,
        optimal_rate=(largest - smallest) / (largest + smallest) if convex else math.nan,
    )
