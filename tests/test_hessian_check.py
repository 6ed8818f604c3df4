"""Hand-derived Hessians checked against autodiff (issue 24, first step): each planted
mistake named, each correct Hessian passing in float32 and float64.

The losses are the tutorial's mean squared error of ``Linear(w, b)``, with a ridge
penalty, and logistic regression; their Hessians are written here by hand over the
flattened params ``[w..., b]`` (``ravel_pytree``'s order)."""

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import pytest
from problems import regression_problem

from steepest import Linear, check_hessian, check_hvp, mse
from steepest.testing import assert_hessian_matches

ROWS, FEATURES, PENALTY = 40, 3, 0.3


@pytest.fixture(scope="module")
def data():
    return regression_problem(21, ROWS, FEATURES)


def ridge(params, X, y):
    return mse(params, X, y) + PENALTY / 2 * jnp.sum(params.w**2)


def design(X):
    return jnp.column_stack([X, jnp.ones(len(X), X.dtype)])


def ridge_hessian(params, X, y):
    """(2/N) [X 1]^T [X 1] + PENALTY on w's diagonal."""
    A = design(X.astype(params.w.dtype))
    penalty = jnp.diag(jnp.append(jnp.full(FEATURES, PENALTY), 0.0)).astype(A.dtype)
    return 2 * A.T @ A / len(X) + penalty


def logistic(params, X, y):
    z = X @ params.w + params.b
    return jnp.mean(jnp.logaddexp(0.0, z) - (y > 0) * z)


def logistic_hessian(params, X, y):
    """(1/N) [X 1]^T diag(s (1 - s)) [X 1], s the sigmoid of the logits."""
    A = design(X.astype(params.w.dtype))
    s = jax.nn.sigmoid(X.astype(params.w.dtype) @ params.w + params.b)
    return A.T @ (A * (s * (1 - s))[:, None]) / len(X)


def start(dtype):
    return Linear(jnp.asarray([0.5, -1.0, 2.0], dtype), jnp.asarray(0.25, dtype))


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
@pytest.mark.parametrize(
    ("loss", "hessian"), [(ridge, ridge_hessian), (logistic, logistic_hessian)],
    ids=["ridge", "logistic"],
)  # fmt: skip
def test_a_correct_hessian_passes(x64, data, dtype, loss, hessian):
    X, y = (jnp.asarray(a, dtype) for a in data)
    report = check_hessian(loss, hessian, start(dtype), X, y)
    assert report.ok, str(report)
    assert report.names == ("w[0]", "w[1]", "w[2]", "b") and report.points == 3


def sum_not_mean(params, X, y):
    return ridge_hessian(params, X, y) * len(X) - PENALTY * (len(X) - 1) * _w_diagonal(params)


def _w_diagonal(params):
    return jnp.diag(jnp.append(jnp.ones(FEATURES), 0.0)).astype(params.w.dtype)


MISTAKES = [
    (mse, lambda p, X, y: ridge_hessian(p, X, y) / 2 - PENALTY / 2 * _w_diagonal(p),
     "off by a factor of 1/2: it is 1/2 times autodiff's"),
    (mse, lambda p, X, y: (ridge_hessian(p, X, y) - PENALTY * _w_diagonal(p)) * len(X),
     "off by a factor of N (= 40)"),
    (ridge, lambda p, X, y: ridge_hessian(p, X, y) - PENALTY * _w_diagonal(p),
     "a penalty (0.3/2)·||w||² missing (a difference of -0.3·I on w)"),
    (mse, ridge_hessian, "a penalty (0.3/2)·||w||² extra (a difference of +0.3·I on w)"),
    (ridge, lambda p, X, y: ridge_hessian(p, X, y).at[:FEATURES, FEATURES].set(0.0)
     .at[FEATURES, :FEATURES].set(0.0), "missing the cross term between w and b"),
    (ridge, lambda p, X, y: ridge_hessian(p, X, y).at[0, 1].add(0.5),
     "not symmetric: entry (w[0], w[1])"),
    (ridge, lambda p, X, y: ridge_hessian(p, X, y).at[2, 2].add(0.5),
     "differs from autodiff's at entry (w[2], w[2])"),
]  # fmt: skip


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
@pytest.mark.parametrize(("loss", "hessian", "words"), MISTAKES, ids=[m[2] for m in MISTAKES])
def test_each_planted_mistake_is_named(x64, data, dtype, loss, hessian, words):
    X, y = (jnp.asarray(a, dtype) for a in data)
    report = check_hessian(loss, hessian, start(dtype), X, y)
    assert not report.ok and words in report.diagnosis, str(report)
    with pytest.raises(AssertionError, match="Hessian check failed"):
        assert_hessian_matches(loss, hessian, start(dtype), X, y)


def test_blocks_as_jax_hessian_nests_them_are_read_too(x64, data):
    X, y = (jnp.asarray(a) for a in data)
    report = check_hessian(ridge, jax.hessian(ridge), start(jnp.float64), X, y)
    assert report.ok, str(report)


def test_a_loss_not_twice_differentiable_there_is_said_not_judged():
    """|w| at w = 0: autodiff's Hessian there is 0, the gradient jumps from -1 to 1."""
    report = check_hessian(lambda p: jnp.sum(jnp.abs(p)), lambda p: jnp.zeros((2, 2)),
                           jnp.zeros(2))  # fmt: skip
    assert not report.ok and "not twice differentiable at these params" in report.diagnosis
    np.testing.assert_equal(report.largest_error, np.nan)


def tanh_model(params, X):
    return jnp.tanh(X @ params.w + params.b)


def tanh_loss(params, X, y):
    return jnp.mean((tanh_model(params, X) - y) ** 2)


def gauss_newton(params, X, y):
    """(2/N) J^T J, J the Jacobian of the model's outputs: the residuals' curvature left out."""
    flat, unravel = jax.flatten_util.ravel_pytree(params)
    J = jax.jacfwd(lambda v: tanh_model(unravel(v), X))(flat)
    return 2 * J.T @ J / len(X)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_the_gauss_newton_approximation_is_named_as_such(x64, data, dtype):
    X, y = (jnp.asarray(a, dtype) for a in data)
    report = check_hessian(tanh_loss, gauss_newton, start(dtype), X, y)
    assert not report.ok and "the Gauss-Newton approximation, not the Hessian" in report.diagnosis
    assert check_hessian(tanh_loss, jax.hessian(tanh_loss), start(dtype), X, y).ok


def ridge_hvp(params, vector, X, y):
    """(2/N) A^T (A v) + PENALTY v_w, A = [X 1], without forming the Hessian."""
    A = design(X.astype(params.w.dtype))
    flat_v = jnp.append(vector.w, vector.b)
    product = 2 * A.T @ (A @ flat_v) / len(X)
    return Linear(product[:FEATURES] + PENALTY * vector.w, product[FEATURES])


PRODUCT_MISTAKES = [
    (lambda p, v, X, y: Linear(*(2 * leaf for leaf in ridge_hvp(p, v, X, y))),
     "off by a factor of 2"),
    (lambda p, v, X, y: ridge_hvp(p, v, X, y)._replace(w=ridge_hvp(p, v, X, y).w - PENALTY * v.w),
     "a penalty (0.3/2)·||w||² missing (a difference of -0.3·v on w)"),
    (lambda p, v, X, y: ridge_hvp(p, v, X, y)._replace(b=jnp.zeros((), p.b.dtype)),
     "differs from autodiff's in entry b"),
]  # fmt: skip


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_a_hand_hessian_vector_product_is_checked_without_a_matrix(x64, data, dtype):
    X, y = (jnp.asarray(a, dtype) for a in data)
    assert check_hvp(ridge, ridge_hvp, start(dtype), X, y).ok
    for hvp, words in PRODUCT_MISTAKES:
        report = check_hvp(ridge, hvp, start(dtype), X, y)
        assert not report.ok and words in report.diagnosis, str(report)


def test_the_gauss_newton_product_is_named_as_such(x64, data):
    X, y = (jnp.asarray(a) for a in data)

    def gauss_newton_product(params, vector, X, y):
        flat, unravel = jax.flatten_util.ravel_pytree(params)
        v = jax.flatten_util.ravel_pytree(vector)[0]
        Jv = jax.jvp(lambda p: tanh_model(unravel(p), X), (flat,), (v,))[1]
        JtJv = jax.vjp(lambda p: tanh_model(unravel(p), X), flat)[1](Jv)[0]
        return unravel(2 * JtJv / len(X))

    report = check_hvp(tanh_loss, gauss_newton_product, start(jnp.float64), X, y)
    assert not report.ok and "Gauss-Newton approximation, not the Hessian" in report.diagnosis


def ridge_hessian_b_first(params, X, y):
    """The ridge Hessian with b's row and column first: a dict's sorted order, not Linear's."""
    order = jnp.array([FEATURES, *range(FEATURES)])
    return ridge_hessian(params, X, y)[order][:, order]


def matrix_loss(W, X, Y):
    return jnp.mean(jnp.sum((X @ W - Y) ** 2, axis=1))


def matrix_hessian(W, X, Y, column_major=False):
    """(2/N) X^T X ⊗ I (W's entries row by row, as ravel_pytree), or I ⊗ (2/N) X^T X
    (column by column, the vec of matrix calculus)."""
    gram, outputs = 2 * X.T @ X / len(X), jnp.eye(W.shape[1], dtype=W.dtype)
    return jnp.kron(outputs, gram) if column_major else jnp.kron(gram, outputs)


def bilinear_loss(p, A, B):
    return jnp.sum((A @ p["u"]) * (B @ p["v"])) + jnp.sum(p["u"] ** 2) / 2 + jnp.sum(p["v"] ** 2)


def bilinear_hessian(p, A, B, transposed=False):
    cross = A.T @ B  # d²f / du dv
    if transposed:
        cross = cross.T
    eye = jnp.eye(len(cross), dtype=cross.dtype)
    return jnp.block([[eye, cross], [cross.T, 2 * eye]])


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_a_hessian_laid_out_another_way_is_named(x64, data, dtype):
    X, y = (jnp.asarray(a, dtype) for a in data)
    report = check_hessian(ridge, ridge_hessian_b_first, start(dtype), X, y)
    assert not report.ok
    assert "it orders the params b, w, where ravel_pytree" in report.diagnosis, str(report)

    Y = jnp.stack([y, 2 * y - 1], axis=1)
    W = jnp.asarray([[0.5, -1.0], [2.0, 0.1], [0.3, 0.7]], dtype)
    assert check_hessian(matrix_loss, matrix_hessian, W, X, Y).ok
    report = check_hessian(matrix_loss, lambda *a: matrix_hessian(*a, column_major=True), W, X, Y)
    assert not report.ok
    assert "lays out params column by column" in report.diagnosis, str(report)

    A, B = (jnp.asarray(np.random.default_rng(seed).normal(size=(5, 3)), dtype) for seed in (1, 2))
    p = {"u": jnp.ones(3, dtype), "v": jnp.arange(3, dtype=dtype)}
    assert check_hessian(bilinear_loss, bilinear_hessian, p, A, B).ok
    report = check_hessian(bilinear_loss, lambda *a: bilinear_hessian(*a, transposed=True), p, A, B)
    assert not report.ok
    assert "block of (u, v) is transposed" in report.diagnosis, str(report)
