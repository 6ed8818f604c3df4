"""Whatever a user holds, as a ``Dataset``: a file, a DataFrame, columns, arrays, or nothing.

``dataset_of`` is what the workflows (``steepest.linear``) and the command line read
their data through, so that the same data give the same ``Dataset`` by every route:

- ``None``: the built-in dataset (``data.builtin``);
- a path (``str`` or ``os.PathLike``): a ``.csv``, ``.npy``, ``.npz`` or ``.parquet``
  file, columns picked by name;
- a pandas or polars DataFrame (anything with ``columns`` and ``to_numpy``), or a
  mapping of column name to 1-D array: columns picked by name;
- a 2-D (or 1-D) array of features ``X`` with ``y`` an array of targets: the features
  are named ``x0, x1, ...`` unless ``x`` names them;
- a ``Dataset``, as it is (``x`` picks among its features).

In a run of several processes (``jax.distributed``) every process makes the same call:
a ``.npy`` or ``.parquet`` file is read by each for its own rows only; data in memory
(the built-in dataset included) are the whole data on every process, and each keeps
its own rows (``sharding.process_rows``).
"""

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..processes import ONE, Processes
from .data import builtin, load
from .dataset import DataError, Dataset, pick_columns, validate
from .remote import FilePath, as_path
from .sharding import process_rows
from .stream import stream

# The built-in dataset's feature when none is named: the tutorial's one-feature example.
BUILTIN_DEFAULT_X = ("radio",)


def dataset_of(
    data: Any = None,
    y: Any = None,
    x: Sequence[str] | None = None,
    *,
    builtin_x: Sequence[str] | None = BUILTIN_DEFAULT_X,
    processes: Processes = ONE,
) -> Dataset:
    """The ``Dataset`` of ``data`` (see the module), this process's rows of it.

    Args:
        data: None, a path, a DataFrame, a mapping of columns, an array ``X``, or a
            ``Dataset``.
        y: the target: a column name for a table or file (default: the last column;
            ``"sales"`` for the built-in dataset), or the targets themselves when
            ``data`` is an array.
        x: the feature columns by name (default: every column but the target; for
            the built-in dataset, ``builtin_x``, None meaning all of its features).
        builtin_x: the built-in dataset's features when ``x`` is not given.
        processes: this process's place in a run of several.

    Raises:
        DataError: a file that cannot be read, an unknown column, a non-numeric or
            non-finite value (named by row and column), mismatched lengths.

    Example:
        >>> import numpy as np
        >>> dataset_of({"width": [1.0, 2.0, 3.0], "loss": [2.0, 4.0, 7.0]}).x_names
        ('width',)
        >>> dataset_of(np.array([[1.0], [2.0]]), np.array([3.0, 5.0])).x_names
        ('x0',)
        >>> dataset_of().source, dataset_of().x_names
        ('built-in (seed 0)', ('radio',))
    """
    if data is None:
        if y not in (None, "sales"):
            raise DataError(
                f"y={y!r}: the built-in dataset's target is sales (pass your data for yours)"
            )
        dataset = builtin(0, x=x or builtin_x)
    elif isinstance(data, Dataset):
        dataset = _chosen(data, y, x)
    elif isinstance(data, str | os.PathLike):
        return _file(as_path(data), y, x, processes)
    elif _is_frame(data):
        dataset = _frame(data, y, x)
    elif isinstance(data, Mapping):
        dataset = _columns(dict(data), y, x, source="columns")
    else:
        dataset = _arrays(data, y, x)
    return own_rows(dataset, processes)


def own_rows(dataset: Dataset, processes: Processes) -> Dataset:
    """This process's rows of a dataset that every process holds whole (the rows of
    ``sharding.process_rows``); with one process, the dataset itself."""
    if not processes.many:
        return dataset
    rows = process_rows(len(dataset.y))
    return dataclasses.replace(dataset, X=dataset.X[rows], y=dataset.y[rows])


def _chosen(dataset: Dataset, y, x) -> Dataset:
    """A dataset's features picked by ``x`` (its target as it is)."""
    if y not in (None, dataset.y_name):
        raise DataError(f"{dataset.source}: the target is {dataset.y_name!r}, not {y!r}")
    if x is None or tuple(x) == dataset.x_names:  # as it is: the same columns, not a copy
        return dataset
    columns, _, names, _ = pick_columns([*dataset.x_names, dataset.y_name], None, x, dataset.source)
    return dataclasses.replace(dataset, X=dataset.X[:, columns], x_names=names)


def _file(path: FilePath, y, x, processes: Processes) -> Dataset:
    """A file's dataset: read whole, or over several processes each one's own rows."""
    suffix = path.suffix.lower()
    if processes.many:
        if suffix not in (".npy", ".parquet"):
            raise DataError(
                f"{path}: a fit over several processes reads each one's rows of a .npy or "
                ".parquet file; convert it first (numpy.save of the table, target last)"
            )
        table = stream(path, y=y, x=x, dtype=np.float64)
        return table.dataset(process_rows(table.rows), across_processes=True)
    return load(path, y=y, x=x)


def _is_frame(data) -> bool:
    """A pandas or polars DataFrame (or anything shaped like one), not an array."""
    return (
        hasattr(data, "columns") and hasattr(data, "to_numpy") and not isinstance(data, np.ndarray)
    )


def _frame(frame, y, x) -> Dataset:
    """A DataFrame's columns, by name (its index is not a column)."""
    names = [str(name) for name in frame.columns]
    if len(set(names)) != len(names):
        twice = sorted({name for name in names if names.count(name) > 1})
        raise DataError(f"DataFrame: the column {twice[0]!r} appears twice")
    columns = {name: frame[column] for name, column in zip(names, frame.columns, strict=True)}
    source = f"DataFrame ({len(frame)} rows)"
    numbers = {name: _numbers(column) for name, column in columns.items()}
    index = getattr(frame, "index", None)  # pandas: a row is named by its label too

    def row_label(row: int) -> str:
        return f"row {row}" if index is None else f"row {row} (index {_plain(index[row])!r})"

    return _columns(numbers, y, x, source=source, row_label=row_label)


def _numbers(column) -> np.ndarray:
    return column.to_numpy() if hasattr(column, "to_numpy") else np.asarray(column)


def _columns(columns: dict, y, x, *, source: str, row_label=None) -> Dataset:
    """Named 1-D columns: the target and the features picked by name, checked as a file's."""
    names = [str(name) for name in columns]
    if not names:
        raise DataError(f"{source}: no columns")
    x_columns, y_column, x_names, y_name = pick_columns(names, y, x, source)
    arrays = list(columns.values())
    picked = [_column(source, names[j], arrays[j]) for j in [*x_columns, y_column]]
    lengths = {len(column) for column in picked}
    if len(lengths) > 1:
        described = ", ".join(
            f"{name!r} has {len(column)}"
            for name, column in zip([*x_names, y_name], picked, strict=True)
        )
        raise DataError(f"{source}: columns differ in length: {described}")
    X = np.column_stack(picked[:-1])
    return validate(X, picked[-1], x_names, y_name, source, row_label)


def _column(source: str, name: str, values) -> np.ndarray:
    """One column as float64: real numbers only (not text, dates, booleans or complex)."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise DataError(f"{source}: column {name!r} has shape {array.shape}; expected 1-D")
    if array.dtype.kind not in "iuf":
        missing = array.dtype.kind == "O" and any(value is None for value in array)
        what = "a missing value (None)" if missing else f"dtype {array.dtype}"
        raise DataError(f"{source}: column {name!r} holds {what}, not real numbers")
    return array.astype(np.float64, copy=False)


def _arrays(X, y, x) -> Dataset:
    """Features and targets given as arrays; the features named ``x`` or ``x0, x1, ...``."""
    if y is None or isinstance(y, str):
        raise DataError(
            "an array of features needs its targets as an array: linear(X, y); "
            "to pick columns by name, pass a DataFrame, a mapping of columns or a file"
        )
    features = np.asarray(X)
    targets = np.asarray(y)
    for name, array in (("X", features), ("y", targets)):
        if array.dtype.kind not in "iuf":
            raise DataError(f"arrays: {name} has dtype {array.dtype}, not real numbers")
    if features.ndim not in (1, 2) or targets.ndim != 1:
        raise DataError(
            f"arrays: X must be 1-D or 2-D and y 1-D, got shapes {features.shape} and "
            f"{targets.shape}"
        )
    width = 1 if features.ndim == 1 else features.shape[1]
    names = tuple(x) if x is not None else tuple(f"x{j}" for j in range(width))
    if len(names) != width:
        raise DataError(f"arrays: x names {len(names)} features, but X has {width} columns")
    if width == 0:
        raise DataError("arrays: X has no feature columns")
    return validate(features, targets, names, "y", "arrays")


def _plain(label):
    """An index label as Python has it (``6``, not ``np.int64(6)``)."""
    return label.item() if isinstance(label, np.generic) else label
