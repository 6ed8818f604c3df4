"""Data at the boundary: the built-in dataset, files, validation, standardization, the device."""

from ._src.io.data import (
    ConstantColumnWarning,
    DataError,
    Dataset,
    Standardizer,
    builtin,
    load,
    to_device,
    validate,
)

__all__ = [
    "ConstantColumnWarning",
    "DataError",
    "Dataset",
    "Standardizer",
    "builtin",
    "load",
    "to_device",
    "validate",
]
