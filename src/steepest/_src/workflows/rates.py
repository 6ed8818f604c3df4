"""``steepest.sweep_learning_rates``: many learning rates in one compiled call, against 2/L.

What ``steepest sweep`` prints: gradient descent (or another optimizer) on the data set
up as ``linear`` sets it up, at rates from ``lr_min`` to ``lr_max`` times the critical
rate 2/L (log-spaced), where divergence starts, and a second sweep inside the bracket
that narrows it (same shapes: nothing compiles again).
"""

import dataclasses
import html
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import display, theory
from ..fit import MAX_STEPS
from ..io.dataset import DataError
from ..losses import mse
from ..processes import Processes
from ..stopping import Status
from ..sweep import SweepResult, sweep
from .linear import setup
from .render import Printed


@dataclasses.dataclass(frozen=True, repr=False)
class LearningRateSweep(Printed):
    """The runs of a learning-rate sweep and where divergence starts.

    Attributes:
        result: the first sweep (``SweepResult``): every rate, every start.
        refined: the second sweep, inside the bracket, or None.
        curvature: the Hessian's spectrum (``theory.Curvature``): 2/L, the best step.
        threshold: where divergence starts (the midpoint of ``bracket``), or None.
        bracket: the largest rate that did not diverge and the smallest that did.
        interrupted: Ctrl-C stopped a sweep: no threshold is claimed.
        optimizer, source, seeds: what was swept, on what, from how many starts.
    """

    result: SweepResult
    refined: SweepResult | None
    curvature: theory.Curvature
    threshold: float | None
    bracket: tuple[float, float] | None
    interrupted: bool
    optimizer: str
    source: str
    seeds: int | None

    @property
    def critical(self) -> float:
        return self.curvature.critical_learning_rate

    @property
    def title(self) -> str:
        return f"steepest sweep: {self.optimizer} on {self.source}"

    def to_dict(self) -> dict[str, Any]:
        """``steepest sweep --json``'s record."""
        threshold = self.threshold
        return {
            "data": self.source,
            "optimizer": self.optimizer,
            "critical_learning_rate": self.critical,
            "optimal_learning_rate": self.curvature.optimal_learning_rate,
            "L": self.curvature.L,
            "mu": self.curvature.mu,
            "divergence_threshold": threshold,
            "divergence_bracket": None if threshold is None else list(self.bracket or ()),
            "threshold_over_critical": None if threshold is None else threshold / self.critical,
            "seconds": self.result.seconds,
            "compile_seconds": self.result.compile_seconds,
            "seeds": self.seeds,
            "runs": self.result.runs(),
        }

    def to_frame(self) -> Any:
        """The first sweep's runs, one row each (``SweepResult.to_frame``)."""
        return self.result.to_frame()

    def rows(self) -> list[list[str]]:
        """The table: one row per learning rate, its starts summarized."""
        runs = self.result.runs()
        rows = []
        for rate in dict.fromkeys(run["learning_rate"] for run in runs):
            mine = [run for run in runs if run["learning_rate"] == rate]
            statuses = [run["status"] for run in mine]
            rows.append(
                [
                    f"{rate:.4g}",
                    f"{rate / self.critical:.3f}",
                    ", ".join(
                        f"{status} x{statuses.count(status)}" if len(mine) > 1 else status
                        for status in dict.fromkeys(statuses)
                    ),
                    str(int(np.median([run["steps"] for run in mine]))),
                    f"{max(run['loss'] for run in mine):.6g}",
                ]
            )
        return rows

    COLUMNS = ("learning rate", "x 2/L", "status", "steps", "final cost")

    def sentence(self) -> str:
        """What the sweep found, in one sentence."""
        result = self.result
        narrowed = "; a second sweep inside the bracket narrowed it" if self.refined else ""
        return (
            f"2/L = {self.critical:.6g} (L = {self.curvature.L:.6g}, from the Hessian by "
            f"autodiff); {self._threshold_words()}; {len(result.results)} runs in one compiled "
            f"call: {result.seconds:.3f} s plus {result.compile_seconds:.2f} s to compile"
            f"{narrowed}"
        )

    def _threshold_words(self) -> str:
        """Where divergence starts: between the last rate that converged and the first that
        diverged (their geometric midpoint against 2/L), or why it cannot say."""
        if self.interrupted:
            return "interrupted: no threshold from runs that did not finish"
        if self.threshold is not None and self.bracket is not None:
            low, high = self.bracket
            return (
                f"diverges between {low:.6g} and {high:.6g} (midpoint {self.threshold:.6g}, "
                f"{100 * (self.threshold / self.critical - 1):+.2f}% from 2/L)"
            )
        diverged = [run.status is Status.DIVERGED for run in self.result.results]
        if all(diverged):
            return "every run diverged: sweep lower learning rates (--lr-min)"
        if not any(diverged):
            return "no run diverged in the range swept (--lr-max)"
        return "diverged and converging runs interleave: no single threshold"

    def __rich__(self):
        from rich.console import Group
        from rich.table import Table

        table = Table(title=self.title)
        for column in self.COLUMNS:
            table.add_column(column, justify="left" if column == "status" else "right")
        for row in self.rows():
            table.add_row(*row)
        return Group(table, self.sentence())

    def _repr_html_(self) -> str:
        table = display.html_table(self.rows(), header=self.COLUMNS, caption=self.title)
        return f"{table}<p>{html.escape(self.sentence())}</p>"


def sweep_learning_rates(
    data: Any = None,
    y: Any = None,
    *,
    x: list[str] | tuple[str, ...] | None = None,
    optimizer: str = "gd",
    num: int = 64,
    lr_min: float = 0.01,
    lr_max: float = 1.5,
    seeds: int | None = None,
    standardize: bool = True,
    max_steps: int = MAX_STEPS,
    tol: float | None = None,
    rtol: float | None = None,
    x64: bool = False,
    devices: int | str | None = None,
    batch_size: int | None = None,
    epochs: int | None = None,
    seed: int = 0,
    schedule=None,
) -> LearningRateSweep:
    """Run ``optimizer`` at ``num`` learning rates at once, from ``lr_min`` to ``lr_max``
    times the critical rate 2/L (log-spaced), and find where it starts to diverge.

    Args:
        data, y, x: as ``linear``'s (default: the built-in dataset's three features).
        optimizer: the optimizer of every run.
        num, lr_min, lr_max: the learning rates, in units of 2/L.
        seeds: run every rate from this many random starts (standard normal params in
            the coordinates the descent sees, seeds 0..K-1) instead of from zero.
        the rest: as ``linear``'s.

    Example:
        >>> import steepest
        >>> swept = steepest.sweep_learning_rates(num=8, max_steps=300)
        >>> 0.95 < swept.threshold / swept.critical < 1.05
        True
    """
    if not lr_min < lr_max:
        raise DataError(f"--lr-min ({lr_min:g}) must be below --lr-max ({lr_max:g})")
    with jax.enable_x64(x64):
        problem = setup(
            data, y, x, intercept=True, standardize=standardize, x64=x64, devices=devices,
            processes=Processes.current(), builtin_x=None, solve=False,
        )  # fmt: skip
        ready = problem.ready
        curvature = theory.curvature(mse, ready.start, ready.X, ready.y)
        critical = curvature.critical_learning_rate
        if not 0 < critical < math.inf:
            raise DataError(
                f"no learning rate to sweep: the cost's largest curvature is L = "
                f"{curvature.L:.3g} in {ready.X.dtype}; standardize the features (leave out "
                "--no-standardize) or run with --x64"
            )
        starts = random_starts(ready.start, seeds) if seeds else None
        settings = dict(
            starts=starts, optimizer=optimizer, max_steps=max_steps, tol=tol, rtol=rtol,
            batch_size=batch_size, epochs=epochs, seed=seed, schedule=schedule,
        )  # fmt: skip
        if batch_size is not None:
            del settings["max_steps"]  # the budget is epochs
        rates = np.geomspace(lr_min, lr_max, num) * critical
        result = sweep(mse, ready.start, ready.X, ready.y, learning_rates=rates, **settings)
        interrupted = _interrupted(result)
        threshold, bracket = result.divergence_threshold(), result.divergence_bracket()
        refined = None
        if bracket is not None:  # narrow it: a second sweep inside, same shapes, no compile
            inside = np.geomspace(*bracket, num)
            refined = sweep(mse, ready.start, ready.X, ready.y, learning_rates=inside, **settings)
            interrupted = _interrupted(refined)
            threshold = None if interrupted else (refined.divergence_threshold() or threshold)
            bracket = refined.divergence_bracket() or bracket
    return LearningRateSweep(
        result=result,
        refined=refined,
        curvature=curvature,
        threshold=threshold,
        bracket=bracket,
        interrupted=interrupted,
        optimizer=optimizer,
        source=ready.dataset.source,
        seeds=seeds,
    )


def _interrupted(result: SweepResult) -> bool:
    return any(run.status is Status.INTERRUPTED for run in result.results)


def random_starts(start, seeds: int) -> list:
    """One start per seed ``0 .. seeds-1``: each leaf of ``start`` drawn from N(0, 1) with
    its own key of ``jax.random.split(jax.random.key(seed), leaves)``.

    Drawn for all seeds in one call (``vmap``), then sliced on the host.

    Example:
        >>> from steepest import Linear
        >>> [start.w.shape for start in random_starts(Linear.zeros(3), 2)]
        [(3,), (3,)]
    """
    leaves, structure = jax.tree.flatten(start)

    def draw(seed):
        keys = jax.random.split(jax.random.key(seed), len(leaves))
        pairs = zip(keys, leaves, strict=True)
        return [jax.random.normal(key, leaf.shape, leaf.dtype) for key, leaf in pairs]

    drawn = jax.device_get(jax.vmap(draw)(jnp.arange(seeds)))
    return [jax.tree.unflatten(structure, [leaf[i] for leaf in drawn]) for i in range(seeds)]
