"""The engine's public init/step pair: a loop of your own gives fit's iterates."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from problems import regression_problem

from steepest import Engine, Linear, Status, fit, mse


@pytest.fixture(scope="module")
def problem():
    X, y = regression_problem(7, 50, 2)
    return jnp.asarray(X, jnp.float32), jnp.asarray(y, jnp.float32)


def test_steps_in_a_python_loop_are_fits_iterates(problem):
    X, y = problem
    engine = Engine(mse, "gd")
    state = engine.init(Linear.zeros(2), X, y, learning_rate=0.1, max_steps=25, tol=0.0)
    step = jax.jit(engine.step)
    for _ in range(30):  # past max_steps: a stopped state is held
        state = step(state, X, y)
    reference = fit(mse, Linear.zeros(2), X, y, learning_rate=0.1, max_steps=25, tol=0.0)
    assert Status.of_code(state.status) is Status.MAX_STEPS and int(state.step) == 25
    np.testing.assert_array_equal(state.params.w, reference.params.w)
    np.testing.assert_array_equal(state.params.b, reference.params.b)


def test_run_is_the_step_loop_compiled(problem):
    X, y = problem
    engine = Engine(mse, "momentum")
    start = engine.init(Linear.zeros(2), X, y, learning_rate=0.05, max_steps=40, tol=1e-6)
    stepped = start
    for _ in range(40):
        stepped = engine.step(stepped, X, y)
    ran = engine.run(jax.tree.map(jnp.array, start), 40, X, y)
    assert int(ran.step) == int(stepped.step)
    np.testing.assert_allclose(ran.params.w, stepped.params.w, rtol=1e-6)


def test_with_learning_rate_copies_so_donating_one_state_spares_the_other(problem):
    X, y = problem
    engine = Engine(mse, "gd")
    state = engine.init(Linear.zeros(2), X, y, learning_rate=0.1, max_steps=10)
    faster = engine.with_learning_rate(state, 0.2)
    assert float(faster.opt_state.hyperparams["learning_rate"]) == pytest.approx(0.2)
    engine.run(faster, 10, X, y)  # donates `faster`
    assert float(state.opt_state.hyperparams["learning_rate"]) == pytest.approx(0.1)


def test_learning_rate_goes_with_a_named_optimizer_only(problem):
    X, y = problem
    with pytest.raises(ValueError, match="needs a learning_rate"):
        Engine(mse, "gd").init(Linear.zeros(2), X, y)
    with pytest.raises(ValueError, match="carries its own"):
        Engine(mse, optax.sgd(0.1)).init(Linear.zeros(2), X, y, learning_rate=0.1)
    with pytest.raises(ValueError, match="the loss must return a scalar"):
        Engine(lambda p, X, y: X @ p.w, "gd").init(Linear.zeros(2), X, y, learning_rate=0.1)


def test_status_codes_round_trip():
    for status in Status:
        assert Status.of_code(status.code) is status
    assert len({status.code for status in Status}) == len(Status)


@pytest.mark.parametrize("optimizer", ["momentum", "adam", "lbfgs"])
def test_at_starts_equals_an_init_at_each_start_stacked(problem, optimizer):
    """One init moved to each start is the init made at each start (sweep's thousands)."""
    X, y = problem
    engine = Engine(mse, optimizer)
    rng = np.random.default_rng(3)
    starts = [
        Linear(jnp.asarray(rng.standard_normal(2), jnp.float32), jnp.float32(rng.standard_normal()))
        for _ in range(3)
    ]
    settings = dict(learning_rate=0.05, max_steps=40, history_size=30)
    moved = engine.at_starts(engine.init(starts[0], X, y, **settings), starts)
    each = [engine.init(start, X, y, **settings) for start in starts]
    stacked = jax.tree.map(lambda *leaves: jnp.stack(leaves), *each)
    assert jax.tree.structure(moved) == jax.tree.structure(stacked)
    for got, want in zip(jax.tree.leaves(moved), jax.tree.leaves(stacked), strict=True):
        assert (got.dtype, got.shape, got.weak_type) == (want.dtype, want.shape, False)
        np.testing.assert_array_equal(got, want)


def test_at_starts_names_a_start_shaped_unlike_the_params(problem):
    X, y = problem
    engine = Engine(mse, "gd")
    state = engine.init(Linear.zeros(2), X, y, learning_rate=0.1)
    with pytest.raises(ValueError, match=r"starts\[1\] is not shaped like the params"):
        engine.at_starts(state, [Linear.zeros(2), Linear.zeros(3)])
