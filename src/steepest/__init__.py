"""steepest: gradient descent in JAX that researchers trust.

The cost is written once (``mse``), ``jax.grad`` gives its gradient, a hand-derived
gradient is checked against it (``check_gradient``), and the update loop (``fit``,
``sweep``; ``Engine`` underneath) runs compiled on CPU or GPU with the tutorial's
rule or any Optax optimizer.

Everything public is listed in ``__all__``. The namespaces ``analytic``, ``data``,
``distributed``, ``optimizers``, ``plots``, ``records``, ``testing``, ``theory`` and
``tutorial`` are public too, each with its own ``__all__``; ``steepest._src`` is
internal and may change.

Names are loaded on first use, so that ``import steepest`` does not wait for JAX: the
``steepest`` command installs its Ctrl-C handler before JAX loads. ``from steepest
import fit`` works as usual.
"""

import importlib as _importlib
import typing as _typing

# Where each public name lives; the block under TYPE_CHECKING says the same to type checkers
# (tests/test_layout.py keeps the two equal).
_SOURCES = {
    "._src.certificate": ("Certificate",),
    "._src.checkpoint": ("Checkpoint",),
    "._src.driver": ("Progress",),
    "._src.engine": (
        "MAX_HISTORY",
        "MAX_STEPS_LIMIT",
        "Engine",
        "LoopState",
        "RunSpec",
        "Settings",
    ),
    "._src.fit": ("FitResult", "fit", "memory"),
    "._src.gradcheck": ("GradientCheckError", "GradientReport", "check_gradient"),
    "._src.hesscheck": ("HessianReport", "check_hessian", "check_hvp"),
    "._src.rulecheck": ("RuleReport", "check_jvp", "check_rule", "check_vjp"),
    "._src.io.dataset": ("DataError",),
    "._src.io.sharding": ("shard",),
    "._src.losses": ("Tag", "mse", "quadratic_tag", "row_mean_tag"),
    "._src.model": ("Linear", "predict"),
    "._src.stopping": (
        "DIVERGENCE_FACTOR",
        "STALL_PATIENCE",
        "Status",
        "default_rtol",
        "has_converged",
        "has_diverged",
        "has_stalled",
    ),
    "._src.streamed": ("fit_stream",),
    "._src.torchbridge": ("from_torch", "torch_gradient"),
    "._src.sweep": ("SweepResult", "sweep"),
    "._src.trajectory": ("trajectory",),
    "._src.workflows.compare": ("Comparison", "compare"),
    "._src.workflows.linear": ("linear",),
    "._src.workflows.rates": ("LearningRateSweep", "sweep_learning_rates"),
    "._src.workflows.report": ("LinearFit",),
    "._src.workflows.surface": ("CostSurface", "cost_surface"),
}
_NAMESPACES = (
    "analytic",
    "data",
    "distributed",
    "optimizers",
    "plots",
    "records",
    "testing",
    "theory",
    "tutorial",
)
_HOME = {name: module for module, names in _SOURCES.items() for name in names}

if _typing.TYPE_CHECKING:
    from . import (
        analytic,
        data,
        distributed,
        optimizers,
        plots,
        records,
        testing,
        theory,
        tutorial,
    )
    from ._src.certificate import Certificate
    from ._src.checkpoint import Checkpoint
    from ._src.driver import Progress
    from ._src.engine import (
        MAX_HISTORY,
        MAX_STEPS_LIMIT,
        Engine,
        LoopState,
        RunSpec,
        Settings,
    )
    from ._src.fit import FitResult, fit, memory
    from ._src.gradcheck import GradientCheckError, GradientReport, check_gradient
    from ._src.hesscheck import HessianReport, check_hessian, check_hvp
    from ._src.io.dataset import DataError
    from ._src.io.sharding import shard
    from ._src.losses import Tag, mse, quadratic_tag, row_mean_tag
    from ._src.model import Linear, predict
    from ._src.rulecheck import RuleReport, check_jvp, check_rule, check_vjp
    from ._src.stopping import (
        DIVERGENCE_FACTOR,
        STALL_PATIENCE,
        Status,
        default_rtol,
        has_converged,
        has_diverged,
        has_stalled,
    )
    from ._src.streamed import fit_stream
    from ._src.sweep import SweepResult, sweep
    from ._src.torchbridge import from_torch, torch_gradient
    from ._src.trajectory import trajectory
    from ._src.workflows.compare import Comparison, compare
    from ._src.workflows.linear import linear
    from ._src.workflows.rates import LearningRateSweep, sweep_learning_rates
    from ._src.workflows.report import LinearFit
    from ._src.workflows.surface import CostSurface, cost_surface

    __version__: str

# Literal, for type checkers and readers; tests/test_layout.py holds it to the table above.
__all__ = [
    "DIVERGENCE_FACTOR",
    "MAX_HISTORY",
    "MAX_STEPS_LIMIT",
    "STALL_PATIENCE",
    "Certificate",
    "Checkpoint",
    "Comparison",
    "CostSurface",
    "DataError",
    "Engine",
    "FitResult",
    "GradientCheckError",
    "GradientReport",
    "HessianReport",
    "LearningRateSweep",
    "Linear",
    "LinearFit",
    "LoopState",
    "Progress",
    "RuleReport",
    "RunSpec",
    "Settings",
    "Status",
    "SweepResult",
    "Tag",
    "__version__",
    "analytic",
    "check_gradient",
    "check_hessian",
    "check_hvp",
    "check_jvp",
    "check_rule",
    "check_vjp",
    "compare",
    "cost_surface",
    "data",
    "default_rtol",
    "distributed",
    "fit",
    "fit_stream",
    "from_torch",
    "has_converged",
    "has_diverged",
    "has_stalled",
    "linear",
    "memory",
    "mse",
    "optimizers",
    "plots",
    "predict",
    "quadratic_tag",
    "records",
    "row_mean_tag",
    "shard",
    "sweep",
    "sweep_learning_rates",
    "testing",
    "theory",
    "torch_gradient",
    "trajectory",
    "tutorial",
]


def __getattr__(name: str):
    if name in _HOME:
        value = getattr(_importlib.import_module(_HOME[name], __name__), name)
    elif name in _NAMESPACES:
        value = _importlib.import_module(f".{name}", __name__)
    elif name == "__version__":
        from importlib.metadata import version

        value = version("steepest")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # loaded once; later lookups do not come here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
