"""Optimizers by name, each an ``optax.GradientTransformation`` with a traced learning rate,
and the learning-rate schedules they can follow."""

from ._src.optimizers import (
    DEFAULT_LEARNING_RATES,
    SCHEDULES,
    Schedule,
    get,
    gradient_descent,
    names,
    with_learning_rate,
)

__all__ = [
    "DEFAULT_LEARNING_RATES",
    "SCHEDULES",
    "Schedule",
    "get",
    "gradient_descent",
    "names",
    "with_learning_rate",
]
