"""The gradient checker's default tolerances, apart from the checker so that the command
line's help can name them without importing it.

Example:
    >>> DEFAULT_RTOL < DEFAULT_FD_RTOL
    True
"""

# Hand-derived vs autodiff: both exact up to float64 rounding, so a tight tolerance.
DEFAULT_RTOL = 1e-6
# Autodiff vs central differences: their truncation and rounding error is about
# eps**(2/3) ~ 4e-11 relative on smooth losses; 1e-5 leaves a wide margin.
DEFAULT_FD_RTOL = 1e-5
