"""Data at the boundary: the built-in dataset, loading files, validation, standardization.

Everything that comes from outside is checked here, once, with errors that say
what is wrong and where (file, line, column, row). ``to_device`` is the one
place arrays reach the device.
"""

import array
import collections
import csv
import dataclasses
import functools
import itertools
import os
import warnings
import zipfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..model import Linear
from ..processes import ONE, Processes

BUILTIN_ROWS = 200
BUILTIN_TRUE_M = 0.25
BUILTIN_TRUE_B = 5.0
BUILTIN_NOISE = 2.0
BUILTIN_FEATURES = ("TV", "radio", "newspaper")
# Rows per block where a pass over the data goes block by block, to hold no temporary
# the size of the data: 2**16 rows of 64 float64 features are 32 MB.
BLOCK_ROWS = 2**16


class DataError(ValueError):
    """Input data that cannot be used; the message names what is wrong and where."""

    __module__ = "steepest"  # its public name, in tracebacks too


class DataWarning(UserWarning):
    """Something about the data the caller should know; the data are used anyway."""


class ConstantColumnWarning(DataWarning):
    """A feature column holds one value only: its coefficient is not identifiable."""


class IndexColumnWarning(DataWarning):
    """A CSV file's first column has no name: a row index (as pandas' ``to_csv`` writes
    one), left out of the data."""


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

    def __repr__(self) -> str:
        """What the data are, not their rows: ``Dataset(built-in (seed 0): 200 rows, ...)``."""
        return (
            f"Dataset({self.source}: {len(self.y)} rows, "
            f"{self.y_name} ~ {' + '.join(self.x_names)})"
        )


def builtin(seed: int = 0, x: Sequence[str] | None = ("radio",)) -> Dataset:
    """The built-in dataset: the tutorial's advertising spend and sales, from a fixed seed.

    ``N = 200`` markets, drawn from ``numpy.random.default_rng(seed)`` (the same
    seed gives the same data on every machine):

    - ``radio`` uniform in [0, 50), and ``sales = 0.25 radio + 5 + e`` with ``e``
      normal of standard deviation 2: the tutorial's one-feature example, a
      known line (``m = 0.25``, ``b = 5``);
    - ``TV = 150 + 40 (0.9 e / 2 + 0.436 z)``, ``z`` standard normal: TV explains
      most of what radio leaves (correlation 0.9 with ``e``, so sales rise about
      0.045 per unit of TV);
    - ``newspaper = max(0, 10 + 0.8 radio + u)``, ``u`` normal of standard
      deviation 7: bought with radio (correlation about 0.85), no effect on sales.

    So the three features, standardized, are still ill-conditioned (condition
    number about 12): gradient descent takes a visible number of steps and the
    optimizers differ. ``radio`` and ``sales`` are drawn first, so they are the
    same whatever ``x`` selects.

    Args:
        seed: the random seed.
        x: the feature columns, from ``BUILTIN_FEATURES``; None for all three.

    Example:
        >>> data = builtin()
        >>> data.X.shape, data.y.shape, data.x_names, data.y_name
        ((200, 1), (200,), ('radio',), 'sales')
        >>> builtin(x=None).x_names
        ('TV', 'radio', 'newspaper')
    """
    rng = np.random.default_rng(seed)
    radio = rng.uniform(0.0, 50.0, BUILTIN_ROWS)
    noise = rng.normal(0.0, BUILTIN_NOISE, BUILTIN_ROWS)
    sales = BUILTIN_TRUE_M * radio + BUILTIN_TRUE_B + noise
    tv = 150.0 + 40.0 * (0.9 * noise / BUILTIN_NOISE + 0.436 * rng.standard_normal(BUILTIN_ROWS))
    newspaper = np.maximum(0.0, 10.0 + 0.8 * radio + rng.normal(0.0, 7.0, BUILTIN_ROWS))
    columns = {"TV": tv, "radio": radio, "newspaper": newspaper}
    names = BUILTIN_FEATURES if x is None else (x,) if isinstance(x, str) else tuple(x)
    if len(set(names)) != len(names):
        raise DataError(f"the built-in dataset's features are named twice: {', '.join(names)}")
    unknown = [name for name in names if name not in columns]
    if unknown or not names:
        raise DataError(
            f"the built-in dataset has no column {', '.join(map(repr, unknown)) or 'selected'}; "
            f"its features: {', '.join(BUILTIN_FEATURES)} (the target: sales)"
        )
    X = np.column_stack([columns[name] for name in names])
    return Dataset(X, sales, names, "sales", f"built-in (seed {seed})")


class _Table(NamedTuple):
    """A file's numbers, as a reader returns them.

    Attributes:
        names: one name per column.
        values: float64, shape ``(N, len(names))``.
        row_label: how an error names row ``i`` ("line 7" in a CSV file, "row 6"
            in a NumPy file), computed only when an error needs it.
    """

    names: tuple[str, ...]
    values: np.ndarray
    row_label: Callable[[int], str]


def load(path: str | Path, *, y: str | None = None, x: list[str] | None = None) -> Dataset:
    """Read a table of numbers and pick the target and feature columns.

    - ``.csv``: a header row of column names, then one row per sample; blank
      lines are skipped, whitespace around a number is allowed.
    - ``.npz``: either one 1-D array per column (the keys are the names), or a
      2-D ``X`` with a 1-D ``y`` (columns ``x0, x1, ...`` and ``y``).
    - ``.npy``: a 2-D array; its columns are named ``x0, x1, ...`` and the last ``y``,
      as an ``.npz``'s ``X`` and ``y`` are.

    A CSV file is parsed by NumPy's C parser; only a file that it refuses is
    read again cell by cell, to read what ``csv`` and ``float`` accept (a
    quoted number, say) or to word the error. When ``X`` and ``y`` are the
    whole table, in its order (the default), they are views of it, not copies.

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
    if path.is_dir():
        raise DataError(f"{path} is a directory, not a data file")
    if not path.is_file():
        raise DataError(f"no such file: {path}")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        table = _read_csv(path)
    elif suffix in (".npy", ".npz"):
        table = _read_numpy(path)
    else:
        raise DataError(f"{path}: unsupported file type {suffix!r}; use .csv, .npy or .npz")
    return _select(table, y, x, source=str(path))


def _open_csv(path: Path):
    # utf-8-sig: spreadsheet exports often start with a byte-order mark.
    return path.open(newline="", encoding="utf-8-sig")


def _read_csv(path: Path) -> _Table:
    """A CSV file's table: by NumPy's parser, or cell by cell where it refuses the file.

    A first column with no name (``,a,b``: the index pandas' ``to_csv`` writes) is a row
    index, not data: it is left out, with an ``IndexColumnWarning``.
    """
    index = _unnamed_first_column(path)
    table = _parse_csv(path, index)
    table = table if table is not None else _scan_csv(path, index)
    _check_not_numbers(path, table.names)
    if index:
        warnings.warn(
            f"{path}: its first column has no name: taken for a row index (as pandas' "
            "to_csv writes one) and left out",
            IndexColumnWarning,
            stacklevel=4,
        )
    return table


def _unnamed_first_column(path: Path) -> bool:
    """Whether the header names every column but the first (``,a,b``)."""
    try:
        with _open_csv(path) as file:
            header = _names(next(csv.reader(file), []))
    except (ValueError, OSError, csv.Error):
        return False  # the readers word the error
    return len(header) > 1 and header[0] == "" and all(header[1:])


def _check_not_numbers(path: Path, header: Sequence[str]) -> None:
    """A DataError for a header row of numbers only: a file without a header row."""
    if all(_is_number(name) for name in header):
        raise DataError(
            f"{path}: the first row is all numbers ({', '.join(header)}); "
            "the file needs a header row naming the columns"
        )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _parse_csv(path: Path, skip_first: bool = False) -> _Table | None:
    """The table by ``np.loadtxt``; None for a file it refuses or one with an error to word.

    ``loadtxt`` (no comments, no quotes) accepts a subset of what the cell by
    cell reader does, and reads the same numbers: whatever it refuses, or a
    header or column count that is wrong, goes to ``_scan_csv``.
    """
    try:
        with _open_csv(path) as file, warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # loadtxt's "no data"
            header = _names(next(csv.reader(file), []))
            columns = range(1, len(header)) if skip_first else None
            values = np.loadtxt(
                file, delimiter=",", comments=None, quotechar=None, ndmin=2, usecols=columns
            )
    except (ValueError, OSError, csv.Error):  # UnicodeDecodeError is a ValueError
        return None
    header = header[1:] if skip_first else header
    well_named = all(header) and len(set(header)) == len(header)
    if not well_named or len(values) == 0 or values.shape[1] != len(header):
        return None
    return _Table(tuple(header), values, functools.partial(_csv_line, path))


def _scan_csv(path: Path, skip_first: bool = False) -> _Table:
    """The table read cell by cell with ``csv`` and ``float``: slow, but it words every error.

    The errors come in the order of a reader that reads the whole file first:
    text that cannot be decoded or split, then the header, then the first bad
    row. Nothing is held per row: the numbers go into one flat array.
    """
    try:
        with _open_csv(path) as file:
            collections.deque(csv.reader(file), maxlen=0)  # decode and split it all first
        with _open_csv(path) as file:
            return _scan_records(path, csv.reader(file), skip_first)
    except UnicodeDecodeError as error:
        raise DataError(
            f"{path} is not UTF-8 text (byte {error.start}); save it as UTF-8 CSV"
        ) from None
    except (OSError, csv.Error) as error:
        raise DataError(f"{path}: cannot read it as CSV ({error})") from None


def _scan_records(path: Path, records: Iterator[list[str]], skip_first: bool = False) -> _Table:
    header = _names(next(records, []))
    _check_header(path, header[skip_first:], first=1 + skip_first)
    values = array.array("d")
    for line, row in enumerate(records, start=2):
        if any(row):  # a blank line is a row of empty cells, or none
            values.extend(_numbers(path, line, row, header, skip_first))
    header = header[1:] if skip_first else header
    if not values:
        raise DataError(f"{path} has a header but no data rows")
    table = np.array(values).reshape(-1, len(header))
    return _Table(tuple(header), table, functools.partial(_csv_line, path))


def _names(header: list[str]) -> list[str]:
    return [name.strip() for name in header]


def _check_header(path: Path, header: list[str], first: int = 1) -> None:
    """A DataError for an empty header, a column with no name or one named twice
    (columns counted from ``first``)."""
    if not any(header):
        raise DataError(f"{path} is empty: expected a header row of column names")
    for column, name in enumerate(header):
        if not name:
            raise DataError(f"{path}: column {column + first} of the header has no name")
        if header.index(name) != column:
            raise DataError(
                f"{path}: the header names column {name!r} twice "
                f"(columns {header.index(name) + first} and {column + first})"
            )


def _numbers(
    path: Path, line: int, row: list[str], header: list[str], skip_first: bool = False
) -> list[float]:
    """One CSV row's numbers (but the first cell's, with ``skip_first``), or a DataError
    naming its line (and column)."""
    if len(row) != len(header):
        raise DataError(f"{path}, line {line}: {len(row)} cells, but the header has {len(header)}")
    numbers = []
    for column, (name, cell) in enumerate(zip(header, row, strict=True)):
        if skip_first and column == 0:
            continue
        try:
            if "_" in cell:  # float() reads 1_0 as 10: a typo, not a number
                raise ValueError(cell)
            numbers.append(float(cell))
        except ValueError:
            raise DataError(
                f"{path}, line {line}, column {column + 1} ({name!r}): "
                f"{cell.strip()!r} is not a number"
            ) from None
    return numbers


def _csv_line(path: Path, index: int) -> str:
    """How an error names data row ``index`` of a CSV file: ``line N``, blank lines counted.

    The file is read again, so a loaded table holds nothing per row.
    """
    with _open_csv(path) as file:
        records = enumerate(csv.reader(file), start=1)
        lines = (line for line, row in records if line > 1 and any(row))
        return f"line {next(itertools.islice(lines, index, None))}"


def _read_numpy(path: Path) -> _Table:
    _check_declared_sizes(path)
    try:
        # Our own handle, closed here even when np.load fails on a corrupt archive.
        with path.open("rb") as file:
            loaded = np.load(file, allow_pickle=False)
            if isinstance(loaded, np.lib.npyio.NpzFile):
                with loaded:
                    arrays = {key: loaded[key] for key in loaded.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise DataError(f"{path}: not a readable NumPy file ({error})") from None
    if isinstance(loaded, np.ndarray):
        names, values = _npy_table(path, loaded)
    else:
        names, values = _npz_table(path, arrays)
    return _Table(names, values, "row {}".format)


def _check_declared_sizes(path: Path) -> None:
    """A DataError when the arrays a NumPy file declares would not fit the memory available.

    The sizes come from the ``.npy`` headers (inside the zip for ``.npz``), read
    without the data: a small compressed file can unpack to gigabytes. What is
    needed is every array as stored plus the float64 table made of them (none for a
    float64 ``.npy``, used as it is).
    """
    try:
        declared = _declared_arrays(path)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile):
        return  # np.load words the error
    available = available_memory()
    if available is None or not declared:
        return
    rows = max(_rows(shape) for _, shape, _ in declared)
    table = 8 * rows * sum(_columns(shape) for _, shape, _ in declared)
    if path.suffix.lower() == ".npy" and declared[0][2] == np.float64:
        table = 0  # used as it is, not copied
    sizes = [(name, shape, dtype, _nbytes(shape, dtype)) for name, shape, dtype in declared]
    name, shape, dtype, nbytes = max(sizes, key=lambda item: item[3])
    if nbytes > available:
        raise DataError(
            f"{path}: array {name!r} declares shape {shape} of {dtype}, "
            f"{_bytes(nbytes)}, more than the {_bytes(available)} of memory available"
        )
    needed = sum(size for *_, size in sizes) + table
    if needed > available:
        raise DataError(
            f"{path}: its arrays and their float64 table need {_bytes(needed)}, "
            f"more than the {_bytes(available)} of memory available"
        )


def _declared_arrays(path: Path) -> list[tuple[str, tuple[int, ...], np.dtype]]:
    """(name, shape, dtype) of each array in a ``.npy`` or ``.npz`` file, from its header."""
    if path.suffix.lower() == ".npy":
        with path.open("rb") as file:
            return [("0", *npy_header(file)[:2])]
    with zipfile.ZipFile(path) as archive:
        declared = []
        for member in archive.namelist():
            with archive.open(member) as file:
                try:
                    declared.append((member.removesuffix(".npy"), *npy_header(file)[:2]))
                except ValueError:  # not an array: np.load words it
                    continue
        return declared


def npy_header(file) -> tuple[tuple[int, ...], np.dtype, bool]:
    """The shape, dtype and Fortran order a ``.npy`` file declares, read from ``file``
    (left at the first byte of the data)."""
    version = np.lib.format.read_magic(file)
    read = (
        np.lib.format.read_array_header_1_0
        if version == (1, 0)
        else np.lib.format.read_array_header_2_0
    )
    shape, fortran, dtype = read(file, max_header_size=2**20)
    return tuple(int(n) for n in shape), dtype, fortran


def _rows(shape: tuple[int, ...]) -> int:
    return shape[0] if shape else 1


def _columns(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape[1:], dtype=object)) if len(shape) > 1 else 1


def _nbytes(shape: tuple[int, ...], dtype: np.dtype) -> int:
    return int(np.prod(shape, dtype=object)) * dtype.itemsize


def _bytes(count: int) -> str:
    """A size in bytes, for a message.

    Example:
        >>> _bytes(8 * 2**30), _bytes(1500)
        ('8.6 GB', '1.5 kB')
    """
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count} bytes"


def available_memory() -> int | None:
    """The bytes of memory available now (MemAvailable, else free pages), or None unknown."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (OSError, ValueError, AttributeError):
        return None


def npy_names(width: int) -> tuple[str, ...]:
    """The names of a 2-D array's columns, as an ``.npz``'s ``X`` and ``y`` are named: the
    features ``x0, x1, ...``, the last column (the target by default) ``y``.

    Example:
        >>> npy_names(3)
        ('x0', 'x1', 'y')
    """
    return (*(f"x{j}" for j in range(width - 1)), "y") if width else ()


def _npy_table(path: Path, loaded: np.ndarray) -> tuple[tuple[str, ...], np.ndarray]:
    """A 2-D array's columns, named ``x0, x1, ..., y`` (``npy_names``): float64 is used as
    it is, not copied."""
    if loaded.ndim != 2:
        raise DataError(f"{path}: expected a 2-D array, got shape {loaded.shape}")
    names = npy_names(loaded.shape[1])
    if not names:
        raise DataError(f"{path} holds no arrays")
    _check_real(path, names[0], loaded)
    return names, loaded.astype(np.float64, copy=False)


def _npz_table(path: Path, arrays: dict[str, np.ndarray]) -> tuple[tuple[str, ...], np.ndarray]:
    """One column per 1-D array (a 2-D ``X`` gives ``x0, x1, ...``), in one float64 table."""
    if "X" in arrays and np.ndim(arrays["X"]) == 2:
        X = arrays.pop("X")
        clashes = [f"x{j}" for j in range(X.shape[1]) if f"x{j}" in arrays]
        if clashes:
            raise DataError(
                f"{path}: holds a 2-D 'X', whose columns are named x0..x{X.shape[1] - 1}, "
                f"and also {', '.join(map(repr, clashes))}; keep one or rename it"
            )
        arrays = {**{f"x{j}": X[:, j] for j in range(X.shape[1])}, **arrays}
    for name, column in arrays.items():
        if column.ndim != 1:
            raise DataError(f"{path}: array {name!r} has shape {column.shape}; expected 1-D")
        _check_real(path, name, column)
    if not arrays:
        raise DataError(f"{path} holds no arrays")
    lengths = {name: len(column) for name, column in arrays.items()}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{name!r} has {n}" for name, n in lengths.items())
        raise DataError(f"{path}: columns differ in length: {described}")
    values = np.empty((next(iter(lengths.values())), len(arrays)))
    for j, column in enumerate(arrays.values()):
        values[:, j] = column
    return tuple(arrays), values


def _check_real(path: Path, name: str, values: np.ndarray) -> None:
    # kind i, u, f: not bool, complex, timedelta64 (a subtype of np.number), datetime64.
    if values.dtype.kind not in "iuf":
        raise DataError(f"{path}: array {name!r} has dtype {values.dtype}, not real numbers")


def _select(table: _Table, y_name, x_names, *, source) -> Dataset:
    x_columns, y_column, x_names, y_name = pick_columns(table.names, y_name, x_names, source)
    X, y = _split(table.values, x_columns, y_column)
    return validate(X, y, x_names, y_name, source, table.row_label)


def pick_columns(
    names: Sequence[str], y_name: str | None, x_names: Sequence[str] | None, source: str
) -> tuple[list[int], int, tuple[str, ...], str]:
    """The indices of the feature columns and of the target among ``names``, and their
    names: the target by default the last column, the features every other.

    Raises:
        DataError: an unknown column (the known ones listed), no feature, a feature
            named twice, or a column both the target and a feature.

    Example:
        >>> pick_columns(["a", "b", "c"], None, None, "t.npy")
        ([0, 1], 2, ('a', 'b'), 'c')
    """
    names = list(names)
    y_name = names[-1] if y_name is None else y_name
    if x_names is None:
        x_names = [name for name in names if name != y_name]
    for name in [y_name, *x_names]:
        if name not in names:
            raise DataError(f"{source}: unknown column {name!r}; available: {', '.join(names)}")
    if not x_names:
        raise DataError(f"{source}: no feature columns besides the target {y_name!r}")
    for index, name in enumerate(x_names):
        if name in x_names[:index]:
            raise DataError(f"{source}: feature {name!r} is selected twice")
    if y_name in x_names:
        raise DataError(f"{source}: column {y_name!r} is both the target and a feature")
    return [names.index(name) for name in x_names], names.index(y_name), tuple(x_names), y_name


def _split(values: np.ndarray, x_columns: list[int], y_column: int):
    """X and y out of a table: views where they split it as it lies, copies otherwise.

    Views cost no memory; copies let the rest of the table be freed.

    Example:
        >>> values = np.arange(6.0).reshape(3, 2)
        >>> X, y = _split(values, [0], 1)
        >>> bool(np.shares_memory(X, values)), y.tolist()
        (True, [1.0, 3.0, 5.0])
    """
    width = values.shape[1]
    others = [j for j in range(width) if j != y_column]
    if x_columns == others and y_column in (0, width - 1):
        first = others[0]
        return values[:, first : first + len(others)], values[:, y_column]
    return values.take(x_columns, axis=1), values[:, y_column].copy()


def validate(
    X, y, x_names, y_name, source, row_labels=None, *, across_processes: bool = False
) -> Dataset:
    """Check features and targets, and wrap them in a ``Dataset``.

    Float64 arrays are kept as they are, not copied. X and y are searched for
    NaN or infinity apart; the first one (by row, then column, y last) is
    placed only when there is one.

    Args:
        X: features, shape ``(N, d)`` or ``(N,)``.
        y: targets, shape ``(N,)``.
        x_names: one name per feature column.
        y_name: the target's name.
        source: where the data came from, for messages.
        row_labels: how a message names row ``i``: a function of ``i`` (such as
            ``"line {}".format``) or a sequence of labels; ``"row i"`` by default.
        across_processes: in a run of several processes, X and y are this process's
            rows: the row count and the constant columns are those of every process's
            rows together (every process must call it).

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
    processes = Processes.current() if across_processes else ONE
    rows = int(processes.sum(X.shape[0]))
    if rows < 2:
        raise DataError(f"{source}: needs at least 2 rows, got {rows}")
    _check_finite(X, y, (*x_names, y_name), source, _row_labeller(row_labels))
    # Every column's largest value and its smallest (negated), over every process's rows.
    highs, lows = X.max(axis=0, initial=-np.inf), -X.min(axis=0, initial=np.inf)
    highs, lows = np.split(processes.max(np.concatenate([highs, lows])), 2)
    lows = -lows
    for name, low, high in zip(x_names, lows, highs, strict=True):
        if low == high:
            warnings.warn(
                f"{source}: column {name!r} is constant ({low:g}); "
                "its coefficient cannot be told apart from the intercept",
                ConstantColumnWarning,
                stacklevel=2,
            )
    return Dataset(X, y, tuple(x_names), y_name, source)


def _row_labeller(row_labels) -> Callable[[int], str]:
    if row_labels is None:
        return "row {}".format
    return row_labels if callable(row_labels) else row_labels.__getitem__


def _check_finite(X, y, names, source, row_label) -> None:
    """A DataError naming the first NaN or infinity of the table ``[X, y]``, if any."""
    places = []
    if (place := first_non_finite(X)) is not None:
        places.append(place)
    if (place := first_non_finite(y.reshape(len(y), -1))) is not None:
        places.append((place[0], X.shape[1] + place[1]))
    if places:
        row, column = min(places)
        value = X[row, column] if column < X.shape[1] else y[row]
        raise DataError(f"{source}, {row_label(row)}: column {names[column]!r} is {value}")


def first_non_finite(values: np.ndarray) -> tuple[int, int] | None:
    """(row, column) of the first value of a 2-D array that is NaN or infinite, or None.

    Example:
        >>> first_non_finite(np.array([[1.0, 2.0], [np.inf, np.nan]]))
        (1, 0)
    """
    finite = np.isfinite(values)
    if finite.all():
        return None
    row = int(np.argmin(finite.all(axis=1)))
    return row, int(np.argmin(finite[row]))


@dataclasses.dataclass(frozen=True)
class Standardizer:
    """Centers and scales each feature column, and maps coefficients back.

    ``z = (x - mean) / scale``, with ``scale`` the column's standard deviation
    (1 for a constant column, which is only centered). A model ``z @ v + c``
    equals ``x @ w + b`` with ``w = v / scale`` and ``b = c - mean @ w``. For a
    model without intercept, ``center=False``: ``mean`` is 0 and ``scale`` the
    column's root mean square, so that ``z @ v`` equals ``x @ (v / scale)``.

    The target may be centered too (``target_mean``; then ``b`` gains it back):
    rounded to float32 uncentered, a target of 1e6 + 0.01 x keeps no trace of x.

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
    target_mean: float = 0.0

    @classmethod
    def of(
        cls,
        X: np.ndarray,
        y: np.ndarray | None = None,
        *,
        center: bool = True,
        block_rows: int = BLOCK_ROWS,
        across_processes: bool = False,
    ) -> "Standardizer":
        """The mean and standard deviation of each column (``center=False``: 0 and the
        root mean square), a block of rows at a time (so no temporary the size of X),
        and the mean of ``y`` when given and ``center``.

        ``across_processes``: in a run of several processes (``jax.distributed``), X and
        y are this process's rows, and the statistics are those of every process's
        rows together (every process must call it).

        Example:
            >>> Standardizer.of(np.array([[1.0], [3.0]]), center=False).scale.tolist()
            [2.23606797749979]
            >>> Standardizer.of(np.array([[1.0], [3.0]]), np.array([5.0, 7.0])).target_mean
            6.0
        """
        processes = Processes.current() if across_processes else ONE
        rows = int(processes.sum(len(X)))
        target_mean = 0.0
        if center and y is not None:
            y = np.asarray(y, np.float64)
            unit = _unit(processes.max(_column_magnitudes(y[:, None])))[0]
            target_mean = float(processes.sum(np.sum(y / unit)) / rows * unit)
        # A column of magnitude far from 1 (1e300, 1e-300) is divided by a power of two
        # first (exact), so that its sum and squares neither overflow nor underflow.
        unit = _unit(processes.max(_column_magnitudes(X)))
        scaled = np.any(unit != 1)
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            if not center:
                mean = np.zeros(X.shape[1])
            elif not processes.many and not scaled:
                mean = X.mean(axis=0)  # in X's dtype, as ever
            elif not scaled:
                mean = processes.sum(X.sum(axis=0)) / rows
            else:
                sums = np.zeros(X.shape[1])
                for start in range(0, len(X), block_rows):
                    sums += (X[start : start + block_rows] / unit).sum(axis=0)
                mean = processes.sum(sums) / rows
            squares = np.zeros(X.shape[1])
            for start in range(0, len(X), block_rows):
                block = X[start : start + block_rows]
                block = block / unit if scaled else block
                squares += np.square(block - mean).sum(axis=0)
            std = np.sqrt(processes.sum(squares) / rows) * unit
            mean = mean * unit if scaled else mean
        return cls(mean=mean, scale=np.where(std > 0, std, 1.0), target_mean=target_mean)

    @classmethod
    def identity(cls, num_features: int) -> "Standardizer":
        return cls(mean=np.zeros(num_features), scale=np.ones(num_features))

    def transform(
        self, X: np.ndarray, dtype=np.float64, *, block_rows: int = BLOCK_ROWS
    ) -> np.ndarray:
        """``(X - mean) / scale`` as a new array of ``dtype``, computed in float64 a block
        of rows at a time: the only array the size of X it makes is the one it returns.

        Raises:
            DataError: when a value would not fit ``dtype`` (it would become infinite).

        Example:
            >>> s = Standardizer.of(np.array([[0.0], [2.0]]))
            >>> s.transform(np.array([[1.0], [4.0]]), np.float32).ravel().tolist()
            [0.0, 3.0]
        """
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            high, low = X.max(axis=0, initial=-np.inf), X.min(axis=0, initial=np.inf)
            spread = np.maximum(high - self.mean, self.mean - low)
            # Where x - mean overflows (values near the float64 limit of both signs), the
            # halves are subtracted: exact, as halving is, and they cannot overflow.
            halve = not np.all(np.isfinite(spread) | (len(X) == 0))
            if halve:
                spread = np.maximum(high / 2 - self.mean / 2, self.mean / 2 - low / 2)
            largest = np.max(spread / self.scale, initial=0.0) * (2 if halve else 1)
            _check_fits(float(largest), dtype)
            standardized = np.empty(X.shape, dtype)
            for start in range(0, len(X), block_rows):
                block = slice(start, start + block_rows)
                if halve:
                    standardized[block] = (X[block] / 2 - self.mean / 2) / self.scale * 2
                else:
                    standardized[block] = (X[block] - self.mean) / self.scale
        return standardized

    def transform_target(self, y: np.ndarray, dtype=np.float64) -> np.ndarray:
        """``y - target_mean``, computed in float64, as ``dtype``.

        Example:
            >>> s = Standardizer(np.zeros(1), np.ones(1), target_mean=1e6)
            >>> s.transform_target(np.array([1e6 + 0.01, 1e6 - 0.01]), np.float32).tolist()
            [0.009999999776482582, -0.009999999776482582]
        """
        with np.errstate(over="ignore", invalid="ignore"):
            centered = np.asarray(y, np.float64) - self.target_mean
            _check_fits(float(np.max(np.abs(centered), initial=0.0)), dtype)
            return centered.astype(dtype)

    def to_original(self, params: Linear) -> Linear:
        """The coefficients of the same model on the original features, in float64."""
        w = np.asarray(params.w, np.float64) / self.scale
        if params.b is None:
            return Linear(w=w)
        return Linear(w=w, b=np.float64(params.b) - self.mean @ w + self.target_mean)

    def jacobian(self, intercept: bool = True) -> np.ndarray:
        """``J`` with ``flat(to_original(p)) = J flat(p)`` (+ a constant), flattened
        ``[w..., b]``: how a bound on the standardized params maps to the original ones.

        Example:
            >>> Standardizer(mean=np.array([1.0]), scale=np.array([2.0])).jacobian().tolist()
            [[0.5, 0.0], [-0.5, 1.0]]
        """
        to_w = np.diag(1.0 / self.scale)
        if not intercept:
            return to_w
        width = len(self.scale)
        jacobian = np.zeros((width + 1, width + 1))
        jacobian[:width, :width] = to_w
        jacobian[width, :width] = -self.mean / self.scale
        jacobian[width, width] = 1.0
        return jacobian


def _column_magnitudes(X: np.ndarray) -> np.ndarray:
    """``max |x|`` of each column, from min and max (no temporary the size of X)."""
    if len(X) == 0:
        return np.zeros(X.shape[1])
    return np.maximum(np.abs(X.min(axis=0)), np.abs(X.max(axis=0)))


def _unit(magnitudes: np.ndarray) -> np.ndarray:
    """A power of two near each magnitude far from 1 (beyond 2**-400 .. 2**400), else 1.

    Dividing by a power of two is exact, and leaves the sum and the squares of a column
    of such magnitudes (up to ``2**400``) far from overflow and underflow.

    Example:
        >>> _unit(np.array([3.0, 1e300, 0.0])).tolist() == [1.0, 2.0**996, 1.0]
        True
    """
    magnitudes = np.asarray(magnitudes, np.float64)
    moderate = ~np.isfinite(magnitudes) | (magnitudes == 0)
    moderate |= (magnitudes >= 2.0**-400) & (magnitudes <= 2.0**400)
    _, exponent = np.frexp(np.where(moderate, 1.0, magnitudes))
    # 2**(e-1) <= m < 2**e: dividing by 2**(e-1) (finite even for m near the float64 limit)
    return np.where(moderate, 1.0, np.ldexp(1.0, exponent - 1))


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


def in_dtype(values, dtype) -> np.ndarray:
    """``values`` as a NumPy array of ``dtype`` (no copy when already so), checked to fit.

    Raises:
        DataError: when a value does not fit ``dtype`` (it would become infinite).

    Example:
        >>> in_dtype([1.0, 2.0], np.float32).dtype.name
        'float32'
    """
    values = np.asarray(values)
    check_fits(values, dtype)
    return values.astype(dtype, copy=False)


def check_fits(values: np.ndarray, dtype) -> None:
    """A DataError when a value of ``values`` would become infinite in ``dtype``.

    Example:
        >>> check_fits(np.array([1e39]), np.float32)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        steepest.DataError: a value of magnitude 1e+39 does not fit float32; ...
    """
    _check_fits(_largest_magnitude(values), dtype)


def _check_fits(largest: float, dtype) -> None:
    """A DataError when a value of magnitude ``largest`` would become infinite in ``dtype``."""
    if largest > float(np.finfo(dtype).max):
        advice = "scale the data" + (
            "" if np.dtype(dtype) == np.float64 else " or use float64 (--x64)"
        )
        raise DataError(
            f"a value of magnitude {largest:.3g} does not fit {np.dtype(dtype).name}; {advice}"
        )


def _largest_magnitude(values: np.ndarray) -> float:
    """``max |v|`` (0 for no values, NaN if there is one), for real values from min and max.

    Example:
        >>> _largest_magnitude(np.array([-3.0, 2.0]))
        3.0
    """
    if values.size == 0:
        return 0.0
    if np.iscomplexobj(values):
        return float(np.max(np.abs(values)))
    return float(np.max(np.abs([values.min(), values.max()])))
