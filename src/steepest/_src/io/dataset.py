"""Data at the boundary, whatever their source: ``Dataset``, the one check every table
passes (``validate``: lengths, NaN and infinity named by row and column, constant
columns), picking columns by name, and whether values fit a dtype. ``DataError`` and
the data warnings are here, for every reader to raise.
"""

import dataclasses
import os
import warnings
from collections.abc import Callable, Sequence
from typing import NamedTuple, Protocol

import numpy as np

from ..processes import ONE, Processes

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


class Table(NamedTuple):
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


def select(table: Table, y_name, x_names, *, source) -> Dataset:
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
    if not names:
        raise DataError(f"{source} has no columns")
    y_name = names[-1] if y_name is None else y_name
    if x_names is None:
        x_names = [name for name in names if name != y_name]
    # Positions by name, the first of each: linear in the columns (a header may hold 1e6).
    position: dict[str, int] = {}
    for index, name in enumerate(names):
        position.setdefault(name, index)
    for name in [y_name, *x_names]:
        if name not in position:
            shown = ", ".join(names[:20]) + (
                f", ... ({len(names):,} in all)" if len(names) > 20 else ""
            )
            raise DataError(f"{source}: unknown column {name!r}; available: {shown}")
    if not x_names:
        raise DataError(f"{source}: no feature columns besides the target {y_name!r}")
    seen: set[str] = set()
    for name in x_names:
        if name in seen:
            raise DataError(f"{source}: feature {name!r} is selected twice")
        seen.add(name)
    if y_name in seen:
        raise DataError(f"{source}: column {y_name!r} is both the target and a feature")
    return [position[name] for name in x_names], position[y_name], tuple(x_names), y_name


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
    # Said to every process: none waits in the gather below for one that stopped here.
    processes.together(
        lambda: _check_finite(X, y, (*x_names, y_name), source, _row_labeller(row_labels))
    )
    # Every column's largest value and its smallest (negated), over every process's rows.
    highs, lows = X.max(axis=0, initial=-np.inf), -X.min(axis=0, initial=np.inf)
    highs, lows = np.split(processes.max(np.concatenate([highs, lows])), 2)
    lows = -lows
    y_high, y_low = processes.max(np.array([y.max(), -y.min()]))
    with np.errstate(over="ignore"):  # a spread of 3.4e308 is infinite: wide, not narrow
        spreads = np.append(highs - lows, y_high + y_low)
    check_spread((*x_names, y_name), spreads, source)
    for name, low, high in zip(x_names, lows, highs, strict=True):
        if low == high:
            why = (
                "no data determine its coefficient"
                if low == 0
                else "with an intercept, its coefficient cannot be told apart from it"
            )
            warnings.warn(
                f"{source}: column {name!r} is constant ({low:g}); {why}",
                ConstantColumnWarning,
                stacklevel=2,
            )
    return Dataset(X, y, tuple(x_names), y_name, source)


class File(Protocol):
    """What ``check_file`` asks of a path: a ``pathlib.Path``, or a ``remote.RemotePath``."""

    def is_file(self) -> bool: ...
    def is_dir(self) -> bool: ...
    def exists(self) -> bool: ...


def check_file(path: File) -> None:
    """A DataError unless ``path`` is a regular file: missing, a folder, or a pipe or a
    device (which steepest could read once only, where it reads a file more than once).

    Example:
        >>> from pathlib import Path
        >>> check_file(Path("/dev/null"))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        steepest.DataError: /dev/null is not a regular file (a pipe or a device?): ...
    """
    if path.is_file():
        return
    if path.is_dir():
        raise DataError(f"{path} is a directory, not a data file")
    if path.exists():
        raise DataError(
            f"{path} is not a regular file (a pipe or a device?): steepest reads its data "
            "more than once; save them to a file first"
        )
    raise DataError(f"no such file: {path}")


def check_spread(names, spreads, source, spread: str = "varies by only") -> None:
    """A DataError for the first column whose values vary, but by less than float64's
    smallest normal number: they keep a few bits only (a subnormal 1e-320 holds 12), and
    a coefficient in those units would be out of float64's range. ``spreads``: each
    column's max - min, or what ``spread`` says they are (a streamed file's: its
    standard deviation).

    Example:
        >>> check_spread(("x", "y"), np.array([2e-320, 1.0]), "demo")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        steepest.DataError: demo: column 'x' varies by only 2e-320, below float64's smallest ...
    """
    tiny = float(np.finfo(np.float64).tiny)
    for name, value in zip(names, np.asarray(spreads, np.float64), strict=True):
        if 0 < value < tiny:
            raise DataError(
                f"{source}: column {name!r} {spread} {value:.2g}, below float64's "
                f"smallest normal number ({tiny:.2g}): its values keep too few digits to fit "
                "on, and a coefficient in these units would be out of range; multiply the "
                "column by a power of ten"
            )


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
    check_magnitude(_largest_magnitude(values), dtype)


def check_magnitude(largest: float, dtype) -> None:
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


def magnitude_unit(magnitudes: np.ndarray) -> np.ndarray:
    """A power of two near each magnitude far from 1 (beyond 2**-400 .. 2**400), else 1.

    Dividing by a power of two is exact, and leaves the sum and the squares of a column
    of such magnitudes (up to ``2**400``) far from overflow and underflow.

    Example:
        >>> magnitude_unit(np.array([3.0, 1e300, 0.0])).tolist() == [1.0, 2.0**996, 1.0]
        True
    """
    magnitudes = np.asarray(magnitudes, np.float64)
    moderate = ~np.isfinite(magnitudes) | (magnitudes == 0)
    moderate |= (magnitudes >= 2.0**-400) & (magnitudes <= 2.0**400)
    _, exponent = np.frexp(np.where(moderate, 1.0, magnitudes))
    # 2**(e-1) <= m < 2**e: dividing by 2**(e-1) (finite even for m near the float64 limit)
    return np.where(moderate, 1.0, np.ldexp(1.0, exponent - 1))


def aligned_empty(shape: tuple[int, ...], dtype: np.dtype, alignment: int = 64) -> np.ndarray:
    """``np.empty``, its first byte on a multiple of ``alignment``: JAX on the CPU then
    takes the array as it is (its own buffer) instead of copying it: a third of a
    streamed step, and a copy of the data in memory (NumPy's large arrays start 16 bytes
    past a page). Write it before JAX takes it, never after.

    Example:
        >>> aligned_empty((3, 5), np.float32).ctypes.data % 64
        0
    """
    dtype = np.dtype(dtype)
    size = int(np.prod(shape)) * dtype.itemsize
    raw = np.empty(size + alignment, np.uint8)
    skip = -raw.ctypes.data % alignment
    return raw[skip : skip + size].view(dtype).reshape(shape)
