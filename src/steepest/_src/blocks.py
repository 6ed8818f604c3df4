"""Row blocks: the cost and gradient of a row-mean loss, one cache-sized block at a time.

A loss that is a mean over the rows of its data (plus, optionally, a term of the
params alone), ``f(p) = (1/N) sum_i l(p; row_i) + g(p)``, equals the weighted sum
of the same loss over blocks of rows:

.. math::

    f(p) = \\sum_k \\frac{N_k}{N} f_k(p), \\qquad
    \\nabla f(p) = \\sum_k \\frac{N_k}{N} \\nabla f_k(p),

where ``f_k`` is the loss on block ``k`` of ``N_k`` rows. Each ``f_k`` and its
gradient still come from ``jax.value_and_grad`` of the loss as written. Why: the
gradient of ``mean((X w + b - y)**2)`` reads ``X`` twice (``X w`` forward,
``X.T r`` backward), and XLA on CPU runs the two passes one after the other over
the whole of ``X``. Block by block, the second pass reads a block still in the
cache, so a step reads ``X`` from memory once: at N = 1e6, d = 64 on one core a
step takes 33 ms instead of 60, and on two, 17.5 ms instead of 32 while the cores
share a cache (on our VM, not always: ``SCRATCH_SHARE``; docs/benchmarks.md). And
the intermediates (the residual, N numbers: half the data at d = 1) are a block's.

Only a loss declared a row mean is split: ``steepest.mse`` is (``losses.tags_of``),
and a caller declares a loss of their own with ``tags={row_mean_tag}``. Splitting
is never guessed from the code.
"""

import math
import numbers
import os
from collections.abc import Callable, Collection
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.sharding import AbstractMesh, Mesh, NamedSharding, PartitionSpec

from .losses import row_mean_tag, tags_of

# The automatic rule, from measurements on a 2-core CPU with 32 MB of L3 cache
# (docs/benchmarks.md): once the data outgrows the cache, blocks of about 4 MB can
# halve a step (at d = 1 and at d = 64) and cut XLA's scratch memory from up to half the
# data (the residual, at d = 1) to a block's. Below about 3/4 of that cache they cost:
# at d = 64, 1.9x to 2.1x slower at 7 MB and 12 MB of data, 0.85x-0.91x at 25 MB (N = 1e5).
MIN_DATA_BYTES = 24 * 2**20
BLOCK_BYTES = 4 * 2**20
# In the loop, on more than one core, blocks are kept only where one pass would hold a
# value over the rows of at least this share of the data (the residual of mse at d <= 3,
# a network's activations): there they keep memory to a block's. Elsewhere they were
# not sure to pay in time: on 2 cores their step took 0.5x to 1.9x one pass's, the
# same program from process to process (and one pass's step within 1.09x a bare
# loop's); on one core, 0.55x to 0.88x, every time (docs/benchmarks.md).
SCRATCH_SHARE = 0.25


def is_row_mean(loss: Callable, tags: Collection = frozenset()) -> bool:
    """Whether ``loss`` is a row mean: declared so by ``tags``, or known to be (``mse``).

    Example:
        >>> from steepest import mse, row_mean_tag
        >>> is_row_mean(mse), is_row_mean(lambda p, x: (x - p).mean())
        (True, False)
        >>> is_row_mean(lambda p, x: (x - p).mean(), {row_mean_tag})
        True
    """
    return row_mean_tag in tags_of(loss, tags)


def num_rows(data: tuple) -> int | None:
    """The common leading length of every data array, or None when they have none.

    Example:
        >>> import numpy as np
        >>> num_rows((np.zeros((5, 2)), np.zeros(5))), num_rows((np.zeros(5), 1.0))
        (5, None)
    """
    leaves = jax.tree.leaves(data)
    lengths = {leaf.shape[0] if jnp.ndim(leaf) else None for leaf in leaves}
    if len(lengths) != 1 or None in lengths:
        return None
    return lengths.pop()


def size_in_bytes(data) -> int:
    """The bytes of every array in ``data`` in the dtype JAX computes in, from shapes alone.

    Example:
        >>> import numpy as np
        >>> size_in_bytes((np.zeros((5, 2), np.float32), np.zeros(5, np.float32)))
        60
    """
    return sum(
        math.prod(jnp.shape(leaf)) * jnp.result_type(leaf).itemsize
        for leaf in jax.tree.leaves(data)
    )


class RowSharding(NamedTuple):
    """Data split by rows into equal shards over the mesh axis (or axes) ``axis``."""

    mesh: Mesh | AbstractMesh  # a NamedSharding's mesh may be abstract
    axis: str | tuple[str, ...]

    @property
    def shards(self) -> int:
        axes = self.axis if isinstance(self.axis, tuple) else (self.axis,)
        return math.prod(self.mesh.shape[name] for name in axes)


def row_sharding(data) -> RowSharding | None:
    """How every array of ``data`` with rows is split by rows over devices, or None: on
    one device, replicated, split along another axis, or not all alike (XLA then places
    the work as the shardings say, without blocks per shard).

    Example:
        >>> import numpy as np
        >>> row_sharding((np.zeros((4, 2)), np.zeros(4))) is None  # NumPy: one device
        True
    """
    found = set()
    for leaf in jax.tree.leaves(data):
        if not jnp.ndim(leaf):
            continue
        sharding = getattr(leaf, "sharding", None)
        if not isinstance(sharding, NamedSharding):
            return None
        spec = (*sharding.spec, *[None] * (leaf.ndim - len(sharding.spec)))
        if spec[0] is None or any(entry is not None for entry in spec[1:]):
            return None
        found.add(RowSharding(sharding.mesh, spec[0]))
    if len(found) != 1:
        return None
    [layout] = found
    return layout if layout.shards > 1 else None


def automatic_block_rows(loss: Callable, data: tuple, tags: Collection = frozenset()) -> int | None:
    """Rows per block for ``fit``'s default, or None for one pass over all rows.

    Blocks are used for a row-mean loss (``is_row_mean``) on data of at least
    ``MIN_DATA_BYTES`` that lives on the CPU (the data's device; for NumPy data,
    JAX's default device); a block then holds about ``BLOCK_BYTES``. On a GPU one pass keeps
    every core busy: no blocks.

    Example:
        >>> import numpy as np
        >>> from steepest import mse
        >>> X, y = np.zeros((1_000_000, 64), np.float32), np.zeros(1_000_000, np.float32)
        >>> with jax.default_device(jax.devices("cpu")[0]):
        ...     automatic_block_rows(mse, (X, y))
        15625
        >>> automatic_block_rows(mse, (X[:1000], y[:1000])) is None  # small: one pass
        True
    """
    rows = num_rows(data)
    if not is_row_mean(loss, tags) or not rows or _platform(data) != "cpu":
        return None
    data_bytes = size_in_bytes(data)
    sharding = row_sharding(data)
    if sharding is not None:  # blocks of each device's own rows
        rows, data_bytes = rows // sharding.shards, data_bytes // sharding.shards
    if data_bytes < MIN_DATA_BYTES:
        return None
    return _near_divisor(rows, max(1, BLOCK_BYTES * rows // data_bytes))


def blocks_pay_in_the_loop(data, widest: int, one_core: bool) -> bool:
    """Whether the loop's step keeps the automatic blocks (``automatic_block_rows``) on
    ``data``: where XLA computes on one core, or where one pass would hold a value over
    the rows of ``widest`` bytes, at least ``SCRATCH_SHARE`` of the data.

    Example:
        >>> import numpy as np
        >>> X, y = np.zeros((10**6, 64), np.float32), np.zeros(10**6, np.float32)
        >>> blocks_pay_in_the_loop((X, y), widest=4 * 10**6, one_core=False)  # 1/65
        False
        >>> blocks_pay_in_the_loop((X[:, :1], y), widest=4 * 10**6, one_core=False)  # 1/2
        True
        >>> blocks_pay_in_the_loop((X, y), widest=4 * 10**6, one_core=True)
        True
    """
    return one_core or widest >= SCRATCH_SHARE * size_in_bytes(data)


def runs_on_one_core() -> bool:
    """Whether this process may run on one core only (``os.sched_getaffinity``, where the
    system has it), as XLA's CPU threads then do. A container's CPU quota
    (``docker --cpus=1``) does not show here, nor do other processes sharing the cores.
    """
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) == 1
    return os.cpu_count() == 1


def _platform(data) -> str:
    """Where a computation on ``data`` runs: its arrays' device, else JAX's default device."""
    for leaf in jax.tree.leaves(data):
        if isinstance(leaf, jax.Array):
            return next(iter(leaf.devices())).platform
    # Config's options are attributes made at runtime, which mypy cannot see; and
    # config.read refuses this one (it has a context manager, jax.default_device).
    default = jax.config.jax_default_device  # type: ignore[attr-defined]
    if isinstance(default, str):
        return default
    return default.platform if default is not None else jax.default_backend()


def resolve_block_rows(
    setting: int | str | None, loss: Callable, data: tuple, tags: Collection = frozenset()
) -> int | None:
    """The rows per block that ``fit(..., block_rows=setting)`` runs with (None: no blocks).

    ``"auto"``: ``automatic_block_rows``. None: no blocks. A positive int: that
    many rows per block, for a row-mean loss whose data arrays share their rows.

    Example:
        >>> import numpy as np
        >>> from steepest import mse
        >>> resolve_block_rows(50, mse, (np.zeros((200, 3)), np.zeros(200)))
        50
        >>> resolve_block_rows(None, mse, (np.zeros((200, 3)), np.zeros(200))) is None
        True
    """
    if setting == "auto":
        return automatic_block_rows(loss, data, tags)
    if setting is None:
        return None
    if isinstance(setting, bool) or not isinstance(setting, numbers.Integral) or setting < 1:
        raise ValueError(f"block_rows must be 'auto', None or a positive int, got {setting!r}")
    require_row_mean("block_rows", loss, tags, data)
    return int(setting)


def require_row_mean(what: str, loss: Callable, tags: Collection, data=None) -> int | None:
    """The rows of ``data`` for ``what`` (row blocks, mini-batches, streaming), which splits
    the rows: a ValueError naming ``what`` unless the loss is a row mean and, when
    ``data`` is given, its arrays share their rows.

    Example:
        >>> import numpy as np
        >>> from steepest import mse
        >>> require_row_mean("batch_size", mse, (), (np.zeros((5, 2)), np.zeros(5)))
        5
        >>> require_row_mean("streaming", lambda p, x: x.sum(), ())  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: streaming needs a row-mean loss: pass tags={steepest.row_mean_tag} ...
    """
    if not is_row_mean(loss, tags):
        raise ValueError(
            f"{what} needs a row-mean loss: pass tags={{steepest.row_mean_tag}} "
            "(a mean over the rows of its data)"
        )
    if data is None:
        return None
    rows = num_rows(data)
    if rows is None:
        raise ValueError(f"{what} needs data arrays that all have the same number of rows")
    return rows


def _near_divisor(rows: int, target: int) -> int:
    """The divisor of ``rows`` nearest ``target`` within a factor of 2, else ``target``.

    Equal blocks need no last, shorter block (a second compiled evaluation).
    """
    small = (i for i in range(1, math.isqrt(rows) + 1) if rows % i == 0)
    near = [d for i in small for d in (i, rows // i) if target / 2 <= d <= 2 * target]
    return min(near, key=lambda d: (abs(d - target), d)) if near else target


def value_and_grad(
    loss: Callable, block_rows: int | None, sharding: RowSharding | None = None
) -> Callable:
    """``jax.value_and_grad(loss)``, evaluated in blocks of ``block_rows`` rows (``by_blocks``).

    Example:
        >>> import jax.numpy as jnp
        >>> from steepest import Linear, mse
        >>> X = jnp.arange(10.0); y = 3 * X
        >>> p = Linear(jnp.array([1.0]), jnp.array(0.0))
        >>> whole, blocked = jax.value_and_grad(mse)(p, X, y), value_and_grad(mse, 3)(p, X, y)
        >>> from jax.flatten_util import ravel_pytree
        >>> [round(v, 4) for v in ravel_pytree(whole)[0].tolist()]  # cost, d/db, d/dw
        [114.0, -114.0, -18.0]
        >>> [round(v, 4) for v in ravel_pytree(blocked)[0].tolist()]  # blocks of 3, 3, 3 and 1
        [114.0, -114.0, -18.0]
    """
    return by_blocks(jax.value_and_grad(loss), block_rows, sharding)


def by_blocks(
    function: Callable, block_rows: int | None, sharding: RowSharding | None = None
) -> Callable:
    """``function(params, *data)`` as the weighted sum over blocks of rows.

    For ``function`` linear in a row-mean loss (the loss itself, its gradient, its
    Hessian, a Hessian-vector product), ``sum_k (N_k / N) function(params, *block_k)``
    equals ``function(params, *data)`` (the module's docstring). With ``block_rows``
    None, or at least the number of rows, this is ``function`` itself; otherwise a
    loop over slices of ``block_rows`` rows, and a last, shorter block for the rest.
    (Slices, not a scan over the data reshaped into blocks: with one feature, XLA
    copied the whole reshaped X before such a scan.)

    With ``sharding`` (data split by rows over devices, ``row_sharding``), each device
    sums the blocks of its own rows and the shards' equal-weight mean is one ``psum``
    (``jax.shard_map``); slicing blocks of the whole sharded array instead would make
    XLA gather every row onto every device.

    Example:
        >>> import jax.numpy as jnp
        >>> from steepest import Linear, mse
        >>> X = jnp.arange(10.0); y = 3 * X
        >>> by_blocks(mse, 4)(Linear(jnp.array([1.0]), jnp.array(0.0)), X, y).item()
        114.0
    """
    if block_rows is None:
        return function

    def blocked(params, *data):
        rows = num_rows(data)
        if rows is None or block_rows >= rows:
            return function(params, *data)
        full_blocks, rest = divmod(rows, block_rows)

        def add_block(total, block):
            return jax.tree.map(jnp.add, total, function(params, *block))

        zero = jax.tree.map(jnp.zeros_like, jax.eval_shape(function, params, *data))

        def slice_block(index):
            return jax.tree.map(
                lambda leaf: jax.lax.dynamic_slice_in_dim(leaf, index * block_rows, block_rows),
                data,
            )

        total = jax.lax.fori_loop(0, full_blocks, lambda i, t: add_block(t, slice_block(i)), zero)
        total = _scale(total, block_rows / rows)
        if rest == 0:
            return total
        last = function(params, *jax.tree.map(lambda leaf: leaf[full_blocks * block_rows :], data))
        return jax.tree.map(jnp.add, total, _scale(last, rest / rows))

    if sharding is None:
        return blocked

    def mean_of_shards(params, *data):
        total = jax.tree.map(lambda leaf: jax.lax.psum(leaf, sharding.axis), blocked(params, *data))
        return _scale(total, 1 / sharding.shards)

    def per_shard(params, *data):
        specs = jax.tree.map(
            lambda leaf: PartitionSpec(sharding.axis) if jnp.ndim(leaf) else PartitionSpec(), data
        )
        return jax.shard_map(
            mean_of_shards,
            mesh=sharding.mesh,
            in_specs=(PartitionSpec(), *specs),
            out_specs=PartitionSpec(),
            check_vma=False,  # the blocks' loop starts from zeros the same on every device
        )(params, *data)

    return per_shard


def _scale(tree, weight: float):
    return jax.tree.map(lambda leaf: leaf * jnp.asarray(weight, leaf.dtype), tree)
