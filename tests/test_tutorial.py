"""The compiled loop against the tutorial's pure-Python update_weights, iterate by iterate."""

import jax.numpy as jnp
import numpy as np
import pytest

import steepest
from steepest import Linear, mse, tutorial

STEPS = 200
LEARNING_RATE = 5e-4  # below 2/L of the raw built-in data (about 1.0e-3), so it descends


@pytest.fixture
def raw_builtin():
    dataset = steepest.data.builtin(seed=3)
    return dataset.X[:, 0].tolist(), dataset.y.tolist()


def test_update_weights_matches_the_formula_by_hand():
    # m_deriv = -2 * (1*(1-0) + 2*(3-0)) = -14, b_deriv = -2 * ((1-0) + (3-0)) = -8; N = 2
    assert tutorial.update_weights(0.0, 0.0, [1.0, 2.0], [1.0, 3.0], 0.5) == (3.5, 2.0)


def test_fit_gd_reproduces_the_tutorial_loop_iterate_by_iterate(x64, raw_builtin):
    X_list, y_list = raw_builtin
    iterates = tutorial.train(0.0, 0.0, X_list, y_list, LEARNING_RATE, STEPS)
    X, y = jnp.asarray(X_list), jnp.asarray(y_list)

    # The whole run: the final params, and the cost recorded at every iterate.
    result = steepest.fit(
        mse, steepest.Linear.zeros(1, jnp.float64), X, y,
        learning_rate=LEARNING_RATE, max_steps=STEPS, tol=0.0,
    )  # fmt: skip
    assert result.status is steepest.Status.MAX_STEPS
    assert result.num_steps == STEPS
    m, b = iterates[-1]
    np.testing.assert_allclose(float(result.params.w[0]), m, rtol=1e-10)
    np.testing.assert_allclose(float(result.params.b), b, rtol=1e-10)
    costs = [float(mse(Linear(jnp.array([m]), jnp.array(b)), X, y)) for m, b in iterates]
    np.testing.assert_allclose(result.losses, costs, rtol=1e-10)

    # Each iterate: one compiled step from the previous compiled iterate.
    params = steepest.Linear.zeros(1, jnp.float64)
    for m, b in iterates[1:]:
        params = steepest.fit(
            mse, params, X, y, learning_rate=LEARNING_RATE, max_steps=1, tol=0.0
        ).params
        np.testing.assert_allclose([float(params.w[0]), float(params.b)], [m, b], rtol=1e-10)


def test_the_tutorials_rule_reaches_least_squares(raw_builtin):
    """The oracle itself is right: on centered, scaled data it converges to np.linalg.lstsq."""
    X_list, y_list = raw_builtin
    x = np.array(X_list)
    z = ((x - x.mean()) / x.std()).tolist()  # Hessian 2I: each step shrinks the error 5-fold
    m, b = tutorial.train(0.0, 0.0, z, y_list, 0.4, STEPS)[-1]
    exact = steepest.theory.closed_form(np.array(z), np.array(y_list))
    assert m == pytest.approx(exact.w[0], rel=1e-10)
    assert b == pytest.approx(exact.b, rel=1e-10)
