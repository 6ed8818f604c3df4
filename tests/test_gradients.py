"""jax.grad of the one cost against the tutorial's hand-derived partial derivatives."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import steepest
from steepest import Linear, analytic, mse

finite = st.floats(min_value=-10, max_value=10, allow_nan=False, allow_infinity=False)


# Fixed shapes, so that each compiles once: (rows, features, X 1-D), one row and 40 rows,
# one feature (X 1-D and 2-D) and five. Hypothesis draws the values.
SHAPES = [(1, 1, True), (1, 5, False), (7, 1, True), (7, 1, False), (40, 5, False)]


@st.composite
def problems(draw, rows: int, features: int, one_dimensional: bool):
    """A random (params, X, y) in float64 of the given shape, X 1-D (one feature) or 2-D."""
    shape = (rows,) if one_dimensional else (rows, features)
    X = np.array(draw(st.lists(finite, min_size=int(np.prod(shape)), max_size=int(np.prod(shape)))))
    y = np.array(draw(st.lists(finite, min_size=rows, max_size=rows)))
    w = np.array(draw(st.lists(finite, min_size=features, max_size=features)))
    b = draw(finite)
    return Linear(w, np.float64(b)), X.reshape(shape), y


def summand_scale(params, X, y):
    """(2/N) sum_i |x_i| m_i per weight and (2/N) sum_i m_i, with m_i = |y_i| + |x_i| . |w| + |b|.

    The residual y_i - (x_i . w + b) is computed from terms of size m_i, so its
    rounding error is relative to m_i, not to the (possibly cancelled) residual;
    the sum's error is relative to the sum of its terms' magnitudes. Tolerances
    scale with this.
    """
    features = X[:, None] if X.ndim == 1 else X
    magnitude = np.abs(y) + np.abs(features) @ np.abs(params.w) + np.abs(params.b)
    n = len(y)
    return 2 * np.abs(features).T @ magnitude / n + 1e-300, 2 * magnitude.sum() / n + 1e-300


def assert_gradients_close(got: Linear, want: Linear, scale, tol):
    np.testing.assert_allclose(np.asarray(got.w), want.w, rtol=0, atol=tol * scale[0].max())
    np.testing.assert_allclose(float(got.b), want.b, rtol=0, atol=tol * scale[1])


def reference_gradient(params, X, y) -> Linear:
    """The tutorial's loop, in float64 Python: the independent reference."""
    features = X[:, None] if X.ndim == 1 else X
    n = len(y)
    dw = np.zeros(features.shape[1])
    db = 0.0
    for i in range(n):
        residual = y[i] - (features[i] @ params.w + params.b)
        dw += -2 * features[i] * residual
        db += -2 * residual
    return Linear(dw / n, db / n)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@given(data=st.data())
def test_autodiff_equals_hand_derived_in_float64(shape, data):
    params, X, y = data.draw(problems(*shape))
    with jax.enable_x64(True):
        args = (
            Linear(jnp.asarray(params.w), jnp.asarray(params.b)),
            jnp.asarray(X),
            jnp.asarray(y),
        )
        autodiff = jax.grad(mse)(*args)
        by_hand = analytic.mse_grad(*args)
    scale = summand_scale(params, X, y)
    want = Linear(np.asarray(by_hand.w), float(by_hand.b))
    assert autodiff.w.dtype == jnp.float64
    assert_gradients_close(autodiff, want, scale, 1e-12)
    assert_gradients_close(by_hand, reference_gradient(params, X, y), scale, 1e-12)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@given(data=st.data())
def test_autodiff_and_hand_derived_agree_in_float32(shape, data):
    """Both float32 gradients lie within 4 N eps32 of the float64 reference.

    The tolerance is the textbook bound for summing N terms in float32
    ((N - 1) eps times the sum of their absolute values), doubled twice for the
    rounding of the residuals and products that feed the sum. Matmuls run at
    "highest" precision: on a GPU the default (TF32) is 1.6e-4 off, by design.
    """
    params, X, y = data.draw(problems(*shape))
    args32 = (
        Linear(jnp.asarray(params.w, jnp.float32), jnp.asarray(params.b, jnp.float32)),
        jnp.asarray(X, jnp.float32),
        jnp.asarray(y, jnp.float32),
    )
    # The reference sees the same float32-rounded inputs, so only the arithmetic differs.
    rounded = jax.tree.map(lambda a: np.asarray(a, np.float64), args32)
    want = reference_gradient(*rounded)
    scale = summand_scale(*rounded)
    tol = 4 * len(y) * np.finfo(np.float32).eps
    with jax.default_matmul_precision("highest"):
        computed = (jax.grad(mse)(*args32), analytic.mse_grad(*args32))
    for got in computed:
        assert got.w.dtype == jnp.float32
        assert_gradients_close(got, want, scale, tol)


def test_mse_is_the_tutorials_cost():
    X = [1.0, 2.0, 4.0]
    Y = [3.0, 5.0, 8.0]
    m, b = 1.5, 0.5
    by_loop = sum((Y[i] - (m * X[i] + b)) ** 2 for i in range(3)) / 3
    with jax.enable_x64(True):
        cost = mse(Linear(jnp.array([m]), jnp.array(b)), jnp.array(X), jnp.array(Y))
    assert float(cost) == pytest.approx(by_loop, rel=1e-15)


def test_one_dimensional_x_is_one_feature():
    X = jnp.array([1.0, 2.0, 3.0])
    y = jnp.array([1.0, 0.0, 2.0])
    params = Linear(jnp.array([0.5]), jnp.array(0.25))
    assert float(mse(params, X, y)) == float(mse(params, X[:, None], y))
    assert jax.grad(mse)(params, X, y).w.shape == (1,)
    assert steepest.predict(params, X).shape == (3,)
