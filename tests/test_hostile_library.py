"""Issue 11's hostile cases for the library's fit and sweep, and fit's wide-data paths.

Each case: an input that once failed deep inside JAX, lost a result, or asked for
resources without checking; now a ValueError (CLI: exit 2) naming what is wrong.
"""

import jax.numpy as jnp
import numpy as np
import pytest
from cli_runs import run_command

import steepest
from steepest import Linear, fit, mse

X = jnp.asarray(np.random.default_rng(0).standard_normal((5, 2)), jnp.float32)
Y = jnp.ones(5)

LIBRARY_CASES = [
    ("int params", dict(params=Linear(jnp.zeros(2, jnp.int32), jnp.array(0))), "params.w is int32"),
    ("empty params", dict(params={}), "params holds no array"),
    ("optimizer None", dict(optimizer=None), "optimizer must be a name"),
    ("max_steps None", dict(max_steps=None), "max_steps must be a whole number"),
    ("max_steps float", dict(max_steps=10.5), "max_steps must be a whole number"),
    ("mismatched shapes", dict(params=Linear.zeros(3)), "cannot be evaluated at these params"),
    ("negative rtol", dict(rtol=-1.0), "rtol must be >= 0"),
]


@pytest.mark.parametrize(
    ("name", "arguments", "words"), LIBRARY_CASES, ids=[c[0] for c in LIBRARY_CASES]
)
def test_bad_arguments_to_fit_are_named(name, arguments, words):
    arguments = {"params": Linear.zeros(2), "learning_rate": 0.1, "max_steps": 10} | arguments
    params = arguments.pop("params")
    with pytest.raises(ValueError, match=words):
        fit(mse, params, X, Y, **arguments)


def test_a_sweep_that_cannot_fit_in_memory_is_refused_before_it_compiles(tmp_path):
    """A million runs of a million steps: histories of 1e5 costs each, 400 GB."""
    run = run_command(["sweep", "--num", "1000000", "--steps", "1e6"], tmp_path)
    assert run.returncode == 2, run.describe()
    assert "a sweep of 1,000,000 runs needs about" in run.stderr and "fewer runs" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_a_closed_form_on_columns_near_the_float64_limit_is_finite():
    for column in ([1e300, 2e300, 3e300], [-1.7e308, 0.0, 1.7e308], [1e-300, 2e-300, 3e-300]):
        X = np.array(column)[:, None]
        solution = steepest.theory.least_squares(X, np.array([1.0, 2.0, 3.5]))
        assert solution.reliable, solution.message
        # The reference: the same fit on the column divided by its largest magnitude.
        size = np.max(np.abs(column))
        slope, intercept = np.polyfit(np.array(column) / size, [1.0, 2.0, 3.5], 1)
        np.testing.assert_allclose(solution.params.w[0] * size, slope, rtol=1e-12)
        np.testing.assert_allclose(solution.params.b, intercept, rtol=1e-12, atol=1e-15)


@pytest.fixture(scope="module")
def wide(tmp_path_factory):
    """5 rows of 8000 features: above the 2048 parameters of a dense Hessian."""
    folder = tmp_path_factory.mktemp("wide")
    rng = np.random.default_rng(1)
    np.savez(folder / "wide.npz", X=rng.standard_normal((5, 8000)), y=rng.standard_normal(5))
    return folder


def test_a_diverged_fit_of_8000_features_keeps_its_result(wide):
    run = run_command(["fit", "--data", "wide.npz", "--lr", "1", "--json"], wide)
    assert run.returncode == 1, run.describe()
    record = run.record()
    assert record["status"] == "diverged" and len(record["params"]["w"]) == 8000
    assert "2/L is not computed above 2048 parameters" in record["message"]
    assert "pass a learning rate" not in run.stdout + run.stderr


def test_the_default_rate_above_2048_features_asks_for_the_flag(wide):
    run = run_command(["fit", "--data", "wide.npz"], wide)
    assert run.returncode == 2, run.describe()
    assert "--lr is needed for 8000 features" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_the_closed_form_of_a_wide_design_is_quick_and_says_it_is_not_unique():
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((5, 8000)), rng.standard_normal(5)
    solution = steepest.theory.least_squares(X, y)
    assert not solution.reliable and "rank-deficient" in solution.message
    np.testing.assert_allclose(X @ solution.params.w + solution.params.b, y, atol=1e-9)
