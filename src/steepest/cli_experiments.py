"""The experiment commands: ``steepest compare``, ``steepest sweep``, ``steepest plot-surface``.

Part of the command line (``cli.py`` holds the shared options and error
handling): each command runs the library on a dataset, prints a table or JSON,
and draws its figure on request.
"""

import numpy as np
from rich.console import Console
from rich.table import Table

from .cli import (
    EXIT_OK,
    _add_data_arguments,
    _positive_float,
    _positive_int,
    add_run_arguments,
    prepare,
)

DEFAULT_COMPARE = "gd,momentum,nesterov,adam,lbfgs"


def add_commands(commands) -> None:
    from . import optimizers

    compare = commands.add_parser(
        "compare",
        help="run several optimizers to the same tolerance, side by side",
        description="Fit the same data with each optimizer, each at its default learning "
        "rate (1/L, or 1 for L-BFGS), to the same gradient-norm tolerance.",
    )
    _add_data_arguments(compare)
    compare.add_argument(
        "--optimizers",
        default=DEFAULT_COMPARE,
        metavar="A,B,...",
        help=f"comma-separated, from: {', '.join(optimizers.names())} (default {DEFAULT_COMPARE})",
    )
    add_run_arguments(compare)
    compare.add_argument("--plot", metavar="FILE.png", help="write loss-vs-step curves")

    sweep = commands.add_parser(
        "sweep",
        help="many learning rates in one compiled call, against the critical 2/L",
        description="Run gradient descent (or --optimizer) at many learning rates at once, "
        "from --lr-min to --lr-max times the critical learning rate 2/L (log-spaced), and "
        "find where it starts to diverge.",
    )
    _add_data_arguments(sweep)
    sweep.add_argument("--optimizer", default="gd", choices=optimizers.names(), metavar="NAME")
    sweep.add_argument("--num", type=_positive_int, default=64, help="learning rates (64)")
    sweep.add_argument("--lr-min", type=_positive_float, default=0.01, help="x 2/L (0.01)")
    sweep.add_argument("--lr-max", type=_positive_float, default=1.5, help="x 2/L (1.5)")
    sweep.add_argument(
        "--seeds",
        type=_positive_int,
        metavar="K",
        help="run every learning rate from K random starts (standard normal params in the "
        "coordinates the descent sees, seeds 0..K-1) instead of from zero",
    )
    add_run_arguments(sweep)
    sweep.add_argument("--plot", metavar="FILE.png", help="write cost and steps against lr")

    surface = commands.add_parser(
        "plot-surface",
        help="the cost surface f(m, b) with descent paths (one feature)",
        description="Draw the contours of the cost over (m, b), in the coordinates the "
        "descent sees, with the paths of gradient descent at a small learning rate "
        "(0.2/L), a good one (1/L) and a too-large one (2.1/L, above the critical 2/L).",
    )
    _add_data_arguments(surface)
    surface.add_argument("--steps", type=_positive_int, default=30, help="steps drawn (30)")
    surface.add_argument("--out", metavar="FILE.png", required=True, help="the PNG to write")
    surface.add_argument("--json", action="store_true", help="print the paths as JSON")


def compare(args) -> int:
    from . import models, optimizers, plots, records, theory
    from .cli import EXIT_INTERRUPTED
    from .data import DataError
    from .loop import Status, fit
    from .losses import mse

    names = [name.strip() for name in args.optimizers.split(",") if name.strip()]
    unknown = [name for name in names if name not in optimizers.REGISTRY]
    if unknown or not names:
        raise DataError(
            f"--optimizers: unknown {', '.join(map(repr, unknown)) or 'none given'}; "
            f"known: {', '.join(optimizers.names())}"
        )
    dataset, standardizer, X, y, start = prepare(args)
    exact = theory.closed_form(dataset.X, dataset.y)
    exact_loss = float(mse(exact, dataset.X, dataset.y))
    rows, curves = [], {}
    for name in names:
        result = fit(mse, start, X, y, optimizer=name, max_steps=args.steps, tol=args.tol)
        fitted = standardizer.to_original(result.params)
        rows.append(
            {
                "optimizer": name,
                "learning_rate": result.learning_rate,
                "steps": result.num_steps,
                "status": result.status.value,
                "loss": result.loss,
                "distance_to_closed_form": float(
                    np.linalg.norm(models.flat(fitted) - models.flat(exact))
                ),
                "seconds": result.seconds,
                "params": records.params_to_dict(fitted),
            }
        )
        curves[name] = (result.loss_steps, result.losses)
        if result.status is Status.INTERRUPTED:  # Ctrl-C stops the comparison, not one run
            break
    interrupted = result.status is Status.INTERRUPTED
    record = {
        "data": dataset.source,
        "tol": args.tol,
        "closed_form": records.params_to_dict(exact),
        "closed_form_loss": exact_loss,
        "runs": rows,
    }
    if args.plot:
        plots.loss_curves(
            curves, exact_loss, args.plot, title=f"{dataset.source}: tolerance {args.tol:g}"
        )
    code = EXIT_INTERRUPTED if interrupted else EXIT_OK
    if args.json:
        print(records.dumps(record))
        return code
    table = Table(title=f"steepest compare: {dataset.source}, tol {args.tol:g}")
    for column in ("optimizer", "lr", "steps", "status", "final cost", "|p - p*|", "seconds"):
        table.add_column(column, justify="left" if column in ("optimizer", "status") else "right")
    for row in rows:
        table.add_row(
            row["optimizer"],
            f"{row['learning_rate']:.4g}",
            f"{row['steps']}",
            row["status"],
            f"{row['loss']:.8g}",
            f"{row['distance_to_closed_form']:.2e}",
            f"{row['seconds']:.4f}",
        )
    console = Console()
    console.print(table)
    console.print(
        f"least-squares cost {exact_loss:.8g}" + (f"; wrote {args.plot}" if args.plot else "")
    )
    return code


def sweep(args) -> int:
    import jax

    from . import plots, records, theory
    from .cli import EXIT_INTERRUPTED
    from .data import DataError
    from .loop import Status
    from .losses import mse
    from .models import Linear
    from .sweep import sweep as run_sweep

    if args.lr_min >= args.lr_max:
        raise DataError(f"--lr-min ({args.lr_min:g}) must be below --lr-max ({args.lr_max:g})")
    dataset, _, X, y, start = prepare(args)
    curvature = theory.curvature(mse, start, X, y)
    critical = curvature.critical_learning_rate
    rates = np.geomspace(args.lr_min, args.lr_max, args.num) * critical
    starts = None
    if args.seeds:
        starts = [
            Linear(*(jax.random.normal(key, leaf.shape, leaf.dtype) for key, leaf in
                     zip(jax.random.split(jax.random.key(seed)), start, strict=True)))
            for seed in range(args.seeds)
        ]  # fmt: skip
    result = run_sweep(
        mse, start, X, y, learning_rates=rates, starts=starts, optimizer=args.optimizer,
        max_steps=args.steps, tol=args.tol,
    )  # fmt: skip
    interrupted = any(run.status is Status.INTERRUPTED for run in result.results)
    threshold = result.divergence_threshold()
    bracket = result.divergence_bracket()
    refined = None
    if bracket is not None:  # narrow it: a second sweep inside, same shapes, no compile
        refined = run_sweep(
            mse, start, X, y, learning_rates=np.geomspace(*bracket, args.num), starts=starts,
            optimizer=args.optimizer, max_steps=args.steps, tol=args.tol,
        )  # fmt: skip
        interrupted = any(run.status is Status.INTERRUPTED for run in refined.results)
        threshold = None if interrupted else (refined.divergence_threshold() or threshold)
    record = {
        "data": dataset.source,
        "optimizer": args.optimizer,
        "critical_learning_rate": critical,
        "optimal_learning_rate": curvature.optimal_learning_rate,
        "L": curvature.L,
        "mu": curvature.mu,
        "divergence_threshold": threshold,
        "threshold_over_critical": None if threshold is None else threshold / critical,
        "seconds": result.seconds,
        "compile_seconds": result.compile_seconds,
        "seeds": args.seeds,
        "runs": [
            {
                "learning_rate": float(rate),
                "start": int(start_index),
                "status": run.status.value,
                "steps": run.num_steps,
                "loss": run.loss,
            }
            for rate, start_index, run in zip(
                result.learning_rates, result.start_indices, result.results, strict=True
            )
        ],
    }
    if args.plot:
        plots.learning_rate_sweep(
            result.learning_rates,
            result.final_losses,
            np.array([run.num_steps for run in result.results]),
            np.array([run.status.value == "diverged" for run in result.results]),
            critical,
            args.plot,
            title=f"{args.optimizer} on {dataset.source}: {args.num} learning rates, one call",
            threshold=threshold,
        )
    code = EXIT_INTERRUPTED if interrupted else EXIT_OK
    if args.json:
        print(records.dumps(record))
        return code
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
        f"{_threshold_sentence(result, threshold, critical, interrupted)}; "
        f"{len(result.results)} runs in one compiled call: {result.seconds:.3f} s "
        f"plus {result.compile_seconds:.2f} s to compile"
        + ("; a second sweep inside the bracket narrowed it" if refined is not None else "")
    )
    return code


def _threshold_sentence(result, threshold, critical, interrupted) -> str:
    from .loop import Status

    if interrupted:
        return "interrupted: no threshold from runs that did not finish"
    if threshold is not None:
        return f"diverges from {threshold:.6g} ({100 * (threshold / critical - 1):+.2f}% from 2/L)"
    diverged = [run.status is Status.DIVERGED for run in result.results]
    if all(diverged):
        return "every run diverged: sweep lower learning rates (--lr-min)"
    if not any(diverged):
        return "no run diverged in the range swept (--lr-max)"
    return "diverged and converging runs interleave: no single threshold"


def _axis(values, points: int = 121) -> np.ndarray:
    """A grid covering ``values`` with 25% to spare on each side (never of zero width)."""
    low, high = float(np.min(values)), float(np.max(values))
    spare = max(0.25 * (high - low), 1e-3 * max(abs(low), abs(high), 1.0))
    return np.linspace(low - spare, high + spare, points)


def plot_surface(args) -> int:
    import jax
    import jax.numpy as jnp

    from . import plots, records, theory
    from .data import DataError
    from .loop import trajectory
    from .losses import mse
    from .models import Linear

    dataset, _, X, y, start = prepare(args)
    if dataset.X.shape[1] != 1:
        raise DataError(f"plot-surface draws one feature (m, b); the data has {dataset.X.shape[1]}")
    curvature = theory.curvature(mse, start, X, y)
    exact = theory.closed_form(np.asarray(X, np.float64), np.asarray(y, np.float64))
    inverse_L = 1 / curvature.L
    rates = {
        f"small: 0.2/L = {0.2 * inverse_L:.3g}": 0.2 * inverse_L,
        f"good: 1/L = {inverse_L:.3g}": inverse_L,
        f"too large: 2.1/L = {2.1 * inverse_L:.3g}": 2.1 * inverse_L,
    }
    paths = {}
    for label, rate in rates.items():
        path = trajectory(mse, start, X, y, learning_rate=rate, steps=args.steps)
        paths[label] = (np.asarray(path.w[:, 0], np.float64), np.asarray(path.b, np.float64))
    m_star, b_star = float(exact.w[0]), float(exact.b)
    # The frame holds the optimum and the paths below 2/L (the last one diverges), padded.
    stable = list(paths.values())[:2]
    m_grid = _axis([m_star, *np.concatenate([ms for ms, _ in stable])])
    b_grid = _axis([b_star, *np.concatenate([bs for _, bs in stable])])
    for label, (ms, bs) in paths.items():  # a diverging path: drawn until it leaves the frame
        outside = (np.abs(ms - m_grid.mean()) > 3 * np.ptp(m_grid)) | (
            np.abs(bs - b_grid.mean()) > 3 * np.ptp(b_grid)
        )
        if outside.any():
            end = int(np.argmax(outside)) + 1
            paths[label] = (ms[:end], bs[:end])

    def cost_at(m, b):
        return mse(Linear(jnp.reshape(m, (1,)), b), X, y)

    costs = jax.vmap(jax.vmap(cost_at, in_axes=(0, None)), in_axes=(None, 0))(
        jnp.asarray(m_grid, X.dtype), jnp.asarray(b_grid, X.dtype)
    )
    if not np.all(np.isfinite(costs)):
        raise DataError(
            f"the cost overflows {X.dtype} on the plotted grid; try --x64 or standardized features"
        )
    coordinates = "standardized" if args.standardize else "raw"
    plots.cost_surface(
        m_grid, b_grid, np.asarray(costs, np.float64), paths, (m_star, b_star), args.out,
        title=f"cost over (m, b), {coordinates} {dataset.x_names[0]}: {dataset.source}",
        labels=(f"m ({coordinates} {dataset.x_names[0]})", "b"),
    )  # fmt: skip
    if args.json:
        print(
            records.dumps(
                {
                    "out": args.out,
                    "critical_learning_rate": curvature.critical_learning_rate,
                    "paths": {
                        label: {"m": ms.tolist(), "b": bs.tolist(), "learning_rate": rates[label]}
                        for label, (ms, bs) in paths.items()
                    },
                }
            )
        )
    else:
        Console().print(f"wrote {args.out}: {', '.join(rates)}")
    return EXIT_OK
