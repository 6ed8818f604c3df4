"""Helpers for users' own test suites."""

from collections.abc import Callable

from .gradcheck import check_gradient
from .hesscheck import check_hessian


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


def assert_hessian_matches(loss: Callable, hessian: Callable, params, *args, **options) -> None:
    """Assert that a hand-derived Hessian is right: ``check_hessian`` as one pytest line,
    its diagnosis in the AssertionError.

    Example:
        >>> import jax.numpy as jnp
        >>> loss = lambda p: jnp.sum(p**3)
        >>> assert_hessian_matches(loss, lambda p: jnp.diag(6 * p), jnp.ones(2))
        >>> assert_hessian_matches(loss, lambda p: jnp.diag(3 * p), jnp.ones(2))
        Traceback (most recent call last):
        ...
        AssertionError: Hessian check failed at 3 points: ...
        the hand Hessian is off by a factor of 1/2: it is 1/2 times autodiff's
    """
    check_hessian(loss, hessian, params, *args, **options).raise_if_failed()
