"""The tutorial's hand-derived partial derivatives, kept to be checked against ``jax.grad``."""

from ._src.analytic import mse_grad

__all__ = ["mse_grad"]
