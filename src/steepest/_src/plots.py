"""Figures: loss curves of optimizers, a learning-rate sweep, the cost surface with paths.

Each function draws one figure from results already computed and returns it, a
matplotlib ``Figure`` (shown inline in a notebook, restyled as any other); given
``ax=``, it draws into your axes instead and returns their figure. Saving is the
caller's: ``save(figure, path)`` writes PNG atomically. Nothing here runs an
optimizer. Figures are made with matplotlib's ``Figure`` directly, not through
``pyplot``: no display is needed, and the backend a notebook or script chose is left
as it was.
"""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure

from .io import records

if TYPE_CHECKING:
    from .workflows.compare import Comparison


def _figure_of(axes: Axes) -> Figure:
    """The figure ``axes`` belong to: for axes in a subfigure, the figure that holds it
    (a ``SubFigure`` is no ``Figure``: ``save`` could not write it)."""
    figure = axes.get_figure()
    if isinstance(figure, SubFigure):
        figure = figure.figure
    if figure is None:
        raise ValueError("ax: the axes belong to no figure")
    return figure


def _subplots(ax, *args, **kwargs) -> tuple[Figure, Any]:
    """A new figure and its axes, or the caller's ``ax`` and the figure they belong to."""
    if ax is not None:
        figure = _figure_of(ax[0] if isinstance(ax, Sequence | np.ndarray) else ax)
        return figure, ax
    figure = Figure(figsize=kwargs.pop("figsize"))
    return figure, figure.subplots(*args, **kwargs)


def save(figure: Figure, path: str | Path) -> Path:
    """Write ``figure`` as PNG atomically: the old file or the new, never a truncated one.

    Example:
        >>> import tempfile, pathlib
        >>> figure = loss_curves({"gd": ([0, 1, 2], [3.0, 2.0, 1.5])})
        >>> save(figure, pathlib.Path(tempfile.mkdtemp()) / "loss.png").suffix
        '.png'
    """

    def draw(temporary: Path) -> None:
        figure.savefig(temporary, format="png", dpi=120, bbox_inches="tight")

    return records.write_atomically(path, draw)


def loss_curve(
    fit, *, ax: Axes | None = None, title: str | None = None, ylabel: str | None = None
) -> Figure:
    """The loss curve of one run: a ``steepest.linear`` report (the gap to the closed
    form's cost, on a log scale) or a ``FitResult`` (the cost itself; ``ylabel`` names
    it, say ``"cost (logistic loss)"``).

    The x axis counts epochs for a mini-batch run, whose title names the batch size
    and the schedule.

    Example:
        >>> import steepest
        >>> figure = loss_curve(steepest.linear())
        >>> figure.axes[0].get_ylabel()
        'cost - least-squares cost'
    """
    from .workflows.report import LinearFit

    if isinstance(fit, LinearFit):
        name, best = fit.optimizer, fit.closed_form_loss
        history = fit.history
        if title is None:
            title = f"steepest fit: {fit.source}, {fit.optimizer}, lr {fit.learning_rate:.4g}"
            if fit.batch_size is not None:
                title += f", batches of {fit.batch_size}"
            if fit.schedule is not None:
                title += f", {fit.schedule.kind} schedule"
        unit = history.unit
        steps, costs = history[0], history[1]
    else:
        name, best, unit = "steepest.fit", None, "step"
        steps, costs = fit.loss_steps, fit.losses
    return loss_curves({name: (steps, costs)}, best, ax=ax, title=title, xlabel=unit, ylabel=ylabel)


def loss_curves(
    curves: "Mapping[str, tuple[Any, Any]] | Comparison",
    best_loss: float | None = None,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    xlabel: str = "step",
    ylabel: str | None = None,
) -> Figure:
    """The cost against the step, one line per run: with ``best_loss`` (the
    least-squares cost) the gap ``cost - best_loss`` on a log scale.

    Args:
        curves: name -> (steps, costs), arrays of the same length; or a
            ``steepest.compare`` result, drawn with its closed form's cost and its title.
        best_loss: the least cost there is; None: the cost itself is drawn (on a log
            scale where every cost is positive).
        ax: the axes to draw into (default: a new figure's).
        title: the figure's title.
        xlabel: what the steps count ("step", or "epoch" for mini-batches).
        ylabel: the y axis's label (default: what is drawn).
    """
    if not isinstance(curves, Mapping):  # a Comparison
        comparison = curves
        curves, best_loss = comparison.curves(), comparison.closed_form_loss
        title = f"{comparison.source}: {comparison.rule}" if title is None else title
        if any(fit.batch_size is not None for fit in comparison.fits.values()):
            xlabel = "epoch"
    figure, axes = _subplots(ax, figsize=(7, 4.5))
    positive = True
    for name, (steps, costs) in curves.items():
        costs = np.asarray(costs)
        if best_loss is None:
            values = np.asarray(costs, np.float64)
            positive &= bool(np.all(values > 0))
        else:
            # Below the rounding of the cost in its own dtype, the gap is noise: clip it there.
            floor = max(abs(best_loss), 1e-300) * np.finfo(costs.dtype).eps
            values = np.maximum(np.asarray(costs, np.float64) - best_loss, floor)
        axes.plot(np.asarray(steps), values, label=name, linewidth=1.5)
    _step_axis(axes, max((np.max(steps, initial=0) for steps, _ in curves.values()), default=0))
    if best_loss is not None or positive:
        axes.set_yscale("log")
    axes.set_xlabel(xlabel)
    default = "cost" if best_loss is None else "cost - least-squares cost"
    axes.set_ylabel(ylabel or default)
    if title:
        axes.set_title(title)
    axes.grid(True, which="major", alpha=0.3)
    axes.legend()
    return figure


def _step_axis(axes, last_step) -> None:
    """Steps on a symmetric log scale; a short run's (at most 10 steps) linear, in whole
    steps, where a log scale would crowd its few ticks together."""
    from matplotlib.ticker import MaxNLocator

    if last_step > 10:
        axes.set_xscale("symlog", linthresh=10)
    else:
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))


def learning_rate_sweep(
    swept, *, title: str | None = None, ax: Sequence[Axes] | None = None
) -> Figure:
    """Final cost and steps against the learning rate (log axes), with 2/L marked, from
    ``steepest.sweep_learning_rates``.

    Diverged runs are drawn as crosses at the last finite cost they reached. ``ax``:
    two axes (the cost above, the steps below) to draw into.
    """
    result = swept.result
    rates = np.asarray(result.learning_rates)
    final_losses = result.final_losses
    steps = np.array([run.num_steps for run in result.results])
    diverged = np.array([run.status.value == "diverged" for run in result.results])
    critical, threshold = swept.critical, swept.threshold
    if title is None:
        count = len(set(rates.tolist()))
        title = f"{swept.optimizer} on {swept.source}: {count} learning rates, one call"
    figure, (top, bottom) = _subplots(ax, 2, 1, figsize=(7, 6), sharex=True)
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
    if title:
        top.set_title(title)
    return figure


def cost_surface(surface, *, ax: Axes | None = None, title: str | None = None) -> Figure:
    """Contours of f(m, b) with descent paths drawn on them, from ``steepest.cost_surface``.

    Args:
        surface: a ``CostSurface``: the grid, the cost on it, the paths, the minimum
            (marked with a star).
        ax: the axes to draw into (default: a new figure's).
        title: the figure's title (default: the surface's).
    """
    m_grid, b_grid, costs = surface.m_grid, surface.b_grid, surface.costs
    paths, minimum, labels = surface.paths, surface.minimum, surface.labels
    title = surface.title if title is None else title
    figure, axes = _subplots(ax, figsize=(7, 5.5))
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
    if title:
        axes.set_title(title)
    axes.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)
    return figure


def bench_times(times: dict, *, title: str | None = None, ax: Axes | None = None) -> Figure:
    """Seconds per step of every method, grouped by problem, on a log axis.

    Args:
        times: problem -> {method: seconds per step}.
        title: the figure's title.
        ax: the axes to draw into (default: a new figure's).
    """
    methods = list(dict.fromkeys(method for row in times.values() for method in row))
    figure, axes = _subplots(ax, figsize=(7, 1.2 + 0.3 * len(methods) * len(times)))
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
    if title:
        axes.set_title(title)
    axes.grid(True, axis="x", which="major", alpha=0.3)
    axes.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=3)
    return figure


def scaling_curves(
    curves: dict, *, title: str | None = None, ax: Sequence[Axes] | None = None
) -> Figure:
    """Seconds per step against the rows N, log-log, one panel per feature count and one
    line per method.

    Args:
        curves: features d -> method -> {N: seconds per step}.
        title: the figure's title.
        ax: one axes per feature count to draw into (default: a new figure's).
    """
    if ax is None:
        figure, panels = _subplots(
            None, 1, len(curves), figsize=(5.5 * len(curves), 4), squeeze=False
        )
    else:
        figure, panels = _figure_of(ax[0]), [list(ax)]
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
    if title:
        figure.suptitle(title)
    return figure
