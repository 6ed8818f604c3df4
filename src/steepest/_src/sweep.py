"""Many learning rates in one compiled call: ``sweep``.

The loop of ``fit`` runs once per learning rate, side by side, ``jax.vmap`` over
the loop states with the data shared. The learning rate is a traced value in
each state (``optax.inject_hyperparams``), so one compilation serves every
learning rate of the sweep, and every later sweep of the same size.
"""

import collections
import dataclasses
import math
from collections.abc import Callable, Collection, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import blocks, display, optimizers
from .certificate import quadratic_cost, rule_mu, values64
from .driver import Progress, drive
from .engine import RunSpec, check_settings, equations_of, history_stride, unroll_for
from .fit import MAX_STEPS, FitResult, batches_per_epoch, scheduled, step_budget
from .history import frame
from .io.dataset import available_memory as host_memory
from .stopping import DIVERGENCE_FACTOR, STALL_PATIENCE, Status


@dataclasses.dataclass(frozen=True)
class SweepResult:
    """One ``FitResult`` per run: per learning rate, and per start within it.

    Each result is what ``fit`` from that start with that learning rate returns
    (up to rounding: batched arithmetic may round differently), except that
    ``seconds`` and ``compile_seconds`` are those of the whole sweep.
    ``learning_rates[i]`` and ``start_indices[i]`` say what run ``i`` was.
    """

    learning_rates: np.ndarray
    start_indices: np.ndarray
    results: tuple[FitResult, ...]
    seconds: float
    compile_seconds: float

    @property
    def final_losses(self) -> np.ndarray:
        return np.array([result.loss for result in self.results])

    @property
    def statuses(self) -> list[Status]:
        return [result.status for result in self.results]

    def divergence_bracket(self) -> tuple[float, float] | None:
        """The largest learning rate that did not diverge and the smallest that did.

        None when none diverged, when all did, when they do not split cleanly
        (a diverged learning rate below one that did not diverge), or when a run
        was interrupted (its fate is unknown).
        """
        if any(result.status is Status.INTERRUPTED for result in self.results):
            return None
        rates = np.unique(self.learning_rates)  # sorted; a rate diverges if any start does
        diverged = np.array(
            [
                any(
                    result.status is Status.DIVERGED
                    for result, rate_of_run in zip(self.results, self.learning_rates, strict=True)
                    if rate_of_run == rate
                )
                for rate in rates
            ]
        )
        if diverged.all() or not diverged.any():
            return None
        first = int(np.argmax(diverged))
        if not diverged[first:].all():
            return None
        return float(rates[first - 1]), float(rates[first])

    def runs(self) -> list[dict[str, Any]]:
        """One row per run: its learning rate, start, status, steps and final cost."""
        return [
            {
                "learning_rate": float(rate),
                "start": int(start),
                "status": result.status.value,
                "steps": result.num_steps,
                "loss": result.loss,
            }
            for rate, start, result in zip(
                self.learning_rates, self.start_indices, self.results, strict=True
            )
        ]

    def to_dict(self) -> dict[str, Any]:
        """The sweep as plain data: every run, where divergence starts, the wall time."""
        bracket = self.divergence_bracket()
        return {
            "runs": self.runs(),
            "divergence_threshold": self.divergence_threshold(),
            "divergence_bracket": None if bracket is None else list(bracket),
            "seconds": self.seconds,
            "compile_seconds": self.compile_seconds,
        }

    def to_frame(self) -> Any:
        """The runs as a pandas DataFrame, one row each (``runs``' columns)."""
        rows = self.runs()
        return frame({key: [row[key] for row in rows] for key in rows[0]})

    def __repr__(self) -> str:
        counts = collections.Counter(result.status.value for result in self.results)
        statuses = ", ".join(f"{count} {status}" for status, count in counts.items())
        threshold = self.divergence_threshold()
        where = "" if threshold is None else f"; diverges from about {threshold:.4g}"
        return f"SweepResult({len(self.results)} runs in one call: {statuses}{where})"

    def _repr_html_(self) -> str:
        rows = [[f"{row['learning_rate']:.4g}", row["start"], row["status"], row["steps"],
                 f"{row['loss']:.6g}"] for row in self.runs()]  # fmt: skip
        header = ["learning rate", "start", "status", "steps", "final cost"]
        return display.html_table(rows, header=header, caption=repr(self))

    def divergence_threshold(self) -> float | None:
        """Where divergence starts: the geometric midpoint of ``divergence_bracket``.

        Its error is at most half a grid step (in ratio); sweep again inside the
        bracket to narrow it.
        """
        bracket = self.divergence_bracket()
        return None if bracket is None else float(math.sqrt(bracket[0] * bracket[1]))


def sweep(
    loss: Callable,
    params,
    *data,
    learning_rates: Sequence[float] | np.ndarray,
    starts: Sequence | None = None,
    optimizer: str = "gd",
    max_steps: int = MAX_STEPS,
    tol: float | None = None,
    rtol: float | None = None,
    divergence_factor: float = DIVERGENCE_FACTOR,
    on_chunk: Callable[[Progress], None] | None = None,
    tags: Collection = frozenset(),
    block_rows: int | str | None = "auto",
    stall_patience: int | None = STALL_PATIENCE,
    batch_size: int | None = None,
    epochs: int | None = None,
    seed: int = 0,
    schedule: optimizers.Schedule | None = None,
) -> SweepResult:
    """Run ``fit`` for every learning rate at once, in one compiled call.

    Every run starts at ``params`` (or at each of ``starts``) and follows the
    rules of ``fit`` (stopping, divergence, loss history); runs that stop early
    wait, unchanged, for the others. Ctrl-C stops them all and returns what each
    reached.

    Args:
        loss, params, *data, optimizer, max_steps, tol, rtol, divergence_factor, tags,
        block_rows, stall_patience, batch_size, epochs, seed, schedule, on_chunk: as
            for ``fit`` (every run's epochs visit the rows in the same order; ``on_chunk`` sees the
            furthest step and the lowest cost among the runs). The stop rule is
            ``fit``'s (with ``mu`` for a quadratic cost); the runs carry no certificate.
        learning_rates: one run per value (per start), each positive.
        starts: several starting points, pytrees like ``params``, e.g. from
            different seeds: every learning rate runs from each. By default,
            ``params`` alone.

    Returns:
        A ``SweepResult``.

    Example:
        >>> import jax.numpy as jnp
        >>> from steepest import Linear, mse
        >>> X = jnp.array([-1.0, 1.0]); y = jnp.array([0.0, 2.0])  # Hessian 2I: 2/L = 1
        >>> result = sweep(mse, Linear(jnp.zeros(1), jnp.array(0.0)), X, y,
        ...                learning_rates=[0.1, 0.5, 0.9, 1.1, 2.0])
        >>> [status.value for status in result.statuses]
        ['converged', 'converged', 'converged', 'diverged', 'diverged']
    """
    rates = np.asarray(learning_rates, np.float64).ravel()
    if rates.size == 0:
        raise ValueError("learning_rates is empty")
    if not np.all(np.isfinite(rates) & (rates > 0)):
        raise ValueError(f"learning_rates must be positive numbers, got {rates.tolist()}")
    max_steps = step_budget(loss, data, tags, "loop", max_steps, batch_size, epochs)
    schedule = scheduled(schedule, max_steps, batches_per_epoch(data, batch_size))
    check_settings(max_steps, tol, rtol)
    starts = [params] if starts is None else list(starts)
    if not starts:
        raise ValueError("starts is empty")
    cost = quadratic_cost(loss, params, *data, tags=tags, block_rows=block_rows)
    # A history per run, sized to the run (fit keeps one fixed size, to never recompile).
    history_size = max_steps // history_stride(max_steps) + 2
    spec = RunSpec(
        loss, optimizer, learning_rate=1.0,  # replaced below, run by run
        max_steps=max_steps, tol=tol, rtol=rtol, mu=rule_mu(cost),
        divergence_factor=divergence_factor, stall_patience=stall_patience, seed=seed,
        history_size=history_size,
        block_rows=blocks.resolve_block_rows(block_rows, loss, data, tags),
        unroll=unroll_for(
            optimizer, data, equations_of(loss, params, *data), batch_size, max_steps=max_steps
        ),
        sharding=blocks.row_sharding(data), batch_size=batch_size, schedule=schedule,
    )  # fmt: skip
    engine, initial = spec.engine, spec.init(starts[0], *data)
    # Runs are ordered by learning rate, then by start.
    run_rates = np.repeat(rates, len(starts))
    run_starts = np.tile(np.arange(len(starts)), rates.size)
    _check_memory(blocks.size_in_bytes(initial), len(run_rates), history_size)
    stacked = jax.tree.map(lambda leaf: leaf[run_starts], engine.at_starts(initial, starts))
    stacked = engine.with_learning_rate(stacked, jnp.asarray(run_rates))
    driven = drive(engine.run_batched, stacked, data, max_steps, on_chunk)
    state = jax.device_get(driven.state)  # one transfer; each run is then sliced on the host
    stopped = [
        FitResult.from_state(
            jax.tree.map(lambda leaf, i=i: leaf[i], state),
            learning_rate=float(rate),
            seconds=driven.seconds,
            compile_seconds=driven.compile_seconds,
        )
        for i, rate in enumerate(run_rates)
    ]
    # Each run's loss in float64, as fit's, at the params it reports (a diverged run's last
    # finite ones), all runs in one compiled call.
    reported = jax.tree.map(lambda *leaves: np.stack(leaves), *(r.params for r in stopped))
    losses = values64(loss, reported, *data, block_rows=engine.block_rows)
    results = tuple(
        dataclasses.replace(result, loss=float(value))
        for result, value in zip(stopped, losses, strict=True)
    )
    return SweepResult(run_rates, run_starts, results, driven.seconds, driven.compile_seconds)


def _check_memory(run_bytes: int, runs: int, history_size: int) -> None:
    """Refuse a sweep whose stacked states would not fit in half the memory available.

    Example:
        >>> _check_memory(10**12, 1000, 10_002)
        Traceback (most recent call last):
        ...
        ValueError: a sweep of 1,000 runs needs about 1e+15 bytes for its states ...
    """
    needed = run_bytes * runs
    available = available_memory()
    if available is not None and needed > available / 2:
        raise ValueError(
            f"a sweep of {runs:,} runs needs about {needed:.3g} bytes for its states "
            f"(each with a history of {history_size:,} costs), more than half of the "
            f"{available:.3g} bytes available: fewer runs or fewer steps"
        )


def available_memory() -> int | None:
    """Bytes of memory the process may still use: the device's where it reports them (a
    GPU), else the host's available RAM (``data.available_memory``); None when unknown."""
    stats = jax.devices()[0].memory_stats() or {}
    if "bytes_limit" in stats:
        return int(stats["bytes_limit"] - stats.get("bytes_in_use", 0))
    return host_memory()
