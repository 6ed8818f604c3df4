"""Helpers for users' own test suites."""

from collections.abc import Callable

from .gradcheck import check_gradient
from .hesscheck import check_hessian, check_hvp
from .rulecheck import check_jvp, check_rule, check_vjp


def assert_gradient_matches(loss: Callable, grad: Callable, params, *args, **options) -> None:
    """Assert that a hand-derived gradient is right: ``check_gradient`` as one pytest line.

    Takes the arguments of ``check_gradient``; raises an AssertionError carrying
    the diagnosis first, then the report's table, when the check fails.

    Example:
        >>> import jax.numpy as jnp
        >>> assert_gradient_matches(lambda p: jnp.sum(p**3), lambda p: 3 * p**2, jnp.ones(3))
        >>> assert_gradient_matches(lambda p: jnp.sum(p**3), lambda p: p**2, jnp.ones(3))
        Traceback (most recent call last):
        ...
        AssertionError: gradient check failed: off by a constant factor: ...
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
        AssertionError: the hand Hessian is off by a factor of 1/2: it is 1/2 times autodiff's
        Hessian check failed at 3 points: ...
    """
    check_hessian(loss, hessian, params, *args, **options).raise_if_failed()


def assert_hvp_matches(loss: Callable, hvp: Callable, params, *args, **options) -> None:
    """Assert that a hand-derived Hessian-vector product is right: ``check_hvp`` as one
    pytest line, its diagnosis in the AssertionError.

    Example:
        >>> import jax.numpy as jnp
        >>> assert_hvp_matches(lambda p: jnp.sum(p**3), lambda p, v: 6 * p * v, jnp.ones(2))
    """
    check_hvp(loss, hvp, params, *args, **options).raise_if_failed()


def assert_jvp_matches(f: Callable, jvp: Callable, params, *args) -> None:
    """Assert that a hand-derived JVP, ``jvp(params, tangent, *args) = J tangent``, is
    right: ``check_jvp`` as one pytest line.

    Example:
        >>> import jax.numpy as jnp
        >>> assert_jvp_matches(jnp.sin, lambda p, t: jnp.sin(p) * t, jnp.array([0.5, 1.0]))
        Traceback (most recent call last):
        ...
        AssertionError: the hand JVP's derivative of output[0] at point 2 (near params) ...
        JVP check failed: ...
    """
    check_jvp(f, jvp, params, *args).raise_if_failed()


def assert_vjp_matches(f: Callable, vjp: Callable, params, *args) -> None:
    """Assert that a hand-derived VJP, ``vjp(params, cotangent, *args) = J^T cotangent``,
    is right: ``check_vjp`` as one pytest line.

    Example:
        >>> import jax.numpy as jnp
        >>> assert_vjp_matches(jnp.sin, lambda p, u: jnp.cos(p) * u, jnp.ones(2))
    """
    check_vjp(f, vjp, params, *args).raise_if_failed()


def assert_rule_matches(f: Callable, *primals) -> None:
    """Assert that a function's custom differentiation rule (``jax.custom_jvp``,
    ``jax.custom_vjp``) is right: ``check_rule`` as one pytest line.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> @jax.custom_jvp
        ... def softplus(x):
        ...     return jnp.logaddexp(x, 0.0)
        >>> softplus.defjvp(lambda x, t: (softplus(x[0]), jax.nn.sigmoid(x[0]) * t[0]))
        ... # doctest: +ELLIPSIS
        <function ...>
        >>> assert_rule_matches(softplus, jnp.array([-1.0, 0.0, 3.0]))
    """
    check_rule(f, *primals).raise_if_failed()
