"""Figures from results already computed: loss curves, a sweep, the cost surface, a bench."""

from ._src.plots import (
    bench_times,
    cost_surface,
    learning_rate_sweep,
    loss_curves,
    scaling_curves,
)

__all__ = ["bench_times", "cost_surface", "learning_rate_sweep", "loss_curves", "scaling_curves"]
