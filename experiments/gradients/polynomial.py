"""Polynomial regression: y ~ sum_k c_k x^k for k = 0..3, by mean squared error.

    f(c)     = 1/N sum_i (y_i - sum_k c_k x_i^k)^2
    df/dc_k  = -2/N sum_i x_i^k r_i

The buggy version uses x^2 for the cubic coefficient: wrong in element 3 only.
"""

import jax.numpy as jnp
import numpy as np

PARAMS = {"c": (4,)}
BUG = "c is wrong only in element 3"


def make_data(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, 80)
    return {"x": x, "y": 1 - x + 0.5 * x**3 + rng.normal(0, 0.2, 80)}


def _powers(x, exponents):
    return x[:, None] ** jnp.asarray(exponents, x.dtype)


def loss(params, x, y):
    return jnp.mean((y - _powers(x, [0, 1, 2, 3]) @ params["c"]) ** 2)


def grad(params, x, y):
    powers = _powers(x, [0, 1, 2, 3])
    return {"c": -2 * powers.T @ (y - powers @ params["c"]) / y.shape[0]}


def grad_buggy(params, x, y):
    powers = _powers(x, [0, 1, 2, 3])
    residual = y - powers @ params["c"]
    return {"c": -2 * _powers(x, [0, 1, 2, 2]).T @ residual / y.shape[0]}
