"""Mini-batch epochs, inside the compiled loop: every row once per epoch, in an order
drawn from a seed.

For a loss that is a mean over the rows of its data, an epoch shuffles the rows,
``order = keyed_permutation(fold_in(key(seed), epoch), N)``, splits them into
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

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from . import blocks

# Rounds of the Feistel network of keyed_permutation (Luby and Rackoff: 4 make a strong
# pseudo-random permutation of a good round function).
FEISTEL_ROUNDS = 4


def keyed_permutation(key, rows: int) -> jax.Array:
    """A permutation of ``range(rows)`` drawn from ``key`` in O(rows), elementwise: no sort.

    Each ``i`` is sent through a Feistel network on ``2h``-bit numbers (``4**h`` the
    first power of 4 at least ``rows``): ``FEISTEL_ROUNDS`` rounds of
    ``(L, R) -> (R, L ^ (mix(R ^ k_r) & (2**h - 1)))``, ``k_r`` from
    ``jax.random.bits(key, (FEISTEL_ROUNDS,), uint32)`` and ``mix`` the lowbias32 hash
    (``x ^= x >> 16; x *= 0x7feb352d; x ^= x >> 15; x *= 0x846ca68b; x ^= x >> 16``,
    uint32), a bijection of ``range(4**h)``; while the result is ``rows`` or more it
    is sent through again (cycle walking), which keeps a bijection of ``range(rows)``.
    ``jax.random.permutation`` sorts, twice or more: 0.69 s for 1e6 rows on a CPU,
    most of an epoch; this takes milliseconds.

    Example:
        >>> order = keyed_permutation(jax.random.key(0), 10)
        >>> sorted(order.tolist()) == list(range(10)), order.dtype.name
        (True, 'int32')
    """
    if rows <= 1:
        return jnp.arange(rows, dtype=jnp.int32)
    half = max(1, math.ceil(math.ceil(math.log2(rows)) / 2))
    mask = jnp.uint32((1 << half) - 1)
    round_keys = jax.random.bits(key, (FEISTEL_ROUNDS,), jnp.uint32)

    def feistel(x):
        left, right = x >> half, x & mask
        for k in range(FEISTEL_ROUNDS):
            left, right = right, left ^ (_mix(right ^ round_keys[k]) & mask)
        return (left << half) | right

    start = feistel(jnp.arange(rows, dtype=jnp.uint32))
    walked = jax.lax.while_loop(
        lambda y: jnp.any(y >= rows), lambda y: jnp.where(y >= rows, feistel(y), y), start
    )
    return walked.astype(jnp.int32)


def _mix(x):
    """lowbias32 (Chris Wellons' hash): a bijection of uint32 that mixes every bit."""
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x7FEB352D)
    x = x ^ (x >> 15)
    x = x * jnp.uint32(0x846CA68B)
    return x ^ (x >> 16)


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
    return keyed_permutation(key, rows)


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
