"""Linear least squares: the mean squared error of a line through the data.

    r = X w + b - y,    f(b, w) = 1/N ||r||^2
    H = 2/N A^T A,      A = [1 X]  (b first: ravel_pytree sorts a dict's keys)

The Gauss-Newton approximation 2/N J^T J is the Hessian itself here (the model is
linear in its params), so it cannot be mistaken for it: see exponential.py.
"""

import jax.numpy as jnp
import numpy as np

PARAMS = {"b": (), "w": (3,)}


def make_data(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((50, 3))
    return {"X": X, "y": X @ np.array([1.0, -2.0, 0.5]) + 0.3 + 0.1 * rng.standard_normal(50)}


def loss(params, X, y):
    r = X @ params["w"] + params["b"] - y
    return jnp.mean(r**2)


def design(X):
    return jnp.column_stack([jnp.ones(len(X), X.dtype), X])


def hessian(params, X, y):
    A = design(X)
    return 2 * A.T @ A / len(X)


def hessian_without_the_2(params, X, y):  # d/dr r^2 is 2r: the 2 forgotten
    A = design(X)
    return A.T @ A / len(X)


def hessian_one_corner(params, X, y):  # the (b, w) cross terms written in one corner only
    return hessian(params, X, y).at[1:, 0].set(0.0)


def hessian_no_cross_term(params, X, y):  # b and w treated as separate problems
    return hessian(params, X, y).at[1:, 0].set(0.0).at[0, 1:].set(0.0)


def hessian_w_first(params, X, y):  # [X 1]: w before b, as one writes it on paper
    A = jnp.column_stack([X, jnp.ones(len(X), X.dtype)])
    return 2 * A.T @ A / len(X)


MISTAKES = {
    "hessian_without_the_2": "off by a factor of 1/2",
    "hessian_one_corner": "not symmetric",
    "hessian_no_cross_term": "missing the cross term between b and w",
    "hessian_w_first": "it orders the params w, b",
}
