"""Checks of the library's whole-number arguments, worded the same everywhere."""

import numbers


def whole_number(name: str, value, low: int, high: int | None = None) -> int:
    """``value`` as an int when it is a whole number from ``low`` to ``high`` (no upper
    bound when None); else a ValueError that names the argument.

    Example:
        >>> whole_number("epochs", 5, 0)
        5
        >>> whole_number("batch_size", 0, 1, 10)
        Traceback (most recent call last):
        ...
        ValueError: batch_size must be a whole number from 1 to 10, got 0
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value < low
        or (high is not None and int(value) > high)  # numbers.Integral declares no __gt__
    ):
        bounds = f"from {low:,} to {high:,}" if high is not None else f"of at least {low:,}"
        raise ValueError(f"{name} must be a whole number {bounds}, got {value!r}")
    return int(value)
