"""The tutorial's cost: mean squared error of y ~ m x + b, with its partial derivatives.

    f(m, b) = 1/N sum_i (y_i - (m x_i + b))^2
    df/dm   = 1/N sum_i -2 x_i (y_i - (m x_i + b))
    df/db   = 1/N sum_i -2 (y_i - (m x_i + b))

The buggy version forgets the 2 of the chain rule.
"""

import jax.numpy as jnp
import numpy as np

PARAMS = {"m": (), "b": ()}
BUG = "1/2 times the true one"


def make_data(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 5, 50)
    return {"x": x, "y": 0.8 * x + 2 + rng.normal(0, 0.5, 50)}


def loss(params, x, y):
    return jnp.mean((y - (params["m"] * x + params["b"])) ** 2)


def grad(params, x, y):
    residual = y - (params["m"] * x + params["b"])
    return {"m": jnp.mean(-2 * x * residual), "b": jnp.mean(-2 * residual)}


def grad_buggy(params, x, y):
    residual = y - (params["m"] * x + params["b"])
    return {"m": jnp.mean(-x * residual), "b": jnp.mean(-residual)}
