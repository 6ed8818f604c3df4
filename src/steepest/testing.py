"""Helpers for a user's own test suite."""

from ._src.testing import assert_gradient_matches, assert_hessian_matches

__all__ = ["assert_gradient_matches", "assert_hessian_matches"]
