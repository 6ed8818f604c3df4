"""``steepest fit``: fit a linear model by gradient descent and set it beside the closed form.

Exit codes: 0 converged, 1 diverged, 2 bad input, 3 stopped short of convergence
(max_steps, stalled, imprecise), 130 Ctrl-C.
"""

from .options import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_NOT_CONVERGED,
    EXIT_OK,
    add_data_arguments,
    add_output_arguments,
    add_run_arguments,
    batch_settings,
    draw,
    emit,
    finish,
    original_data_evaluator,
    positive_float,
    prepare,
)
from .progress import ProgressBar


def add_parser(commands) -> None:
    from steepest import optimizers

    names = optimizers.names()
    fit = commands.add_parser(
        "fit",
        help="fit a linear model by gradient descent",
        description="Fit y ≈ X w + b by minimizing the mean squared error with a compiled loop. "
        "Without --data, fits the built-in dataset's one-feature example (sales ~ radio).",
        example="steepest fit --data runs.csv --y loss --x width depth --plot loss.png",
    )
    add_data_arguments(fit, builtin_x=["radio"])
    fit.add_argument(
        "--lr",
        type=positive_float,
        help="learning rate (default: 1/L, L the largest eigenvalue of the Hessian of the cost)",
    )
    add_run_arguments(fit)
    fit.add_argument(
        "--no-intercept",
        action="store_true",
        help="fit y ≈ X w, through the origin (features are then scaled, not centered)",
    )
    fit.add_argument(
        "--optimizer",
        default="gd",
        choices=names,
        metavar="NAME",
        help=f"one of {', '.join(names)} (default gd, the tutorial's rule)",
    )
    fit.add_argument(
        "--method",
        choices=["loop", "quadratic"],
        default="loop",
        help="quadratic: take the Hessian and gradient once, then step in O(d^2) (mse is "
        "quadratic in w and b; same iterates up to rounding)",
    )
    fit.add_argument(
        "--stream",
        action="store_true",
        help="read --data (a 2-D .npy, or a .parquet with pyarrow) a chunk of rows at a time, "
        "never all in memory: the same full-batch descent on data bigger than memory (with "
        "--batch-size, mini-batches drawn chunk by chunk)",
    )
    add_output_arguments(fit, plot="write the loss curve (cost minus the least-squares cost)")
    fit.set_defaults(run=run)


def run(args, argv=None) -> int:
    import jax.numpy as jnp
    import numpy as np

    from steepest import DataError, Status, fit, mse, optimizers, theory
    from steepest._src import model
    from steepest._src.io import records
    from steepest._src.stopping import FLOAT64_HINT

    if args.stream:
        if args.processes.many:
            raise DataError("--stream reads in one process; over several, each holds its rows")
        return _run_streamed(args, argv)
    dataset, standardizer, X, y, start = prepare(args)
    batches = batch_settings(args, len(X))
    intercept = not args.no_intercept
    needs_hessian = args.lr is None and args.optimizer not in optimizers.DEFAULT_LEARNING_RATES
    if needs_hessian and X.shape[1] + intercept > theory.MAX_DENSE_HESSIAN:
        raise DataError(
            f"--lr is needed for {X.shape[1]} features: the default 1/L takes the Hessian, "
            f"formed only up to {theory.MAX_DENSE_HESSIAN} parameters"
        )
    dtype = X.dtype
    if args.lr is not None:
        lr_source = "--lr"
    elif args.optimizer in optimizers.DEFAULT_LEARNING_RATES:
        lr_source = f"the default for {args.optimizer}"
    else:
        lr_source = "1/L"  # with None, fit derives 1/L itself

    with ProgressBar(batches.get("epochs", args.steps), enabled=not args.json) as bar:
        result = fit(
            mse,
            start,
            X,
            y,
            optimizer=args.optimizer,
            learning_rate=args.lr,
            tol=args.tol,
            rtol=args.rtol,
            on_chunk=bar.update,
            method=args.method,
            evaluate64=original_data_evaluator(dataset, standardizer, args.processes),
            **batches,
        )

    fitted = standardizer.to_original(result.params)
    across = args.processes.many  # the dataset: this process's rows
    solution = theory.least_squares(
        dataset.X, dataset.y, fit_intercept=intercept, across_processes=across
    )
    exact = solution.params
    exact_loss = float(
        theory.closed_form_cost(exact, dataset.X, dataset.y, across_processes=across)
    )
    certificate = result.certificate
    bounds = None
    if certificate is not None:
        # Plus the float64 rounding of the map back to original units: a few ulps of each.
        mapped = certificate.bounds_of(standardizer.jacobian(intercept))
        rounding = 8 * np.finfo(np.float64).eps * np.abs(model.flat(fitted))
        bounds = _as_params(mapped + rounding, intercept)
    learning_rate = result.learning_rate
    message = result.message.replace(FLOAT64_HINT, "run with --x64")
    if result.status is Status.DIVERGED and args.batch_size is None:
        message += _critical_rate(lr_source, learning_rate, start, X, y)
    elif result.status is Status.DIVERGED:  # 2/L is the limit of full-batch descent only
        message += f" (this run used {learning_rate:.6g}; with mini-batches the stable rate "
        message += "depends on the curvature of each batch, often well below 1/L)"
    record = {
        "params": records.params_to_dict(fitted),
        "loss": result.loss,
        "steps": result.num_steps,
        "status": result.status.value,
        "message": message,
        "seconds": result.seconds,
        "compile_seconds": result.compile_seconds,
        "certificate": None
        if certificate is None
        else {
            "bounds": records.params_to_dict(bounds),
            "distance": certificate.distance,
            "relative": certificate.relative,
            "digits": certificate.digits,
            "condition_number": certificate.condition_number,
        },
        "warnings": list(result.warnings),
        "closed_form": records.params_to_dict(exact),
        "closed_form_loss": exact_loss,
        "closed_form_error": solution.relative_error,
        "closed_form_reliable": solution.reliable,
        "closed_form_message": solution.message,
        "intercept": intercept,
        "learning_rate": learning_rate,
        "learning_rate_source": lr_source,
        "optimizer": args.optimizer,
        "method": args.method,
        "dtype": jnp.dtype(dtype).name,
        "devices": len(X.devices()),
        "processes": args.processes.count,
        **_batch_record(batches),
        "standardized": args.standardize,
        "data": {
            "source": dataset.source,
            "rows": len(X),
            "x": list(dataset.x_names),
            "y": dataset.y_name,
        },
        "loss_steps": result.loss_steps.tolist(),
        "losses": result.losses.tolist(),
    }
    unwritten = []  # what could not be written: reported after the result is printed

    def figure(path):
        from steepest import plots  # matplotlib only for a run that draws

        plots.loss_curves(
            {args.optimizer: (result.loss_steps, result.losses)},
            exact_loss,
            path,
            title=f"steepest fit: {dataset.source}, {args.optimizer}, lr {learning_rate:.4g}",
        )

    drawn = draw(args, figure, unwritten)
    emit(args, record, argv, unwritten)
    if not args.json:
        _print_table(record, result.steps_per_second)
        if drawn:
            print(f"wrote {args.plot}")
    code = _exit_codes().get(result.status, EXIT_NOT_CONVERGED)
    return finish(code, unwritten, kept=_kept(result))


def _critical_rate(lr_source: str, learning_rate: float, start, X, y) -> str:
    """What a diverged run is told of 2/L, the rate above which gradient descent diverges."""
    from steepest import mse, theory

    if lr_source == "1/L":
        critical = 2 * learning_rate
    elif X.shape[1] + 1 <= theory.MAX_DENSE_HESSIAN:
        critical = theory.critical_learning_rate(mse, start, X, y)
    else:
        return f" (this run used {learning_rate:.6g}; 2/L is not computed above 2048 parameters)"
    return f" (critical learning rate 2/L = {critical:.6g}; this run used {learning_rate:.6g})"


def _as_params(flat, intercept: bool):
    """Per-coefficient numbers, flattened ``[w..., b]``, as a ``Linear``."""
    from steepest import Linear

    return Linear(w=flat[:-1], b=flat[-1]) if intercept else Linear(w=flat)


def _exit_codes() -> dict:
    from steepest import Status

    return {
        Status.CONVERGED: EXIT_OK,
        Status.DIVERGED: EXIT_FAILED,
        Status.INTERRUPTED: EXIT_INTERRUPTED,
    }


def _print_table(record: dict, steps_per_second: float) -> None:
    from rich.console import Console
    from rich.table import Table

    source = record["data"]
    names = source["x"]
    title = (
        f"steepest fit: {source['source']}, {source['rows']} rows, "
        f"{source['y']} ~ {' + '.join(names)}"
    )
    params = Table(title=title, title_justify="left")
    certificate = record["certificate"]
    columns = ["parameter", "fitted", "certain to ±", "closed form", "difference"]
    if certificate is None:
        columns.remove("certain to ±")
    for column in columns:
        params.add_column(column, justify="left" if column == "parameter" else "right")
    labels = ["m" if len(names) == 1 else f"w[{j}]" for j in range(len(names))]
    bounds = certificate["bounds"] if certificate else {"w": [None] * len(names), "b": None}
    rows = [
        (f"{label} ({name})", fitted, bound, exact)
        for label, name, fitted, bound, exact in zip(
            labels,
            names,
            record["params"]["w"],
            bounds["w"],
            record["closed_form"]["w"],
            strict=True,
        )
    ]
    if record["intercept"]:
        rows.append(
            ("b (intercept)", record["params"]["b"], bounds["b"], record["closed_form"]["b"])
        )
    for label, fitted, bound, exact in rows:
        certain = [] if certificate is None else [f"{bound:.1e}"]
        params.add_row(label, f"{fitted:.8g}", *certain, f"{exact:.8g}", f"{fitted - exact:+.2e}")

    summary = Table(show_header=False, box=None, padding=(0, 2))
    summary.add_column(style="bold")
    summary.add_column()
    standardized = "standardized features" if record["standardized"] else "raw features"
    if record["processes"] > 1:
        standardized += f", rows split over {record['devices']} devices of "
        standardized += f"{record['processes']} processes"
    elif record["devices"] > 1:
        standardized += f", rows split over {record['devices']} devices"
    if record["batch_size"] is not None:
        standardized += f", mini-batches of {record['batch_size']} rows (a step is an epoch)"
    if record["schedule"] is not None:
        standardized += f", {record['schedule']['kind']} schedule"
    summary.add_row("final cost", f"{record['loss']:.8g}")
    summary.add_row("closed-form cost", f"{record['closed_form_loss']:.8g}")
    summary.add_row("closed form", record["closed_form_message"])
    summary.add_row("steps", f"{record['steps']}")
    summary.add_row("status", record["message"])
    summary.add_row(
        "learning rate", f"{record['learning_rate']:.6g} ({record['learning_rate_source']})"
    )
    summary.add_row("optimizer", f"{record['optimizer']}, {record['dtype']}, {standardized}")
    summary.add_row(
        "wall time",
        f"{record['seconds']:.4f} s ({steps_per_second:,.0f} steps/s), "
        f"plus {record['compile_seconds']:.2f} s to compile",
    )
    for warning in record["warnings"]:
        if warning not in record["message"]:
            summary.add_row("warning", warning)
    console = Console()
    console.print(params)
    console.print(summary)


def _run_streamed(args, argv) -> int:
    """``fit --stream``: the file read a chunk at a time (``fit_stream``), the features
    standardized by a streamed pass, the result in original units; no closed form."""
    import numpy as np
    from rich.console import Console
    from rich.table import Table

    from steepest import DataError, Linear, fit_stream, mse
    from steepest._src.io import records
    from steepest._src.io.data import Standardizer
    from steepest._src.io.stream import standardizer_of, stream

    if args.data is None:
        raise DataError("--stream needs --data FILE.npy or FILE.parquet")
    unsupported = [flag for flag, given in (
        ("--no-intercept", args.no_intercept), ("--method quadratic", args.method != "loop"),
        ("--devices", args.devices), ("--plot", args.plot),
        ("--optimizer lbfgs", args.optimizer == "lbfgs"),
    ) if given]  # fmt: skip
    if unsupported:
        raise DataError(f"--stream does not take {', '.join(unsupported)} yet")
    dtype = np.float64 if args.x64 else np.float32
    chunks = stream(args.data, y=args.y, x=args.x, dtype=dtype)
    per_epoch = None if args.batch_size is None else chunks.updates_per_epoch(args.batch_size)
    batches = batch_settings(args, chunks.rows, per_epoch)
    shift, scale = standardizer_of(chunks) if args.standardize else (None, None)
    if shift is not None:
        chunks = chunks.standardized(shift, scale)
    columns = list(chunks.x_columns)
    standardizer = (
        Standardizer(shift[columns], scale[columns], float(shift[chunks.y_column]))
        if shift is not None
        else Standardizer.identity(len(columns))
    )
    with ProgressBar(batches.get("epochs", args.steps), enabled=not args.json) as bar:
        result = fit_stream(
            mse, Linear.zeros(len(columns), dtype), chunks, optimizer=args.optimizer,
            learning_rate=args.lr, tol=args.tol, rtol=args.rtol, on_chunk=bar.update,
            **batches,
        )  # fmt: skip
    fitted = standardizer.to_original(result.params)
    record = {
        "params": records.params_to_dict(fitted),
        "loss": result.loss,
        "steps": result.num_steps,
        "status": result.status.value,
        "message": result.message,
        "learning_rate": result.learning_rate,
        "optimizer": args.optimizer,
        "dtype": np.dtype(dtype).name,
        "standardized": args.standardize,
        **_batch_record(batches),
        "streamed": {"chunks": chunks.num_chunks, "chunk_rows": chunks.chunk_rows},
        "data": {
            "source": chunks.source,
            "rows": chunks.rows,
            "x": list(chunks.x_names),
            "y": chunks.y_name,
        },
        "seconds": result.seconds,
        "compile_seconds": result.compile_seconds,
        "loss_steps": result.loss_steps.tolist(),
        "losses": result.losses.tolist(),
    }
    unwritten = []
    emit(args, record, argv, unwritten)
    if not args.json:
        table = Table(title=f"steepest fit --stream: {chunks.source}, {chunks.rows:,} rows")
        table.add_column("parameter")
        table.add_column("fitted", justify="right")
        names = [f"w{i} ({name})" for i, name in enumerate(chunks.x_names)] + ["b (intercept)"]
        for name, value in zip(names, [*np.ravel(fitted.w), float(fitted.b)], strict=True):
            table.add_row(name, f"{value:.8g}")
        console = Console()
        console.print(table)
        console.print(f"status: {result.message}")
        console.print(
            f"{chunks.num_chunks} chunks of {chunks.chunk_rows:,} rows a step; "
            f"{result.seconds / max(result.num_steps - 1, 1):.3g} s a step; no closed form "
            "or certificate when streaming"
        )
    code = _exit_codes().get(result.status, EXIT_NOT_CONVERGED)
    return finish(code, unwritten, kept=_kept(result))


def _kept(result) -> str:
    """What an interrupted fit keeps, in the line ``finish`` writes."""
    from steepest._src.stopping import steps_phrase

    return f"the run stopped after {steps_phrase(result.num_steps)}; what it reached is reported"


def _batch_record(batches: dict) -> dict:
    """The record's mini-batch fields, from ``batch_settings``: None for full batch."""
    schedule = batches.get("schedule")
    return {
        "batch_size": batches.get("batch_size"),
        "schedule": None if schedule is None else schedule._asdict(),
    }
