"""Data read a chunk of rows at a time, for data bigger than memory: a ``.npy`` file, or
a Parquet file through pyarrow.

``stream(path)`` reads the header (the metadata) alone; ``Stream.chunks()`` then reads
the rows in order, about ``chunk_rows`` at a time, each chunk read from the file in a
background thread while the caller computes on the one before. Only a few chunks
are in memory at once, whatever the size of the file.
"""

import atexit
import contextlib
import dataclasses
import numbers
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..processes import ONE, Processes
from .dataset import (
    DataError,
    Dataset,
    aligned_empty,
    check_file,
    check_fits,
    first_non_finite,
    magnitude_unit,
    pick_columns,
    validate,
)
from .numpy_files import npy_header, npy_names
from .remote import FilePath, RemotePath, as_path

CHUNK_BYTES = 64 * 2**20  # of the file per chunk, by default
# Disk that decoding a Parquet file leaves free at least (Stream.decoded).
DECODE_MARGIN = 2**30
# The folders of decoded rows not removed yet: removed when the process ends.
_DECODED: set[Path] = set()


@atexit.register
def _remove_decoded() -> None:
    for place in list(_DECODED):
        shutil.rmtree(place, ignore_errors=True)


class RowGroup(NamedTuple):
    """A Parquet row group read in part or whole: its number, the file row it begins at,
    and the file rows of it read (``start`` to ``stop``)."""

    group: int
    begins: int
    start: int
    stop: int


@dataclasses.dataclass(frozen=True)
class Stream:
    """A ``.npy`` table of ``rows`` rows read ``chunk_rows`` at a time (``stream``).

    Attributes:
        path: the file.
        rows: the rows this stream reads: the file's, or a part's (``part``).
        x_names, y_name: the feature columns and the target, by name (``"0"``, ``"1"``, ...).
        x_columns, y_column: the same, by index.
        chunk_rows: rows per chunk.
        dtype: of the chunks' X and y.
        file_dtype: of the numbers in the file.
        offset: bytes before the first row (the header).
        parquet: for a Parquet file, the columns read (the features, then the target):
            a chunk's table holds these alone, in this order. None for a ``.npy``.
        shift, scale: a transform of every chunk, ``(table - shift) / scale`` column by
            column (``standardized``), or None. Applied in float64 on the host as the
            chunk is read when the file's numbers are wider than ``dtype`` (float64 to
            float32: subtracting first keeps a far-off column's digits), else on the
            device by ``split``.
        first: the file's row this stream starts at (a part's first).
        file_rows: the file's rows, all of them (a part is a range within them).
        decoded_rows: the raw float64 rows of a Parquet file, decoded once (``decoded``).
    """

    path: FilePath
    rows: int
    x_names: tuple[str, ...]
    y_name: str
    x_columns: tuple[int, ...]
    y_column: int
    chunk_rows: int
    dtype: np.dtype
    file_dtype: np.dtype
    width: int
    offset: int
    parquet: tuple[str, ...] | None = None
    shift: np.ndarray | None = None
    scale: np.ndarray | None = None
    first: int = 0
    file_rows: int = 0  # 0: the rows (a stream of the whole file)
    decoded_rows: Path | None = None

    def __post_init__(self):
        if not self.file_rows:
            object.__setattr__(self, "file_rows", self.first + self.rows)

    def decoded(self, folder: str | Path | None = None) -> "Stream":
        """This Parquet stream with its rows decoded once, into a file of raw float64 rows
        in a temporary folder (under ``folder``, default the system's), which every later
        pass reads as a ``.npy`` is read: a pass over a Parquet file decodes every value
        again, 1.7 to 1.9 times pyarrow's own read of it. It costs the disk of the rows
        as float64 (8 bytes a value, of the selected columns only), removed when the
        process ends; where the disk lacks that and ``DECODE_MARGIN`` besides, the stream
        is returned as it is. Anything but Parquet: as it is.

        Example:
            >>> import tempfile, pyarrow, pyarrow.parquet as pq
            >>> path = Path(tempfile.mkdtemp()) / "t.parquet"
            >>> pq.write_table(pyarrow.table({"x": [1.0, 2.0, 3.0], "y": [2, 4, 6]}), path)
            >>> table = stream(path, chunk_rows=2).decoded()
            >>> table.decoded_rows.stat().st_size, [y.tolist() for _, y in table.chunks()]
            (48, [[2.0, 4.0], [6.0]])
        """
        if self.parquet is None or self.decoded_rows is not None:
            return self
        needed = self.rows * self.width * 8
        place = Path(tempfile.mkdtemp(prefix="steepest-parquet-", dir=folder))
        if shutil.disk_usage(place).free < needed + DECODE_MARGIN:
            shutil.rmtree(place, ignore_errors=True)
            return self
        _DECODED.add(place)  # removed at exit, if not before (discard_decoded)
        raw = dataclasses.replace(self, dtype=np.dtype(np.float64), shift=None, scale=None)
        rows = place / "rows.f8"
        with rows.open("wb") as file:
            for table in raw._parquet_tables(check=False):
                file.write(table.data)
        return dataclasses.replace(self, decoded_rows=rows)

    def discard_decoded(self) -> "Stream":
        """This stream without its decoded rows, their folder removed (``decoded``): once
        nothing reads them any more, before the process ends."""
        if self.decoded_rows is None:
            return self
        shutil.rmtree(self.decoded_rows.parent, ignore_errors=True)
        _DECODED.discard(self.decoded_rows.parent)
        return dataclasses.replace(self, decoded_rows=None)

    def part(self, rows: slice) -> "Stream":
        """The file's rows ``rows`` (a slice of the whole file, in file rows) alone, read a
        chunk at a time as the whole is: what one process of several streams.

        Example:
            >>> import tempfile
            >>> path = Path(tempfile.mkdtemp()) / "t.npy"
            >>> np.save(path, np.arange(20.0).reshape(10, 2))
            >>> part = stream(path, chunk_rows=3).part(slice(4, 9))
            >>> [y.tolist() for _, y in part.chunks()], part.rows, part.file_rows
            ([[9.0, 11.0, 13.0], [15.0, 17.0]], 5, 10)
        """
        start, stop, step = rows.indices(self.file_rows)
        if step != 1 or stop <= start:
            raise ValueError(f"a part is a nonempty range of rows, got {rows}")
        # Decoded rows are the whole stream's: a part decodes its own (``decoded``).
        return dataclasses.replace(self, first=start, rows=stop - start, decoded_rows=None)

    @property
    def on_host(self) -> bool:
        """Whether chunks become ``dtype`` on the host: a wider float, or integers (which
        on a device without x64 would become int32, and wrap)."""
        return self.file_dtype.kind != "f" or self.file_dtype.itemsize > self.dtype.itemsize

    def standardized(self, shift: np.ndarray, scale: np.ndarray) -> "Stream":
        """This stream with every chunk transformed to ``(table - shift) / scale``."""
        return dataclasses.replace(self, shift=np.asarray(shift), scale=np.asarray(scale))

    @property
    def source(self) -> str:
        return str(self.path)

    @property
    def num_chunks(self) -> int:
        """The chunks ``tables`` gives (of a Parquet file, each ends with its row group)."""
        return len(self.chunk_rows_each())

    def chunk_rows_each(self) -> list[int]:
        """The rows of every chunk ``tables`` gives, in file order.

        Example:
            >>> import tempfile
            >>> path = Path(tempfile.mkdtemp()) / "t.npy"
            >>> np.save(path, np.zeros((10, 2)))
            >>> stream(path, chunk_rows=4).chunk_rows_each()
            [4, 4, 2]
        """
        if self.parquet is None:
            pieces = [self.rows]
        else:
            pieces = [group.stop - group.start for group in self._row_groups()]
        sizes = []
        for piece in pieces:
            full, rest = divmod(piece, self.chunk_rows)
            sizes += [self.chunk_rows] * full + ([rest] if rest else [])
        return sizes

    def updates_per_epoch(self, batch_size: int) -> int:
        """Mini-batch updates in an epoch that cuts each chunk into batches of
        ``batch_size`` rows (``fit_stream``): a last, smaller batch ends each chunk.

        Example:
            >>> import tempfile
            >>> path = Path(tempfile.mkdtemp()) / "t.npy"
            >>> np.save(path, np.zeros((10, 2)))
            >>> stream(path, chunk_rows=4).updates_per_epoch(3)  # 2 + 2 + 1
            5
        """
        return sum(-(-rows // batch_size) for rows in self.chunk_rows_each())

    def read(self, index: int, *, check: bool = False) -> np.ndarray:
        """Chunk ``index`` as the file holds it, every column, in the file's dtype; with
        ``check``, a DataError for a value that is not finite (naming its row) or that
        does not fit ``dtype``."""
        start = self.first + index * self.chunk_rows
        count = min(self.chunk_rows, self.first + self.rows - start)
        row_bytes = self.width * self.file_dtype.itemsize
        table = aligned_empty((count, self.width), self.file_dtype)
        with self.path.open("rb") as file:
            file.seek(self.offset + start * row_bytes)
            if file.readinto(table.data.cast("B")) != count * row_bytes:
                raise DataError(f"{self.path}: the file ends before row {start + count:,}")
        return self._checked(table, start) if check else self._on_read(table)

    def _checked(self, table: np.ndarray, start: int) -> np.ndarray:
        """``table`` as read (its first row the file's row ``start``) made ready
        (``_on_read``), once every value is finite and, standardized, fits ``dtype``; else
        a DataError naming the row."""
        if (place := first_non_finite(table)) is not None:
            raise DataError(f"{self.path}: row {start + place[0]:,} holds NaN or infinity")
        if self.shift is None:
            check_fits(table, self.dtype)
        else:  # the values the run takes, wherever they are standardized (host or device)
            with np.errstate(over="ignore", invalid="ignore"):
                check_fits((table - self.shift) / self.scale, self.dtype)
        return self._on_read(table)

    @property
    def table_dtype(self) -> np.dtype:
        """The dtype of the chunks ``tables`` gives: the file's floats, unless they are
        standardized on the host as they are read (``_on_read``), then ``dtype``; always
        ``dtype`` for integers."""
        if self.file_dtype.kind != "f" or (self.shift is not None and self.on_host):
            return self.dtype
        return self.file_dtype

    def _on_read(self, table: np.ndarray) -> np.ndarray:
        """``table`` transformed on the host, where that is where the transform is done."""
        if self.table_dtype == self.file_dtype:
            return table
        transformed = aligned_empty(table.shape, self.dtype)
        if self.shift is None or self.scale is None:  # integers: converted, as they are
            np.copyto(transformed, table, casting="unsafe")
        else:  # in float64, then rounded once
            np.divide(table - self.shift, self.scale, out=transformed, casting="unsafe")
        return transformed

    def split(self, table):
        """X and y of a chunk ``read`` returned, in ``dtype`` (NumPy or, traced, JAX: the
        compiled step takes the chunk as read and splits it on the device, no host copy).

        Example:
            >>> import tempfile
            >>> path = Path(tempfile.mkdtemp()) / "t.npy"
            >>> np.save(path, np.arange(6.0).reshape(2, 3))
            >>> X, y = (table := stream(path)).split(table.read(0))
            >>> X.tolist(), y.tolist()
            ([[0.0, 1.0], [3.0, 4.0]], [2.0, 5.0])
        """
        if self.shift is not None and not self.on_host:
            table = (table.astype(self.dtype) - self.shift.astype(self.dtype)) / self.scale.astype(
                self.dtype
            )
        first, last = self.x_columns[0], self.x_columns[-1]
        if self.x_columns == tuple(range(first, last + 1)):
            X = table[:, first : last + 1]  # a slice: no gather
        else:
            X = table[:, list(self.x_columns)]
        return X.astype(self.dtype), table[:, self.y_column].astype(self.dtype)

    @property
    def parts(self) -> int:
        """The pieces ``tables(order=...)`` reads in any order: the chunks of a ``.npy``,
        the row groups of a Parquet file (each read a chunk at a time)."""
        if self.parquet is None:
            return self.num_chunks
        return len(self._row_groups())

    def _row_groups(self, start: int | None = None, stop: int | None = None) -> list["RowGroup"]:
        """The Parquet row groups that hold this stream's rows (or the file's rows ``start``
        to ``stop``), each with the file rows of it read."""
        low = self.first if start is None else start
        high = self.first + self.rows if stop is None else stop
        with _parquet_file(self.path) as file:
            metadata = file.metadata
        groups, begins = [], 0
        for group in range(metadata.num_row_groups):
            ends = begins + metadata.row_group(group).num_rows
            if max(begins, low) < min(ends, high):
                groups.append(RowGroup(group, begins, max(begins, low), min(ends, high)))
            begins = ends
        return groups

    def tables(self, *, check: bool = False, order=None) -> Iterator[np.ndarray]:
        """Every chunk as read, in file order (or the ``parts`` in ``order``: a
        permutation of ``range(parts)``), the next one read in a background thread
        meanwhile. ``check`` (``read``'s) names rows in file order: not with ``order``."""
        if check and order is not None:
            raise ValueError("check names rows in file order: read in order to check")
        if self.decoded_rows is not None:
            return _read_ahead(self._decoded_tables(check, order))
        if self.parquet is not None:
            return _read_ahead(self._parquet_tables(check, order))
        indices = range(self.num_chunks) if order is None else order
        return _read_ahead(self.read(index, check=check) for index in indices)

    def _decoded_tables(self, check: bool, order=None) -> Iterator[np.ndarray]:
        """``_parquet_tables``, the same chunks, read from the rows ``decoded`` wrote."""
        assert self.decoded_rows is not None, "decoded() wrote them"
        groups = self._row_groups()
        row_bytes = self.width * 8
        with self.decoded_rows.open("rb") as file:
            for _, _, start, stop in groups if order is None else [groups[i] for i in order]:
                for begin in range(start, stop, self.chunk_rows):
                    count = min(self.chunk_rows, stop - begin)
                    table = aligned_empty((count, self.width), self.file_dtype)
                    file.seek((begin - self.first) * row_bytes)
                    if file.readinto(table.data.cast("B")) != count * row_bytes:
                        raise DataError(f"{self.path}: its decoded rows end before {begin:,}")
                    yield self._checked(table, begin) if check else self._on_read(table)

    def _parquet_tables(self, check: bool, order=None) -> Iterator[np.ndarray]:
        """The chunks, read from the row groups: within each group that holds rows of this
        stream, ``chunk_rows`` at a time from the first of them (``chunk_rows_each``), so
        that a part cut inside a group has the chunks its decoded rows have."""
        with _parquet_file(self.path) as file:
            groups = self._row_groups()
            for group, begins, start, stop in (
                groups if order is None else [groups[i] for i in order]
            ):
                batches = iter(
                    file.iter_batches(self.chunk_rows, row_groups=[group], columns=self.parquet)
                )
                batch = None  # the batch read; begins: the file row it starts at
                for first in range(start, stop, self.chunk_rows):
                    count = min(self.chunk_rows, stop - first)
                    table = aligned_empty((count, self.width), self.file_dtype)
                    filled = 0
                    while filled < count:  # from as many batches as hold its rows
                        while batch is None or begins + batch.num_rows <= first + filled:
                            begins += 0 if batch is None else batch.num_rows
                            batch = next(batches)
                        low = first + filled - begins
                        piece = batch.slice(low, min(count - filled, batch.num_rows - low))
                        for column in range(self.width):
                            values = piece.column(column).to_numpy(zero_copy_only=False)
                            table[filled : filled + len(piece), column] = values
                        filled += len(piece)
                    yield self._checked(table, first) if check else self._on_read(table)

    def dataset(self, rows: slice, *, across_processes: bool = False) -> Dataset:
        """The file's rows ``rows`` in memory, as a ``Dataset`` of float64, checked as
        ``data.validate`` checks (the selected columns; a constant column is a warning):
        the rows one process of several holds (``sharding.process_rows``; then
        ``across_processes``, as for ``validate``). A ``.npy`` is memory-mapped, so that
        only these rows are read; of a Parquet file, only the row groups that hold them.

        Example:
            >>> import tempfile
            >>> path = Path(tempfile.mkdtemp()) / "t.npy"
            >>> np.save(path, np.arange(12.0).reshape(4, 3))
            >>> part = stream(path).dataset(slice(2, 4))
            >>> part.X.tolist(), part.y.tolist()
            ([[6.0, 7.0], [9.0, 10.0]], [8.0, 11.0])
        """
        start, stop, _ = rows.indices(self.file_rows)
        if self.parquet is not None:
            table = self._parquet_rows(start, stop)
        elif isinstance(self.path, RemotePath):  # read by ranges, a chunk at a time
            as_read = dataclasses.replace(
                self, dtype=np.dtype(np.float64), shift=None, scale=None, decoded_rows=None
            )
            table = np.concatenate(list(as_read.part(slice(start, stop)).tables()))
        else:
            table = np.load(self.path, mmap_mode="r")[start:stop]
        X = np.empty((stop - start, len(self.x_columns)))
        y = np.empty(stop - start)
        for first in range(0, stop - start, self.chunk_rows):
            block = slice(first, first + self.chunk_rows)
            chunk = np.asarray(table[block], np.float64)
            X[block], y[block] = chunk[:, list(self.x_columns)], chunk[:, self.y_column]
        return validate(
            X, y, self.x_names, self.y_name, self.source,
            row_labels=lambda i: f"row {start + i:,}", across_processes=across_processes,
        )  # fmt: skip

    def _parquet_rows(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start`` to ``stop`` of the selected columns, read by row group."""
        table = np.empty((stop - start, self.width))
        with _parquet_file(self.path) as file:
            for group, begins, low, high in self._row_groups(start, stop):
                read = file.read_row_group(group, columns=list(self.parquet or ()))
                for column in range(self.width):
                    values = read.column(column).slice(low - begins, high - low)
                    table[low - start : high - start, column] = values.to_numpy(
                        zero_copy_only=False
                    )
        return table

    def chunks(self, *, check: bool = False) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every chunk's X and y (``split``), in order."""
        for table in self.tables(check=check):
            yield self.split(table)


def _read_ahead(tables: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    """``tables`` in order, each next one read in a background thread while the caller
    works on the one before (the source is only ever advanced by that one thread)."""
    with ThreadPoolExecutor(1, thread_name_prefix="steepest-stream") as reader:
        pending = reader.submit(next, tables, None)
        while (table := pending.result()) is not None:
            pending = reader.submit(next, tables, None)
            yield table


def stream(
    path: str | Path | RemotePath,
    *,
    y: str | None = None,
    x: list[str] | None = None,
    chunk_rows: int | None = None,
    dtype=np.float32,
) -> Stream:
    """A ``.npy`` file of a 2-D table, to be read a chunk of rows at a time: its columns
    named ``x0, x1, ...`` and the last ``y`` (``data.npy_names``); the target by default
    the last, the features the others.

    ``chunk_rows``: rows per chunk (default: about ``CHUNK_BYTES`` of the file).

    Raises:
        DataError: a file that is not a C-ordered 2-D ``.npy`` of real numbers (a CSV:
            convert it), or columns as ``load`` refuses them.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "t.npy"
        >>> np.save(path, np.arange(12.0).reshape(4, 3))
        >>> table = stream(path, chunk_rows=3)
        >>> table.rows, table.x_names, table.y_name, table.num_chunks
        (4, ('x0', 'x1'), 'y', 2)
        >>> [y.tolist() for _, y in table.chunks()]
        [[2.0, 5.0, 8.0], [11.0]]
    """
    file = as_path(path)
    if file.suffix.lower() not in (".npy", ".parquet"):
        raise DataError(
            f"{file}: streaming reads a .npy file of one 2-D array or a .parquet file; "
            "convert it first (numpy.save of the table, target last)"
        )
    check_file(file)
    if chunk_rows is not None and (
        isinstance(chunk_rows, bool)
        or not isinstance(chunk_rows, numbers.Integral)
        or chunk_rows < 1
    ):
        raise ValueError(f"chunk_rows must be a whole number of at least 1, got {chunk_rows!r}")
    if file.suffix.lower() == ".parquet":
        return _parquet(file, y, x, chunk_rows, np.dtype(dtype))
    try:
        with file.open("rb") as opened:
            shape, file_dtype, fortran = npy_header(opened)
            offset = opened.tell()
    except (ValueError, OSError) as error:
        raise DataError(f"{file}: not a readable .npy file ({error})") from None
    # Kinds i, u, f and c (complex, refused below in its own words): as load's
    # _check_real, not np.number, which holds timedelta64 too.
    if len(shape) != 2 or fortran or file_dtype.kind not in "iufc":
        raise DataError(
            f"{file}: reading by rows needs a C-ordered 2-D array of numbers, got shape {shape}, "
            f"{file_dtype}{', Fortran order' if fortran else ''}"
        )
    if np.issubdtype(file_dtype, np.complexfloating):
        raise DataError(f"{file}: complex numbers ({file_dtype}) are not real data")
    rows, width = shape
    if rows < 2:
        raise DataError(f"{file}: {rows} rows; at least 2 are needed")
    needed = offset + rows * width * file_dtype.itemsize
    if file.stat().st_size < needed:
        raise DataError(f"{file}: the file is shorter than its header declares")
    names = list(npy_names(width))
    x_columns, y_column, x_names, y_name = pick_columns(names, y, x, str(file))
    if chunk_rows is None:
        chunk_rows = max(1, CHUNK_BYTES // (width * file_dtype.itemsize))
    return Stream(
        file, rows, x_names, y_name, tuple(x_columns), y_column, int(min(chunk_rows, rows)),
        np.dtype(dtype), np.dtype(file_dtype), width, offset, file_rows=rows,
    )  # fmt: skip


def _parquet(path: FilePath, y, x, chunk_rows: int | None, dtype: np.dtype) -> Stream:
    """A Parquet file as a ``Stream``: its named columns, numbers read as float64."""
    try:
        import pyarrow as pa
        import pyarrow.parquet  # _parquet_file needs it: missing, said here
    except ImportError:
        raise DataError(
            f"{path}: reading Parquet needs pyarrow (pip install 'steepest[parquet]')"
        ) from None
    try:
        with _parquet_file(path) as file:
            schema, rows = file.schema_arrow, file.metadata.num_rows
    except (pa.ArrowException, OSError) as error:
        raise DataError(f"{path}: not a readable Parquet file ({error})") from None
    *_, x_names, y_name = pick_columns(schema.names, y, x, str(path))
    selected = (*x_names, y_name)
    for name in selected:
        kind = schema.field(name).type
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
            raise DataError(f"{path}: column {name!r} holds {kind}, not real numbers")
    if rows < 2:
        raise DataError(f"{path}: {rows} rows; at least 2 are needed")
    width = len(selected)
    if chunk_rows is None:
        chunk_rows = max(1, CHUNK_BYTES // (width * 8))
    return Stream(
        path, rows, x_names, y_name, tuple(range(width - 1)), width - 1,
        int(min(chunk_rows, rows)), dtype, np.dtype(np.float64), width, 0, parquet=selected,
        file_rows=rows,
    )  # fmt: skip


@contextlib.contextmanager
def _parquet_file(path: FilePath):
    """``pyarrow.parquet.ParquetFile`` of a local path or of a remote file, closed after."""
    import pyarrow.parquet as pq

    with contextlib.ExitStack() as stack:
        source = stack.enter_context(path.open("rb")) if isinstance(path, RemotePath) else path
        file = pq.ParquetFile(source)
        stack.callback(file.close)
        yield file


def standardizer_of(data: Stream, processes: Processes = ONE) -> tuple[np.ndarray, np.ndarray]:
    """The shift and scale that standardize ``data``'s table (``Stream.standardized``):
    each feature column centered and divided by its standard deviation (1 for a constant
    column), the target centered, as ``Standardizer.of`` does in memory. Two passes,
    in float64: the means, then the squared deviations from them. The first checks
    every value (``Stream.read``). Over several ``processes``, each streaming its part of
    the file, the statistics are those of every part together.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "t.npy"
        >>> np.save(path, np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 8.0]]))
        >>> shift, scale = standardizer_of(stream(path, chunk_rows=2))
        >>> shift.tolist(), [round(s, 4) for s in scale.tolist()]
        ([2.0, 4.0], [1.633, 1.0])
    """
    # Read in float64 and checked for finite values only: whether they fit the run's dtype
    # is for the standardized values to say (Stream.read), as in memory.
    raw = dataclasses.replace(data, dtype=np.dtype(np.float64), shift=None, scale=None)

    def checked_sums() -> tuple[np.ndarray, np.ndarray]:
        magnitudes, sums = np.zeros(data.width), np.zeros(data.width)
        with np.errstate(over="ignore", invalid="ignore"):
            for table in raw.tables(check=True):
                magnitudes = np.maximum(magnitudes, np.abs(table).max(axis=0, initial=0.0))
                sums += table.sum(axis=0, dtype=np.float64)
        return magnitudes, sums

    # A bad value in one process's part stops every process (none waits in a gather).
    magnitudes, sums = processes.together(checked_sums)
    # A column far from 1 (1e300, 1e-300) is taken over a power of two (exact), as
    # Standardizer.of does, so that its sum and squares neither overflow nor underflow.
    unit = magnitude_unit(processes.max(magnitudes))
    if np.any(unit != 1):
        sums = np.zeros(data.width)
        for table in raw.tables():
            sums += (table / unit).sum(axis=0)
    rows = processes.sum(data.rows)
    mean = processes.sum(sums) / rows
    squares = np.zeros(data.width)
    for table in raw.tables():
        squares += np.square(table / unit - mean).sum(axis=0)
    std = np.sqrt(processes.sum(squares) / rows) * unit
    mean = mean * unit
    scale = np.where(std > 0, std, 1.0)
    scale[data.y_column] = 1.0  # the target is centered only
    unused = [c for c in range(data.width) if c not in (*data.x_columns, data.y_column)]
    mean[unused], scale[unused] = 0.0, 1.0
    return mean, scale
