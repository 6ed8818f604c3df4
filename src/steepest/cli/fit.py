"""``steepest fit``: fit a linear model by gradient descent and set it beside the closed form.

Exit codes: 0 converged, 1 diverged, 2 bad input, 3 stopped short of convergence
(max_steps, stalled, imprecise), 130 Ctrl-C.
"""

from .arguments import (
    ListAction,
    add_data_arguments,
    add_output_arguments,
    add_run_arguments,
    batch_settings,
    dataset_argument,
    positive_float,
    positive_int,
)
from .output import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_NOT_CONVERGED,
    EXIT_OK,
    deliver,
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
        "--batch-shards",
        type=positive_int,
        metavar="K",
        help="with --batch-size, draw each batch as K equal shares of K ranges of rows, as a "
        "run on K devices does (default: the devices; give a launch's device count to "
        "take its steps on one)",
    )
    fit.add_argument(
        "--no-closed-form",
        action="store_true",
        help="skip the closed form beside the descent (a float64 QR of the whole design, "
        "most of the time on big data); the certificate stays",
    )
    fit.add_argument(
        "--stream",
        action="store_true",
        help="read --data (a 2-D .npy, or a .parquet with pyarrow) a chunk of rows at a time, "
        "never all in memory: the same full-batch descent on data bigger than memory (with "
        "--batch-size, mini-batches drawn chunk by chunk)",
    )
    saving = fit.add_argument_group("checkpoints (pip install 'steepest[checkpoint]')")
    saving.add_argument(
        "--checkpoint",
        metavar="DIR",
        help="save the run's state whole into DIR as it goes (every 60 s by default) and "
        "when it stops, Ctrl-C included",
    )
    saving.add_argument(
        "--checkpoint-steps",
        type=positive_int,
        metavar="K",
        help="with --checkpoint, every K steps",
    )
    saving.add_argument(
        "--checkpoint-seconds",
        type=positive_float,
        metavar="S",
        help="with --checkpoint, every S seconds",
    )
    saving.add_argument(
        "--resume",
        metavar="DIR",
        help="go on from the state saved last in DIR, with the same data and flags: the "
        "steps of the unbroken run, bit for bit on a CPU",
    )
    own = fit.add_argument_group("your own loss (instead of the linear model)")
    own.add_argument(
        "--loss",
        metavar="FILE.py:FUNCTION",
        help="minimize loss(params, *data) of any pytree of params (logistic, ridge, ...); "
        "--data is then an .npz of the arrays it takes, matched by its argument names",
    )
    own.add_argument(
        "--params",
        action=ListAction,
        commas=False,
        metavar="NAME=SHAPE|FILE",
        help="with --loss, the start: values from a .npz or .json file, what FILE.py:INIT "
        "returns, or zeros of shapes such as w=3 b=scalar",
    )
    own.add_argument(
        "--keywords",
        action=ListAction,
        commas=False,
        metavar="NAME=VALUE",
        help="with --loss, its keyword arguments, e.g. lam=0.1 (values read as JSON)",
    )
    add_output_arguments(fit, plot="write the loss curve (cost minus the least-squares cost)")
    fit.set_defaults(run=run)


def run(args, argv=None) -> int:
    import steepest
    from steepest._src.stopping import steps_phrase

    if args.loss is not None:
        return _run_own_loss(args, argv)
    if args.params or args.keywords:
        raise steepest.DataError("--params and --keywords go with --loss FILE.py:FUNCTION")
    fit = steepest.linear(
        dataset_argument(args), args.y, x=args.x, intercept=not args.no_intercept,
        standardize=args.standardize, optimizer=args.optimizer, learning_rate=args.lr,
        tol=args.tol, rtol=args.rtol, method=args.method, x64=args.x64,
        devices=args.devices, stream=args.stream, closed_form=not args.no_closed_form,
        progress=not args.json, batch_shards=args.batch_shards,
        checkpoint=checkpoint_of(args), resume=args.resume, **batch_settings(args),
    )  # fmt: skip
    outputs = deliver(args, argv, fit, lambda plots: plots.loss_curve(fit))
    kept = f"the run stopped after {steps_phrase(fit.steps)}; what it reached is reported"
    return finish(EXIT_CODES.get(fit.status, EXIT_NOT_CONVERGED), outputs, kept=kept)


def checkpoint_of(args):
    """The ``Checkpoint`` of ``--checkpoint`` and its pace, or None."""
    from steepest import Checkpoint, DataError

    if args.checkpoint is None:
        if args.checkpoint_steps is not None or args.checkpoint_seconds is not None:
            raise DataError("--checkpoint-steps and --checkpoint-seconds apply with --checkpoint")
        return None
    return Checkpoint(args.checkpoint, args.checkpoint_steps, args.checkpoint_seconds)


# The exit code of each status; every other (max_steps, stalled, imprecise) is 3.
EXIT_CODES = {"converged": EXIT_OK, "diverged": EXIT_FAILED, "interrupted": EXIT_INTERRUPTED}


def _run_own_loss(args, argv) -> int:
    """``fit --loss FILE.py:FUNCTION``: ``steepest.fit`` of the user's loss, from their start,
    on the arrays of ``--data``; the same record, table and figure as ``steepest.fit``'s."""
    import steepest
    from steepest._src.stopping import steps_phrase

    loss, params, arrays = _own_loss_inputs(args)
    try:
        result = steepest.fit(
            loss, params, *arrays, optimizer=args.optimizer, learning_rate=args.lr,
            tol=args.tol, rtol=args.rtol, progress=not args.json, batch_shards=args.batch_shards,
            checkpoint=checkpoint_of(args), resume=args.resume, **batch_settings(args),
        )  # fmt: skip
    except ValueError:  # steepest's words (a DataError too): one line, as they are
        raise
    except Exception as error:  # the user's loss raised: named, in one line
        from steepest._src.io.sources import describe_error

        raise steepest.DataError(f"{args.loss} failed: {describe_error(error)}") from None
    title, label = f"steepest fit: {args.loss}", f"cost ({loss.__name__})"
    outputs = deliver(
        args, argv, result, lambda plots: plots.loss_curve(result, title=title, ylabel=label),
        record={"loss_function": args.loss, **result.to_dict()},
        heading=title + (f" on {args.data}" if args.data else ""),
    )  # fmt: skip
    kept = f"the run stopped after {steps_phrase(result.num_steps)}; what it reached is reported"
    return finish(EXIT_CODES.get(result.status, EXIT_NOT_CONVERGED), outputs, kept=kept)


def _own_loss_inputs(args):
    """The user's loss (its keyword arguments bound), their start and their arrays, in the
    run's dtype; a DataError for a flag of the linear model."""
    import functools

    import jax
    import numpy as np

    from steepest import DataError
    from steepest._src.io import sources

    linear_only = [flag for flag, given in (
        ("--x", args.x is not None), ("--y", args.y is not None),
        ("--no-intercept", args.no_intercept), ("--no-standardize", not args.standardize),
        ("--method quadratic", args.method != "loop"), ("--stream", args.stream),
        ("--devices", args.devices is not None), ("--no-closed-form", args.no_closed_form),
    ) if given]  # fmt: skip
    if linear_only:
        verb = "does" if len(linear_only) == 1 else "do"
        raise DataError(
            f"--loss fits your own loss: {', '.join(linear_only)} {verb} not apply (the linear "
            "model's)"
        )
    if not args.params:
        raise DataError("--loss needs --params: the start (a .json or .npz, FILE.py:INIT, w=3)")
    function, keywords, params, arrays = sources.user_inputs(
        args.loss,
        args.params,
        args.data,
        args.keywords,
        None,  # a start of zeros from shapes
    )
    loss = functools.update_wrapper(functools.partial(function, **keywords), function)
    dtype = np.float64 if args.x64 else np.float32

    def in_dtype(leaf):
        leaf = np.asarray(leaf)
        return leaf.astype(dtype) if leaf.dtype.kind == "f" else leaf

    return loss, jax.tree.map(in_dtype, params), [in_dtype(array) for array in arrays]
