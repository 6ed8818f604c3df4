"""Theory from autodiff against the textbook formulas, and against the loop itself."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from problems import regression_problem

import steepest
from steepest import Linear, Status, fit, mse, theory


# A few fixed shapes (fewer rows than parameters among them), so that each compiles once;
# hypothesis draws the problem (its seed) for each.
@pytest.mark.parametrize(("rows", "features"), [(2, 1), (2, 4), (7, 2), (60, 3), (60, 4)])
@given(seed=st.integers(0, 2**32 - 1))
def test_hessian_of_mse_is_two_over_n_xtx(rows, features, seed):
    X, y = regression_problem(seed, rows, features)
    design = np.column_stack([X, np.ones(rows)])
    with jax.enable_x64(True):
        got = theory.hessian(mse, steepest.Linear.zeros(features, jnp.float64),
                             jnp.asarray(X), jnp.asarray(y))  # fmt: skip
    np.testing.assert_allclose(got, 2 / rows * design.T @ design, rtol=1e-12, atol=1e-12)


def test_closed_form_solves_the_normal_equations():
    X, y = regression_problem(0, 50, 3)
    exact = theory.closed_form(X, y)
    design = np.column_stack([X, np.ones(50)])
    normal = np.linalg.solve(design.T @ design, design.T @ y)
    np.testing.assert_allclose(np.append(exact.w, exact.b), normal, rtol=1e-10)


def test_critical_learning_rate_separates_convergence_from_divergence(x64):
    """Just below 2/L gradient descent converges; just above, it diverges."""
    X, y = (jnp.asarray(a) for a in regression_problem(1, 100, 2))
    start = steepest.Linear.zeros(2, jnp.float64)
    critical = theory.critical_learning_rate(mse, start, X, y)
    below = fit(mse, start, X, y, learning_rate=0.98 * critical, max_steps=100_000, tol=1e-8)
    above = fit(mse, start, X, y, learning_rate=1.02 * critical, max_steps=100_000, tol=1e-8)
    assert below.status is Status.CONVERGED, below.message
    assert above.status is Status.DIVERGED, above.message


def test_largest_eigenvalue_of_a_known_hessian(x64):
    X = jnp.array([[1.0, 0.0], [0.0, 3.0], [-1.0, 0.0], [0.0, -3.0]])
    # 2/N X~^T X~ = diag(1, 9, 2): the intercept column is orthogonal to both features.
    L = theory.largest_eigenvalue(mse, Linear(jnp.zeros(2), jnp.array(0.0)), X, jnp.zeros(4))
    np.testing.assert_allclose(L, 9.0, rtol=1e-12)


def test_too_many_parameters_for_a_dense_hessian():
    big = {"p": jnp.zeros(theory.MAX_DENSE_HESSIAN + 1)}
    with pytest.raises(ValueError, match="too large to form"):
        theory.hessian(lambda p: jnp.sum(p["p"] ** 2), big)


def test_curvature_matches_the_spectrum_of_two_over_n_xtx_and_predicts_the_rate(x64):
    X, y = regression_problem(4, 80, 3)
    design = np.column_stack([X, np.ones(80)])
    expected = np.linalg.eigvalsh(2 / 80 * design.T @ design)
    start = steepest.Linear.zeros(3, jnp.float64)
    found = theory.curvature(mse, start, jnp.asarray(X), jnp.asarray(y))
    np.testing.assert_allclose(found.eigenvalues, expected, rtol=1e-12)
    assert (found.L, found.mu) == (pytest.approx(expected[-1]), pytest.approx(expected[0]))
    assert found.condition_number == pytest.approx(expected[-1] / expected[0])
    assert found.optimal_learning_rate == pytest.approx(2 / (expected[-1] + expected[0]))

    # At the optimal step, the distance to the minimum shrinks by the predicted factor.
    exact = theory.closed_form(X, y)
    solution = np.append(exact.w, exact.b)
    distances = []
    for steps in (5, 10):
        result = fit(mse, start, jnp.asarray(X), jnp.asarray(y), tol=0.0, max_steps=steps,
                     learning_rate=found.optimal_learning_rate)  # fmt: skip
        fitted = np.append(np.asarray(result.params.w), float(result.params.b))
        distances.append(np.linalg.norm(fitted - solution))
    observed = (distances[1] / distances[0]) ** (1 / 5)
    assert observed <= found.optimal_rate * (1 + 1e-9)
    assert observed == pytest.approx(found.optimal_rate, rel=0.05)
    assert found.rate(found.optimal_learning_rate) == pytest.approx(found.optimal_rate)
    assert found.rate(found.critical_learning_rate) == pytest.approx(1.0)


def test_curvature_of_a_saddle_names_no_optimal_step():
    def saddle(p):
        return 0.5 * (p[0] ** 2 - p[1] ** 2)

    found = theory.curvature(saddle, jnp.zeros(2))
    assert (found.L, found.mu) == (pytest.approx(1.0), pytest.approx(-1.0))
    assert found.condition_number == np.inf
    assert np.isnan(found.optimal_learning_rate) and np.isnan(found.optimal_rate)
    assert found.critical_learning_rate == pytest.approx(2.0)
