"""check_gradient sees a small wrong term in a large gradient, and takes any loss (issue 10).

The planted bugs: a ridge penalty with the wrong sign or factor on badly scaled
features, a data term missing its 1/N with the penalty right, a loss written
with Python's ``max`` over a row, and user functions that raise.
"""

import re

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from steepest import check_gradient

N = 40
SCALES = np.array([5.0, 50.0, 0.3])  # the badly scaled features of the issue


def badly_scaled_data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, 3)) * SCALES
    y = X @ np.array([1.0, -0.02, 3.0]) + 1 + rng.normal(0, 0.1, N)
    return X, y


X, Y = badly_scaled_data()
PARAMS = {"w": np.array([0.5, -1.0, 2.0]), "b": np.array(0.3)}


def ridge_loss(lam, offset=0.0):
    """mean (y - (X w + b))^2 + lam |w|^2 (+ a constant offset); b is not penalized."""

    def loss(p, X, y):
        residual = y - (X @ p["w"] + p["b"])
        return jnp.mean(residual**2) + lam * jnp.sum(p["w"] ** 2) + offset

    return loss


def ridge_grad(lam, penalty_factor=1.0, data_factor=1.0):
    """The hand gradient with the penalty's derivative times ``penalty_factor`` (1 is right)
    and the data term's times ``data_factor`` (1 is right; N is a missing 1/N)."""

    def grad(p, X, y):
        residual = y - (X @ p["w"] + p["b"])
        return {
            "w": data_factor * -2 / N * X.T @ residual + penalty_factor * 2 * lam * p["w"],
            "b": data_factor * -2 * jnp.mean(residual),
        }

    return grad


def reference_gradients(lam, penalty_factor, params=PARAMS):
    """The true and the planted gradient of w, in plain numpy: the independent reference."""
    residual = Y - (X @ params["w"] + params["b"])
    data = -2 / N * X.T @ residual
    return data + 2 * lam * params["w"], data + penalty_factor * 2 * lam * params["w"]


def reported_c(diagnosis: str) -> float:
    return float(re.search(r"differs from autodiff by (\S+) ·", diagnosis).group(1))


def test_the_old_leaf_relative_tolerance_missed_this_bug():
    """At lam = 1e-4 the flipped penalty is under 1e-6 of the leaf's largest element."""
    right, flipped = reference_gradients(1e-4, -1.0)
    assert np.max(np.abs(flipped - right)) < 1e-6 * np.max(np.abs(right))
    assert np.abs(flipped - right)[2] > 1e-5 * np.abs(right)[2]  # yet large for element 2


@pytest.mark.parametrize("lam", [1e-4, 0.1])
def test_a_penalty_with_the_wrong_sign_fails_with_its_factor(lam):
    report = check_gradient(ridge_loss(lam), ridge_grad(lam, -1.0), PARAMS, X, Y)
    assert not report.ok
    assert report.failed_points == 3
    assert "(failed at 3 of 3 points)" in report.diagnosis
    assert "a penalty term with the wrong sign or factor?" in report.diagnosis
    assert "· w" in report.diagnosis and "(b is right)" in report.diagnosis
    # hand - true = -2 lam w - 2 lam w = -4 lam w
    assert reported_c(report.diagnosis) == pytest.approx(-4 * lam, rel=1e-5)
    if lam == 0.1:  # every element is off, at every point (it was "only element 2" at one)
        assert "w is wrong in every element: it differs from autodiff by -0.4 · w" in (
            report.diagnosis
        )
    assert check_gradient(ridge_loss(lam), ridge_grad(lam), PARAMS, X, Y).ok


def test_a_penalty_on_every_leaf_is_named_as_c_times_params():
    def loss(p, X, y):
        return jnp.mean((y - X @ p) ** 2) + 0.5 * jnp.sum(p**2)

    def flipped(p, X, y):
        return -2 / N * X.T @ (y - X @ p) - p

    report = check_gradient(loss, flipped, PARAMS["w"], X, Y)
    assert report.diagnosis == (
        "the hand-derived gradient differs from autodiff by -2.0 · params: "
        "a penalty term with the wrong sign or factor? (failed at 3 of 3 points)"
    )


# Values drawn, shapes fixed: every check runs eagerly on the same shapes, so nothing
# compiles per example.
@settings(max_examples=25, deadline=None)
@given(
    lam=st.floats(1e-4, 10.0),
    penalty_factor=st.sampled_from([-1.0, 0.0, 0.5, 2.0, 3.0]),
    seed=st.integers(0, 2**16),
)
def test_a_wrong_penalty_is_caught_and_its_c_reported(lam, penalty_factor, seed):
    rng = np.random.default_rng(seed)
    params = {"w": rng.uniform(0.5, 2.0, 3) * rng.choice([-1, 1], 3), "b": np.array(0.3)}
    right, planted = reference_gradients(lam, penalty_factor, params)
    c = (penalty_factor - 1) * 2 * lam
    np.testing.assert_allclose(planted - right, c * params["w"], rtol=1e-9)  # the reference
    report = check_gradient(
        ridge_loss(lam), ridge_grad(lam, penalty_factor), params, X, Y, key=seed
    )
    assert not report.ok
    assert "a penalty term with the wrong sign or factor?" in report.diagnosis, report.diagnosis
    assert reported_c(report.diagnosis) == pytest.approx(c, rel=1e-5)


@pytest.mark.parametrize("lam", [1e-3, 0.1])
def test_a_data_term_missing_its_1_over_n_with_the_penalty_right(lam):
    report = check_gradient(ridge_loss(lam), ridge_grad(lam, data_factor=N), PARAMS, X, Y)
    assert not report.ok
    assert report.diagnosis.startswith("N (= 40) times on the data term, penalty right: ")
    assert "N · (autodiff - penalty) + penalty" in report.diagnosis
    penalty = float(re.search(r"penalty gradient of (\S+) · w", report.diagnosis).group(1))
    assert penalty == pytest.approx(2 * lam, rel=1e-5)  # the penalty's derivative, 2 lam
    assert "1/N missing from the data term?" in report.diagnosis
    assert report.diagnosis.endswith("(failed at 3 of 3 points)")


def test_an_offset_or_an_unused_leaf_passes_and_hides_no_bug():
    offset = ridge_loss(0.1, offset=1e6)
    params = {**PARAMS, "unused": np.array([1.0, -3.0, 0.0])}  # a leaf of zero gradient

    def grad(penalty_factor):
        base = ridge_grad(0.1, penalty_factor)
        return lambda p, X, y: {**base(p, X, y), "unused": jnp.zeros(3)}

    assert check_gradient(offset, grad(1.0), params, X, Y).ok
    report = check_gradient(offset, grad(-1.0), params, X, Y)
    assert not report.ok
    assert "differs from autodiff by -0.4 · w" in report.diagnosis


def test_right_gradients_pass_at_every_scale_of_the_elements():
    """An element 1e6 times smaller than another is held to its own size, and passes."""
    for scales in ([1.0, 1e3, 1e-3], [1e4, 1.0, 1e-2]):
        X = np.random.default_rng(1).standard_normal((N, 3)) * np.array(scales)
        y = X @ np.array([1.0, 2.0, 3.0])
        for lam in (0.0, 1e-8, 3.0):
            report = check_gradient(ridge_loss(lam), ridge_grad(lam), PARAMS, X, y)
            assert report.ok, str(report)


def max_of_each_row(W, X):
    """A loss as course materials write it: Python's max over each row of scores."""
    return sum(max(row) for row in X @ W) / X.shape[0]


def max_of_each_row_grad(W, X):
    scores = np.asarray(X) @ np.asarray(W)
    chosen = np.eye(W.shape[1])[scores.argmax(axis=1)]
    return np.asarray(X).T @ chosen / X.shape[0]


def test_a_loss_with_python_max_is_checked_eagerly_and_says_so():
    rng = np.random.default_rng(0)
    W, X = rng.standard_normal((3, 2)), rng.standard_normal((8, 3))  # the CLI test's shapes
    report = check_gradient(max_of_each_row, max_of_each_row_grad, W, X)
    assert report.ok, str(report)
    assert report.fd_eager
    assert "TracerBoolConversionError" in report.fd_eager_reason
    assert "finite differences were evaluated eagerly, one direction at a time" in str(report)
    assert report.to_dict()["fd_eager"] is True
    wrong = check_gradient(max_of_each_row, lambda W, X: 2 * max_of_each_row_grad(W, X), W, X)
    assert "2 times the true one" in wrong.diagnosis
    vectorized = check_gradient(lambda W, X: jnp.mean(jnp.max(X @ W, axis=1)),
                                max_of_each_row_grad, W, X)  # fmt: skip
    assert vectorized.ok and not vectorized.fd_eager and vectorized.fd_eager_reason is None
    assert "eagerly" not in str(vectorized)


def raises(error):
    def function(*args):
        raise error

    return function


def square(p):
    return jnp.sum(p**2)


def double(p):
    return 2 * p


def at_most_100(p):
    if p[0] > 100:  # Python control flow: vmap fails, the eager steps cross the edge
        raise ValueError("p[0] must be at most 100")
    return jnp.sum(p**2)


def through_numpy(p):
    return np.sum(np.asarray(p) ** 2)  # fine eagerly, not under jax.grad


def fails_away_from_params(p):
    if float(p[1]) != 2.0:
        raise ZeroDivisionError("only at params")
    return jnp.sum(p**2)


@pytest.mark.parametrize(
    ("loss", "grad", "params", "stage", "message"),
    [
        (square, raises(KeyError("w")), [1.0, 2.0], "hand-derived gradient",
         "evaluating the hand-derived gradient failed at params: KeyError: 'w'"),
        (raises(TypeError("bad shapes\nmore")), double, [1.0, 2.0], "loss",
         "evaluating the loss failed at params: TypeError: bad shapes"),
        (fails_away_from_params, double, [1.0, 2.0], "loss",
         "evaluating the loss failed at point 1 (a random point near params): "
         "ZeroDivisionError: only at params"),
        (through_numpy, double, [1.0, 2.0], "autodiff",
         "autodiff of the loss (jax.grad) failed at params: TracerArrayConversionError: "),
        (at_most_100, double, [100 - 1e-4, 1.0], "finite differences",
         "finite differences of the loss failed at params: ValueError: p[0] must be at most 100"),
    ],
)  # fmt: skip
def test_an_error_names_the_stage_and_the_users_exception(loss, grad, params, stage, message):
    with pytest.raises(ValueError) as raised:
        points = 1 if stage != "loss" else 3
        # autodiff=True: a loss JAX cannot differentiate is an error, not a check by
        # finite differences alone.
        check_gradient(loss, grad, np.array(params), num_points=points, autodiff=True)
    error = raised.value
    assert type(error).__name__ == "GradientCheckError"
    assert error.stage == stage
    assert str(error).startswith(message), str(error)
    assert "\n" not in str(error)
    assert error.__cause__ is error.error
