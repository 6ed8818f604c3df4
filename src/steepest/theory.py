"""What theory says about a problem: the closed form (and how sure it is), the Hessian, its
curvature, 2/L, and the quadratic model behind ``fit(..., method="quadratic")``."""

from ._src.least_squares import (
    RELIABLE_CONDITION,
    LeastSquares,
    closed_form,
    closed_form_cost,
    least_squares,
)
from ._src.quadratic import quadratic_loss, quadratic_model
from ._src.theory import (
    MAX_DENSE_HESSIAN,
    Curvature,
    critical_learning_rate,
    curvature,
    hessian,
    largest_eigenvalue,
)

__all__ = [
    "MAX_DENSE_HESSIAN",
    "RELIABLE_CONDITION",
    "Curvature",
    "LeastSquares",
    "closed_form",
    "closed_form_cost",
    "critical_learning_rate",
    "curvature",
    "hessian",
    "largest_eigenvalue",
    "least_squares",
    "quadratic_loss",
    "quadratic_model",
]
