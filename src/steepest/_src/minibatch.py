"""Mini-batch epochs, inside the compiled loop: every row once per epoch, in an order
drawn from a seed.

For a loss that is a mean over the rows of its data, an epoch shuffles the rows,
``order = jax.random.permutation(fold_in(key(seed), epoch), N)``, splits them into
batches of ``batch_size`` rows (a last, smaller batch holds the rest when
``batch_size`` does not divide N), and takes one optimizer update per batch ``B``
with the gradient of the loss on its rows alone:

.. math::

    p \\leftarrow p - \\eta \\, \\nabla f_B(p), \\qquad
    f_B(p) = \\frac{1}{|B|} \\sum_{i \\in B} \\ell(p; \\text{row}_i)

(for ``"gd"``; another optimizer takes ``\\nabla f_B`` as its gradient). The same
seed gives the same order epoch by epoch, so that runs reproduce. The epoch is a
``fori_loop`` over batches gathered from the data on the device: no host round
trip per batch.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp

from . import blocks


def epoch_order(seed: jax.Array, epoch: jax.Array, rows: int) -> jax.Array:
    """The order in which epoch ``epoch`` visits the ``rows`` rows.

    Example:
        >>> order = epoch_order(jnp.uint32(0), jnp.int32(0), 5)
        >>> sorted(order.tolist())
        [0, 1, 2, 3, 4]
    """
    return jax.random.permutation(jax.random.fold_in(jax.random.key(seed), epoch), rows)


def run_epoch(
    update: Callable, loss: Callable, data: tuple, params, opt_state, *, batch_size: int,
    seed: jax.Array, epoch: jax.Array,
):  # fmt: skip
    """``(params, opt_state)`` after one epoch of mini-batch updates.

    ``update(loss, batch, params, opt_state, value, grad) -> (params, opt_state)``
    applies one optimizer update (``engine.update``, its transformation bound).

    Example:
        >>> import optax
        >>> from steepest import Linear, mse
        >>> X = jnp.arange(4.0); y = 2 * X
        >>> def sgd(loss, batch, params, opt_state, value, grad):
        ...     step = jax.tree.map(lambda g: -0.1 * g, grad)
        ...     return optax.apply_updates(params, step), opt_state
        >>> params, _ = run_epoch(sgd, mse, (X, y), Linear.zeros(1), None, batch_size=2,
        ...                       seed=jnp.uint32(0), epoch=jnp.int32(0))
        >>> params.w.shape
        (1,)
    """
    rows = blocks.num_rows(data)
    order = epoch_order(seed, epoch, rows)
    full_batches, rest = divmod(rows, batch_size)

    def rows_of(start, size):
        index = jax.lax.dynamic_slice_in_dim(order, start, size)
        return tuple(jax.tree.map(lambda leaf: leaf[index] if jnp.ndim(leaf) else leaf, data))

    def one_update(batch, carry):
        params, opt_state = carry
        value, grad = jax.value_and_grad(loss)(params, *batch)
        return update(loss, batch, params, opt_state, value, grad)

    carry = jax.lax.fori_loop(
        0,
        full_batches,
        lambda i, carry: one_update(rows_of(i * batch_size, batch_size), carry),
        (params, opt_state),
    )
    if rest:
        carry = one_update(rows_of(full_batches * batch_size, rest), carry)
    return carry
