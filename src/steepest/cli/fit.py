"""``steepest fit``: fit a linear model by gradient descent and set it beside the closed form.

Exit codes: 0 converged, 1 diverged, 2 bad input, 3 stopped short of convergence
(max_steps, stalled, imprecise), 130 Ctrl-C.
"""

from .arguments import (
    add_data_arguments,
    add_output_arguments,
    add_run_arguments,
    batch_settings,
    dataset_argument,
    positive_float,
)
from .output import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_NOT_CONVERGED,
    EXIT_OK,
    Outputs,
    draw,
    emit,
    finish,
)


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
    import steepest
    from steepest import plots
    from steepest._src.stopping import steps_phrase

    fit = steepest.linear(
        dataset_argument(args), args.y, x=args.x, intercept=not args.no_intercept,
        standardize=args.standardize, optimizer=args.optimizer, learning_rate=args.lr,
        tol=args.tol, rtol=args.rtol, method=args.method, x64=args.x64,
        devices=args.devices, stream=args.stream, progress=not args.json,
        **batch_settings(args),
    )  # fmt: skip
    outputs = Outputs()
    draw(args, lambda: plots.loss_curve(fit), outputs)
    emit(args, fit, argv, outputs)
    if not args.json:
        from rich.console import Console

        Console().print(fit)
    kept = f"the run stopped after {steps_phrase(fit.steps)}; what it reached is reported"
    return finish(EXIT_CODES.get(fit.status, EXIT_NOT_CONVERGED), outputs, kept=kept)


# The exit code of each status; every other (max_steps, stalled, imprecise) is 3.
EXIT_CODES = {"converged": EXIT_OK, "diverged": EXIT_FAILED, "interrupted": EXIT_INTERRUPTED}
