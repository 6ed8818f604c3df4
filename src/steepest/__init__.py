"""steepest: gradient descent in JAX that researchers trust.

The cost is written once (``mse``), ``jax.grad`` gives its gradient, a hand-derived
gradient is checked against it (``check_gradient``), and the update loop (``fit``,
``sweep``; ``Engine`` underneath) runs compiled on CPU or GPU with the tutorial's
rule or any Optax optimizer.

Everything public is listed in ``__all__``. The namespaces ``analytic``, ``data``,
``optimizers``, ``plots``, ``records``, ``testing``, ``theory`` and ``tutorial`` are public too,
each with its own ``__all__``; ``steepest._src`` is internal and may change.
"""

import importlib as _importlib
import importlib.metadata as _metadata

from . import analytic, data, optimizers, records, testing, theory, tutorial
from ._src.certificate import Certificate
from ._src.driver import Progress
from ._src.engine import MAX_HISTORY, MAX_STEPS_LIMIT, Engine, LoopState, Settings
from ._src.fit import FitResult, fit, memory
from ._src.gradcheck import GradientCheckError, GradientReport, check_gradient
from ._src.io.data import DataError
from ._src.losses import Tag, mse, row_mean_tag
from ._src.model import Linear, predict
from ._src.stopping import (
    DIVERGENCE_FACTOR,
    STALL_PATIENCE,
    Status,
    default_rtol,
    has_converged,
    has_diverged,
    has_stalled,
)
from ._src.sweep import SweepResult, sweep
from ._src.trajectory import trajectory

__version__ = _metadata.version("steepest")

__all__ = [
    "DIVERGENCE_FACTOR",
    "MAX_HISTORY",
    "MAX_STEPS_LIMIT",
    "STALL_PATIENCE",
    "Certificate",
    "DataError",
    "Engine",
    "FitResult",
    "GradientCheckError",
    "GradientReport",
    "Linear",
    "LoopState",
    "Progress",
    "Settings",
    "Status",
    "SweepResult",
    "Tag",
    "__version__",
    "analytic",
    "check_gradient",
    "data",
    "default_rtol",
    "fit",
    "has_converged",
    "has_diverged",
    "has_stalled",
    "memory",
    "mse",
    "optimizers",
    "plots",
    "predict",
    "records",
    "row_mean_tag",
    "sweep",
    "testing",
    "theory",
    "trajectory",
    "tutorial",
]


def __getattr__(name: str):
    # matplotlib takes a while to import: steepest.plots is loaded on first use.
    if name == "plots":
        return _importlib.import_module(".plots", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
