"""``steepest sweep``: many learning rates in one compiled call, against the critical 2/L.

Exit codes: 0, or 130 when Ctrl-C stopped the sweep; 2 for bad input.
"""

from .arguments import (
    add_data_arguments,
    add_output_arguments,
    add_run_arguments,
    batch_settings,
    dataset_argument,
    positive_float,
    positive_int,
)
from .output import EXIT_INTERRUPTED, EXIT_OK, deliver, finish


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
    import steepest

    swept = steepest.sweep_learning_rates(
        dataset_argument(args), args.y, x=args.x, optimizer=args.optimizer, num=args.num,
        lr_min=args.lr_min, lr_max=args.lr_max, seeds=args.seeds, standardize=args.standardize,
        tol=args.tol, rtol=args.rtol, x64=args.x64, devices=args.devices,
        **batch_settings(args),
    )  # fmt: skip
    outputs = deliver(args, argv, swept, lambda plots: plots.learning_rate_sweep(swept))
    code = EXIT_INTERRUPTED if swept.interrupted else EXIT_OK
    return finish(code, outputs, kept=KEPT)


KEPT = "every run stopped where it was; the runs are reported, with no threshold claimed"
