"""Nonlinear least squares: an exponential decay a e^(-k t) fitted to y.

    r_i = a e^(-k t_i) - y_i,    f(a, k) = 1/N ||r||^2
    H = 2/N sum_i [g_i g_i^T + r_i ∇²m_i],    g_i = ∇m_i = (e^(-k t_i), -a t_i e^(-k t_i))
    ∇²m_i = [[0, -t_i e^(-k t_i)], [-t_i e^(-k t_i), a t_i^2 e^(-k t_i)]]

Leaving out the residual-weighted term r_i ∇²m_i gives the Gauss-Newton approximation
2/N J^T J: the Hessian only where the model fits the data exactly.
"""

import jax.numpy as jnp
import numpy as np

PARAMS = {"a": (), "k": ()}


def make_data(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 3.0, 40)
    return {"t": t, "y": 2.0 * np.exp(-0.7 * t) + 0.05 * rng.standard_normal(40)}


def loss(params, t, y):
    return jnp.mean((params["a"] * jnp.exp(-params["k"] * t) - y) ** 2)


def gradients_and_curvatures(params, t, y):
    a, k = params["a"], params["k"]
    decay = jnp.exp(-k * t)
    g = jnp.stack([decay, -a * t * decay], axis=1)
    curvature = jnp.stack(
        [jnp.stack([0 * t, -t * decay], axis=1), jnp.stack([-t * decay, a * t**2 * decay], axis=1)],
        axis=1,
    )
    return a * decay - y, g, curvature


def hessian(params, t, y):
    r, g, curvature = gradients_and_curvatures(params, t, y)
    return 2 * (g.T @ g + jnp.einsum("i,iab->ab", r, curvature)) / len(t)


def hessian_gauss_newton(params, t, y):  # the residual-weighted term left out
    _, g, _ = gradients_and_curvatures(params, t, y)
    return 2 * g.T @ g / len(t)


MISTAKES = {"hessian_gauss_newton": "the Gauss-Newton approximation, not the Hessian"}
