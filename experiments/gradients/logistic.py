"""Logistic regression: the log-loss of labels y in {0, 1} with P(y = 1) = sigmoid(X w + b).

    f(w, b) = 1/N sum_i [log(1 + exp(z_i)) - y_i z_i],    z = X w + b
    df/dw   = 1/N X^T (sigmoid(z) - y)
    df/db   = 1/N sum_i (sigmoid(z_i) - y_i)

The buggy version writes y - sigmoid(z): the gradient of the log-likelihood,
not of the loss, so the sign is flipped.
"""

import jax
import jax.numpy as jnp
import numpy as np

PARAMS = {"w": (3,), "b": ()}
BUG = "sign flipped"


def make_data(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((60, 3))
    probability = 1 / (1 + np.exp(-(X @ np.array([1.5, -1.0, 0.5]) - 0.2)))
    return {"X": X, "y": (rng.uniform(size=60) < probability).astype(float)}


def loss(params, X, y):
    z = X @ params["w"] + params["b"]
    return jnp.mean(jax.nn.softplus(z) - y * z)


def grad(params, X, y):
    error = jax.nn.sigmoid(X @ params["w"] + params["b"]) - y
    return {"w": X.T @ error / y.shape[0], "b": jnp.mean(error)}


def grad_buggy(params, X, y):
    error = y - jax.nn.sigmoid(X @ params["w"] + params["b"])
    return {"w": X.T @ error / y.shape[0], "b": jnp.mean(error)}
