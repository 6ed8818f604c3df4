"""Where a run's arrays go: one device, the rows split over local devices, or over every
process's devices. The one decision a workflow makes about placement, in one place."""

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ..processes import ONE, Processes
from . import sharding
from .dataset import DataError, in_dtype


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
            raise DataError(
                f"--devices {devices}: a fit over several processes uses every device of each"
            )
        return functools.partial(sharding.shard, mesh=sharding.row_mesh(), dtype=dtype)
    if devices is None:
        return functools.partial(to_device, dtype=dtype)

    def named(function, *args, **kwargs):
        try:
            return function(*args, **kwargs)
        except DataError as error:
            raise DataError(f"--devices {devices}: {error}") from None

    mesh = named(sharding.row_mesh, None if devices == "all" else devices)
    return functools.partial(named, sharding.shard, mesh=mesh, dtype=dtype)


def to_device(*arrays: np.ndarray, dtype=jnp.float32) -> tuple[jax.Array, ...]:
    """Put arrays on the default device in ``dtype``: the one place data reaches the device.

    An array already in ``dtype`` is not copied on the host; the device gets
    its own copy.

    Raises:
        DataError: when a value does not fit ``dtype`` (it would become infinite).

    Example:
        >>> import numpy as np
        >>> [a.dtype.name for a in to_device(np.zeros(3), np.ones(3))]
        ['float32', 'float32']
    """
    return tuple(jax.device_put(in_dtype(values, dtype)) for values in arrays)
