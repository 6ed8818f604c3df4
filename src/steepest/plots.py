"""Figures from results already computed, as matplotlib Figures: loss curves, a sweep, the
cost surface, a bench. Each takes ``ax=`` to draw into your axes; ``save`` writes PNG."""

from ._src.plots import (
    bench_times,
    cost_surface,
    learning_rate_sweep,
    loss_curve,
    loss_curves,
    save,
    scaling_curves,
)

__all__ = [
    "bench_times",
    "cost_surface",
    "learning_rate_sweep",
    "loss_curve",
    "loss_curves",
    "save",
    "scaling_curves",
]
