"""Test problems with fixed seeds, shared by several test modules."""

import numpy as np


def regression_problem(seed: int, rows: int, features: int, noise: float = 0.1):
    """A well-conditioned linear regression: standard normal features, known w and b."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, features))
    w = rng.uniform(-3, 3, features)
    b = rng.uniform(-3, 3)
    y = X @ w + b + noise * rng.standard_normal(rows)
    return X, y
