"""Data split by rows over devices: a mesh of every local device, and the arrays placed on it.

``fit`` and ``sweep`` take data placed by ``shard`` as they take data on one device:
the same compiled loop runs on every device over its own rows, and XLA adds the
reductions of the cost and gradient (with row blocks, each device sums the blocks
of its rows and one ``psum`` joins them: ``blocks.by_blocks``).
"""

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from .data import DataError, in_dtype

ROWS = "rows"


def row_mesh(devices: int | Sequence | None = None) -> Mesh:
    """A mesh with one axis, ``"rows"``: every local device (None), the first ``devices``
    of them (an int), or the devices given.

    Raises:
        DataError: for more devices than JAX sees, or fewer than one.

    Example:
        >>> row_mesh(1).axis_names, row_mesh(1).size
        (('rows',), 1)
    """
    local = jax.local_devices()
    if devices is None:
        chosen = local
    elif isinstance(devices, int):
        if not 1 <= devices <= len(local):
            raise DataError(
                f"{devices} devices asked for, but JAX sees {len(local)} "
                f"({local[0].platform}): at most {len(local)}"
            )
        chosen = local[:devices]
    else:
        chosen = list(devices)
    return Mesh(np.array(chosen), (ROWS,))


def shard(*arrays, mesh: Mesh | None = None, dtype=jnp.float32) -> tuple[jax.Array, ...]:
    """Put arrays on the devices of ``mesh`` (default ``row_mesh()``), split by rows into
    equal shards, in ``dtype``: the data of a fit or sweep on several devices.

    Rows are split over the mesh axis ``"rows"``, or over all of a mesh's axes when it
    has none of that name; every other dimension is whole on each device.

    Raises:
        DataError: when the devices do not divide the rows evenly, or a value does not
            fit ``dtype``.

    Example:
        >>> import numpy as np
        >>> X, y = shard(np.zeros((8, 2)), np.zeros(8), mesh=row_mesh(1))
        >>> X.sharding.spec, X.dtype.name
        (P('rows',), 'float32')
    """
    mesh = row_mesh() if mesh is None else mesh
    axis = ROWS if ROWS in mesh.axis_names else tuple(mesh.axis_names)
    sharding = NamedSharding(mesh, PartitionSpec(axis))
    placed = []
    for values in arrays:
        values = in_dtype(values, dtype)
        rows = len(values) if values.ndim else None
        if rows is None or rows % mesh.size:
            raise DataError(_uneven(rows, mesh.size, len(jax.local_devices())))
        placed.append(jax.device_put(values, sharding))
    return tuple(placed)


def _uneven(rows: int | None, devices: int, available: int) -> str:
    """Why an array cannot be split evenly over ``devices``, and what would.

    Example:
        >>> _uneven(1001, 4, available=8)
        '1,001 rows do not split evenly over 4 devices: drop the last row, or use 7 devices'
    """
    if rows is None:
        return f"a scalar has no rows to split over {devices} devices"
    extra = rows % devices
    message = (
        f"{rows:,} rows do not split evenly over {devices} devices: "
        f"drop the last {'row' if extra == 1 else f'{extra} rows'}"
    )
    fitting = [k for k in range(2, available + 1) if rows % k == 0]
    return message + (f", or use {fitting[-1]} devices" if fitting else "")
