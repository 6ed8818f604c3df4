"""Data at the boundary: the built-in dataset, files, validation, standardization, the device."""

from ._src.blocks import RowSharding, row_sharding
from ._src.io.data import (
    BUILTIN_FEATURES,
    ConstantColumnWarning,
    DataError,
    Dataset,
    Standardizer,
    builtin,
    load,
    to_device,
    validate,
)
from ._src.io.sharding import ROWS, process_rows, row_mesh, shard
from ._src.io.stream import Stream, standardizer_of, stream

__all__ = [
    "BUILTIN_FEATURES",
    "ROWS",
    "ConstantColumnWarning",
    "DataError",
    "Dataset",
    "RowSharding",
    "Standardizer",
    "Stream",
    "builtin",
    "load",
    "process_rows",
    "row_mesh",
    "row_sharding",
    "shard",
    "standardizer_of",
    "stream",
    "to_device",
    "validate",
]
