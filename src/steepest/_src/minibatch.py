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

Over data read a chunk at a time (``fit_stream``), an epoch reads the chunks (the row
groups of a Parquet file) in the order ``chunk_order`` draws, and visits the rows of
the ``i``-th chunk it reads in the order ``epoch_order(seed, epoch, rows, part=i)``;
batches end with their chunk.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from . import blocks


def epoch_order(seed: ArrayLike, epoch: ArrayLike, rows: int, part=None) -> jax.Array:
    """The order in which epoch ``epoch`` visits the ``rows`` rows (of chunk ``part``
    when the data are read a chunk at a time: ``fold_in`` of ``1 + part`` as well).

    Example:
        >>> order = epoch_order(jnp.uint32(0), jnp.int32(0), 5)
        >>> sorted(order.tolist())
        [0, 1, 2, 3, 4]
    """
    key = jax.random.fold_in(jax.random.key(seed), epoch)
    if part is not None:
        key = jax.random.fold_in(key, 1 + part)
    return jax.random.permutation(key, rows)


def chunk_order(seed: int, epoch: int, chunks: int) -> list[int]:
    """The order in which epoch ``epoch`` reads ``chunks`` chunks (``fold_in`` of 0).

    Example:
        >>> sorted(chunk_order(0, 3, 4))
        [0, 1, 2, 3]
    """
    key = jax.random.fold_in(jax.random.fold_in(jax.random.key(seed), epoch), 0)
    return jax.random.permutation(key, chunks).tolist()


def run_epoch(
    update: Callable, loss: Callable, data: tuple, params, opt_state, *, batch_size: int,
    seed: ArrayLike, epoch: ArrayLike, part=None,
):  # fmt: skip
    """``(params, opt_state)`` after one epoch of mini-batch updates.

    ``update(loss, batch, params, opt_state, value, grad) -> (params, opt_state)``
    applies one optimizer update (``engine.update``, its transformation bound).
    ``part``: the chunk these rows are, when the data are read a chunk at a time.

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
    assert rows is not None, "mini-batch data share their rows (require_row_mean)"
    order = epoch_order(seed, epoch, rows, part)
    full_batches, rest = divmod(rows, batch_size)

    def rows_of(start, size):
        index = jax.lax.dynamic_slice_in_dim(order, start, size)
        return tuple(jax.tree.map(lambda leaf: leaf[index] if jnp.ndim(leaf) else leaf, data))

    def one_update(batch, carry):
        params, opt_state = carry
        value, grad = jax.value_and_grad(loss)(params, *batch)
        return update(loss, batch, params, opt_state, value, grad)

    carry = (params, opt_state)
    if full_batches:  # none for a chunk smaller than a batch (a Parquet row group of 10)
        carry = jax.lax.fori_loop(
            0,
            full_batches,
            lambda i, carry: one_update(rows_of(i * batch_size, batch_size), carry),
            carry,
        )
    if rest:
        carry = one_update(rows_of(full_batches * batch_size, rest), carry)
    return carry
