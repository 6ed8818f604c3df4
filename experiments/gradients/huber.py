"""Robust regression with the Huber loss (delta = 1): squared near zero, absolute far out.

    rho(r)  = r^2 / 2 if |r| <= 1 else |r| - 1/2,    rho'(r) = clip(r, -1, 1)
    f(w, b) = 1/N sum_i rho(r_i),    r = y - (X w + b)
    df/dw   = -1/N X^T clip(r, -1, 1)
    df/db   = -1/N sum_i clip(r_i, -1, 1)

The buggy version sums where it should average: off by a factor of N.
"""

import jax.numpy as jnp
import numpy as np

PARAMS = {"w": (2,), "b": ()}
BUG = "N (= 50) times the true one"


def make_data(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((50, 2))
    noise = rng.standard_t(df=2, size=50)  # heavy tails: what Huber is for
    return {"X": X, "y": X @ np.array([2.0, -1.0]) + 0.5 + noise}


def loss(params, X, y):
    residual = y - (X @ params["w"] + params["b"])
    small = jnp.abs(residual) <= 1.0
    return jnp.mean(jnp.where(small, 0.5 * residual**2, jnp.abs(residual) - 0.5))


def grad(params, X, y):
    clipped = jnp.clip(y - (X @ params["w"] + params["b"]), -1.0, 1.0)
    return {"w": -X.T @ clipped / y.shape[0], "b": -jnp.mean(clipped)}


def grad_buggy(params, X, y):
    clipped = jnp.clip(y - (X @ params["w"] + params["b"]), -1.0, 1.0)
    return {"w": -X.T @ clipped, "b": -jnp.sum(clipped)}
