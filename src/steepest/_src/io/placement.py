"""Where a run's arrays go: one device, the rows split over local devices, or over every
process's devices. The one decision a workflow makes about placement, in one place."""

import functools
from collections.abc import Callable

import jax

from ..processes import ONE, Processes
from . import data, sharding


def placement(
    devices: int | str | None, dtype, processes: Processes = ONE
) -> Callable[..., tuple[jax.Array, ...]]:
    """``place(*arrays)``: the arrays on the device(s), in ``dtype``.

    Args:
        devices: None, one device (``data.to_device``); an int, the rows split over that
            many local devices; ``"all"``, over every local device.
        dtype: the run's dtype.
        processes: over several, each process's rows on its devices, of arrays split
            over every process's devices (``devices`` must then be None).

    Raises:
        DataError: for more devices than JAX sees, rows they do not divide, or
            ``devices`` given in a run of several processes; the message starts
            ``--devices N:``, the command line's name of the argument.

    Example:
        >>> import numpy as np
        >>> [X] = placement(None, np.float32)(np.zeros((4, 2)))
        >>> X.dtype.name, X.shape
        ('float32', (4, 2))
    """
    if processes.many:
        if devices is not None:
            raise data.DataError(
                f"--devices {devices}: a fit over several processes uses every device of each"
            )
        return functools.partial(sharding.shard, mesh=sharding.row_mesh(), dtype=dtype)
    if devices is None:
        return functools.partial(data.to_device, dtype=dtype)

    def named(function, *args, **kwargs):
        try:
            return function(*args, **kwargs)
        except data.DataError as error:
            raise data.DataError(f"--devices {devices}: {error}") from None

    mesh = named(sharding.row_mesh, None if devices == "all" else devices)
    return functools.partial(named, sharding.shard, mesh=mesh, dtype=dtype)
