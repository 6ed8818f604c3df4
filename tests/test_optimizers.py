"""The optimizer registry: gd is the tutorial's rule and optax.sgd; every name runs in fit."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from problems import regression_problem

import steepest
from steepest import Status, fit, mse, optimizers


def test_gd_equals_optax_sgd_step_for_step(x64):
    rng = np.random.default_rng(0)
    params = {"w": jnp.asarray(rng.standard_normal(3)), "b": jnp.asarray(0.5)}
    ours = optimizers.get("gd")
    ours_state = optimizers.with_learning_rate(ours.init(params), 0.03)
    reference = optax.sgd(0.03)
    reference_state = reference.init(params)
    mine, theirs = params, params
    for _ in range(50):
        grads = jax.tree.map(lambda p: jnp.asarray(rng.standard_normal(p.shape)), params)
        update, ours_state = ours.update(grads, ours_state, mine)
        mine = optax.apply_updates(mine, update)
        update, reference_state = reference.update(grads, reference_state, theirs)
        theirs = optax.apply_updates(theirs, update)
        for a, b in zip(jax.tree.leaves(mine), jax.tree.leaves(theirs), strict=True):
            np.testing.assert_array_equal(a, b)


def test_fit_with_gd_equals_fit_with_optax_sgd(x64):
    X, y = (jnp.asarray(a) for a in regression_problem(0, 40, 2))
    start = steepest.Linear.zeros(2, jnp.float64)
    named = fit(mse, start, X, y, optimizer="gd", learning_rate=0.05, max_steps=100, tol=0.0)
    given = fit(mse, start, X, y, optimizer=optax.sgd(0.05), max_steps=100, tol=0.0)
    np.testing.assert_array_equal(named.losses, given.losses)
    np.testing.assert_array_equal(named.params.w, given.params.w)
    assert given.learning_rate is None


def test_get_returns_the_same_object_so_the_compiled_loop_is_reused():
    assert optimizers.get("adam") is optimizers.get("adam")


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown optimizer 'adamm'; known: gd, momentum"):
        optimizers.get("adamm")


def test_registry_starts_with_the_six_classic_optimizers():
    assert optimizers.names()[:6] == ["gd", "momentum", "nesterov", "adam", "rmsprop", "adagrad"]
    assert {"adamw", "adabelief", "lion", "lbfgs"} <= set(optimizers.names())


# (learning rate, tolerance on the params) on a standardized problem (L near 2).
# Plain methods run at 1/L or below and converge to the gradient tolerance.
# RMSProp and Lion with a constant learning rate cannot: near the optimum their step is
# about learning_rate * sign(g) whatever |g| is, so they end in a cycle of that amplitude
# (RMSProp measured: 0.025 at lr 0.05, 5e-4 at lr 1e-3); they are held to that, honestly.
# AdamW's weight decay (1e-4) moves its fixed point by about that much.
# A newly registered optimizer gets the default row and is tested automatically.
EXPECTATIONS = {
    "gd": (0.5, 1e-6),
    "momentum": (0.1, 1e-6),
    "nesterov": (0.1, 1e-6),
    "rmsprop": (1e-3, 1e-3),
    # Lion's sign steps circle the minimizer: its error at lr 1e-3 is 0.5e-3 to 1.3e-3 by
    # the step it stops at (steps 5,000 to 50,003, measured); the plateau rule stops it
    # at one of them.
    "lion": (1e-3, 2e-3),
    "adamw": (0.05, 1e-3),
    "lbfgs": (1.0, 1e-6),
}
DEFAULT_EXPECTATION = (0.05, 1e-6)


@pytest.mark.parametrize("name", optimizers.names())
def test_every_registered_optimizer_reaches_least_squares(name, x64):
    learning_rate, atol = EXPECTATIONS.get(name, DEFAULT_EXPECTATION)
    X, y = regression_problem(1, 100, 3)
    X = (X - X.mean(0)) / X.std(0)
    exact = steepest.theory.closed_form(X, y)
    start = steepest.Linear.zeros(3, jnp.float64)
    result = fit(mse, start, jnp.asarray(X), jnp.asarray(y), optimizer=name,
                 learning_rate=learning_rate, max_steps=50_000, tol=1e-8)  # fmt: skip
    if atol <= 1e-6:
        assert result.status is Status.CONVERGED, result.message
    assert result.status is not Status.DIVERGED
    np.testing.assert_allclose(result.params.w, exact.w, atol=atol)
    assert float(result.params.b) == pytest.approx(exact.b, abs=atol)


def test_lbfgs_line_search_runs_in_the_loop_and_defaults_to_the_undamped_step():
    dataset = steepest.data.builtin()
    X, y = steepest.data.to_device(dataset.X, dataset.y)  # raw: condition number ~1e3
    result = fit(mse, steepest.Linear.zeros(1), X, y, optimizer="lbfgs", tol=1e-4)
    assert result.learning_rate == 1.0
    assert result.status is Status.CONVERGED and result.num_steps <= 20, result.message
    exact = steepest.theory.closed_form(dataset.X, dataset.y)
    np.testing.assert_allclose(result.params.w, exact.w, rtol=1e-4)
