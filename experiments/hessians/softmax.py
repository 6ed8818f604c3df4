"""Softmax cross-entropy (multinomial logistic regression), one-hot labels Y.

    Z = X W + b,    P = softmax(Z) row by row,    f(W, b) = 1/N sum_i [logsumexp(Z_i) - Y_i . Z_i]
    S_i = diag(P_i) - P_i P_i^T    (the softmax's Jacobian)
    H_WW = 1/N sum_i (x_i x_i^T) ⊗ S_i,   H_Wb = 1/N sum_i x_i ⊗ S_i,   H_bb = 1/N sum_i S_i

W (d x k) is flattened row by row, as ravel_pytree does: entry (a, c) at a k + c, so the
Kronecker factors come in the order (x x^T) ⊗ S. Matrix calculus stacks vec(W) column by
column, which gives S ⊗ (x x^T): the classic mistake.
"""

import jax
import jax.numpy as jnp
import numpy as np

PARAMS = {"W": (4, 3), "b": (3,)}  # ravel_pytree's order: "W" sorts before "b"


def make_data(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((60, 4))
    labels = np.argmax(X @ rng.standard_normal((4, 3)) + rng.gumbel(size=(60, 3)), axis=1)
    return {"X": X, "Y": np.eye(3)[labels]}


def loss(params, X, Y):
    Z = X @ params["W"] + params["b"]
    return jnp.mean(jax.nn.logsumexp(Z, axis=1) - jnp.sum(Y * Z, axis=1))


def softmax_jacobians(params, X, full=True):
    P = jax.nn.softmax(X @ params["W"] + params["b"], axis=1)
    S = jax.vmap(jnp.diag)(P)
    return S - P[:, :, None] * P[:, None, :] if full else S


def blocks(params, X, S, column_major=False):
    """H_WW, H_Wb and H_bb, W's entries in their rows and columns taken row by row, or
    column by column."""
    (n, d), k = X.shape, S.shape[1]
    outer = X[:, :, None] * X[:, None, :]
    if column_major:
        WW = jnp.einsum("icd,iab->cadb", S, outer).reshape(d * k, d * k) / n
        Wb = jnp.einsum("ia,icd->cad", X, S).reshape(d * k, k) / n
    else:
        WW = jnp.einsum("iab,icd->acbd", outer, S).reshape(d * k, d * k) / n
        Wb = jnp.einsum("ia,icd->acd", X, S).reshape(d * k, k) / n
    return WW, Wb, jnp.mean(S, axis=0)


def assemble(WW, Wb, bb):
    return jnp.block([[WW, Wb], [Wb.T, bb]])


def hessian(params, X, Y):
    return assemble(*blocks(params, X, softmax_jacobians(params, X)))


def hessian_vec_by_column(params, X, Y):  # W's entries column by column: S ⊗ (x x^T)
    return assemble(*blocks(params, X, softmax_jacobians(params, X), column_major=True))


def hessian_no_cross_term(params, X, Y):  # W and b as if apart
    WW, Wb, bb = blocks(params, X, softmax_jacobians(params, X))
    return assemble(WW, jnp.zeros_like(Wb), bb)


def hessian_diagonal_softmax(params, X, Y):  # S = diag(P): the - P P^T forgotten
    return assemble(*blocks(params, X, softmax_jacobians(params, X, full=False)))


MISTAKES = {
    "hessian_vec_by_column": "lays out W column by column",
    "hessian_no_cross_term": "missing the cross term between W and b",
    "hessian_diagonal_softmax": "differs from autodiff's at entry",
}
