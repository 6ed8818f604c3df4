"""Figures: loss curves of optimizers, a learning-rate sweep, the cost surface with paths.

Each function draws one figure from results already computed and writes it as
PNG, atomically (through a temporary file beside it, as records are); nothing
here runs an optimizer. Figures are made with matplotlib's
``Figure`` directly, not through ``pyplot``: no display is needed, and the
backend a notebook or script chose is left as it was.
"""

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from .io import records


def _subplots(*args, **kwargs):
    figure = Figure(figsize=kwargs.pop("figsize"))
    return figure, figure.subplots(*args, **kwargs)


def _save(figure: Figure, path: str | Path) -> Path:
    """Write ``figure`` as PNG atomically: the old file or the new, never a truncated one."""

    def draw(temporary: Path) -> None:
        figure.savefig(temporary, format="png", dpi=120, bbox_inches="tight")

    return records.write_atomically(path, draw)


def loss_curves(curves: dict, best_loss: float, path: str | Path, *, title: str) -> Path:
    """The gap to the least-squares cost against the step, log scale, one line per run.

    Args:
        curves: name -> (steps, costs), arrays of the same length.
        best_loss: the closed-form cost; the plot shows ``cost - best_loss``.
        path: the PNG to write.
        title: the figure's title.
    """
    figure, axes = _subplots(figsize=(7, 4.5))
    for name, (steps, costs) in curves.items():
        # Below the rounding of the cost in its own dtype, the gap is noise: clip it there.
        floor = max(abs(best_loss), 1e-300) * np.finfo(np.asarray(costs).dtype).eps
        gap = np.maximum(np.asarray(costs, np.float64) - best_loss, floor)
        axes.plot(np.asarray(steps), gap, label=name, linewidth=1.5)
    axes.set_xscale("symlog", linthresh=10)
    axes.set_yscale("log")
    axes.set_xlabel("step")
    axes.set_ylabel("cost - least-squares cost")
    axes.set_title(title)
    axes.grid(True, which="major", alpha=0.3)
    axes.legend()
    return _save(figure, path)


def learning_rate_sweep(
    learning_rates: np.ndarray,
    final_losses: np.ndarray,
    steps: np.ndarray,
    diverged: np.ndarray,
    critical: float,
    path: str | Path,
    *,
    title: str,
    threshold: float | None = None,
) -> Path:
    """Final cost and steps against the learning rate (log axes), with 2/L marked.

    Diverged runs are drawn as crosses at the last finite cost they reached.
    """
    figure, (top, bottom) = _subplots(2, 1, figsize=(7, 6), sharex=True)
    rates = np.asarray(learning_rates)
    diverged = np.asarray(diverged, bool)
    top.plot(rates[~diverged], final_losses[~diverged], "o-", markersize=3, label="final cost")
    top.plot(rates[diverged], final_losses[diverged], "x", color="tab:red", label="diverged")
    top.set_yscale("log")
    top.set_ylabel("final cost")
    bottom.plot(rates[~diverged], steps[~diverged], "o-", markersize=3)
    bottom.set_yscale("log")
    bottom.set_ylabel("steps")
    bottom.set_xlabel("learning rate")
    for axes in (top, bottom):
        axes.set_xscale("log")
        axes.axvline(critical, color="black", linestyle="--", linewidth=1)
        axes.grid(True, alpha=0.3)
    top.axvline(critical, color="black", linestyle="--", linewidth=1, label=f"2/L = {critical:.4g}")
    if threshold is not None:
        top.axvline(
            threshold, color="tab:red", linestyle=":", label=f"diverges from {threshold:.4g}"
        )
    top.legend(fontsize=8)
    top.set_title(title)
    return _save(figure, path)


def cost_surface(
    m_grid: np.ndarray,
    b_grid: np.ndarray,
    costs: np.ndarray,
    paths: dict,
    minimum: tuple[float, float],
    path: str | Path,
    *,
    title: str,
    labels: tuple[str, str] = ("m", "b"),
) -> Path:
    """Contours of f(m, b) with descent paths drawn on them.

    Args:
        m_grid, b_grid: the grid's axes.
        costs: f on the grid, shape ``(len(b_grid), len(m_grid))``.
        paths: label -> (m values, b values) along a run.
        minimum: the least-squares (m, b), marked with a star.
    """
    figure, axes = _subplots(figsize=(7, 5.5))
    levels = np.geomspace(max(costs.min(), 1e-12), costs.max(), 25)
    contours = axes.contour(m_grid, b_grid, costs, levels=levels, cmap="viridis", linewidths=0.8)
    figure.colorbar(contours, ax=axes, label="cost")
    for label, (ms, bs) in paths.items():
        axes.plot(ms, bs, ".-", markersize=4, linewidth=1, label=label)
    axes.plot(*minimum, "*", color="black", markersize=12, label="least squares")
    axes.set_xlim(m_grid[0], m_grid[-1])
    axes.set_ylim(b_grid[0], b_grid[-1])
    axes.set_xlabel(labels[0])
    axes.set_ylabel(labels[1])
    axes.set_title(title)
    axes.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)
    return _save(figure, path)


def bench_times(times: dict, path: str | Path, *, title: str) -> Path:
    """Seconds per step of every method, grouped by problem, on a log axis.

    Args:
        times: problem -> {method: seconds per step}.
        path: the PNG to write.
        title: the figure's title.
    """
    methods = list(dict.fromkeys(method for row in times.values() for method in row))
    figure, axes = _subplots(figsize=(7, 1.2 + 0.3 * len(methods) * len(times)))
    height = 0.8 / max(len(methods), 1)
    for index, method in enumerate(methods):
        positions = [
            group - 0.4 + (index + 0.5) * height
            for group, row in enumerate(times.values())
            if method in row
        ]
        seconds = [row[method] for row in times.values() if method in row]
        axes.barh(positions, seconds, height=height, label=method)
    axes.set_yticks(range(len(times)), list(times))
    axes.invert_yaxis()
    axes.set_xscale("log")
    axes.set_xlabel("seconds per step")
    axes.set_title(title)
    axes.grid(True, axis="x", which="major", alpha=0.3)
    axes.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=3)
    return _save(figure, path)


def scaling_curves(curves: dict, path: str | Path, *, title: str) -> Path:
    """Seconds per step against the rows N, log-log, one panel per feature count and one
    line per method.

    Args:
        curves: features d -> method -> {N: seconds per step}.
        path: the PNG to write.
        title: the figure's title.
    """
    figure, panels = _subplots(1, len(curves), figsize=(5.5 * len(curves), 4), squeeze=False)
    for axes, (features, methods) in zip(panels[0], curves.items(), strict=True):
        for method, points in methods.items():
            rows = sorted(points)
            axes.plot(rows, [points[n] for n in rows], marker="o", label=method)
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel("rows N")
        axes.set_ylabel("seconds per step")
        axes.set_title(f"d = {features}")
        axes.grid(True, which="major", alpha=0.3)
        axes.legend(fontsize=8)
    figure.suptitle(title)
    return _save(figure, path)
