"""fit(method="quadratic"): the same iterates as the plain loop, at O(d^2) a step."""

import jax.numpy as jnp
import numpy as np
import pytest
from problems import regression_problem

import steepest
from steepest import Status, fit, mse, optimizers


@pytest.mark.parametrize("optimizer", ["gd", "momentum", "adam", "lbfgs"])
def test_quadratic_method_gives_the_same_iterates_as_the_loop(optimizer, x64):
    X, y = (jnp.asarray(a) for a in regression_problem(0, 500, 4))
    start = steepest.Linear.zeros(4, jnp.float64)
    rate = optimizers.DEFAULT_LEARNING_RATES.get(optimizer, 0.05)

    def run(max_steps, method):
        return fit(mse, start, X, y, optimizer=optimizer, learning_rate=rate, tol=0,
                   max_steps=max_steps, method=method)  # fmt: skip

    plain, quick = run(200, "loop"), run(200, "quadratic")
    # Compared up to the step where the first stopped: at a fixed point of L-BFGS, the
    # rounding of one method may leave the params as they were (a stall), the other's not.
    steps = min(plain.num_steps, quick.num_steps)
    plain, quick = run(steps, "loop"), run(steps, "quadratic")
    assert quick.num_steps == plain.num_steps
    np.testing.assert_allclose(quick.params.w, plain.params.w, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(float(quick.params.b), float(plain.params.b), atol=1e-10)
    np.testing.assert_allclose(quick.losses, plain.losses, rtol=1e-10)


def test_quadratic_method_takes_its_model_from_the_certificate_or_forms_its_own_alike(x64):
    """With the certificate (the default) the model comes from its float64 pass; without,
    from a pass of its own: the same iterates."""
    X, y = (jnp.asarray(a) for a in regression_problem(2, 300, 3))
    start = steepest.Linear.zeros(3, jnp.float64)
    settings = dict(learning_rate=0.05, tol=0, max_steps=50, method="quadratic")
    runs = [fit(mse, start, X, y, **settings, certificate=c) for c in (True, False)]
    assert runs[0].certificate is not None and runs[1].certificate is None
    np.testing.assert_allclose(runs[0].params.w, runs[1].params.w, rtol=1e-12)
    np.testing.assert_allclose(runs[0].losses, runs[1].losses, rtol=1e-12)
    # float32 params on float64 data: the cost is float64 either way, as the loop's.
    start = steepest.Linear.zeros(3, jnp.float32)
    runs = [fit(mse, start, X, y, **settings, certificate=c) for c in (True, False)]
    assert [np.asarray(run.losses).dtype for run in runs] == [np.float64, np.float64]


def test_quadratic_method_reaches_lstsq_and_refuses_a_loss_that_is_not_quadratic(x64):
    X, y = regression_problem(1, 300, 3)
    start = steepest.Linear.zeros(3, jnp.float64)
    result = fit(mse, start, jnp.asarray(X), jnp.asarray(y), method="quadratic", tol=1e-12,
                 max_steps=100_000)  # fmt: skip
    assert result.status is Status.CONVERGED
    exact = steepest.theory.closed_form(X, y)
    np.testing.assert_allclose(result.params.w, exact.w, rtol=1e-8)

    def quartic(params, X, y):
        return mse(params, X, y) + jnp.sum(params.w**4)

    with pytest.raises(ValueError, match="not quadratic"):
        fit(quartic, start, jnp.asarray(X), jnp.asarray(y), method="quadratic", learning_rate=0.1)
    with pytest.raises(ValueError, match="method must be 'loop' or 'quadratic'"):
        fit(mse, start, jnp.asarray(X), jnp.asarray(y), method="newton", learning_rate=0.1)
