"""The linear model: its parameters as a pytree, and its prediction."""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class Linear(NamedTuple):
    """Parameters of a linear model ``y ≈ X @ w + b``, or ``y ≈ X @ w`` without ``b``.

    A NamedTuple, so it is a JAX pytree: ``jax.grad`` returns a ``Linear`` of
    partial derivatives and optax updates it leaf by leaf. A model through the
    origin has ``b=None`` (the default), an empty subtree: nothing is fitted for it.

    Attributes:
        w: the weights, shape ``(d,)``. With one feature, ``w[0]`` is the
            tutorial's slope ``m``.
        b: the intercept, a scalar (shape ``()``), or None for no intercept.

    The leaves are JAX arrays in a fit; on the host (a closed form, the parameters in
    original units) they are NumPy arrays, and ``b`` may be a float.

    Example:
        >>> import jax.numpy as jnp
        >>> Linear(w=jnp.array([2.0]), b=jnp.array(1.0)).w.shape
        (1,)
        >>> Linear(w=jnp.array([2.0])).b is None  # through the origin
        True
    """

    w: jax.Array | np.ndarray
    b: jax.Array | np.ndarray | float | None = None

    @classmethod
    def zeros(cls, num_features: int, dtype=jnp.float32, *, intercept: bool = True) -> "Linear":
        """The tutorial's starting point: every weight and the intercept at zero.

        ``intercept=False``: a model through the origin (``b=None``).

        Example:
            >>> Linear.zeros(3).w.tolist(), Linear.zeros(3).b.tolist()
            ([0.0, 0.0, 0.0], 0.0)
            >>> Linear.zeros(2, intercept=False).b is None
            True
        """
        # From NumPy: a transfer, where jnp.zeros would compile an operation (CLI latency).
        b = jnp.asarray(np.zeros((), dtype), dtype) if intercept else None
        return cls(w=jnp.asarray(np.zeros((num_features,), dtype), dtype), b=b)


def flat(params: Linear) -> np.ndarray:
    """The params as one float64 NumPy array on the host, ``[w..., b]`` (``[w...]`` without b).

    Example:
        >>> import jax.numpy as jnp
        >>> flat(Linear(jnp.array([2.0, 3.0]), jnp.array(1.0))).tolist()
        [2.0, 3.0, 1.0]
    """
    w = np.ravel(params.w)
    return (w if params.b is None else np.append(w, params.b)).astype(np.float64)


def predict(params: Linear, X: jax.Array) -> jax.Array:
    """Predictions ``X @ w + b``, one per row.

    A 1-D ``X`` is one feature (d = 1): the prediction is ``m * x + b`` with
    ``m = w[0]``, as in the tutorial.

    Args:
        params: a ``Linear``.
        X: features, shape ``(N,)`` or ``(N, d)``.

    Returns:
        Predictions of shape ``(N,)``.

    Example:
        >>> import jax.numpy as jnp
        >>> predict(Linear(jnp.array([2.0]), jnp.array(1.0)), jnp.array([0.0, 1.0, 2.0]))
        Array([1., 3., 5.], dtype=float32)
    """
    predicted = X * params.w[0] if X.ndim == 1 else X @ params.w
    return predicted if params.b is None else predicted + params.b
