"""Reading a CSV file into a table: NumPy's parser where it reads the file, else cell by
cell, so that every error names its line and column; a pandas index column left out."""

import array
import collections
import contextlib
import csv
import functools
import itertools
import warnings
from collections.abc import Iterator, Sequence

import numpy as np

from .dataset import DataError, IndexColumnWarning, Table
from .remote import FilePath


def _open_csv(path: FilePath):
    # utf-8-sig: spreadsheet exports often start with a byte-order mark.
    return path.open(newline="", encoding="utf-8-sig")


@contextlib.contextmanager
def _long_cells():
    """``csv``'s limit of 131,072 characters a cell lifted while steepest reads: a cell
    of 2,000,000 digits is read as a number (or named as a bad one), not a csv.Error."""
    previous = csv.field_size_limit(2**31 - 1)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def read_csv(path: FilePath) -> Table:
    """A CSV file's table: by NumPy's parser, or cell by cell where it refuses the file.

    A first column with no name (``,a,b``: the index pandas' ``to_csv`` writes) is a row
    index, not data: it is left out, with an ``IndexColumnWarning``.
    """
    with _long_cells():
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


def _unnamed_first_column(path: FilePath) -> bool:
    """Whether the header names every column but the first (``,a,b``)."""
    try:
        with _open_csv(path) as file:
            header = _names(next(csv.reader(file), []))
    except (ValueError, OSError, csv.Error):
        return False  # the readers word the error
    return len(header) > 1 and header[0] == "" and all(header[1:])


def _check_not_numbers(path: FilePath, header: Sequence[str]) -> None:
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


def _parse_csv(path: FilePath, skip_first: bool = False) -> Table | None:
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
    return Table(tuple(header), values, functools.partial(_csv_line, path))


def _scan_csv(path: FilePath, skip_first: bool = False) -> Table:
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


def _scan_records(path: FilePath, records: Iterator[list[str]], skip_first: bool = False) -> Table:
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
    return Table(tuple(header), table, functools.partial(_csv_line, path))


def _names(header: list[str]) -> list[str]:
    return [name.strip() for name in header]


def _check_header(path: FilePath, header: list[str], first: int = 1) -> None:
    """A DataError for an empty header, a column with no name or one named twice
    (columns counted from ``first``)."""
    if not any(header):
        raise DataError(f"{path} is empty: expected a header row of column names")
    earlier: dict[str, int] = {}  # linear in the columns: a header may hold 1e6
    for column, name in enumerate(header):
        if not name:
            raise DataError(f"{path}: column {column + first} of the header has no name")
        if name in earlier:
            raise DataError(
                f"{path}: the header names column {name!r} twice "
                f"(columns {earlier[name] + first} and {column + first})"
            )
        earlier[name] = column


def _numbers(
    path: FilePath, line: int, row: list[str], header: list[str], skip_first: bool = False
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


def _csv_line(path: FilePath, index: int) -> str:
    """How an error names data row ``index`` of a CSV file: ``line N``, blank lines counted.

    The file is read again, so a loaded table holds nothing per row.
    """
    with _long_cells(), _open_csv(path) as file:
        records = enumerate(csv.reader(file), start=1)
        lines = (line for line, row in records if line > 1 and any(row))
        return f"line {next(itertools.islice(lines, index, None))}"
