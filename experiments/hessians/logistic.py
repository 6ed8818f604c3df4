"""Logistic regression: the mean cross-entropy of labels y in {0, 1}.

    z = X w + b,    s = sigmoid(z),    f(b, w) = 1/N sum_i [log(1 + e^z_i) - y_i z_i]
    H = 1/N A^T diag(s (1 - s)) A,    A = [1 X]

The Gauss-Newton approximation (the Fisher information) is the Hessian itself here
(the canonical link), so it cannot be mistaken for it: see exponential.py.
"""

import jax
import jax.numpy as jnp
import numpy as np

PARAMS = {"b": (), "w": (3,)}


def make_data(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((60, 3))
    z = X @ np.array([1.5, -1.0, 0.5]) - 0.2
    return {"X": X, "y": (rng.random(60) < 1 / (1 + np.exp(-z))).astype(np.float64)}


def loss(params, X, y):
    z = X @ params["w"] + params["b"]
    return jnp.mean(jnp.logaddexp(0.0, z) - y * z)


def weighted_design(params, X):
    A = jnp.column_stack([jnp.ones(len(X), X.dtype), X])
    s = jax.nn.sigmoid(X @ params["w"] + params["b"])
    return A, s * (1 - s)


def hessian(params, X, y):
    A, weight = weighted_design(params, X)
    return A.T @ (A * weight[:, None]) / len(X)


def hessian_of_the_likelihood(params, X, y):  # the log-likelihood's, maximized: sign flipped
    return -hessian(params, X, y)


def hessian_without_the_mean(params, X, y):  # sum_i, where the loss takes the mean
    A, weight = weighted_design(params, X)
    return A.T @ (A * weight[:, None])


def hessian_no_cross_term(params, X, y):  # the bias block apart from the weights'
    return hessian(params, X, y).at[1:, 0].set(0.0).at[0, 1:].set(0.0)


def hessian_unweighted_corner(params, X, y):  # the (w, b) corner without s (1 - s)
    A, _ = weighted_design(params, X)
    return hessian(params, X, y).at[1:, 0].set(A[:, 1:].T @ A[:, 0] / len(X))


MISTAKES = {
    "hessian_of_the_likelihood": "off by a factor of -1",
    "hessian_without_the_mean": "off by a factor of N (= 60)",
    "hessian_no_cross_term": "missing the cross term between b and w",
    "hessian_unweighted_corner": "not symmetric",
}
