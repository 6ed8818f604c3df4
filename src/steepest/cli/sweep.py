"""``steepest sweep``: many learning rates in one compiled call, against the critical 2/L.

Exit codes: 0, or 130 when Ctrl-C stopped the sweep; 2 for bad input.
"""

import math

import numpy as np
from rich.console import Console
from rich.table import Table

from .options import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    Outputs,
    add_data_arguments,
    add_output_arguments,
    add_run_arguments,
    batch_settings,
    draw,
    emit,
    finish,
    positive_float,
    positive_int,
    prepared,
)


def add_parser(commands) -> None:
    from steepest import optimizers

    names = optimizers.names()
    sweep = commands.add_parser(
        "sweep",
        help="many learning rates in one compiled call, against the critical 2/L",
        description="Run gradient descent (or --optimizer) at many learning rates at once, "
        "from --lr-min to --lr-max times the critical learning rate 2/L (log-spaced), and "
        "find where it starts to diverge.",
        example="steepest sweep --num 64 --seeds 8 --plot sweep.png",
    )
    add_data_arguments(sweep, builtin_x=None)
    sweep.add_argument(
        "--optimizer",
        default="gd",
        choices=names,
        metavar="NAME",
        help=f"the optimizer every run uses, one of {', '.join(names)} (default gd)",
    )
    sweep.add_argument("--num", type=positive_int, default=64, help="learning rates (64)")
    sweep.add_argument(
        "--lr-min", type=positive_float, default=0.01, help="the lowest, in units of 2/L (0.01)"
    )
    sweep.add_argument(
        "--lr-max", type=positive_float, default=1.5, help="the highest, in units of 2/L (1.5)"
    )
    sweep.add_argument(
        "--seeds",
        type=positive_int,
        metavar="K",
        help="run every learning rate from K random starts (standard normal params in the "
        "coordinates the descent sees, seeds 0..K-1) instead of from zero",
    )
    add_run_arguments(sweep)
    add_output_arguments(sweep, plot="write the final cost and the steps against the lr")
    sweep.set_defaults(run=run)


def run(args, argv=None) -> int:
    from steepest import DataError, Status, mse, theory
    from steepest import sweep as run_sweep

    if args.lr_min >= args.lr_max:
        raise DataError(f"--lr-min ({args.lr_min:g}) must be below --lr-max ({args.lr_max:g})")
    dataset, _, X, y, start, _ = prepared(args)
    curvature = theory.curvature(mse, start, X, y)
    critical = curvature.critical_learning_rate
    if not 0 < critical < math.inf:
        raise DataError(
            f"no learning rate to sweep: the cost's largest curvature is L = {curvature.L:.3g} "
            f"in {X.dtype}; standardize the features (leave out --no-standardize) or run with --x64"
        )
    rates = np.geomspace(args.lr_min, args.lr_max, args.num) * critical
    starts = random_starts(start, args.seeds) if args.seeds else None
    batches = batch_settings(args)
    result = run_sweep(
        mse, start, X, y, learning_rates=rates, starts=starts, optimizer=args.optimizer,
        tol=args.tol, rtol=args.rtol, **batches,
    )  # fmt: skip
    interrupted = any(run.status is Status.INTERRUPTED for run in result.results)
    threshold = result.divergence_threshold()
    bracket = result.divergence_bracket()
    refined = None
    if bracket is not None:  # narrow it: a second sweep inside, same shapes, no compile
        refined = run_sweep(
            mse, start, X, y, learning_rates=np.geomspace(*bracket, args.num), starts=starts,
            optimizer=args.optimizer, tol=args.tol, rtol=args.rtol, **batches,
        )  # fmt: skip
        interrupted = any(run.status is Status.INTERRUPTED for run in refined.results)
        threshold = None if interrupted else (refined.divergence_threshold() or threshold)
        bracket = refined.divergence_bracket() or bracket
    record = {
        "data": dataset.source,
        "optimizer": args.optimizer,
        "critical_learning_rate": critical,
        "optimal_learning_rate": curvature.optimal_learning_rate,
        "L": curvature.L,
        "mu": curvature.mu,
        "divergence_threshold": threshold,
        "divergence_bracket": None if threshold is None else [float(rate) for rate in bracket],
        "threshold_over_critical": None if threshold is None else threshold / critical,
        "seconds": result.seconds,
        "compile_seconds": result.compile_seconds,
        "seeds": args.seeds,
        "runs": result.runs(),
    }
    outputs = Outputs()
    if args.plot:
        from steepest import plots  # matplotlib only for a run that draws

        draw(
            args,
            lambda: plots.learning_rate_sweep(
                result.learning_rates,
                result.final_losses,
                np.array([run.num_steps for run in result.results]),
                np.array([run.status.value == "diverged" for run in result.results]),
                critical,
                title=f"{args.optimizer} on {dataset.source}: {args.num} learning rates, one call",
                threshold=threshold,
            ),
            outputs,
        )
    code = EXIT_INTERRUPTED if interrupted else EXIT_OK
    emit(args, record, argv, outputs)
    if args.json:
        return finish(code, outputs, kept=KEPT)
    table = Table(title=f"steepest sweep: {args.optimizer} on {dataset.source}")
    for column in ("learning rate", "x 2/L", "status", "steps", "final cost"):
        table.add_column(column, justify="left" if column == "status" else "right")
    for rate in rates:  # one row per learning rate; its starts summarized
        runs = [run for run in record["runs"] if run["learning_rate"] == float(rate)]
        statuses = [run["status"] for run in runs]
        table.add_row(
            f"{rate:.4g}",
            f"{rate / critical:.3f}",
            ", ".join(
                f"{status} x{statuses.count(status)}" if len(runs) > 1 else status
                for status in dict.fromkeys(statuses)
            ),
            str(int(np.median([run["steps"] for run in runs]))),
            f"{max(run['loss'] for run in runs):.6g}",
        )
    console = Console()
    console.print(table)
    console.print(
        f"2/L = {critical:.6g} (L = {curvature.L:.6g}, from the Hessian by autodiff); "
        f"{_threshold_sentence(result, threshold, bracket, critical, interrupted)}; "
        f"{len(result.results)} runs in one compiled call: {result.seconds:.3f} s "
        f"plus {result.compile_seconds:.2f} s to compile"
        + ("; a second sweep inside the bracket narrowed it" if refined is not None else "")
    )
    return finish(code, outputs, kept=KEPT)


def _threshold_sentence(result, threshold, bracket, critical, interrupted) -> str:
    """Where the sweep saw divergence start: between the last rate that converged and the
    first that diverged (their geometric midpoint against 2/L), or why it cannot say."""
    from steepest import Status

    if interrupted:
        return "interrupted: no threshold from runs that did not finish"
    if threshold is not None:
        return (
            f"diverges between {bracket[0]:.6g} and {bracket[1]:.6g} (midpoint {threshold:.6g}, "
            f"{100 * (threshold / critical - 1):+.2f}% from 2/L)"
        )
    diverged = [run.status is Status.DIVERGED for run in result.results]
    if all(diverged):
        return "every run diverged: sweep lower learning rates (--lr-min)"
    if not any(diverged):
        return "no run diverged in the range swept (--lr-max)"
    return "diverged and converging runs interleave: no single threshold"


KEPT = "every run stopped where it was; the runs are reported, with no threshold claimed"


def random_starts(start, seeds: int) -> list:
    """One start per seed ``0 .. seeds-1``: each leaf of ``start`` drawn from N(0, 1) with
    its own key of ``jax.random.split(jax.random.key(seed), leaves)``.

    Drawn for all seeds in one call (``vmap``), then sliced on the host.

    Example:
        >>> from steepest import Linear
        >>> [start.w.shape for start in random_starts(Linear.zeros(3), 2)]
        [(3,), (3,)]
    """
    import jax
    import jax.numpy as jnp

    leaves, structure = jax.tree.flatten(start)

    def draw(seed):
        keys = jax.random.split(jax.random.key(seed), len(leaves))
        pairs = zip(keys, leaves, strict=True)
        return [jax.random.normal(key, leaf.shape, leaf.dtype) for key, leaf in pairs]

    drawn = jax.device_get(jax.vmap(draw)(jnp.arange(seeds)))
    return [structure.unflatten([leaf[i] for leaf in drawn]) for i in range(seeds)]
