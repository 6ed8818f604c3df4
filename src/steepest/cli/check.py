"""``steepest check``: a hand-derived gradient, Hessian, Hessian-vector product, JVP or
VJP against autodiff and finite differences.

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
    from steepest._src.io.sources import MAX_PARAMS, MAX_PARAMS_TIME
    from steepest._src.tolerances import DEFAULT_FD_RTOL, DEFAULT_RTOL

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
        "loss",
        nargs="?",
        metavar="LOSS",
        help="the loss as FILE.py:FUNCTION, loss(params, ...); with --jvp or --vjp, any "
        "function f(params, ...) of arrays",
    )
    derived = check.add_mutually_exclusive_group()
    derived.add_argument(
        "--grad", metavar="FILE.py:FUNCTION", help="the hand-derived gradient, grad(params, ...)"
    )
    derived.add_argument(
        "--hessian",
        metavar="FILE.py:FUNCTION",
        help="a hand-derived Hessian, hessian(params, ...): the (n, n) matrix over the params "
        "flattened as jax.flatten_util.ravel_pytree orders them, or jax.hessian's blocks",
    )
    derived.add_argument(
        "--hvp",
        metavar="FILE.py:FUNCTION",
        help="a hand-derived Hessian-vector product, hvp(params, v, ...), v shaped as params",
    )
    derived.add_argument(
        "--jvp",
        metavar="FILE.py:FUNCTION",
        help="a hand-derived JVP of LOSS, jvp(params, tangent, ...): J tangent, shaped as "
        "LOSS's output",
    )
    derived.add_argument(
        "--vjp",
        metavar="FILE.py:FUNCTION",
        help="a hand-derived VJP of LOSS, vjp(params, cotangent, ...): J^T cotangent, shaped "
        "as params",
    )
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
        "of every parameter); --jvp and --vjp check at the params alone",
    )  # fmt: skip
    check.add_argument("--seed", type=seed, default=0, help="seed of params and points (0)")
    check.add_argument(
        "--rtol", type=positive_float, default=DEFAULT_RTOL,
        help=f"hand-derived vs autodiff tolerance, relative (default {DEFAULT_RTOL:g}); "
        "--grad only: the other checks set theirs from the rounding",
    )  # fmt: skip
    check.add_argument(
        "--fd-rtol", type=positive_float, default=DEFAULT_FD_RTOL,
        help="autodiff vs finite differences tolerance, relative (default "
        f"{DEFAULT_FD_RTOL:g}); --grad only",
    )  # fmt: skip
    check.add_argument(
        "--atol",
        type=non_negative_float,
        default=0.0,
        help="absolute floor (default 0); --grad only",
    )
    add_output_arguments(check, plot=None)
    check.set_defaults(run=run)


# What each option checks: its name in errors, and the library function.
KINDS = {
    "grad": "gradient",
    "hessian": "Hessian",
    "hvp": "Hessian-vector product",
    "jvp": "JVP",
    "vjp": "VJP",
}


def run(args, argv=None) -> int:
    import contextlib
    import sys

    from steepest import data
    from steepest._src.gradcheck import NOT_TRACEABLE, GradientCheckError
    from steepest._src.io import sources

    exited: list[str] = []  # the FILE.py:FUNCTION that called sys.exit(), if one did
    # The user's prints, at import and during the check, go to stderr: stdout holds only
    # the report (with --json, only JSON).
    with contextlib.redirect_stdout(sys.stderr):
        kind, loss, derived, params, arrays = _inputs(args, exited)
        try:
            report = _check(args, kind, loss, derived, params, arrays)
        except (GradientCheckError, UserFunctionError) as error:
            # the user's function raised: the message names it
            raise data.DataError(str(error)) from None
        except NOT_TRACEABLE as error:  # only --grad and --jvp/--vjp manage without autodiff
            raise data.DataError(
                f"JAX cannot differentiate {args.loss} ({sources.describe_error(error)}): "
                f"checking a {KINDS[kind]} needs autodiff of a loss written in JAX"
            ) from None
        except SystemExit as stopped:
            if not exited:
                raise
            raise data.DataError(
                f"{exited[0]} called {sources.describe_exit(stopped)} while being checked"
            ) from None
        except (TypeError, ValueError) as error:
            # What the user's functions returned does not fit (a vector for a cost, a
            # product of another size): the checker's own words, in one line.
            raise data.DataError(
                f"checking the {KINDS[kind]} of {args.loss} with {getattr(args, kind)}: "
                f"{sources.describe_error(error)}"
            ) from None
    emit(args, report, argv)
    if not args.json:
        with printing():
            print(report)
    return EXIT_OK if report.ok else EXIT_FAILED


def _check(args, kind: str, loss, derived, params, arrays):
    """The report of the check ``kind`` names (``KINDS``)."""
    import steepest

    if kind == "grad":
        return steepest.check_gradient(
            loss, derived, params, *arrays,
            num_points=args.points, key=args.seed,
            rtol=args.rtol, fd_rtol=args.fd_rtol, atol=args.atol,
        )  # fmt: skip
    if kind == "hessian":
        return steepest.check_hessian(
            loss, derived, params, *arrays, num_points=args.points, seed=args.seed
        )
    if kind == "hvp":
        return steepest.check_hvp(
            loss, derived, params, *arrays, num_points=args.points, seed=args.seed
        )
    check = steepest.check_jvp if kind == "jvp" else steepest.check_vjp
    return check(loss, derived, params, *arrays)


class UserFunctionError(ValueError):
    """A user's function raised while a Hessian, HVP, JVP or VJP was checked: one line
    naming the function and the exception."""


def _inputs(args, exited: list[str]):
    """The loss, the gradient, the params and the data of the check: the tutorial's on the
    built-in dataset without LOSS, else the user's files."""
    import numpy as np

    from steepest import Linear, analytic, data, mse
    from steepest._src.io import sources

    kind = next((name for name in KINDS if getattr(args, name)), None)
    if args.loss is None:
        if kind or args.params or args.data or args.keywords:
            raise data.DataError(
                "--grad (--hessian, --hvp, --jvp, --vjp), --params, --data and --keywords go "
                "with a LOSS to check"
            )
        builtin = data.builtin()
        start = Linear(w=np.zeros(1), b=np.float64(0.0))  # the tutorial's start
        return "grad", mse, analytic.mse_grad, start, [builtin.X, builtin.y]
    if kind is None or args.params is None:
        raise data.DataError(
            "checking a LOSS needs --params and what was derived by hand: --grad, --hessian, "
            "--hvp, --jvp or --vjp FILE.py:FUNCTION"
        )
    loss, keywords, params, arrays = sources.user_inputs(
        args.loss, args.params, args.data, args.keywords, args.seed
    )
    spec = getattr(args, kind)
    derived = sources.load_function(spec)
    # check_gradient names the stage where a function raises; the other checks do not, so
    # the function is named here.
    naming = kind != "grad"
    loss = _calling(loss, args.loss, exited, keywords, naming)
    derived = _calling(derived, spec, exited, keywords, naming)
    return kind, loss, derived, params, arrays


def _calling(function, spec: str, exited: list, fixed: dict, naming: bool):
    """``function`` with the keyword arguments ``fixed``, noting ``spec`` in ``exited``
    when it calls ``sys.exit()`` (then re-raised); with ``naming``, an exception it
    raises as a ``UserFunctionError`` naming ``spec`` (JAX's own, that it cannot trace
    the function, as it is: a check may then go on without autodiff)."""
    import functools

    from steepest._src.gradcheck import NOT_TRACEABLE
    from steepest._src.io.sources import describe_error

    @functools.wraps(function)
    def calling(*arguments, **keywords):
        try:
            return function(*arguments, **keywords, **fixed)
        except SystemExit:
            exited.append(spec)
            raise
        except NOT_TRACEABLE:
            raise
        except Exception as error:
            if not naming:
                raise
            raise UserFunctionError(f"{spec} raised {describe_error(error)}") from error

    return calling
