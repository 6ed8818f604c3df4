"""The tutorial's pure-Python gradient descent, verbatim: the oracle the tests compare with."""

from ._src.tutorial import train, update_weights

__all__ = ["train", "update_weights"]
