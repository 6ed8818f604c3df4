"""What theory says about a problem: the closed form, the Hessian, its curvature, 2/L,
and the quadratic model behind ``fit(..., method="quadratic")``."""

from ._src.quadratic import quadratic_loss, quadratic_model
from ._src.theory import (
    MAX_DENSE_HESSIAN,
    Curvature,
    closed_form,
    closed_form_cost,
    critical_learning_rate,
    curvature,
    hessian,
    largest_eigenvalue,
)

__all__ = [
    "MAX_DENSE_HESSIAN",
    "Curvature",
    "closed_form",
    "closed_form_cost",
    "critical_learning_rate",
    "curvature",
    "hessian",
    "largest_eigenvalue",
    "quadratic_loss",
    "quadratic_model",
]
