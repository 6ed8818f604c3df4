"""Reading ``.npy`` and ``.npz`` files into a table, their declared sizes checked against
the memory available before anything is read."""

import zipfile

import numpy as np

from .dataset import DataError, Table, available_memory
from .remote import FilePath


def read_numpy(path: FilePath) -> Table:
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
    return Table(names, values, "row {}".format)


def _check_declared_sizes(path: FilePath) -> None:
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


def _declared_arrays(path: FilePath) -> list[tuple[str, tuple[int, ...], np.dtype]]:
    """(name, shape, dtype) of each array in a ``.npy`` or ``.npz`` file, from its header."""
    if path.suffix.lower() == ".npy":
        with path.open("rb") as file:
            return [("0", *npy_header(file)[:2])]
    with path.open("rb") as raw, zipfile.ZipFile(raw) as archive:
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


def npy_names(width: int) -> tuple[str, ...]:
    """The names of a 2-D array's columns, as an ``.npz``'s ``X`` and ``y`` are named: the
    features ``x0, x1, ...``, the last column (the target by default) ``y``.

    Example:
        >>> npy_names(3)
        ('x0', 'x1', 'y')
    """
    return (*(f"x{j}" for j in range(width - 1)), "y") if width else ()


def _npy_table(path: FilePath, loaded: np.ndarray) -> tuple[tuple[str, ...], np.ndarray]:
    """A 2-D array's columns, named ``x0, x1, ..., y`` (``npy_names``): float64 is used as
    it is, not copied."""
    if loaded.ndim != 2:
        raise DataError(f"{path}: expected a 2-D array, got shape {loaded.shape}")
    names = npy_names(loaded.shape[1])
    if not names:
        raise DataError(f"{path} holds no arrays")
    _check_real(path, names[0], loaded)
    return names, loaded.astype(np.float64, copy=False)


def _npz_table(path: FilePath, arrays: dict[str, np.ndarray]) -> tuple[tuple[str, ...], np.ndarray]:
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


def _check_real(path: FilePath, name: str, values: np.ndarray) -> None:
    # kind i, u, f: not bool, complex, timedelta64 (a subtype of np.number), datetime64.
    if values.dtype.kind not in "iuf":
        raise DataError(f"{path}: array {name!r} has dtype {values.dtype}, not real numbers")
