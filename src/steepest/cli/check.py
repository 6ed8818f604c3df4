"""``steepest check``: a hand-derived gradient against autodiff and finite differences.

Exit codes: 0 the check passes, 1 it fails, 2 bad input, including a loss or
gradient that raises: the one-line error names the stage that failed (the loss,
the hand-derived gradient, autodiff or finite differences) and the exception.
"""

from .options import (
    EXIT_FAILED,
    EXIT_OK,
    ListAction,
    add_output_arguments,
    non_negative_float,
    positive_float,
    positive_int,
    seed,
)


def add_parser(commands) -> None:
    from steepest._src.gradcheck import DEFAULT_FD_RTOL, DEFAULT_RTOL

    check = commands.add_parser(
        "check",
        help="check a hand-derived gradient against autodiff and finite differences",
        description="Compare a hand-derived gradient with jax.grad and with central finite "
        "differences, in float64, at the params and at random points near them; say what "
        "is wrong when they differ. Without LOSS, checks the tutorial's linear-regression "
        "gradient on the built-in dataset. Exits 0 when the check passes, 1 when it fails.",
        example="steepest check model.py:loss --grad model.py:grad --params w=3 b=scalar "
        "--data arrays.npz",
    )
    check.add_argument(
        "loss", nargs="?", metavar="LOSS", help="the loss as FILE.py:FUNCTION, loss(params, ...)"
    )
    check.add_argument("--grad", metavar="FILE.py:FUNCTION", help="the hand-derived gradient")
    check.add_argument(
        "--params",
        action=ListAction,
        commas=False,  # a shape may be written 4,2
        metavar="NAME=SHAPE",
        help="the params, a dict of arrays: e.g. w=3 b=scalar W=4x2 (random normal values)",
    )
    check.add_argument(
        "--data",
        metavar="FILE.npz",
        help="arrays passed after params, matched by the loss's argument names",
    )
    check.add_argument("--points", type=positive_int, default=3, help="points to check (3)")
    check.add_argument("--seed", type=seed, default=0, help="seed of params and points (0)")
    check.add_argument(
        "--rtol", type=positive_float, default=DEFAULT_RTOL,
        help=f"hand-derived vs autodiff tolerance, relative (default {DEFAULT_RTOL:g})",
    )  # fmt: skip
    check.add_argument(
        "--fd-rtol", type=positive_float, default=DEFAULT_FD_RTOL,
        help=f"autodiff vs finite differences tolerance, relative (default {DEFAULT_FD_RTOL:g})",
    )  # fmt: skip
    check.add_argument(
        "--atol", type=non_negative_float, default=0.0, help="absolute floor (default 0)"
    )
    add_output_arguments(check, plot=None)
    check.set_defaults(run=run)


def run(args, argv=None) -> int:
    import numpy as np

    from steepest import Linear, analytic, check_gradient, data, mse
    from steepest._src.gradcheck import GradientCheckError
    from steepest._src.io import sources

    from .options import emit

    if args.loss is None:
        if args.grad or args.params or args.data:
            raise data.DataError("--grad, --params and --data go with a LOSS to check")
        builtin = data.builtin()
        loss, grad = mse, analytic.mse_grad
        params = Linear(w=np.zeros(1), b=np.float64(0.0))  # the tutorial's start
        arrays = [builtin.X, builtin.y]
    else:
        if args.grad is None or args.params is None:
            raise data.DataError("checking a LOSS needs --grad FILE.py:FUNCTION and --params")
        loss = sources.load_function(args.loss)
        grad = sources.load_function(args.grad)
        params = sources.random_params(sources.parse_shapes(args.params), args.seed)
        arrays = sources.data_for(loss, args.data)
    try:
        report = check_gradient(
            loss, grad, params, *arrays,
            num_points=args.points, key=args.seed,
            rtol=args.rtol, fd_rtol=args.fd_rtol, atol=args.atol,
        )  # fmt: skip
    except GradientCheckError as error:  # the user's function raised: the message names it
        raise data.DataError(str(error)) from None
    emit(args, report.to_dict(), argv)
    if not args.json:
        print(report)
    return EXIT_OK if report.ok else EXIT_FAILED
