"""The certificate and the honest statuses, on ill-conditioned designs with exact answers.

The reference is the exact least-squares minimizer of the very floats the loop
was given (``exact.exact_least_squares``, in rational arithmetic), so a bound
that fails here is a wrong bound, not a rounding artefact of the reference.
"""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from exact import exact_least_squares
from hypothesis import given, settings
from hypothesis import strategies as st
from problems import regression_problem

import steepest
from steepest import Linear, Status, fit, mse

ROWS = 40


def standardized(X: np.ndarray) -> np.ndarray:
    return (X - X.mean(axis=0)) / X.std(axis=0)


def polynomial(degree: int) -> tuple[np.ndarray, np.ndarray]:
    """Powers x, x^2, ..., x^degree of x on [0, 1], standardized; y a smooth curve plus noise."""
    x = np.linspace(0.0, 1.0, ROWS)
    noise = 0.01 * np.random.default_rng(degree).standard_normal(ROWS)
    return standardized(np.column_stack([x**k for k in range(1, degree + 1)])), np.sin(
        3 * x
    ) + noise


def near_collinear() -> tuple[np.ndarray, np.ndarray]:
    """Four features, two of them equal up to 1e-4 of their size."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((ROWS, 4))
    X[:, 1] = X[:, 0] + 1e-4 * rng.standard_normal(ROWS)
    return standardized(X), X @ [1.0, -2.0, 0.5, 0.3] + 0.1 * rng.standard_normal(ROWS)


def tiny_target() -> tuple[np.ndarray, np.ndarray]:
    """x about 1e6 with a small spread, y about 0.1: the absolute tol of old said 'converged'
    with one or two correct digits here."""
    rng = np.random.default_rng(2)
    x = 1e6 + rng.uniform(0, 1e3, (ROWS, 4))
    y = 0.1 + 1e-5 * (x - 1e6) @ [1.0, 0.5, -0.2, 0.1] + 1e-3 * rng.standard_normal(ROWS)
    return standardized(x), y


DESIGNS = {
    "polynomial degree 4": lambda: polynomial(4),
    "polynomial degree 10": lambda: polynomial(10),
    "near-collinear": near_collinear,
    "tiny target": tiny_target,
}


def flat(params) -> np.ndarray:
    return np.concatenate(
        [np.ravel(np.asarray(leaf, np.float64)) for leaf in jax.tree.leaves(params)]
    )


def assert_certificate_holds(result, exact: np.ndarray, rtol: float | None = None) -> None:
    """The bound is a bound; converged means the coefficients are within rtol. No
    certificate (the Hessian's smallest eigenvalue lost in its rounding): not converged,
    and the data are said not to determine the coefficients."""
    certificate = result.certificate
    if certificate is None:
        assert result.status is not Status.CONVERGED, result.message
        assert any("do not determine the coefficients" in w for w in result.warnings)
        return
    error = flat(result.params) - exact
    assert np.linalg.norm(error) <= certificate.distance, result.message
    assert np.all(np.abs(error) <= flat(certificate.bounds)), result.message
    if result.status is Status.CONVERGED:  # within rtol
        rtol = steepest.default_rtol(result.losses.dtype) if rtol is None else rtol
        assert certificate.meets(rtol), result.message
        assert "certain to about" in result.message


@pytest.mark.parametrize("design", DESIGNS)
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
@pytest.mark.parametrize("optimizer", ["gd", "lbfgs"])
def test_no_converged_run_is_further_from_the_exact_answer_than_its_certificate(
    design, dtype, optimizer, x64
):
    X, y = (np.asarray(a, dtype) for a in DESIGNS[design]())
    exact = exact_least_squares(X, y)
    result = fit(
        mse, Linear.zeros(X.shape[1], dtype), jnp.asarray(X), jnp.asarray(y),
        optimizer=optimizer, max_steps=3000,
    )  # fmt: skip
    assert_certificate_holds(result, exact)
    certificate = result.certificate
    undetermined = certificate is None or certificate.condition_number > 1 / np.finfo(dtype).eps
    assert undetermined == any("do not determine" in w for w in result.warnings)
    if undetermined:
        assert result.status is not Status.CONVERGED
        assert "do not determine the coefficients" in result.message


def test_the_old_absolute_rule_said_converged_where_the_certificate_says_no():
    """The degree-10 design in float64: an absolute tol of 1e-5 holds long before any digit
    is right; the certificate says so, and the status is not converged."""
    with jax.enable_x64(True):
        X, y = (jnp.asarray(a) for a in polynomial(10))
        result = fit(mse, Linear.zeros(10, jnp.float64), X, y, optimizer="lbfgs", tol=1e-5,
                     rtol=1e-10, max_steps=3000)  # fmt: skip
    exact = exact_least_squares(np.asarray(X), np.asarray(y))
    assert result.status is Status.IMPRECISE, result.message
    # Its condition number, 1.25e14, is near where the Hessian's rounding can hide mu: no
    # digit is certified at all (before, a certificate short of rtol).
    assert "imprecise after" in result.message and "no digit" in result.message
    assert np.linalg.norm(flat(result.params) - exact) > 1e-3 * np.linalg.norm(exact)
    assert_certificate_holds(result, exact)


@settings(max_examples=15, deadline=None)
@given(
    correlation_gap=st.floats(1e-6, 1.0),
    target_scale=st.floats(1e-3, 1e3),
    seed=st.integers(0, 2**16),
)
def test_the_certificate_bounds_the_error_on_random_designs(correlation_gap, target_scale, seed):
    """Same shapes and dtype every example: one compilation for all of them."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((30, 3))
    X[:, 2] = X[:, 1] + correlation_gap * rng.standard_normal(30)
    X = standardized(X).astype(np.float32)
    y = (target_scale * (X @ [0.5, -1.0, 2.0] + 0.3 + 0.1 * rng.standard_normal(30))).astype(
        np.float32
    )
    result = fit(mse, Linear.zeros(3), jnp.asarray(X), jnp.asarray(y), max_steps=2000)
    assert_certificate_holds(result, exact_least_squares(X, y))


def test_every_status_says_why_in_words():
    X, y = (jnp.asarray(a, jnp.float32) for a in regression_problem(0, 50, 2))
    converged = fit(mse, Linear.zeros(2), X, y)
    assert converged.status is Status.CONVERGED
    assert converged.message.startswith("converged after")
    assert f"certain to about {converged.certificate.digits} digits" in converged.message
    assert converged.certificate.digits >= 5

    short = fit(mse, Linear.zeros(2), X, y, max_steps=3)
    assert short.status is Status.MAX_STEPS
    assert short.message.startswith("stopped at max_steps=3") and "certain" in short.message

    # The absolute rule holds early; the certificate falls short of the target asked for.
    loose = fit(mse, Linear.zeros(2), X, y, tol=0.5, rtol=1e-6)
    assert loose.status is Status.IMPRECISE
    assert "the stop rule held in float32" in loose.message
    assert "run in float64" in loose.message

    # tol alone: the absolute rule decides, and the certificate is reported beside it.
    absolute = fit(mse, Linear.zeros(2), X, y, tol=0.5)
    assert absolute.status is Status.CONVERGED
    assert "<= tol 0.5" in absolute.message and "certain" in absolute.message

    diverged = fit(mse, Linear.zeros(2), X, y, learning_rate=10.0)
    assert diverged.status is Status.DIVERGED and "Lower the learning rate" in diverged.message


def test_a_stall_in_float32_points_to_float64_and_in_float64_to_the_conditioning():
    data = steepest.data.builtin()  # raw radio spend, 0 to 50: a condition number of 4e3
    X, y = steepest.data.to_device(data.X, data.y)
    stuck = fit(mse, Linear.zeros(1), X, y, optimizer="lbfgs", tol=0, max_steps=20_000)
    assert stuck.status is Status.STALLED and stuck.num_steps < 200, stuck.message
    assert "changed no parameter" in stuck.message and "float64 (x64=True" in stuck.message
    with jax.enable_x64(True):
        X, y = (jnp.asarray(a) for a in (data.X, data.y))
        stuck = fit(mse, Linear.zeros(1, jnp.float64), X, y, optimizer="lbfgs", tol=0,
                    max_steps=20_000)  # fmt: skip
    assert stuck.status is Status.STALLED and stuck.num_steps < 200, stuck.message
    assert "even in float64" in stuck.message and "closed form" in stuck.message
    assert "condition number 4e3 of the Hessian" in stuck.message


def test_a_stall_needs_the_optimizer_state_fixed_too_or_patience():
    """Momentum keeps a velocity: one update that moves nothing is no stall by itself."""
    assert steepest.has_stalled(jnp.int32(1), jnp.bool_(True), steepest.STALL_PATIENCE)
    assert not steepest.has_stalled(jnp.int32(1), jnp.bool_(False), steepest.STALL_PATIENCE)
    assert steepest.has_stalled(
        jnp.int32(steepest.STALL_PATIENCE), jnp.bool_(False), steepest.STALL_PATIENCE
    )
    assert not steepest.has_stalled(jnp.int32(0), jnp.bool_(True), steepest.STALL_PATIENCE)


def test_float64_inputs_with_x64_off_are_named():
    X, y = regression_problem(1, 30, 2)  # NumPy float64
    result = fit(mse, Linear.zeros(2), X, y, max_steps=10)
    assert result.losses.dtype == np.float32
    assert any(w.startswith("X, y are float64 but x64 is off") for w in result.warnings)
    quiet = fit(mse, Linear.zeros(2), X.astype(np.float32), y.astype(np.float32), max_steps=10)
    assert quiet.warnings == ()


def test_the_reported_cost_is_the_loss_in_float64_whatever_the_method():
    X, y = (np.asarray(a, np.float32) for a in regression_problem(3, 60, 2, noise=1e-3))
    for method in ("loop", "quadratic"):
        result = fit(mse, Linear.zeros(2), jnp.asarray(X), jnp.asarray(y), method=method)
        w, b = (np.asarray(leaf, np.float64) for leaf in result.params)
        residual = X.astype(np.float64) @ w + b - y
        assert result.loss == pytest.approx(np.mean(residual**2), rel=1e-13)


def test_bfloat16_params_get_their_cost_and_certificate_in_float64():
    X, y = (np.asarray(a, np.float32) for a in regression_problem(3, 60, 2, noise=1e-3))
    result = fit(mse, Linear.zeros(2, jnp.bfloat16), jnp.asarray(X), jnp.asarray(y))
    assert result.certificate is not None
    w, b = (np.asarray(leaf, np.float64) for leaf in result.params)
    residual = X.astype(np.float64) @ w + b - y
    assert result.loss == pytest.approx(np.mean(residual**2), rel=1e-13)


def test_a_model_without_intercept_is_fitted_through_the_origin():
    X, y = regression_problem(4, 80, 2)
    expected = np.linalg.lstsq(X, y, rcond=None)[0]
    start = Linear(jnp.zeros(2))
    result = fit(mse, start, jnp.asarray(X, jnp.float32), jnp.asarray(y, jnp.float32))
    assert result.params.b is None and result.status is Status.CONVERGED
    np.testing.assert_allclose(result.params.w, expected, rtol=1e-4)
    exact = exact_least_squares(X.astype(np.float32), y.astype(np.float32), intercept=False)
    assert_certificate_holds(result, exact)


def test_a_loss_quadratic_along_the_ones_direction_only_gets_no_certificate():
    """(p0 - p1)**4 does not change along (1, 1): the probe direction must see it."""

    def loss(p):
        return (p[0] + p[1] - 2.0) ** 2 + (p[0] - p[1]) ** 4

    start = jnp.array([1.0, 0.0])
    result = fit(loss, start, max_steps=20_000)
    assert result.certificate is None
    with pytest.raises(ValueError, match="not quadratic"):
        fit(loss, start, method="quadratic")


def test_an_exact_zero_answer_is_certain():
    X = np.random.default_rng(3).standard_normal((20, 2)).astype(np.float32)
    result = fit(mse, Linear.zeros(2), jnp.asarray(X), jnp.zeros(20))
    assert result.status is Status.CONVERGED and result.num_steps == 0, result.message
    assert result.certificate.distance == 0.0 and result.certificate.relative == 0.0


def test_a_float64_run_at_its_rounding_floor_short_of_rtol_is_stalled_not_converged():
    """Degree 5 powers (condition number about 1e7): rtol 1e-10 is out of float64's reach.
    A run whose gradient is within its own rounding error can certify no more: stalled
    (issue 21, item 3: converged meant the digits asked for, or this, with as few as 0
    digits certain), with what is certain; a looser rtol within reach converges."""
    with jax.enable_x64(True):
        X, y = (jnp.asarray(a) for a in polynomial(5))
        result = fit(mse, Linear.zeros(5, jnp.float64), X, y, optimizer="lbfgs", max_steps=3000)
        loose = fit(mse, Linear.zeros(5, jnp.float64), X, y, optimizer="lbfgs", max_steps=3000,
                    rtol=1e-6)  # fmt: skip
    exact = exact_least_squares(np.asarray(X), np.asarray(y))
    assert result.certificate.at_floor and not result.certificate.meets(1e-10)
    assert result.status is Status.STALLED, result.message
    assert "nothing more can be certified" in result.message
    assert "certain to about" in result.message
    assert_certificate_holds(result, exact)
    assert loose.status is Status.CONVERGED, loose.message
    assert_certificate_holds(loose, exact, rtol=1e-6)


# Issue 21, item 1: columns x1 and x1 + delta z, y depending on z. From delta about 1e-7
# the Hessian's true smallest eigenvalue is below its own rounding, where the computed one
# is noise: bounds from it were too small by up to 1e14, and runs said converged.
DELTAS = [1e-5, 1e-7, 2.5e-9, 1e-11, 1e-13, 1e-15, 1e-17]


def hidden_collinearity(delta: float, dtype) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(21)
    x1, z = rng.standard_normal((2, 200))
    X = np.column_stack([x1, x1 + delta * z]).astype(dtype)
    y = (1.0 + 2.0 * x1 + 3.0 * z + 0.1 * rng.standard_normal(200)).astype(dtype)
    return X, y


@pytest.mark.parametrize("intercept", [True, False], ids=["intercept", "origin"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hidden_collinearity_gets_no_false_bound_and_no_false_converged(dtype, intercept, x64):
    """The invariant on every case, against the exact minimizer of the very floats fitted:
    no coefficient off by more than twice its bound, and no converged run off by more than
    rtol. The runs share shapes: one compilation for all deltas."""
    rtol = steepest.default_rtol(dtype)
    for delta in DELTAS:
        X, y = hidden_collinearity(delta, dtype)
        result = fit(mse, Linear.zeros(2, dtype, intercept=intercept), jnp.asarray(X),
                     jnp.asarray(y), max_steps=2000)  # fmt: skip
        where = f"delta {delta:g}: {result.status.value}: {result.message}"
        if np.array_equal(X[:, 0], X[:, 1]):  # delta lost in float32: no unique minimizer
            assert result.certificate is None and result.status is not Status.CONVERGED, where
            continue
        exact = exact_least_squares(X, y, intercept=intercept)
        error = np.abs(flat(result.params) - exact)
        if result.certificate is not None:
            assert np.all(error <= 2 * flat(result.certificate.bounds)), where
        else:
            assert any("do not determine the coefficients" in w for w in result.warnings), where
        if result.status is Status.CONVERGED:
            assert np.linalg.norm(error) <= rtol * np.linalg.norm(exact), where


def huber(params, X, y, delta=1.0):
    """Quadratic for residuals within ``delta``, linear beyond."""
    residual = steepest.predict(params, X) - y
    size = jnp.abs(residual)
    return jnp.mean(jnp.where(size <= delta, 0.5 * residual**2, delta * (size - 0.5 * delta)))


def squared_hinge(params, X, y):
    """LinearSVC's loss: quadratic in the margins below 1, zero above."""
    return jnp.mean(jnp.maximum(0.0, 1.0 - y * steepest.predict(params, X)) ** 2)


@pytest.mark.parametrize("loss", [huber, squared_hinge])
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_a_cost_quadratic_only_near_its_start_gets_no_certificate(dtype, loss, x64):
    """Issue 21, item 2: every residual is within Huber's delta (every margin below the
    hinge's 1) at the start and along the probe that tests the cost for being quadratic
    (small features, no intercept), and many are beyond it at the minimizer. The start's
    quadratic model misses the final cost: no certificate, and the message says no digit
    is certified."""
    rng = np.random.default_rng(0)
    X = 0.01 * rng.standard_normal((400, 1))
    y = (0.95 if loss is huber else 1.0) * np.sign(X[:, 0])
    start = Linear.zeros(1, dtype, intercept=False)
    result = fit(loss, start, jnp.asarray(X, dtype), jnp.asarray(y, dtype))
    assert float(result.params.w[0]) > 50  # far beyond where the cost is quadratic
    assert result.certificate is None, result.message
    # Its stop rule took mu from the start's curvature, which the cost did not keep (the
    # hinge's minimizer is far: its budget runs out first).
    expected = Status.IMPRECISE if loss is huber else Status.MAX_STEPS
    assert result.status is expected, result.message
    assert "no digit is certified: the quadratic model formed at the start misses" in (
        result.message
    )
    # Declared quadratic (falsely here), the check is skipped: the tag is a promise.
    tagged = fit(loss, start, jnp.asarray(X, dtype), jnp.asarray(y, dtype),
                 tags={steepest.quadratic_tag})  # fmt: skip
    assert tagged.certificate is not None


def test_lbfgs_at_its_rounding_floor_stalls_instead_of_running_on(x64):
    """Issue 21, item 5: an exact fit (cost 0 at the minimizer) on raw powers of x, with a
    tol below float64's reach. L-BFGS's line search keeps moving the last bits, so no
    update leaves the params unchanged: before, 600,000 steps in 112 s and still running.
    The plateau rule stops it, 10,000 steps after its lowest cost and gradient norm."""
    x = np.linspace(1.0, 10.0, 40)
    X = np.column_stack([x**k for k in range(1, 6)])
    y = X @ [1.0, -2.0, 0.5, 0.25, -0.1] + 3.0
    result = fit(mse, Linear.zeros(5, jnp.float64), jnp.asarray(X), jnp.asarray(y),
                 optimizer="lbfgs", tol=1e-14, max_steps=2_000_000)  # fmt: skip
    assert result.status is Status.STALLED, result.message
    assert result.num_steps < 20_000, result.message
    assert re.search(
        r"neither the cost nor the gradient norm has gone below its lowest in [\d,]+ steps",
        result.message,
    )
    assert_certificate_holds(result, exact_least_squares(X, y))


def logistic(params, X, y):
    z = X @ params["w"] + params["b"]
    return jnp.mean(jnp.logaddexp(0.0, z) - y * z)


def test_separable_classes_have_no_finite_minimizer_and_say_so():
    """Issue 21, item 6: on separable classes the logistic cost falls toward 0 as the
    params grow without bound, and L-BFGS's stop rule (the gradient 1e-5 of its start)
    held: converged, before. At 2x and 4x the params the cost is lower still: no minimizer
    at finite params. With a ridge penalty, or classes that overlap, converged stands."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 2)).astype(np.float32)
    separable = (X[:, 0] + X[:, 1] > 0).astype(np.float32)
    overlapping = (X[:, 0] + 0.5 * rng.standard_normal(100) > 0).astype(np.float32)
    start = {"w": jnp.zeros(2), "b": jnp.zeros(())}
    unbounded = fit(logistic, start, X, separable, optimizer="lbfgs")
    assert unbounded.status is Status.IMPRECISE, unbounded.message
    assert "no minimizer at finite params" in unbounded.message
    bounded = fit(logistic, start, X, overlapping, optimizer="lbfgs")
    assert bounded.status is Status.CONVERGED, bounded.message

    def ridge(params, X, y):
        return logistic(params, X, y) + 0.01 * jnp.sum(params["w"] ** 2)

    assert fit(ridge, start, X, separable, optimizer="lbfgs").status is Status.CONVERGED
