"""Data split by rows over devices: a mesh of every device, and the arrays placed on it.

``fit`` and ``sweep`` take data placed by ``shard`` as they take data on one device:
the same compiled loop runs on every device over its own rows, and XLA adds the
reductions of the cost and gradient (with row blocks, each device sums the blocks
of its rows and one ``psum`` joins them: ``blocks.by_blocks``).

In a run of several processes (``jax.distributed``), the mesh spans every process's
devices, in process order, and each process gives ``shard`` its own rows:
``process_rows`` says which.
"""

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from .dataset import DataError, in_dtype

ROWS = "rows"


def row_mesh(devices: int | Sequence | None = None) -> Mesh:
    """A mesh with one axis, ``"rows"``: every device (None; of every process, in process
    order, when there are several), the first ``devices`` local ones (an int), or the
    devices given.

    Raises:
        DataError: for more devices than JAX sees, or fewer than one.

    Example:
        >>> row_mesh(1).axis_names, row_mesh(1).size
        (('rows',), 1)
    """
    local = jax.local_devices()
    if devices is None:
        chosen = sorted(jax.devices(), key=lambda device: (device.process_index, device.id))
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
    has none of that name; every other dimension is whole on each device. On a mesh
    that spans several processes, each process passes its own rows (``process_rows``),
    the same number on each.

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
    local = mesh.local_mesh.size
    placed = []
    for values in arrays:
        values = in_dtype(values, dtype)
        rows = len(values) if values.ndim else None
        if local < mesh.size:  # this process's rows of an array spread over processes
            if rows is None or rows % local:
                raise DataError(
                    f"this process's {rows or 0:,} rows do not split evenly over its "
                    f"{local} devices: give each process a multiple of {local} rows"
                )
            placed.append(jax.make_array_from_process_local_data(sharding, values))
            continue
        if rows is None or rows % mesh.size:
            raise DataError(_uneven(rows, mesh.size, len(jax.local_devices())))
        placed.append(jax.device_put(values, sharding))
    return tuple(placed)


def process_rows(rows: int, mesh: Mesh | None = None) -> slice:
    """This process's rows of ``rows``, split evenly over the devices of ``mesh``
    (default ``row_mesh()``): ``shard`` takes them, and every process's together are
    the whole. With one process, all of them.

    Raises:
        DataError: when the devices do not divide the rows evenly.

    Example:
        >>> process_rows(8, row_mesh(1))
        slice(0, 8, None)
    """
    mesh = row_mesh() if mesh is None else mesh
    if rows % mesh.size:
        raise DataError(_uneven(rows, mesh.size, mesh.size, processes=jax.process_count()))
    share = rows // mesh.size
    devices = list(mesh.devices.flat)
    mine = [i for i, device in enumerate(devices) if device.process_index == jax.process_index()]
    if mine != list(range(mine[0], mine[-1] + 1)):
        raise DataError("the mesh does not hold each process's devices side by side")
    return slice(mine[0] * share, (mine[-1] + 1) * share)


def _uneven(rows: int | None, devices: int, available: int, processes: int = 1) -> str:
    """Why an array cannot be split evenly over ``devices``, and what would (another
    device count, unless they are the devices of several ``processes``).

    Example:
        >>> _uneven(1001, 4, available=8)
        '1,001 rows do not split evenly over 4 devices: drop the last row, or use 7 devices'
    """
    if rows is None:
        return f"a scalar has no rows to split over {devices} devices"
    extra = rows % devices
    over = f"{devices} devices" + (f" of {processes} processes" if processes > 1 else "")
    message = (
        f"{rows:,} rows do not split evenly over {over}: "
        f"drop the last {'row' if extra == 1 else f'{extra} rows'}"
    )
    if processes > 1:
        return message
    fitting = [k for k in range(2, available + 1) if rows % k == 0]
    return message + (f", or use {fitting[-1]} devices" if fitting else "")
