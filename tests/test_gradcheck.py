"""check_gradient: right gradients pass, planted mistakes are caught and named."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from problems import regression_problem

import steepest
from steepest import Linear, analytic, check_gradient, mse


def problem(seed=0, rows=30, features=1, dtype=np.float64):
    X, y = regression_problem(seed, rows, features, noise=0.5)
    rng = np.random.default_rng(seed + 1)
    params = Linear(rng.standard_normal(features).astype(dtype), dtype(rng.standard_normal()))
    return params, X.astype(dtype), y.astype(dtype)


# Over a hundred problems (25 at each shape) at a few fixed shapes, so few compilations: fewer
# rows than parameters, one feature, several. The check runs in float64 whatever the
# dtype, so the dtype adds no shape.
@pytest.mark.parametrize(("rows", "features"), [(2, 1), (2, 4), (3, 2), (17, 3), (60, 4)])
@settings(max_examples=25)
@given(
    seed=st.integers(0, 2**32 - 1),
    dtype=st.sampled_from([np.float32, np.float64]),
    at_optimum=st.booleans(),
)
def test_the_right_gradient_passes(rows, features, seed, dtype, at_optimum):
    params, X, y = problem(seed, rows, features, dtype)
    if at_optimum:
        exact = steepest.theory.closed_form(X, y)
        params = Linear(exact.w.astype(dtype), dtype(exact.b))
    report = check_gradient(mse, analytic.mse_grad, params, X, y, key=seed % 1000)
    assert report.ok, str(report)
    assert report.diagnosis is None


def wrong(transform):
    """A hand gradient made from the right one by ``transform(right, X, y)``."""

    def grad(params, X, y):
        return transform(analytic.mse_grad(params, X, y), X, y)

    return grad


def scaled(factor):
    return wrong(lambda g, X, y: jax.tree.map(lambda leaf: factor * leaf, g))


PLANTED = {
    "flipped sign": (scaled(-1.0), 1, "sign flipped"),
    "missing factor 2": (scaled(0.5), 1, "1/2 times the true one"),
    "missing 1/N": (scaled(30.0), 1, "N (= 30) times the true one"),
    "d/db computed with x": (
        wrong(lambda g, X, y: Linear(g.w, g.w[0])),
        1,
        "b equals the true gradient of w",
    ),
    "one element wrong": (
        wrong(lambda g, X, y: Linear(g.w.at[2].multiply(3.0), g.b)),
        4,
        "w is wrong only in element 2 (b is right)",
    ),
    "leaves swapped": (
        wrong(lambda g, X, y: Linear(jnp.reshape(g.b, (1,)), g.w[0])),
        1,
        "w and b are swapped",
    ),
    "only b off by 2": (
        wrong(lambda g, X, y: Linear(g.w, 2 * g.b)),
        2,
        "b is off by a factor of 2 (w is right)",
    ),
}


@pytest.mark.parametrize("name", PLANTED)
def test_planted_mistakes_are_caught_with_their_diagnosis(name):
    grad, features, expected = PLANTED[name]
    params, X, y = problem(features=features)
    report = check_gradient(mse, grad, params, X, y)
    assert not report.ok
    assert expected in report.diagnosis, report.diagnosis
    assert report.failed_points == 3 and report.diagnosis.endswith("(failed at 3 of 3 points)")
    assert "FAIL" in [line.split()[-1] for line in str(report).splitlines()[2:-2]]
    with pytest.raises(AssertionError, match="gradient check failed"):
        report.raise_if_failed()


def test_transposed_and_wrongly_shaped_leaves():
    def loss(params, X):
        return jnp.sum(jnp.sin(X @ params["W"]))

    def right(params, X):
        return {"W": X.T @ jnp.cos(X @ params["W"])}

    def transposed(params, X):
        return {"W": (X.T @ jnp.cos(X @ params["W"])).T}

    X = np.random.default_rng(0).standard_normal((5, 3))
    for shape in [(3, 3), (3, 2)]:
        params = {"W": np.random.default_rng(1).standard_normal(shape)}
        assert check_gradient(loss, right, params, X).ok
        report = check_gradient(loss, transposed, params, X)
        assert not report.ok
        assert "W is transposed" in report.diagnosis
        if shape == (3, 2):
            assert "has shape (2, 3), but W has shape (3, 2)" in report.diagnosis


def test_a_gradient_of_the_wrong_structure_fails_and_says_so():
    params, X, y = problem()
    report = check_gradient(mse, lambda p, X, y: {"w": p.w}, params, X, y)
    assert not report.ok and "structure" in report.diagnosis
    report = check_gradient(mse, lambda p, X, y: Linear(jnp.zeros(3), p.b), params, X, y)
    assert not report.ok and "has shape (3,), but w has shape (1,)" in report.diagnosis


def abs_loss(p, x):
    return jnp.sum(jnp.abs(p - x))


def abs_grad(p, x):
    return jnp.sign(p - x)


def test_a_kink_away_from_the_points_passes_and_at_a_point_is_named():
    x = np.array([0.0, 0.5])
    assert check_gradient(abs_loss, abs_grad, np.array([1.0, 2.0]), x).ok
    report = check_gradient(abs_loss, abs_grad, np.array([0.0, 2.0]), x, num_points=1)
    assert not report.ok
    assert "autodiff and finite differences disagree at point 0 on params[0]" in report.diagnosis
    assert "not differentiable there" in report.diagnosis


def test_float64_whatever_the_callers_dtype_and_the_callers_arrays_untouched():
    params, X, y = problem(dtype=np.float32)
    before = (params.w.copy(), X.copy())
    with jax.enable_x64(False):
        report = check_gradient(mse, analytic.mse_grad, params, X, y)
    assert report.ok
    assert params.w.dtype == np.float32 and X.dtype == np.float32
    np.testing.assert_array_equal(params.w, before[0])
    np.testing.assert_array_equal(X, before[1])
    assert not jax.config.read("jax_enable_x64")  # the check does not leave x64 on
    # Rounding of float32 would show at 1e-7; float64 keeps hand vs autodiff near 1e-16.
    assert max(c.hand_vs_autodiff.max_rel for c in report.checks) < 1e-12


def test_points_are_reproducible_from_the_key():
    params, X, y = problem()
    first = check_gradient(mse, analytic.mse_grad, params, X, y, key=7)
    again = check_gradient(mse, analytic.mse_grad, params, X, y, key=7)
    other = check_gradient(mse, analytic.mse_grad, params, X, y, key=8)
    assert first.checks == again.checks
    assert first.checks != other.checks


def test_report_table_and_dict():
    params, X, y = problem(features=2)
    report = check_gradient(mse, analytic.mse_grad, params, X, y, num_points=2)
    text = str(report)
    assert text.splitlines()[0].split()[:3] == ["point", "leaf", "shape"]
    assert "PASS" in text and "at 2 points" in text
    assert len(report.checks) == 4  # 2 points x 2 leaves
    as_dict = report.to_dict()
    assert as_dict["ok"] is True and len(as_dict["checks"]) == 4


def test_assert_gradient_matches():
    params, X, y = problem()
    steepest.testing.assert_gradient_matches(mse, analytic.mse_grad, params, X, y)
    with pytest.raises(AssertionError, match="sign flipped"):
        steepest.testing.assert_gradient_matches(mse, scaled(-1.0), params, X, y)


def test_bad_arguments():
    params, X, y = problem()
    with pytest.raises(ValueError, match="num_points must be at least 1"):
        check_gradient(mse, analytic.mse_grad, params, X, y, num_points=0)
    with pytest.raises(ValueError, match="params must be floating arrays"):
        check_gradient(lambda p: jnp.sum(p), lambda p: p, np.arange(3))


LAM = 1.0


def test_a_loss_that_reads_a_global_is_checked_as_it_is_now():
    """Nothing is cached across calls: a changed global changes the check."""
    global LAM

    def loss(p):
        return LAM * jnp.sum(p**2)

    def right(p):
        return 2 * LAM * p

    def stale(p):
        return 2.0 * p

    params = np.array([1.0, -2.0])
    try:
        LAM = 1.0
        assert check_gradient(loss, right, params).ok
        LAM = 3.0
        assert check_gradient(loss, right, params).ok
        assert not check_gradient(loss, stale, params).ok
    finally:
        LAM = 1.0


def test_non_array_arguments_stay_concrete():
    def loss(p, k):
        return sum(jnp.sum(p ** (i + 1)) for i in range(k))

    def grad(p, k):
        return sum((i + 1) * p**i for i in range(k))

    assert check_gradient(loss, grad, np.array([0.5, 1.5]), 3).ok


@pytest.mark.parametrize(
    ("name", "loss", "grad", "params"),
    [
        # A leaf whose true gradient is zero: autodiff shows rounding of about 1e-16.
        ("zero-gradient leaf", lambda p, x: jnp.var(x + p["c"]) + jnp.sum(p["w"] ** 2),
         lambda p, x: {"c": jnp.zeros(()), "w": 2 * p["w"]},
         {"c": np.array(0.3), "w": np.array([1.0, 2.0])}),
        # A large offset: finite differences lose digits to the cost's size.
        ("offset 1e7", lambda p, x: jnp.sum(p**2) + 1e7, lambda p, x: 2 * p, np.array([0.5, 1.0])),
        # Leaves of very different scales.
        ("scales 1e4 and 1e-3",
         lambda p, x: 1e4 * jnp.sum(p["a"] ** 2) + 1e-3 * jnp.sum(p["b"] ** 2),
         lambda p, x: {"a": 2e4 * p["a"], "b": 2e-3 * p["b"]},
         {"a": np.array([1.0, 2.0]), "b": np.array([0.5])}),
        # Small positive params, inside a log's domain only.
        ("small positive params", lambda p, x: -jnp.sum(jnp.log(p)), lambda p, x: -1 / p,
         np.array([0.05, 0.02, 0.1])),
        ("params near 1e-3", lambda p, x: -jnp.sum(jnp.log(p)), lambda p, x: -1 / p,
         np.array([1e-3, 2e-3])),
        # A leaf with no elements.
        ("empty leaf", lambda p, x: jnp.sum(p["a"] ** 2), lambda p, x: {"a": 2 * p["a"],
         "e": jnp.zeros(0)}, {"a": np.array([1.0]), "e": np.zeros(0)}),
    ],
)  # fmt: skip
def test_right_gradients_at_awkward_scales_pass(name, loss, grad, params):
    report = check_gradient(loss, grad, params, np.arange(5.0))
    assert report.ok, f"{name}\n{report}"


def test_a_cost_outside_its_domain_is_named():
    def loss(p):
        return jnp.log(p[0] - p[1])

    def grad(p):
        return jnp.array([1.0, -1.0]) / (p[0] - p[1])

    params = np.array([1.0, 0.9])
    assert check_gradient(loss, grad, params, key=1).ok
    report = check_gradient(loss, grad, params, key=0)  # a random point crosses p0 = p1
    assert not report.ok
    assert "the cost is nan at point 2" in report.diagnosis
    assert "outside the loss's domain" in report.diagnosis


def test_no_pattern_is_claimed_from_a_zero_gradient_or_a_single_number():
    def loss(p):
        return jnp.sum(p["a"] ** 2)  # u is unused: its true gradient is zero

    zeros = check_gradient(loss, lambda p: {"a": 0 * p["a"], "u": 0 * p["u"]},
                           {"a": np.array([1.0, 2.0]), "u": np.array([3.0, 4.0])})  # fmt: skip
    assert "equals the true gradient of u" not in zeros.diagnosis
    assert "a is zero, but its true gradient is not" in zeros.diagnosis

    params, X, y = problem()
    shifted = check_gradient(mse, wrong(lambda g, X, y: Linear(g.w, g.b + 1.0)), params, X, y,
                             num_points=1)  # fmt: skip
    assert "factor" not in shifted.diagnosis
    assert "b is wrong" in shifted.diagnosis


def offset_problem():
    """y = 1e6 + 1e-3 x, x centered: the random points move b by about 1e5, so the cost
    swings from 1e-8 (at params, made of residuals 1e6 - 1e6) to 1e10, while the gradient
    of w stays near 1e-4."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((100, 1))
    x = (x - x.mean()) / x.std()
    y = 1e6 + 1e-3 * x[:, 0] + 1e-4 * rng.standard_normal(100)
    return Linear(np.array([1e-3]), np.float64(1e6)), x, y


def test_a_large_cost_does_not_let_a_wrong_gradient_pass():
    """The cost's size loosens autodiff vs finite differences, never hand-derived vs autodiff."""
    params, X, y = offset_problem()
    report = check_gradient(mse, wrong(lambda g, X, y: Linear(-3 * g.w, g.b)), params, X, y)
    assert not report.ok
    assert report.diagnosis == (
        "the hand-derived gradient disagrees with autodiff, and finite differences side with "
        "autodiff, so the hand derivation is wrong: w is off by a factor of -3 (b is right) "
        "(failed at 3 of 3 points)"
    )


def test_beside_a_large_cost_the_right_gradient_passes_and_fd_says_what_it_cannot_resolve():
    params, X, y = offset_problem()
    report = check_gradient(mse, analytic.mse_grad, params, X, y)
    assert report.ok, str(report)
    # At the random points the cost is about 1e10: finite differences of it cannot see a
    # gradient of 1e-4 (they give 39 or 0 for w), and say so instead of "ok".
    assert [(c.point, c.leaf) for c in report.checks if c.unresolved] == [(1, "w"), (2, "w")]
    assert report.unresolved == 2 and report.to_dict()["unresolved"] == 2
    lines = str(report).splitlines()
    statuses = [line.split()[-1] for line in lines[2:8]]
    assert statuses == ["ok", "ok", "unresolved", "ok", "unresolved", "ok"]
    assert lines[8].startswith("PASS: ")
    assert lines[8].endswith(
        "; finite differences could not resolve 2 of 6 elements checked (marked unresolved: "
        "their tolerance exceeds the element's gradient), so there the hand-derived gradient "
        "is checked against autodiff alone"
    )
    # At params alone the cost is 1e-8, but made of terms of 1e6, which finite differences
    # are allowed for: no false alarm either.
    alone = check_gradient(mse, analytic.mse_grad, params, X, y, num_points=1)
    assert alone.ok, str(alone)


@pytest.mark.parametrize("offset", [0.0, 1e12])
def test_an_offset_in_the_cost_does_not_loosen_hand_vs_autodiff(offset):
    def loss(p):
        return jnp.sum(p**2) + offset

    params = np.array([0.5, 1.0])
    assert check_gradient(loss, lambda p: 2 * p, params).ok
    report = check_gradient(loss, lambda p: 2 * p * (1 + 1e-5), params)
    assert not report.ok
    assert "1.00001 times the true one" in report.diagnosis
