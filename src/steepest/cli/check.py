"""``steepest check``: a hand-derived gradient against autodiff and finite differences.

Exit codes: 0 the check passes, 1 it fails, 2 bad input, including a loss or
gradient that raises: the one-line error names the stage that failed (the loss,
the hand-derived gradient, autodiff or finite differences) and the exception.
"""

from .arguments import (
    ListAction,
    add_output_arguments,
    non_negative_float,
    positive_float,
    seed,
    whole_number,
)
from .output import EXIT_FAILED, EXIT_OK, emit, printing

# Points a check takes at most: each costs the finite differences of every parameter, so
# that a million (accepted once) never ended.
MAX_POINTS = 1000


def point_count(text: str) -> int:
    return whole_number(text, 1, MAX_POINTS)


def add_parser(commands) -> None:
    from steepest._src.gradcheck import DEFAULT_FD_RTOL, DEFAULT_RTOL
    from steepest._src.io.sources import MAX_PARAMS, MAX_PARAMS_TIME

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
        metavar="NAME=SHAPE|FILE",
        help="the params: their values from a .npz or .json file (name: number or list), "
        "or what FILE.py:INIT returns, or random normal values of shapes such as w=3 "
        f"b=scalar W=4x2; at most {MAX_PARAMS} elements in all (that many take "
        f"{MAX_PARAMS_TIME}: the check grows as their square)",
    )
    check.add_argument(
        "--keywords",
        action=ListAction,
        commas=False,
        metavar="NAME=VALUE",
        help="keyword arguments of the loss and the gradient, e.g. lam=0.1 (values read as "
        "JSON: numbers, true/false, lists; else text)",
    )
    check.add_argument(
        "--data",
        metavar="FILE.npz",
        help="arrays passed after params, matched by the loss's argument names",
    )
    check.add_argument(
        "--points", type=point_count, default=3,
        help=f"points to check (3; at most {MAX_POINTS:,}: each takes the finite differences "
        "of every parameter)",
    )  # fmt: skip
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
    import contextlib
    import sys

    from steepest import check_gradient, data
    from steepest._src.gradcheck import GradientCheckError
    from steepest._src.io import sources

    exited: list[str] = []  # the FILE.py:FUNCTION that called sys.exit(), if one did
    # The user's prints, at import and during the check, go to stderr: stdout holds only
    # the report (with --json, only JSON).
    with contextlib.redirect_stdout(sys.stderr):
        loss, grad, params, arrays = _inputs(args, exited)
        try:
            report = check_gradient(
                loss, grad, params, *arrays,
                num_points=args.points, key=args.seed,
                rtol=args.rtol, fd_rtol=args.fd_rtol, atol=args.atol,
            )  # fmt: skip
        except GradientCheckError as error:  # the user's function raised: the message names it
            raise data.DataError(str(error)) from None
        except SystemExit as stopped:
            if not exited:
                raise
            raise data.DataError(
                f"{exited[0]} called {sources.describe_exit(stopped)} while being checked"
            ) from None
    emit(args, report, argv)
    if not args.json:
        with printing():
            print(report)
    return EXIT_OK if report.ok else EXIT_FAILED


def _inputs(args, exited: list[str]):
    """The loss, the gradient, the params and the data of the check: the tutorial's on the
    built-in dataset without LOSS, else the user's files."""
    import numpy as np

    from steepest import Linear, analytic, data, mse
    from steepest._src.io import sources

    if args.loss is None:
        if args.grad or args.params or args.data or args.keywords:
            raise data.DataError("--grad, --params, --data and --keywords go with a LOSS to check")
        builtin = data.builtin()
        start = Linear(w=np.zeros(1), b=np.float64(0.0))  # the tutorial's start
        return mse, analytic.mse_grad, start, [builtin.X, builtin.y]
    if args.grad is None or args.params is None:
        raise data.DataError("checking a LOSS needs --grad FILE.py:FUNCTION and --params")
    loss, keywords, params, arrays = sources.user_inputs(
        args.loss, args.params, args.data, args.keywords, args.seed
    )
    grad = sources.load_function(args.grad)
    loss = _noting_exit(loss, args.loss, exited, keywords)
    grad = _noting_exit(grad, args.grad, exited, keywords)
    return loss, grad, params, arrays


def _noting_exit(function, spec: str, exited: list, fixed: dict):
    """``function`` with the keyword arguments ``fixed``, noting ``spec`` in ``exited``
    when it calls ``sys.exit()`` (then re-raised)."""
    import functools

    @functools.wraps(function)
    def noting(*arguments, **keywords):
        try:
            return function(*arguments, **keywords, **fixed)
        except SystemExit:
            exited.append(spec)
            raise

    return noting
