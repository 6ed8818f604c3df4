"""Data at the boundary: the built-in dataset, files, validation, standardization, the device."""

from ._src.blocks import RowSharding, row_sharding
from ._src.io.data import BUILTIN_FEATURES, builtin, load
from ._src.io.dataset import (
    ConstantColumnWarning,
    DataError,
    Dataset,
    DataWarning,
    IndexColumnWarning,
    validate,
)
from ._src.io.numpy_files import npy_names
from ._src.io.placement import to_device
from ._src.io.sharding import ROWS, process_rows, row_mesh, shard
from ._src.io.standardizer import Standardizer
from ._src.io.stream import Stream, standardizer_of, stream

__all__ = [
    "BUILTIN_FEATURES",
    "ROWS",
    "ConstantColumnWarning",
    "DataError",
    "DataWarning",
    "Dataset",
    "IndexColumnWarning",
    "RowSharding",
    "Standardizer",
    "Stream",
    "builtin",
    "load",
    "npy_names",
    "process_rows",
    "row_mesh",
    "row_sharding",
    "shard",
    "standardizer_of",
    "stream",
    "to_device",
    "validate",
]
