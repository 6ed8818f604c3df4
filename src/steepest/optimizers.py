"""Optimizers by name, each an ``optax.GradientTransformation`` with a traced learning rate."""

from ._src.optimizers import (
    DEFAULT_LEARNING_RATES,
    get,
    gradient_descent,
    names,
    with_learning_rate,
)

__all__ = ["DEFAULT_LEARNING_RATES", "get", "gradient_descent", "names", "with_learning_rate"]
