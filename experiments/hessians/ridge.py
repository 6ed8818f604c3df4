"""Ridge regression: least squares with a penalty lam ||w||^2 (b not penalized).

f(b, w) = 1/N ||X w + b - y||^2 + lam ||w||^2
H = 2/N A^T A + 2 lam diag(0, 1, ..., 1),    A = [1 X]
"""

import jax.numpy as jnp
import numpy as np

PARAMS = {"b": (), "w": (3,)}
LAM = 0.1


def make_data(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((50, 3))
    return {"X": X, "y": X @ np.array([1.0, -2.0, 0.5]) + 0.3 + 0.1 * rng.standard_normal(50)}


def loss(params, X, y):
    r = X @ params["w"] + params["b"] - y
    return jnp.mean(r**2) + LAM * jnp.sum(params["w"] ** 2)


def data_term(X):
    A = jnp.column_stack([jnp.ones(len(X), X.dtype), X])
    return 2 * A.T @ A / len(X)


def penalty(X, on_b=False):
    return 2 * LAM * jnp.diag(jnp.array([float(on_b)] + [1.0] * X.shape[1], X.dtype))


def hessian(params, X, y):
    return data_term(X) + penalty(X)


def hessian_no_penalty(params, X, y):  # the penalty's curvature forgotten
    return data_term(X)


def hessian_penalizing_b(params, X, y):  # lam ||(b, w)||^2: the bias penalized too
    return data_term(X) + penalty(X, on_b=True)


def hessian_summed(params, X, y):  # the data summed and the penalty scaled with it
    return len(X) * hessian(params, X, y)


MISTAKES = {
    "hessian_no_penalty": "a penalty (0.2/2)·||w||² missing (a difference of -0.2·I on w)",
    "hessian_penalizing_b": "a penalty (0.2/2)·||b||² extra (a difference of +0.2·I on b)",
    "hessian_summed": "off by a factor of N (= 50)",
}
