"""``Standardizer``: features centered and scaled for the descent, coefficients mapped
back to the original units."""

import dataclasses

import numpy as np

from ..model import Linear
from ..processes import ONE, Processes
from .dataset import BLOCK_ROWS, aligned_empty, check_magnitude, magnitude_unit
from .stream import Stream, standardizer_of


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
            unit = magnitude_unit(processes.max(_column_magnitudes(y[:, None])))[0]
            target_mean = float(processes.sum(np.sum(y / unit)) / rows * unit)
        # A column of magnitude far from 1 (1e300, 1e-300) is divided by a power of two
        # first (exact), so that its sum and squares neither overflow nor underflow.
        unit = magnitude_unit(processes.max(_column_magnitudes(X)))
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

    @classmethod
    def of_stream(cls, data: Stream, processes: Processes = ONE) -> "Standardizer":
        """The standardizer of a file read a chunk at a time (two streamed passes,
        ``stream.standardizer_of``): the same statistics ``of`` takes in memory, rounded
        to the run's dtype where the chunks are standardized on the device (a float32
        file, a float32 run), so that the descent, its float64 certificate and the map
        back to original units all take the same shift and scale.

        Example:
            >>> import tempfile
            >>> from pathlib import Path
            >>> from .stream import stream
            >>> path = Path(tempfile.mkdtemp()) / "t.npy"
            >>> np.save(path, np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 8.0]]))
            >>> s = Standardizer.of_stream(stream(path, chunk_rows=2))
            >>> s.mean.tolist(), round(float(s.scale[0]), 4), s.target_mean
            ([2.0], 1.633, 4.0)
        """
        shift, scale = standardizer_of(data, processes)
        if not data.on_host:  # standardized on the device in data.dtype: by these very numbers
            shift, scale = (np.asarray(v, data.dtype).astype(np.float64) for v in (shift, scale))
        columns = list(data.x_columns)
        return cls(shift[columns], scale[columns], float(shift[data.y_column]))

    def applied_to(self, data: Stream) -> Stream:
        """``data`` with every chunk standardized as this standardizer says (the features
        centered and scaled, the target centered), a chunk at a time as it is read."""
        shift, scale = np.zeros(data.width), np.ones(data.width)
        shift[list(data.x_columns)], scale[list(data.x_columns)] = self.mean, self.scale
        shift[data.y_column] = self.target_mean
        return data.standardized(shift, scale)

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
            check_magnitude(float(largest), dtype)
            standardized = aligned_empty(X.shape, dtype)  # JAX on a CPU takes it as is
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
            check_magnitude(float(np.max(np.abs(centered), initial=0.0)), dtype)
            placed = aligned_empty(centered.shape, dtype)  # JAX on a CPU takes it as is
            np.copyto(placed, centered, casting="unsafe")
            return placed

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
