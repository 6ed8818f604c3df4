"""``cost_surface``: the cost over (m, b) for one feature, with descent paths on it.

What ``steepest plot-surface`` draws: the contours of the cost in the coordinates the
descent sees, and the paths of gradient descent at a small learning rate (0.2/L), a
good one (1/L) and one above the critical 2/L (2.1/L). ``plots.cost_surface`` draws it.
"""

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import theory
from ..interrupts import Interrupts
from ..io.dataset import DataError
from ..io.tables import BUILTIN_DEFAULT_X, dataset_of
from ..least_squares import closed_form
from ..losses import mse
from ..model import Linear
from ..processes import Processes
from ..trajectory import trajectory
from .prepared import prepare

GRID_POINTS = 121


@dataclasses.dataclass(frozen=True, repr=False)
class CostSurface:
    """The cost on a grid over (m, b), the descent paths and the least-squares point.

    Attributes:
        m_grid, b_grid: the grid's axes.
        costs: the cost on the grid, shape ``(len(b_grid), len(m_grid))``, float64.
        paths: label -> (m values, b values) of each descent.
        learning_rates: label -> the learning rate of that descent.
        minimum: the least-squares (m, b).
        critical_learning_rate: 2/L.
        labels: the axes' labels.
        title: what the figure is of.
    """

    m_grid: np.ndarray
    b_grid: np.ndarray
    costs: np.ndarray
    paths: dict[str, tuple[np.ndarray, np.ndarray]]
    learning_rates: dict[str, float]
    minimum: tuple[float, float]
    critical_learning_rate: float
    labels: tuple[str, str]
    title: str

    def __repr__(self) -> str:
        return f"CostSurface({self.title}; paths: {', '.join(self.paths)})"

    def to_dict(self) -> dict[str, Any]:
        """``steepest plot-surface --json``'s record: 2/L and every path."""
        return {
            "critical_learning_rate": self.critical_learning_rate,
            "paths": {
                label: {"m": ms.tolist(), "b": bs.tolist(), "learning_rate": rate}
                for (label, (ms, bs)), rate in zip(
                    self.paths.items(), self.learning_rates.values(), strict=True
                )
            },
        }


def cost_surface(
    data: Any = None,
    y: Any = None,
    *,
    x: list[str] | tuple[str, ...] | None = None,
    standardize: bool = True,
    x64: bool = False,
    steps: int = 30,
) -> CostSurface:
    """The cost surface of one feature's least squares, with three descents drawn on it.

    The frame holds the set where the cost is at most its value at the start (an
    ellipse around the minimum: its bounding box, from the Hessian) and the paths of
    the two stable descents, with a quarter to spare on each side; the diverging one
    is drawn until it leaves the frame.

    Args:
        data, y, x: as ``linear``'s (one feature).
        standardize: in standardized coordinates (False: the raw ones).
        x64: in float64 (default float32).
        steps: steps of each path.

    Example:
        >>> surface = cost_surface(steps=5)
        >>> surface.costs.shape, list(surface.learning_rates)[1]
        ((121, 121), 'good: 1/L = 0.5')
    """
    with jax.enable_x64(x64):
        processes = Processes.current()
        dataset = dataset_of(data, y, x, builtin_x=BUILTIN_DEFAULT_X, processes=processes)
        Interrupts.check()
        if dataset.X.shape[1] != 1:
            raise DataError(
                f"plot-surface draws one feature (m, b); the data has {dataset.X.shape[1]}"
            )
        dtype = np.float64 if x64 else np.float32
        ready = prepare(dataset, standardize=standardize, dtype=dtype, processes=processes)
        X, y, start = ready.X, ready.y, ready.start
        hessian = theory.hessian(mse, start, X, y)
        largest = float(np.linalg.eigvalsh(hessian)[-1])
        exact = closed_form(np.asarray(X, np.float64), np.asarray(y, np.float64))
        assert exact.b is not None  # solved with an intercept
        minimum = (float(exact.w[0]), float(exact.b))
        rates = {
            f"small: 0.2/L = {0.2 / largest:.3g}": 0.2 / largest,
            f"good: 1/L = {1 / largest:.3g}": 1 / largest,
            f"too large: 2.1/L = {2.1 / largest:.3g}": 2.1 / largest,
        }
        paths = {}
        for label, rate in rates.items():
            path = trajectory(mse, start, X, y, learning_rate=rate, steps=steps)
            paths[label] = (np.asarray(path.w[:, 0], np.float64), np.asarray(path.b, np.float64))
        start_cost = float(mse(start, X, y))
        least_cost = float(mse(Linear(jnp.asarray([minimum[0]], dtype), minimum[1]), X, y))
        half_widths = level_set_box(hessian, start_cost - least_cost)
        stable = list(paths.values())[:2]  # the last one diverges
        m_grid = _axis([minimum[0], *np.concatenate([ms for ms, _ in stable])], minimum[0],
                       half_widths[0])  # fmt: skip
        b_grid = _axis([minimum[1], *np.concatenate([bs for _, bs in stable])], minimum[1],
                       half_widths[1])  # fmt: skip
        paths = {label: _inside(ms, bs, m_grid, b_grid) for label, (ms, bs) in paths.items()}
        costs = _costs(X, y, m_grid, b_grid)
    coordinates = "standardized" if standardize else "raw"
    return CostSurface(
        m_grid=m_grid,
        b_grid=b_grid,
        costs=costs,
        paths=paths,
        learning_rates=rates,
        minimum=minimum,
        critical_learning_rate=2 / largest,
        labels=(f"m ({coordinates} {dataset.x_names[0]})", "b"),
        title=f"cost over (m, b), {coordinates} {dataset.x_names[0]}: {dataset.source}",
    )


def level_set_box(hessian: np.ndarray, height: float) -> np.ndarray:
    """Half-widths of the box around the ellipse ``(p - p*)^T H (p - p*) / 2 <= height``
    (where a quadratic cost is at most ``height`` above its minimum):
    ``sqrt(2 height (H^-1)_ii)``; zeros where that is not a finite number.

    Example:
        >>> level_set_box(np.diag([2.0, 8.0]), 1.0).tolist()  # sqrt(2 / 2), sqrt(2 / 8)
        [1.0, 0.5]
    """
    with np.errstate(all="ignore"):
        widths = np.sqrt(2 * max(height, 0.0) * np.diag(np.linalg.pinv(hessian)))
    return np.where(np.isfinite(widths), widths, 0.0)


def _axis(values, center: float, half_width: float) -> np.ndarray:
    """A grid covering ``values`` and ``center ± half_width``, with 25% to spare on each
    side (never of zero width)."""
    low = min(float(np.min(values)), center - half_width)
    high = max(float(np.max(values)), center + half_width)
    spare = max(0.25 * (high - low), 1e-3 * max(abs(low), abs(high), 1.0))
    return np.linspace(low - spare, high + spare, GRID_POINTS)


def _inside(ms, bs, m_grid, b_grid) -> tuple[np.ndarray, np.ndarray]:
    """A path up to its first point far outside the frame (a diverging one leaves it)."""
    outside = (np.abs(ms - m_grid.mean()) > 3 * np.ptp(m_grid)) | (
        np.abs(bs - b_grid.mean()) > 3 * np.ptp(b_grid)
    )
    if not outside.any():
        return ms, bs
    end = int(np.argmax(outside)) + 1
    return ms[:end], bs[:end]


def _costs(X, y, m_grid, b_grid) -> np.ndarray:
    """The cost at every (m, b) of the grid, in the data's dtype, as float64."""

    def cost_at(m, b):
        return mse(Linear(jnp.reshape(m, (1,)), b), X, y)

    costs = jax.vmap(jax.vmap(cost_at, in_axes=(0, None)), in_axes=(None, 0))(
        jnp.asarray(m_grid, X.dtype), jnp.asarray(b_grid, X.dtype)
    )
    if not np.all(np.isfinite(costs)):
        raise DataError(
            f"the cost overflows {X.dtype} on the plotted grid; try --x64 or standardized features"
        )
    return np.asarray(costs, np.float64)
