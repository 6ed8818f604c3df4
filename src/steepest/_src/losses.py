"""The cost, written once, and what is known of its structure (its tags).

This module is the only place the mean squared error is written. Its gradient
(``jax.grad``), its Hessian and the critical learning rate all derive from it
by autodiff; ``analytic.py`` holds the hand derivation kept to check against it.

Structure is declared, never guessed, the way optimistix and lineax take
``tags``: ``row_mean_tag`` says a loss is a mean over the rows of its data, so
the loop may evaluate it in row blocks. ``tags_of`` joins what a caller declares
with what this module knows of its own losses.
"""

from collections.abc import Callable, Collection

import jax
import jax.numpy as jnp
import numpy as np

from .model import Linear, predict


class Tag:
    """A named promise about a loss's structure, passed to ``fit`` and friends in ``tags``."""

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


row_mean_tag = Tag("row_mean_tag")
"""The loss is ``(1/N) sum_i l(params; row i of every data array)``, plus any term of
``params`` alone (a penalty such as ridge's): every data argument has the same ``N`` rows."""

quadratic_tag = Tag("quadratic_tag")
"""The loss is exactly quadratic in ``params`` everywhere (least squares, ridge): its
certificate needs no check that the quadratic model formed at the start still gives the
cost at the final params. Untagged, a loss gets a certificate only when it passes that
check (a loss quadratic near its start only, such as Huber's, does not)."""


def mse(params: Linear, X: jax.Array, y: jax.Array) -> jax.Array:
    """Mean squared error of a linear model.

    .. math::

        f(w, b) = \\frac{1}{N} \\sum_{i=1}^{N} \\bigl(y_i - (x_i \\cdot w + b)\\bigr)^2

    With one feature this is the tutorial's ``f(m, b)``. It is a mean over the rows
    of ``X`` and ``y``, so ``fit`` may evaluate it in row blocks, and exactly quadratic
    in ``w`` and ``b`` (its tags: ``row_mean_tag``, ``quadratic_tag``).

    Args:
        params: a ``Linear(w, b)``.
        X: features, shape ``(N,)`` (one feature) or ``(N, d)``.
        y: targets, shape ``(N,)``.

    Returns:
        The cost, a scalar.

    Example:
        >>> import jax.numpy as jnp
        >>> from steepest import Linear
        >>> X = jnp.array([1.0, 2.0, 3.0]); y = jnp.array([2.0, 4.0, 6.0])
        >>> float(mse(Linear(jnp.array([2.0]), jnp.array(0.0)), X, y))
        0.0
        >>> round(float(mse(Linear(jnp.array([0.0]), jnp.array(0.0)), X, y)), 4)  # (4+16+36)/3
        18.6667
    """
    residual = y - predict(params, X)
    return jnp.mean(residual**2)


KNOWN_TAGS: dict[Callable, frozenset] = {mse: frozenset({row_mean_tag, quadratic_tag})}


def tags_of(loss: Callable, tags: Collection = frozenset()) -> frozenset:
    """The tags of ``loss``: those declared, and those known of steepest's own losses.

    Example:
        >>> sorted(map(repr, tags_of(mse))), tags_of(lambda p: p)
        (['quadratic_tag', 'row_mean_tag'], frozenset())
        >>> tags_of(lambda p: p, [row_mean_tag])
        frozenset({row_mean_tag})
    """
    unknown = [tag for tag in tags if not isinstance(tag, Tag)]
    if unknown:
        raise ValueError(f"tags must be steepest tags such as row_mean_tag, got {unknown}")
    return KNOWN_TAGS.get(loss, frozenset()) | frozenset(tags)


def not_a_scalar(value) -> str | None:
    """What a loss returned when it is not one number (shape ``()``), in words; else None.

    Example:
        >>> not_a_scalar(np.zeros(3)), not_a_scalar((1.0, 2.0)), not_a_scalar(None)
        ('an array of shape (3,)', 'a tuple of 2 items', 'None')
        >>> not_a_scalar(np.float64(1.5)) is None
        True
    """
    if value is None:
        return "None"
    if isinstance(value, dict):
        return f"a dict (keys {', '.join(map(repr, value))})"
    if isinstance(value, list | tuple):
        return f"a {type(value).__name__} of {len(value)} items"
    number = hasattr(value, "shape") or isinstance(value, int | float | complex)
    if isinstance(value, str | bytes) or not number:
        return f"a {type(value).__name__}"
    if np.shape(value) != ():
        return f"an array of shape {tuple(np.shape(value))}"
    return None
