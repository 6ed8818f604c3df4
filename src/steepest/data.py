"""Data at the boundary: the built-in dataset, files, validation, standardization, the device."""

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

__all__ = [
    "BUILTIN_FEATURES",
    "ConstantColumnWarning",
    "DataError",
    "Dataset",
    "Standardizer",
    "builtin",
    "load",
    "to_device",
    "validate",
]
