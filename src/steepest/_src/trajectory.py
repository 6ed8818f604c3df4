"""Every iterate of a short run, for drawing descent paths."""

from collections.abc import Callable

import jax
import jax.numpy as jnp

from . import optimizers
from .engine import update


def trajectory(
    loss: Callable, params, *data, learning_rate: float, steps: int, optimizer: str = "gd"
):
    """Every iterate of ``steps`` plain steps (no stopping rule): for drawing paths.

    Returns the iterates stacked along a new leading axis, the start included
    (``steps + 1`` of them), as a pytree like ``params``. Iterates that overflow
    are kept as they are: this is for pictures of short runs, not for results.

    Example:
        >>> import jax.numpy as jnp
        >>> path = trajectory(lambda p: jnp.sum(p**2), jnp.array([1.0]), learning_rate=0.25,
        ...                   steps=2)
        >>> path.ravel().tolist()  # each step multiplies p by 1 - 2 * 0.25
        [1.0, 0.5, 0.25]
    """
    transformation = optimizers.get(optimizer)
    state = optimizers.with_learning_rate(transformation.init(params), learning_rate)

    def one_step(carry, _):
        current, opt_state = carry
        value, grad = jax.value_and_grad(loss)(current, *data)
        following, opt_state = update(transformation, loss, data, current, opt_state, value, grad)
        return (following, opt_state), following

    _, path = jax.lax.scan(one_step, (params, state), length=steps)
    return jax.tree.map(lambda start, rest: jnp.concatenate([start[None], rest]), params, path)
