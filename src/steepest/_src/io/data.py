"""The built-in dataset, and ``load``: a file of any supported format as a ``Dataset``.

Everything that comes from outside is checked at the boundary, once, with errors that
say what is wrong and where (file, line, column, row): the readers (``csv_files``,
``numpy_files``, Parquet through ``stream``) give a table, and ``dataset.select``
picks and validates its columns.
"""

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .csv_files import read_csv
from .dataset import DataError, Dataset, check_file, select
from .numpy_files import read_numpy
from .remote import RemotePath, as_path
from .stream import stream

BUILTIN_ROWS = 200
BUILTIN_TRUE_M = 0.25
BUILTIN_TRUE_B = 5.0
BUILTIN_NOISE = 2.0
BUILTIN_FEATURES = ("TV", "radio", "newspaper")


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


def load(
    path: str | Path | RemotePath, *, y: str | None = None, x: list[str] | None = None
) -> Dataset:
    """Read a table of numbers and pick the target and feature columns.

    - ``.csv``: a header row of column names, then one row per sample; blank
      lines are skipped, whitespace around a number is allowed.
    - ``.npz``: either one 1-D array per column (the keys are the names), or a
      2-D ``X`` with a 1-D ``y`` (columns ``x0, x1, ...`` and ``y``).
    - ``.npy``: a 2-D array; its columns are named ``x0, x1, ...`` and the last ``y``,
      as an ``.npz``'s ``X`` and ``y`` are.
    - ``.parquet``: its columns by name (through pyarrow, the ``parquet`` extra), read as
      ``fit_stream`` reads them.

    A CSV file is parsed by NumPy's C parser; only a file that it refuses is
    read again cell by cell, to read what ``csv`` and ``float`` accept (a
    quoted number, say) or to word the error. When ``X`` and ``y`` are the
    whole table, in its order (the default), they are views of it, not copies.

    Args:
        path: the file: a local path, or a URL read through fsspec
            (``steepest[remote]``: ``s3://``, ``gs://``, ``https://``, ``file://``).
        y: the target column; by default the last one.
        x: the feature columns; by default every column but the target.

    Raises:
        DataError: a missing or unreadable file, a cell that is not a number
            (its line and column), NaN or infinity (its row), an empty table,
            fewer than 2 rows, or an unknown column (the known ones listed).
    """
    file = as_path(path)
    check_file(file)
    suffix = file.suffix.lower()
    if suffix == ".parquet":  # read as fit_stream reads it: the columns picked, whole
        return stream(file, y=y, x=x, dtype=np.float64).dataset(slice(None))
    if suffix == ".csv":
        table = read_csv(file)
    elif suffix in (".npy", ".npz"):
        table = read_numpy(file)
    else:
        raise DataError(
            f"{file}: unsupported file type {suffix!r}; use .csv, .npy, .npz or .parquet"
        )
    return select(table, y, x, source=str(file))
