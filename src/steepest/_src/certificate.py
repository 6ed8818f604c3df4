"""The certificate of a fit: how far its params can be from the exact minimizer.

For a cost exactly quadratic in its params (the mean squared error of a linear
model, ridge: whatever ``fit(..., method="quadratic")`` accepts), with Hessian
``H`` and minimizer ``p*``, the gradient is ``g(p) = H (p - p*)``, so

.. math::

    p - p^* = H^{-1} g(p), \\qquad
    \\|p - p^*\\| \\le \\frac{\\|g\\|}{\\mu}, \\qquad
    |p_i - p^*_i| \\le \\|(H^{-1})_{i,:}\\| \\, \\|g\\|,

with :math:`\\mu` the smallest eigenvalue of ``H``. ``H`` comes from autodiff
and ``g`` is evaluated at the final params, both in float64 whatever the run's
dtype. To ``||g||`` is added an estimate of its own rounding error,
``ROUNDING_FACTOR * eps * (L ||p|| + sqrt(2 L f(0)) + sqrt(2 L |f(p)|))``
(``L`` the largest eigenvalue): for the mean squared error, the terms of
``g = (2/N) X~^T (X~ p - y)`` are bounded by these three (the fitted part, the
target and the residual, by Cauchy-Schwarz), and each is summed with a relative
error of about ``eps`` per level of a pairwise sum.

``H`` itself is rounded: its entries are sums over the rows as ``g``'s are, each
within ``ROUNDING_FACTOR * eps * sqrt(H_ii H_jj)`` for a sum of squares (Cauchy-Schwarz
again), so ``||H_computed - H|| <= ROUNDING_FACTOR * eps * trace(H)``, and ``eigh`` adds
``d * eps * ||H||``. Every eigenvalue is taken that much lower (``QuadraticCost.noise``):
``mu`` is then a lower bound on the true one, never noise. Where it reaches zero the
data do not determine the minimizer to float64 precision, and no certificate is given.
"""

import dataclasses
import functools
import math
from collections.abc import Callable, Collection
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from . import blocks, display, quadratic, theory

# The rounding estimate's margin over eps (about the depth of a pairwise sum of 1e7 terms).
ROUNDING_FACTOR = 32


@dataclasses.dataclass(frozen=True)
class QuadraticCost:
    """The Hessian of a quadratic cost, in float64, and what certificates take from it.

    Attributes:
        eigenvalues: of the computed Hessian, ascending.
        eigenvectors: the matching columns.
        value_at_zero: the cost at ``p = 0`` (for the rounding estimate).
        hessian, value, gradient: the Hessian, and the cost and its flattened gradient at
            the params it was formed at (``quadratic_cost``'s); None when not known.
        noise: a bound on how far rounding moved each eigenvalue (``hessian_noise``).
        center: the flattened params the cost was formed at; None when not known.
    """

    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    value_at_zero: float
    hessian: np.ndarray | None = dataclasses.field(default=None, repr=False)
    value: float | None = None
    gradient: np.ndarray | None = dataclasses.field(default=None, repr=False)
    noise: float = 0.0
    center: np.ndarray | None = dataclasses.field(default=None, repr=False)

    @property
    def L(self) -> float:
        return float(self.eigenvalues[-1])

    @property
    def mu(self) -> float:
        """A lower bound on the exact Hessian's smallest eigenvalue: the computed one less
        its rounding (``noise``); at most 0 when the data do not determine the minimizer."""
        return float(self.eigenvalues[0]) - self.noise

    @property
    def condition_number(self) -> float:
        """``L / mu``, an upper bound on the exact one; infinite when ``mu <= 0``."""
        return self.L / self.mu if self.mu > 0 else math.inf

    def predicts(self, flat_params, value: float, gradient) -> bool:
        """Whether the quadratic model formed at ``center`` gives the float64 ``value`` and
        ``gradient`` of the loss at ``flat_params`` (a run's final params), to rounding:
        a cost quadratic only near its start (Huber's, a squared hinge) fails here, the
        one probe near the start having passed. True when the model is not known.

        Example:
            >>> import jax.numpy as jnp
            >>> from steepest import Linear, mse
            >>> X = jnp.array([-1.0, 1.0]); y = jnp.array([0.0, 2.0])
            >>> cost = quadratic_cost(mse, Linear(jnp.zeros(1), jnp.array(0.0)), X, y)
            >>> cost.predicts(np.array([1.0, 1.0]), 0.0, np.zeros(2))  # the minimizer
            True
            >>> cost.predicts(np.array([1.0, 1.0]), 0.5, np.zeros(2))  # another cost there
            False
        """
        if self.center is None or self.hessian is None or self.gradient is None:
            return True
        step = np.asarray(flat_params, np.float64) - self.center
        return _models(self.hessian, self.value, self.gradient, step, value, gradient)

    def model(self, params, value_dtype=None) -> tuple:
        """``quadratic.quadratic_model`` at ``params`` (those this cost was formed at), from
        this float64 Hessian, value and gradient: no second pass over the data for
        ``fit(..., method="quadratic")``. H, g and the center in the params' dtype, the
        value in ``value_dtype`` (the loss's; default: the params').

        Example:
            >>> import jax.numpy as jnp
            >>> from steepest import Linear, mse
            >>> X = jnp.array([-1.0, 1.0]); y = jnp.array([0.0, 2.0])
            >>> start = Linear(jnp.zeros(1), jnp.array(0.0))
            >>> H, g, value, center = quadratic_cost(mse, start, X, y).model(start)
            >>> H.tolist(), g.tolist(), float(value), H.dtype
            ([[2.0, 0.0], [0.0, 2.0]], [-2.0, -2.0], 2.0, dtype('float32'))
        """
        center = ravel_pytree(params)[0]
        dtype = center.dtype
        return (
            jnp.asarray(self.hessian, dtype),
            jnp.asarray(self.gradient, dtype),
            jnp.asarray(self.value, value_dtype or dtype),
            center,
        )


def rule_mu(cost: QuadraticCost | None) -> float:
    """The ``mu`` the stop rule takes (``stopping.has_converged``): the computed Hessian's
    smallest eigenvalue when it is positive, else 0, which selects the rule without ``mu``.
    (The rule only decides when to stop; the certificate, from ``cost.mu``, what is certain.)

    Example:
        >>> rule_mu(None), rule_mu(QuadraticCost(np.array([0.5, 2.0]), np.eye(2), 0.0))
        (0.0, 0.5)
    """
    smallest = float(cost.eigenvalues[0]) if cost is not None else 0.0
    return smallest if smallest > 0 else 0.0


def quadratic_cost(
    loss: Callable, params, *data, tags: Collection = frozenset(), block_rows=None
) -> QuadraticCost | None:
    """The float64 Hessian of ``loss`` when it is exactly quadratic in ``params``, else None.

    Quadratic means: from ``H``, the value ``f`` and gradient ``g`` at ``params``,
    the model ``f + g.s + s.H s / 2`` and its gradient ``g + H s`` match the loss at
    ``params + s``, ``s`` a fixed random direction (``quadratic.probe``), up to float64
    rounding.
    None too above ``theory.MAX_DENSE_HESSIAN`` parameters: no dense Hessian is formed.

    Example:
        >>> import jax.numpy as jnp
        >>> from steepest import Linear, mse
        >>> X = jnp.array([-1.0, 1.0]); y = jnp.array([0.0, 2.0])
        >>> cost = quadratic_cost(mse, Linear(jnp.zeros(1), jnp.array(0.0)), X, y)
        >>> cost.eigenvalues.tolist(), round(cost.condition_number, 9), cost.value_at_zero
        ([2.0, 2.0], 1.0, 2.0)
        >>> quadratic_cost(lambda p, x: jnp.sum(jnp.cosh(p * x)), jnp.zeros(2), jnp.ones(2)) is None
        True
    """
    if sum(np.size(leaf) for leaf in jax.tree.leaves(params)) > theory.MAX_DENSE_HESSIAN:
        return None
    block_rows = blocks.resolve_block_rows(block_rows, loss, data, tags)
    with jax.enable_x64(True):
        params = _float64(params)
        hessian = theory.hessian(loss, params, *data, tags=tags, block_rows=block_rows)
        center, unravel = _ravel64(params)
        step = np.asarray(quadratic.probe(center.size, jnp.float64))
        value, gradient = value_and_grad64(loss, params, *data, block_rows=block_rows)
        there = unravel(center + step)
        value_there, gradient_there = value_and_grad64(loss, there, *data, block_rows=block_rows)
    if not np.all(np.isfinite(hessian)):
        return None
    if not _models(hessian, value, gradient, step, value_there, gradient_there):
        return None
    return from_hessian(hessian, value, gradient, center)


def from_hessian(hessian, value: float, gradient, center) -> QuadraticCost:
    """The ``QuadraticCost`` of a cost known to be quadratic, from its float64 ``hessian``
    and its ``value`` and flat ``gradient`` at the flat params ``center`` (a streamed
    file's, summed over its chunks).

    Example:
        >>> cost = from_hessian(np.diag([2.0, 8.0]), 1.0, np.zeros(2), np.zeros(2))
        >>> cost.L, round(cost.condition_number, 9), cost.value_at_zero
        (8.0, 4.0, 1.0)
    """
    hessian = np.asarray(hessian, np.float64)
    gradient = np.asarray(gradient, np.float64)
    center = np.asarray(center, np.float64)
    eigenvalues, eigenvectors = np.linalg.eigh(hessian)
    value_at_zero = value - gradient @ center + 0.5 * center @ hessian @ center
    return QuadraticCost(
        eigenvalues, eigenvectors, float(value_at_zero), hessian, float(value), gradient,
        noise=hessian_noise(hessian, eigenvalues), center=center,
    )  # fmt: skip


def _models(hessian, value, gradient, step, value_there, gradient_there) -> bool:
    """Whether ``f + g.s + s.H s / 2`` and ``g + H s`` (``f``, ``g`` the ``value`` and
    ``gradient`` at a point) give ``value_there`` and ``gradient_there`` at the point
    ``step`` away, to float64 rounding."""
    curved = hessian @ step
    eps = np.finfo(np.float64).eps
    predicted = value + gradient @ step + 0.5 * step @ curved
    value_scale = abs(value) + abs(value_there) + abs(gradient @ step) + abs(step @ curved) + 1
    gradient_scale = np.max(np.abs(gradient) + np.abs(gradient_there) + np.abs(curved)) + 1
    return bool(
        abs(predicted - value_there) <= 1e3 * eps * value_scale
        and np.max(np.abs(gradient_there - gradient - curved)) <= 1e3 * eps * gradient_scale
    )


def hessian_noise(hessian: np.ndarray, eigenvalues: np.ndarray) -> float:
    """A bound on how far rounding moved the eigenvalues of a float64 ``hessian`` formed as
    a sum over rows: ``ROUNDING_FACTOR * eps * sum_i |H_ii|`` for its entries, plus
    ``d * eps * max |lambda|`` for ``eigh`` (the module's derivation).

    Example:
        >>> H = np.array([[2.0, 2.0], [2.0, 2.0 + 1e-14]])  # singular to float64 precision
        >>> lowest = np.linalg.eigvalsh(H)
        >>> bool(lowest[0] > 0), bool(lowest[0] - hessian_noise(H, lowest) > 0)
        (True, False)
    """
    eps = float(np.finfo(np.float64).eps)
    largest = float(np.max(np.abs(eigenvalues))) if eigenvalues.size else 0.0
    diagonal = float(np.sum(np.abs(np.diag(hessian))))
    return ROUNDING_FACTOR * eps * diagonal + len(eigenvalues) * eps * largest


@dataclasses.dataclass(frozen=True)
class Certificate:
    """How far a fit's params can be from the exact minimizer (the module's formulas).

    Attributes:
        condition_number: ``L / mu`` of the Hessian.
        gradient_norm: ``||g||`` at the params, in float64.
        rounding: the estimated rounding error of ``gradient_norm``.
        distance: the bound on ``||p - p*||``: ``(gradient_norm + rounding) / mu``.
        relative: ``distance / ||p||``.
        bounds: the bound on ``|p_i - p*_i|`` of each parameter, a pytree like the params.
    """

    condition_number: float
    gradient_norm: float
    rounding: float
    distance: float
    relative: float
    bounds: Any
    scaled_eigenvectors: np.ndarray = dataclasses.field(repr=False)  # V diag(1 / lambda)

    def meets(self, rtol: float) -> bool:
        """Whether the params are certainly within ``rtol`` of the minimizer, relative to
        their norm.

        Example:
            >>> cost = QuadraticCost(np.array([1.0]), np.eye(1), 0.0)
            >>> certify(cost, np.array([1.0]), value=0.0, gradient=np.array([1e-7])).meets(1e-6)
            True
        """
        return self.relative <= rtol

    @property
    def at_floor(self) -> bool:
        """Whether the gradient is within its own rounding error: no run in float64 could
        certify more than this certificate does, however many digits that is.

        Example:
            >>> cost = QuadraticCost(np.array([1.0]), np.eye(1), 0.0)
            >>> certify(cost, np.array([1.0]), value=0.0, gradient=np.array([1e-20])).at_floor
            True
        """
        return self.gradient_norm <= self.rounding

    @property
    def digits(self) -> int:
        """The digits the bound guarantees, norm-wise: ``floor(-log10(relative))``, at least 0."""
        if self.relative == 0:
            return 16
        if not 0 < self.relative < 1:  # NaN, infinite (params of norm 0), or 1 and above
            return 0
        return math.floor(-math.log10(self.relative))

    def to_dict(self, bounds: Any = None) -> dict[str, Any]:
        """The certificate's numbers as plain data, with ``bounds`` (default: its own, per
        parameter, as plain lists; a caller's in other coordinates in their place).

        Example:
            >>> cost = QuadraticCost(np.array([1.0]), np.eye(1), 0.0)
            >>> proof = certify(cost, np.array([1.0]), value=0.0, gradient=np.array([1e-7]))
            >>> sorted(proof.to_dict())
            ['bounds', 'condition_number', 'digits', 'distance', 'relative']
        """
        return {
            "bounds": display.plain(self.bounds) if bounds is None else bounds,
            "distance": self.distance,
            "relative": self.relative,
            "digits": self.digits,
            "condition_number": self.condition_number,
        }

    def bounds_of(self, jacobian: np.ndarray) -> np.ndarray:
        """Bounds on ``|q_i - q*_i|`` for other coordinates ``q = J p + c`` of the params
        (flattened as ``ravel_pytree``): ``||(J H^{-1})_{i,:}|| (||g|| + rounding)``.

        Example:
            >>> cost = QuadraticCost(np.array([1.0, 4.0]), np.eye(2), 0.0)
            >>> c = certify(cost, np.array([1.0, 1.0]), value=0.0, gradient=np.array([0.1, 0.0]))
            >>> c.bounds_of(np.diag([1.0, 10.0])).round(3).tolist()  # the 2nd scaled by 10
            [0.1, 0.25]
        """
        mapped = np.asarray(jacobian, np.float64) @ self.scaled_eigenvectors
        return np.linalg.norm(mapped, axis=1) * (self.gradient_norm + self.rounding)

    def sentence(self) -> str:
        """The certificate in words.

        Example:
            >>> cost = QuadraticCost(np.array([1.0, 4.0]), np.eye(2), 0.0)
            >>> p, g = np.array([1.0, 0.0]), np.array([1e-7, 0.0])
            >>> certify(cost, p, value=0.0, gradient=g).sentence()[:50]
            'coefficients certain to about 6 digits (norm-wise:'
        """
        digits = self.digits
        certain = (
            "no digit of the coefficients is certain"
            if digits == 0
            else f"coefficients certain to about {digits} digit{'s' if digits > 1 else ''}"
        )
        return (
            f"{certain} (norm-wise: distance to the minimizer <= {self.distance:.2g}, "
            f"condition number {display.compact(self.condition_number)} of the Hessian)"
        )


def certify(cost: QuadraticCost, flat_params, *, value: float, gradient, unravel=None):
    """The certificate at params ``flat_params`` (flattened), from the float64 cost
    ``value`` and ``gradient`` there; None when the Hessian is singular.

    ``unravel`` gives ``bounds`` the params' structure (else a flat array).

    Example:
        >>> cost = QuadraticCost(np.array([2.0]), np.eye(1), 1.0)  # f(p) = (p - 1)**2 ...
        >>> c = certify(cost, np.array([0.999]), value=1e-6, gradient=np.array([-0.002]))
        >>> round(c.distance, 6), c.digits  # ... |p - p*| = 0.002 / 2
        (0.001, 2)
    """
    if not cost.mu > 0:
        return None
    flat_params = np.asarray(flat_params, np.float64)
    gradient_norm = float(np.linalg.norm(gradient))
    params_norm = float(np.linalg.norm(flat_params))
    eps = float(np.finfo(np.float64).eps)
    rounding = (
        ROUNDING_FACTOR
        * eps
        * (
            cost.L * params_norm
            + math.sqrt(2 * cost.L * max(cost.value_at_zero, 0.0))
            + math.sqrt(2 * cost.L * abs(value))
        )
    )
    distance = (gradient_norm + rounding) / cost.mu
    scaled = cost.eigenvectors / (cost.eigenvalues - cost.noise)  # each lowered, as mu is
    bounds = np.linalg.norm(scaled, axis=1) * (gradient_norm + rounding)
    return Certificate(
        condition_number=cost.condition_number,
        gradient_norm=gradient_norm,
        rounding=rounding,
        distance=distance,
        relative=distance / params_norm
        if params_norm > 0
        else (0.0 if distance == 0 else math.inf),
        bounds=bounds if unravel is None else unravel(bounds),
        scaled_eigenvectors=scaled,
    )


def value_and_grad64(loss: Callable, params, *data, block_rows: int | None = None):
    """The cost and its flattened gradient at ``params``, evaluated in float64
    (``params`` cast up; float32 data promote inside the loss), a block of rows at a
    time when ``block_rows`` is set. Returns NumPy float64.

    Example:
        >>> import jax.numpy as jnp
        >>> from steepest import Linear, mse
        >>> value, grad = value_and_grad64(mse, Linear.zeros(1), jnp.ones(2), jnp.ones(2))
        >>> float(value), grad.tolist(), grad.dtype
        (1.0, [-2.0, -2.0], dtype('float64'))
    """
    with jax.enable_x64(True):
        compiled = _compiled_value_and_grad(loss, block_rows, blocks.row_sharding(data))
        value, grad = compiled(_float64(params), *data)
        return np.float64(value), np.asarray(grad, np.float64)


def values64(loss: Callable, stacked_params, *data, block_rows: int | None = None) -> np.ndarray:
    """The cost at each of ``stacked_params`` (params stacked along a first axis), in
    float64 as ``value_and_grad64``'s, in one compiled call. Runs are evaluated side by
    side as many at a time as keep about ``VALUES_AT_ONCE`` rows in flight.

    Example:
        >>> import jax.numpy as jnp
        >>> from steepest import Linear, mse
        >>> stacked = Linear(jnp.array([[0.0], [1.0]]), jnp.zeros(2))  # two params
        >>> values64(mse, stacked, jnp.ones(2), jnp.ones(2)).tolist()
        [1.0, 0.0]
    """
    runs = len(jax.tree.leaves(stacked_params)[0])
    rows = blocks.num_rows(data) or 1
    at_once = max(1, min(runs, VALUES_AT_ONCE // min(rows, block_rows or rows)))
    with jax.enable_x64(True):
        compiled = _compiled_values(loss, block_rows, blocks.row_sharding(data), at_once)
        values = compiled(_float64(stacked_params), *data)
        return np.asarray(values, np.float64)


VALUES_AT_ONCE = 2**20


@functools.lru_cache(maxsize=64)
def _compiled_values(loss: Callable, block_rows: int | None, sharding, at_once: int):
    value = blocks.by_blocks(loss, block_rows, sharding)
    return jax.jit(
        lambda stacked, *data: jax.lax.map(lambda p: value(p, *data), stacked, batch_size=at_once)
    )


@functools.lru_cache(maxsize=64)
def _compiled_value_and_grad(loss: Callable, block_rows: int | None, sharding):
    value_and_grad = blocks.value_and_grad(loss, block_rows, sharding)

    def flattened(params, *data):
        value, grad = value_and_grad(params, *data)
        return value, ravel_pytree(grad)[0]

    return jax.jit(flattened)


def _float64(tree):
    """``tree`` with every floating leaf as a float64 NumPy array, for a compiled call.

    On the host, where casting jax arrays would compile an operation per dtype and shape
    (CLI latency); params are small, and replicated where the data span processes.
    """

    def cast(leaf):
        leaf = np.asarray(leaf)
        # jnp's test: NumPy's own does not count bfloat16 as floating.
        return leaf.astype(np.float64) if jnp.issubdtype(leaf.dtype, jnp.floating) else leaf

    return jax.tree.map(cast, tree)


def _ravel64(tree) -> tuple[np.ndarray, Callable]:
    """``ravel_pytree`` of a tree of NumPy arrays, on the host: the flat float64 vector and
    the function that puts a vector back into the tree's shapes and dtypes.

    Example:
        >>> flat, unravel = _ravel64({"a": np.ones(2), "b": np.float64(3.0)})
        >>> flat.tolist(), unravel(flat + 1)["b"].tolist()
        ([1.0, 1.0, 3.0], 4.0)
    """
    leaves, treedef = jax.tree.flatten(tree)
    leaves = [np.asarray(leaf) for leaf in leaves]
    flat = np.concatenate([np.ravel(leaf).astype(np.float64) for leaf in leaves] or [np.zeros(0)])
    ends = np.cumsum([leaf.size for leaf in leaves])

    def unravel(vector):
        pieces = np.split(np.asarray(vector), ends)[:-1]  # the last piece is empty
        shaped = zip(pieces, leaves, strict=True)
        return jax.tree.unflatten(
            treedef, [piece.reshape(leaf.shape).astype(leaf.dtype) for piece, leaf in shaped]
        )

    return flat, unravel
