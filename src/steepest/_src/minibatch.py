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
batches end with their chunk. Over several processes, each streaming its part of the
file in chunks of the same sizes, process ``p`` visits the rows of its ``i``-th chunk in
the order ``epoch_order(seed, epoch, rows, part=i, shard=p)``, and each update takes
``batch_size / processes`` rows from each.

Data-parallel (data split by rows over ``S`` devices, as DDP splits a batch): each
device draws ``batch_size / S`` rows of every batch from its own ``N / S`` rows, in the
order ``epoch_order(seed, epoch, N / S, shard=s)`` on device ``s``; one ``psum`` joins
the devices' gradients, and every device makes the same update. A batch is then the
union of ``S`` equal shares, one from each range of ``N / S`` rows (``batch_rows``):
``fit(..., batch_shards=S)`` draws the same batches on one device, so that the two
runs take the same steps up to the rounding of the sums.
"""

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.sharding import PartitionSpec
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
    (Where fewer values lie past the rows than in them, where each of those walks to is
    found once, by pointer jumping, and looked up: the same permutation, faster.)
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
    spill = (1 << (2 * half)) - rows  # the values past the rows, where a walk goes on
    if spill == 0:
        return start.astype(jnp.int32)
    if spill >= rows:  # most of the domain: walk every value on until it is a row
        walked = jax.lax.while_loop(
            lambda y: jnp.any(y >= rows), lambda y: jnp.where(y >= rows, feistel(y), y), start
        )
        return walked.astype(jnp.int32)
    # Few: where each of them walks to, by pointer jumping over a table of theirs (a pass
    # over them, not over every row: 6 ms instead of 11 for 1e6 rows), then one lookup.
    # The same permutation as the walk above.
    beyond = feistel(jnp.arange(rows, rows + spill, dtype=jnp.uint32))

    def jump(_, ends):
        out = ends >= rows
        return jnp.where(out, ends[jnp.where(out, ends - rows, 0)], ends)

    # 2**k steps after k jumps: enough for a walk through every value past the rows.
    ends = jax.lax.fori_loop(0, math.ceil(math.log2(spill + 1)) + 1, jump, beyond)
    out = start >= rows
    return jnp.where(out, ends[jnp.where(out, start - rows, 0)], start).astype(jnp.int32)


def _mix(x):
    """lowbias32 (Chris Wellons' hash): a bijection of uint32 that mixes every bit."""
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x7FEB352D)
    x = x ^ (x >> 15)
    x = x * jnp.uint32(0x846CA68B)
    return x ^ (x >> 16)


def epoch_order(seed: ArrayLike, epoch: ArrayLike, rows: int, part=None, shard=None) -> jax.Array:
    """The order in which epoch ``epoch`` visits the ``rows`` rows (of chunk ``part``
    when the data are read a chunk at a time: ``fold_in`` of ``1 + part`` as well; of
    the range ``shard`` of the rows split over devices: ``fold_in`` of ``shard`` last).

    Example:
        >>> order = epoch_order(jnp.uint32(0), jnp.int32(0), 5)
        >>> sorted(order.tolist())
        [0, 1, 2, 3, 4]
    """
    key = jax.random.fold_in(jax.random.key(seed), epoch)
    if part is not None:
        key = jax.random.fold_in(key, 1 + part)
    if shard is not None:
        key = jax.random.fold_in(key, shard)
    return keyed_permutation(key, rows)


def batch_rows(
    seed: ArrayLike, epoch: ArrayLike, rows: int, shards: int = 1, part=None
) -> jax.Array:
    """The rows of epoch ``epoch``'s batches, as a ``(shards, rows // shards)`` array:
    the batch of ``batch_size`` rows starting at position ``k`` takes columns ``k`` to
    ``k + batch_size // shards`` of every line. Line ``s`` is range ``s`` of the rows in
    its order (``epoch_order(..., shard=s)``); one line (``shards=1``), all the rows in
    ``epoch_order(seed, epoch, rows, part)``.

    Example:
        >>> order = batch_rows(jnp.uint32(0), jnp.int32(0), 6, shards=2)
        >>> order.shape, sorted(order[0].tolist()), sorted(order[1].tolist())
        ((2, 3), [0, 1, 2], [3, 4, 5])
    """
    if shards == 1:
        return epoch_order(seed, epoch, rows, part)[None]
    share = rows // shards
    return jnp.stack([
        epoch_order(seed, epoch, share, part, shard=s) + s * share for s in range(shards)
    ])  # fmt: skip


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
    seed: ArrayLike, epoch: ArrayLike, part=None, shards: int = 1,
    sharding: blocks.RowSharding | None = None,
):  # fmt: skip
    """``(params, opt_state)`` after one epoch of mini-batch updates.

    ``update(loss, batch, params, opt_state, value, grad) -> (params, opt_state)``
    applies one optimizer update (``engine.update``, its transformation bound).
    ``part``: the chunk these rows are, when the data are read a chunk at a time.
    ``shards``: draw each batch as that many equal shares of as many ranges of rows
    (``batch_rows``). ``sharding``: the data are split by rows over devices; each
    device then draws its share from its own rows (``shards`` is the device count).

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
    if sharding is not None:
        return _data_parallel_epoch(
            update, loss, data, params, opt_state, batch_size=batch_size, seed=seed,
            epoch=epoch, part=part, sharding=sharding,
        )  # fmt: skip
    order = batch_rows(seed, epoch, rows, shards, part)
    return _epoch(update, loss, data, order, params, opt_state, batch_size // shards)


def _epoch(update, loss, data, order, params, opt_state, share: int):
    """The epoch's updates, batch ``k`` made of columns ``k * share`` to ``(k + 1) *
    share`` of every line of ``order`` (``batch_rows``; the rest of a line last)."""
    full_batches, rest = divmod(order.shape[1], share)

    def rows_of(start, size):
        index = jax.lax.dynamic_slice_in_dim(order, start, size, axis=1).reshape(-1)
        return tuple(jax.tree.map(lambda leaf: leaf[index] if jnp.ndim(leaf) else leaf, data))

    def one_update(batch, carry):
        params, opt_state = carry
        value, grad = jax.value_and_grad(loss)(params, *batch)
        return update(loss, batch, params, opt_state, value, grad)

    carry = (params, opt_state)
    if full_batches:  # none for a chunk smaller than a batch (a Parquet row group of 10)
        carry = jax.lax.fori_loop(
            0, full_batches, lambda i, carry: one_update(rows_of(i * share, share), carry), carry
        )
    if rest:
        carry = one_update(rows_of(full_batches * share, rest), carry)
    return carry


def _data_parallel_epoch(
    update, loss, data, params, opt_state, *, batch_size, seed, epoch, part, sharding
):
    """``run_epoch`` with each device drawing its share of every batch from its own rows
    (``jax.shard_map``): the batch's cost is the ``psum`` of the devices' costs over
    their shares, divided by the device count, and so is its gradient (JAX transposes
    the ``psum``); the update, from that one gradient, is the same on every device."""
    shards, axis = sharding.shards, sharding.axis

    def batch_mean(params, *batch):
        return jax.lax.psum(loss(params, *batch), axis) / shards

    def per_device(params, opt_state, seed, epoch, *data):
        shard = jax.lax.axis_index(axis)
        order = epoch_order(seed, epoch, blocks.num_rows(data), part, shard=shard)[None]
        return _epoch(update, batch_mean, data, order, params, opt_state, batch_size // shards)

    specs = tuple(PartitionSpec(axis) if jnp.ndim(leaf) else PartitionSpec() for leaf in data)
    return jax.shard_map(
        per_device,
        mesh=sharding.mesh,
        in_specs=(PartitionSpec(), PartitionSpec(), PartitionSpec(), PartitionSpec(), *specs),
        out_specs=PartitionSpec(),
    )(params, opt_state, seed, epoch, *data)
