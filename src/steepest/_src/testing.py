"""Helpers for users' own test suites."""

from collections.abc import Callable

from .gradcheck import check_gradient


def assert_gradient_matches(loss: Callable, grad: Callable, params, *args, **options) -> None:
    """Assert that a hand-derived gradient is right: ``check_gradient`` as one pytest line.

    Takes the arguments of ``check_gradient``; raises an AssertionError carrying
    the report's table (and its diagnosis) when the check fails.

    Example:
        >>> import jax.numpy as jnp
        >>> assert_gradient_matches(lambda p: jnp.sum(p**3), lambda p: 3 * p**2, jnp.ones(3))
        >>> assert_gradient_matches(lambda p: jnp.sum(p**3), lambda p: p**2, jnp.ones(3))
        Traceback (most recent call last):
        ...
        AssertionError: gradient check failed
        ...
    """
    check_gradient(loss, grad, params, *args, **options).raise_if_failed()
