"""``fit``'s own names: the verdict on a run's final params (``checked``)."""

import dataclasses

import jax.numpy as jnp
import numpy as np

from steepest import Linear, Status, fit, mse
from steepest._src.fit import checked


def test_a_parameter_that_is_not_finite_is_never_converged():
    X = jnp.array([0.0, 1.0, 2.0])
    honest = fit(mse, Linear.zeros(1), X, 2 * X + 1)
    assert honest.status is Status.CONVERGED
    forged = dataclasses.replace(honest, params=Linear(jnp.array([jnp.inf]), jnp.array(1.0)))

    def evaluate64(params):
        return np.float64(0.0), np.zeros(2)

    found = checked(forged, evaluate64, None, rtol=1e-5, warnings=(), declared=False)
    assert found.status is Status.IMPRECISE and "not finite" in found.message
