"""steepest: gradient descent in JAX that researchers trust.

The cost is written once (``mse``), ``jax.grad`` gives its gradient, the
hand-derived gradient (``steepest.analytic``) is checked against it, and the
update loop (``fit``) runs compiled on CPU or GPU with the tutorial's rule or
any Optax optimizer.
"""

from . import analytic as analytic
from . import blocks as blocks
from . import data as data
from . import loop as loop
from . import optimizers as optimizers
from . import testing as testing
from . import theory as theory
from . import tutorial as tutorial
from .blocks import row_mean as row_mean
from .data import DataError as DataError
from .gradcheck import GradientReport as GradientReport
from .gradcheck import check_gradient as check_gradient
from .loop import FitResult as FitResult
from .loop import Progress as Progress
from .loop import Status as Status
from .loop import fit as fit
from .loop import has_converged as has_converged
from .loop import has_diverged as has_diverged
from .losses import mse as mse
from .models import Linear as Linear
from .models import predict as predict
from .sweep import SweepResult as SweepResult
from .sweep import sweep as sweep

__version__ = "0.1.0"
