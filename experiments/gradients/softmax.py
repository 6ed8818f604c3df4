"""Multinomial logistic regression: softmax cross-entropy with one-hot labels Y.

    Z = X W + b,    P = softmax(Z) row by row
    f(W, b) = 1/N sum_i [logsumexp(Z_i) - Y_i . Z_i]
    df/dW   = 1/N X^T (P - Y)        (d x k, like W)
    df/db   = 1/N sum_i (P_i - Y_i)

The buggy version writes (P - Y)^T X: the transpose, k x d.
"""

import jax
import jax.numpy as jnp
import numpy as np

PARAMS = {"W": (4, 3), "b": (3,)}
BUG = "W is transposed"


def make_data(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((60, 4))
    labels = np.argmax(X @ rng.standard_normal((4, 3)) + rng.gumbel(size=(60, 3)), axis=1)
    return {"X": X, "Y": np.eye(3)[labels]}


def loss(params, X, Y):
    Z = X @ params["W"] + params["b"]
    return jnp.mean(jax.nn.logsumexp(Z, axis=1) - jnp.sum(Y * Z, axis=1))


def grad(params, X, Y):
    error = jax.nn.softmax(X @ params["W"] + params["b"], axis=1) - Y
    return {"W": X.T @ error / X.shape[0], "b": jnp.mean(error, axis=0)}


def grad_buggy(params, X, Y):
    error = jax.nn.softmax(X @ params["W"] + params["b"], axis=1) - Y
    return {"W": error.T @ X / X.shape[0], "b": jnp.mean(error, axis=0)}
