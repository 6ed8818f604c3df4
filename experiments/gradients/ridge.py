"""Ridge regression: mean squared error plus lam |w|^2 (the intercept is not penalized).

    f(w, b) = 1/N |y - (X w + b)|^2 + lam |w|^2
    df/dw   = -2/N X^T r + 2 lam w,    r = y - (X w + b)
    df/db   = -2/N sum_i r_i

The buggy version drops the 2 of the penalty's derivative: every element of w
is off, by amounts in no simple pattern, while b is right.
"""

import jax.numpy as jnp
import numpy as np

PARAMS = {"w": (3,), "b": ()}
BUG = "w is wrong in every element"
LAM = 0.3


def make_data(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((40, 3))
    return {"X": X, "y": X @ np.array([1.0, -2.0, 0.5]) + 1 + rng.normal(0, 0.1, 40)}


def loss(params, X, y):
    residual = y - (X @ params["w"] + params["b"])
    return jnp.mean(residual**2) + LAM * jnp.sum(params["w"] ** 2)


def grad(params, X, y):
    residual = y - (X @ params["w"] + params["b"])
    n = y.shape[0]
    return {"w": -2 / n * X.T @ residual + 2 * LAM * params["w"], "b": -2 * jnp.mean(residual)}


def grad_buggy(params, X, y):
    residual = y - (X @ params["w"] + params["b"])
    n = y.shape[0]
    return {"w": -2 / n * X.T @ residual + LAM * params["w"], "b": -2 * jnp.mean(residual)}
