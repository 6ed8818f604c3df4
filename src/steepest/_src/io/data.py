"""Data at the boundary: the built-in dataset, loading files, validation, standardization.

Everything that comes from outside is checked here, once, with errors that say
what is wrong and where (file, line, column, row). ``to_device`` is the one
place arrays reach the device.
"""

import csv
import dataclasses
import warnings
import zipfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from ..model import Linear

BUILTIN_ROWS = 200
BUILTIN_TRUE_M = 0.25
BUILTIN_TRUE_B = 5.0
BUILTIN_NOISE = 2.0


class DataError(ValueError):
    """Input data that cannot be used; the message names what is wrong and where."""

    __module__ = "steepest"  # its public name, in tracebacks too


class ConstantColumnWarning(UserWarning):
    """A feature column holds one value only: its coefficient is not identifiable."""


@dataclasses.dataclass(frozen=True)
class Dataset:
    """Features, targets and where they came from.

    Attributes:
        X: features, float64, shape ``(N, d)``.
        y: targets, float64, shape ``(N,)``.
        x_names: one name per feature column.
        y_name: the target's name.
        source: a short description (a file name, or "built-in").
    """

    X: np.ndarray
    y: np.ndarray
    x_names: tuple[str, ...]
    y_name: str
    source: str


def builtin(seed: int = 0) -> Dataset:
    """The built-in dataset: one feature, a known line, Gaussian noise.

    ``N = 200`` rows of advertising spend ``x`` uniform in [0, 50) and sales
    ``y = 0.25 x + 5 + noise`` with noise of standard deviation 2, drawn from
    ``numpy.random.default_rng(seed)``: the same seed gives the same data on
    every machine.

    Example:
        >>> data = builtin()
        >>> data.X.shape, data.y.shape, data.x_names, data.y_name
        ((200, 1), (200,), ('radio',), 'sales')
    """
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 50.0, BUILTIN_ROWS)
    y = BUILTIN_TRUE_M * x + BUILTIN_TRUE_B + rng.normal(0.0, BUILTIN_NOISE, BUILTIN_ROWS)
    return Dataset(x[:, None], y, ("radio",), "sales", f"built-in (seed {seed})")


def load(path: str | Path, *, y: str | None = None, x: list[str] | None = None) -> Dataset:
    """Read a table of numbers and pick the target and feature columns.

    - ``.csv``: a header row of column names, then one row per sample.
    - ``.npz``: either one 1-D array per column (the keys are the names), or a
      2-D ``X`` with a 1-D ``y`` (columns ``x0, x1, ...`` and ``y``).
    - ``.npy``: a 2-D array; its columns are named ``0, 1, ...``.

    Args:
        path: the file.
        y: the target column; by default the last one.
        x: the feature columns; by default every column but the target.

    Raises:
        DataError: a missing or unreadable file, a cell that is not a number
            (its line and column), NaN or infinity (its row), an empty table,
            fewer than 2 rows, or an unknown column (the known ones listed).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no such file: {path}")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        columns, row_labels = _read_csv(path)
    elif suffix in (".npy", ".npz"):
        columns, row_labels = _read_numpy(path)
    else:
        raise DataError(f"{path}: unsupported file type {suffix!r}; use .csv, .npy or .npz")
    return _select(columns, row_labels, y, x, source=str(path))


def _read_csv(path: Path) -> tuple[dict[str, np.ndarray], list[str]]:
    try:
        # utf-8-sig: spreadsheet exports often start with a byte-order mark.
        with path.open(newline="", encoding="utf-8-sig") as file:
            rows = list(csv.reader(file))
    except UnicodeDecodeError as error:
        raise DataError(
            f"{path} is not UTF-8 text (byte {error.start}); save it as UTF-8 CSV"
        ) from None
    except (OSError, csv.Error) as error:
        raise DataError(f"{path}: cannot read it as CSV ({error})") from None
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise DataError(f"{path} is empty: expected a header row of column names")
    header = [name.strip() for name in rows[0]]
    for column, name in enumerate(header):
        if header.index(name) != column:
            raise DataError(
                f"{path}: the header names column {name!r} twice "
                f"(columns {header.index(name) + 1} and {column + 1})"
            )
    body = [(number, row) for number, row in enumerate(rows[1:], start=2) if any(row)]
    if not body:
        raise DataError(f"{path} has a header but no data rows")
    values = np.empty((len(body), len(header)))
    for index, (line, row) in enumerate(body):
        if len(row) != len(header):
            raise DataError(
                f"{path}, line {line}: {len(row)} cells, but the header has {len(header)}"
            )
        for column, cell in enumerate(row):
            try:
                values[index, column] = float(cell)
            except ValueError:
                raise DataError(
                    f"{path}, line {line}, column {column + 1} ({header[column]!r}): "
                    f"{cell.strip()!r} is not a number"
                ) from None
    columns = {name: values[:, j] for j, name in enumerate(header)}
    return columns, [f"line {line}" for line, _ in body]


def _read_numpy(path: Path) -> tuple[dict[str, np.ndarray], list[str]]:
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded:
                arrays = {key: loaded[key] for key in loaded.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise DataError(f"{path}: not a readable NumPy file ({error})") from None
    if isinstance(loaded, np.ndarray):
        if loaded.ndim != 2:
            raise DataError(f"{path}: expected a 2-D array, got shape {loaded.shape}")
        arrays = {str(j): loaded[:, j] for j in range(loaded.shape[1])}
    else:
        if "X" in arrays and np.ndim(arrays["X"]) == 2:
            X = arrays.pop("X")
            arrays = {**{f"x{j}": X[:, j] for j in range(X.shape[1])}, **arrays}
    columns = {}
    for name, array in arrays.items():
        if array.ndim != 1:
            raise DataError(f"{path}: array {name!r} has shape {array.shape}; expected 1-D")
        if not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
            raise DataError(f"{path}: array {name!r} has dtype {array.dtype}, not real numbers")
        columns[name] = array.astype(np.float64)
    if not columns:
        raise DataError(f"{path} holds no arrays")
    lengths = {name: len(array) for name, array in columns.items()}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{name!r} has {n}" for name, n in lengths.items())
        raise DataError(f"{path}: columns differ in length: {described}")
    rows = next(iter(lengths.values()))
    return columns, [f"row {i}" for i in range(rows)]


def _select(columns, row_labels, y_name, x_names, *, source) -> Dataset:
    names = list(columns)
    y_name = names[-1] if y_name is None else y_name
    if x_names is None:
        x_names = [name for name in names if name != y_name]
    for name in [y_name, *x_names]:
        if name not in columns:
            raise DataError(f"{source}: unknown column {name!r}; available: {', '.join(names)}")
    if not x_names:
        raise DataError(f"{source}: no feature columns besides the target {y_name!r}")
    if y_name in x_names:
        raise DataError(f"{source}: column {y_name!r} is both the target and a feature")
    X = np.column_stack([columns[name] for name in x_names])
    return validate(X, columns[y_name], tuple(x_names), y_name, source, row_labels)


def validate(X, y, x_names, y_name, source, row_labels=None) -> Dataset:
    """Check features and targets, and wrap them in a ``Dataset``.

    Raises:
        DataError: mismatched lengths, fewer than 2 rows, or a non-finite value
            (naming its row and column).

    Warns:
        ConstantColumnWarning: for a feature column that holds one value only.

    Example:
        >>> import numpy as np
        >>> validate(np.array([[1.0], [np.nan]]), np.zeros(2), ("x",), "y", "demo")
        Traceback (most recent call last):
        ...
        steepest.DataError: demo, row 1: column 'x' is nan
    """
    X = np.asarray(X, np.float64)
    y = np.asarray(y, np.float64)
    X = X[:, None] if X.ndim == 1 else X
    if X.shape[0] != y.shape[0]:
        raise DataError(f"{source}: X has {X.shape[0]} rows but y has {y.shape[0]}")
    if X.shape[0] < 2:
        raise DataError(f"{source}: needs at least 2 rows, got {X.shape[0]}")
    row_labels = row_labels or [f"row {i}" for i in range(len(y))]
    table = np.column_stack([X, y])
    bad_rows, bad_columns = np.nonzero(~np.isfinite(table))
    if bad_rows.size:
        row, column = bad_rows[0], bad_columns[0]
        name = (*x_names, y_name)[column]
        raise DataError(f"{source}, {row_labels[row]}: column {name!r} is {table[row, column]}")
    for name, column in zip(x_names, X.T, strict=True):
        if np.all(column == column[0]):
            warnings.warn(
                f"{source}: column {name!r} is constant ({column[0]:g}); "
                "its coefficient cannot be told apart from the intercept",
                ConstantColumnWarning,
                stacklevel=2,
            )
    return Dataset(X, y, tuple(x_names), y_name, source)


@dataclasses.dataclass(frozen=True)
class Standardizer:
    """Centers and scales each feature column, and maps coefficients back.

    ``z = (x - mean) / scale``, with ``scale`` the column's standard deviation
    (1 for a constant column, which is only centered). A model ``z @ v + c``
    equals ``x @ w + b`` with ``w = v / scale`` and ``b = c - mean @ w``.

    Example:
        >>> import numpy as np
        >>> s = Standardizer.of(np.array([[0.0], [2.0]]))
        >>> s.transform(np.array([[0.0], [2.0]])).ravel().tolist()
        [-1.0, 1.0]
        >>> p = s.to_original(Linear(np.array([1.0]), np.array(0.0)))
        >>> p.w.tolist(), float(p.b)
        ([1.0], -1.0)
    """

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def of(cls, X: np.ndarray) -> "Standardizer":
        std = X.std(axis=0)
        return cls(mean=X.mean(axis=0), scale=np.where(std > 0, std, 1.0))

    @classmethod
    def identity(cls, num_features: int) -> "Standardizer":
        return cls(mean=np.zeros(num_features), scale=np.ones(num_features))

    def transform(self, X: np.ndarray) -> np.ndarray:
        return (X - self.mean) / self.scale

    def to_original(self, params: Linear) -> Linear:
        w = np.asarray(params.w, np.float64) / self.scale
        return Linear(w=w, b=np.float64(params.b) - self.mean @ w)


def to_device(*arrays: np.ndarray, dtype=jnp.float32) -> tuple[jax.Array, ...]:
    """Put arrays on the default device in ``dtype``: the one place data reaches the device.

    Raises:
        DataError: when a value does not fit ``dtype`` (it would become infinite).

    Example:
        >>> import numpy as np
        >>> [a.dtype.name for a in to_device(np.zeros(3), np.ones(3))]
        ['float32', 'float32']
    """
    placed = []
    for array in arrays:
        array = np.asarray(array)
        largest = float(np.max(np.abs(array), initial=0.0))
        if largest > float(np.finfo(dtype).max):
            raise DataError(
                f"a value of magnitude {largest:.3g} does not fit {np.dtype(dtype).name}; "
                "scale the data or use float64 (--x64)"
            )
        placed.append(jax.device_put(array.astype(dtype)))
    return tuple(placed)
