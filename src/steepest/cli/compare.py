"""``steepest compare``: several optimizers to the same tolerance, side by side.

Exit codes: 0, or 130 when Ctrl-C stopped the comparison; 2 for bad input.
"""

import numpy as np
from rich.console import Console
from rich.table import Table

from .options import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    ListAction,
    Outputs,
    add_data_arguments,
    add_output_arguments,
    add_run_arguments,
    batch_settings,
    draw,
    emit,
    finish,
    prepared,
    stop_rule,
)

DEFAULT_OPTIMIZERS = ("gd", "momentum", "nesterov", "adam", "lbfgs")


def add_parser(commands) -> None:
    from steepest import optimizers

    compare = commands.add_parser(
        "compare",
        help="run several optimizers to the same tolerance, side by side",
        description="Fit the same data with each optimizer, each at its default learning "
        "rate (1/L, or 1 for L-BFGS), to the same gradient-norm tolerance.",
        example="steepest compare --optimizers gd momentum adam lbfgs --plot compare.png",
    )
    add_data_arguments(compare, builtin_x=None)
    compare.add_argument(
        "--optimizers",
        action=ListAction,
        default=list(DEFAULT_OPTIMIZERS),
        metavar="NAME",
        help=f"space- or comma-separated, from: {', '.join(optimizers.names())} "
        f"(default {' '.join(DEFAULT_OPTIMIZERS)})",
    )
    add_run_arguments(compare)
    add_output_arguments(compare, plot="write the loss-vs-step curves, one per optimizer")
    compare.set_defaults(run=run)


def run(args, argv=None) -> int:
    from steepest import DataError, Status, fit, mse, optimizers, theory
    from steepest._src import model
    from steepest._src.io import records

    names = list(dict.fromkeys(args.optimizers))  # in order, each once
    unknown = [name for name in names if name not in optimizers.names()]
    if unknown:
        raise DataError(
            f"--optimizers: unknown {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(optimizers.names())}"
        )
    dataset, standardizer, X, y, start, evaluate64 = prepared(args)
    batches = batch_settings(args)
    exact = theory.closed_form(dataset.X, dataset.y)
    exact_loss = float(theory.closed_form_cost(exact, dataset.X, dataset.y))
    rows, curves = [], {}
    interrupted = False
    for name in names:
        try:
            result = fit(
                mse, start, X, y, optimizer=name, tol=args.tol, rtol=args.rtol,
                evaluate64=evaluate64, **batches,
            )  # fmt: skip
        except KeyboardInterrupt:  # while compiling: the runs finished so far are kept
            interrupted = True
            break
        fitted = standardizer.to_original(result.params)
        rows.append(
            {
                "optimizer": name,
                "learning_rate": result.learning_rate,
                "steps": result.num_steps,
                "status": result.status.value,
                "loss": result.loss,
                "digits": None if result.certificate is None else result.certificate.digits,
                "distance_to_closed_form": float(
                    np.linalg.norm(model.flat(fitted) - model.flat(exact))
                ),
                "seconds": result.seconds,
                "params": records.params_to_dict(fitted),
            }
        )
        curves[name] = (result.loss_steps, result.losses)
        if result.status is Status.INTERRUPTED:  # Ctrl-C stops the comparison, not one run
            interrupted = True
            break
    record = {
        "data": dataset.source,
        "tol": args.tol,
        "rtol": args.rtol,
        "closed_form": records.params_to_dict(exact),
        "closed_form_loss": exact_loss,
        "runs": rows,
    }
    outputs = Outputs()
    if args.plot:
        from steepest import plots  # matplotlib only for a run that draws

        title = f"{dataset.source}: {stop_rule(args)}"
        if args.batch_size is not None:
            title += f", batches of {args.batch_size}"
        unit = "step" if args.batch_size is None else "epoch"
        draw(args, lambda: plots.loss_curves(curves, exact_loss, title=title, xlabel=unit), outputs)
    code = EXIT_INTERRUPTED if interrupted else EXIT_OK
    kept = f"{len(rows)} of {len(names)} optimizers ran; their runs are reported"
    emit(args, record, argv, outputs)
    if args.json:
        return finish(code, outputs, kept=kept)
    table = Table(title=f"steepest compare: {dataset.source}, {stop_rule(args)}")
    columns = ("optimizer", "lr", "steps", "status", "certain digits", "|p - p*|", "seconds")
    for column in columns:
        left = column in ("optimizer", "status")
        table.add_column(column, justify="left" if left else "right", no_wrap=left)
    for row in rows:
        table.add_row(
            row["optimizer"],
            f"{row['learning_rate']:.4g}",
            f"{row['steps']}",
            row["status"],
            "" if row["digits"] is None else f"{row['digits']}",
            f"{row['distance_to_closed_form']:.1e}",
            f"{row['seconds']:.4f}",
        )
    console = Console()
    console.print(table)
    console.print(f"least-squares cost {exact_loss:.8g}")
    return finish(code, outputs, kept=kept)
