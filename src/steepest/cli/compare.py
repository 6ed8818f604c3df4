"""``steepest compare``: several optimizers to the same tolerance, side by side.

Exit codes: 0, or 130 when Ctrl-C stopped the comparison; 2 for bad input.
"""

from .arguments import (
    ListAction,
    add_data_arguments,
    add_output_arguments,
    add_run_arguments,
    batch_settings,
    dataset_argument,
)
from .output import EXIT_INTERRUPTED, EXIT_OK, deliver, finish


def add_parser(commands) -> None:
    from steepest import optimizers
    from steepest._src.optimizers import COMPARED as DEFAULT_OPTIMIZERS

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
    import steepest

    runs = steepest.compare(
        dataset_argument(args), args.y, x=args.x, optimizers=args.optimizers,
        standardize=args.standardize, tol=args.tol, rtol=args.rtol, x64=args.x64,
        devices=args.devices, **batch_settings(args),
    )  # fmt: skip
    outputs = deliver(args, argv, runs, lambda plots: plots.loss_curves(runs))
    code = EXIT_INTERRUPTED if runs.interrupted else EXIT_OK
    kept = f"{len(runs.fits)} of {len(runs.optimizers)} optimizers ran; their runs are reported"
    return finish(code, outputs, kept=kept)
