"""sweep: many learning rates in one compiled call, equal run by run to separate fits."""

import jax.numpy as jnp
import numpy as np
import pytest
from compiles import CompileCounter
from problems import regression_problem

import steepest
from steepest import Status, fit, mse, sweep, theory


def test_32_learning_rates_compile_once_and_equal_32_separate_fits(x64, uncached):
    X, y = (jnp.asarray(a) for a in regression_problem(0, 50, 3))
    start = steepest.Linear.zeros(3, jnp.float64)
    critical = theory.critical_learning_rate(mse, start, X, y)
    rates = np.geomspace(1e-4, 1.5, 32) * critical
    with CompileCounter() as counter:
        swept = sweep(mse, start, X, y, learning_rates=rates, max_steps=3000, tol=1e-8)
    assert sum("run_chunk" in name for name in counter.names) == 1, counter.names
    with CompileCounter() as counter:
        again = sweep(mse, start, X, y, learning_rates=rates * 0.99, max_steps=3000, tol=1e-8)
    assert counter.names == []
    assert len(again.results) == 32

    statuses = set()
    for rate, result in zip(rates, swept.results, strict=True):
        alone = fit(mse, start, X, y, learning_rate=rate, max_steps=3000, tol=1e-8)
        assert (result.status, result.num_steps) == (alone.status, alone.num_steps), rate
        np.testing.assert_allclose(result.params.w, alone.params.w, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(result.losses, alone.losses, rtol=1e-12)
        assert result.learning_rate == pytest.approx(rate)
        statuses.add(result.status)
    assert statuses == {Status.CONVERGED, Status.MAX_STEPS, Status.DIVERGED}


@pytest.mark.parametrize("problem", ["builtin", "random"])
def test_divergence_threshold_agrees_with_two_over_L_within_2_percent(problem):
    if problem == "builtin":
        dataset = steepest.data.builtin()
        X = steepest.data.Standardizer.of(dataset.X).transform(dataset.X)
        y = dataset.y
    else:
        X, y = regression_problem(1, 100, 3)
    X, y = steepest.data.to_device(X, y)
    start = steepest.Linear.zeros(X.shape[1])
    critical = theory.critical_learning_rate(mse, start, X, y)
    rates = np.geomspace(0.5, 1.5, 64) * critical  # neighbours 1.8% apart
    result = sweep(mse, start, X, y, learning_rates=rates, max_steps=20_000, tol=1e-4)
    threshold = result.divergence_threshold()
    assert threshold is not None, [s.value for s in result.statuses]
    assert threshold == pytest.approx(critical, rel=0.02)
    assert all(np.isfinite(r.loss) for r in result.results)


def test_several_starts_run_side_by_side_and_equal_separate_fits(x64):
    X, y = (jnp.asarray(a) for a in regression_problem(3, 40, 2))
    rng = np.random.default_rng(0)
    # b from a NumPy scalar, not a Python float: not weakly typed, as a run's state is.
    starts = [
        steepest.Linear(
            jnp.asarray(rng.standard_normal(2)), jnp.asarray(np.float64(rng.standard_normal()))
        )
        for _ in range(3)
    ]
    rates = [0.05, 0.3, 2.0]
    result = sweep(mse, starts[0], X, y, learning_rates=rates, starts=starts, max_steps=2000)
    assert result.learning_rates.tolist() == [0.05] * 3 + [0.3] * 3 + [2.0] * 3
    assert result.start_indices.tolist() == [0, 1, 2] * 3
    for rate, index, run in zip(result.learning_rates, result.start_indices, result.results,
                                strict=True):  # fmt: skip
        alone = fit(mse, starts[index], X, y, learning_rate=rate, max_steps=2000)
        assert (run.status, run.num_steps) == (alone.status, alone.num_steps)
        np.testing.assert_allclose(run.params.w, alone.params.w, rtol=1e-12, atol=1e-12)
        assert run.loss == pytest.approx(alone.loss, rel=1e-9)  # both the loss in float64
    assert result.divergence_bracket() == (0.3, 2.0)


def test_ctrl_c_stops_every_run_and_claims_no_threshold():
    import os
    import signal

    X, y = (jnp.asarray(a, jnp.float32) for a in regression_problem(5, 30, 1))
    start = steepest.Linear.zeros(1)

    def interrupt(progress):
        os.kill(os.getpid(), signal.SIGINT)

    result = sweep(mse, start, X, y, learning_rates=[1e-4, 0.1, 5.0], max_steps=10**9, tol=0.0,
                   on_chunk=interrupt)  # fmt: skip
    assert Status.INTERRUPTED in result.statuses
    assert result.divergence_bracket() is None and result.divergence_threshold() is None


def test_bad_learning_rates():
    X, y = (jnp.asarray(a, jnp.float32) for a in regression_problem(2, 20, 1))
    start = steepest.Linear.zeros(1)
    with pytest.raises(ValueError, match="learning_rates is empty"):
        sweep(mse, start, X, y, learning_rates=[])
    with pytest.raises(ValueError, match="learning_rates must be positive"):
        sweep(mse, start, X, y, learning_rates=[0.1, -1.0])
    with pytest.raises(ValueError, match="unknown optimizer"):
        sweep(mse, start, X, y, learning_rates=[0.1], optimizer="nope")
