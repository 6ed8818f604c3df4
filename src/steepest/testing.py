"""Helpers for a user's own test suite: each checker as one assertion, the diagnosis first
in its AssertionError."""

from ._src.testing import (
    assert_gradient_matches,
    assert_hessian_matches,
    assert_hvp_matches,
    assert_jvp_matches,
    assert_rule_matches,
    assert_vjp_matches,
)

__all__ = [
    "assert_gradient_matches",
    "assert_hessian_matches",
    "assert_hvp_matches",
    "assert_jvp_matches",
    "assert_rule_matches",
    "assert_vjp_matches",
]
