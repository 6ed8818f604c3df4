"""The command line: ``steepest fit`` and ``steepest check``.

The only module that parses arguments or prints. Bad input prints one line,
``steepest: error: ...``, and exits 2. A fit exits 0 when it converged or ran
its steps, 1 when it diverged and 130 when Ctrl-C stopped it. A gradient check
exits 0 when it passes and 1 when it fails.
"""

import argparse
import math
import sys
import time
import warnings

import jax

EXIT_OK, EXIT_DIVERGED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_CHECK_FAILED = 1
# The progress bar appears only for runs longer than this.
PROGRESS_AFTER_SECONDS = 1.0


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, like every other bad input."""

    def error(self, message):
        sys.stderr.write(f"steepest: error: {message}\n")
        raise SystemExit(EXIT_BAD_INPUT)


def _positive_float(text: str) -> float:
    value = _number(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def _non_negative_float(text: str) -> float:
    value = _number(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be zero or more, got {text!r}")
    return value


def _step_count(text: str) -> int:
    """A whole number from 0 to the loop's limit; ``1e6`` is accepted."""
    from .loop import MAX_STEPS_LIMIT

    value = _number(text)
    if not (0 <= value <= MAX_STEPS_LIMIT and value == int(value)):
        raise argparse.ArgumentTypeError(
            f"must be a whole number from 0 to {MAX_STEPS_LIMIT}, got {text!r}"
        )
    return int(value)


def _positive_int(text: str) -> int:
    return _whole_number(text, 1, 10**6)


def _seed(text: str) -> int:
    return _whole_number(text, 0, 2**32 - 1)


def _whole_number(text: str, smallest: int, largest: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if not smallest <= value <= largest:
        raise argparse.ArgumentTypeError(
            f"must be a whole number from {smallest} to {largest}, got {text!r}"
        )
    return value


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be finite, got {text!r}")
    return value


def _add_data_arguments(command) -> None:
    """The options every command on a dataset shares."""
    command.add_argument("--data", metavar="FILE", help="a .csv (with a header), .npy or .npz")
    command.add_argument("--y", metavar="COLUMN", help="the target column (default: the last)")
    command.add_argument(
        "--x", metavar="COLUMN", nargs="+", help="feature columns (default: all but --y)"
    )
    command.add_argument("--x64", action="store_true", help="compute in float64 (default float32)")
    command.add_argument(
        "--no-standardize",
        dest="standardize",
        action="store_false",
        help="descend on the raw features (default: standardized, reported in original units)",
    )
    command.add_argument(
        "--seed", type=_seed, default=0, help="seed of the built-in dataset (default 0)"
    )


def add_run_arguments(command) -> None:
    """The options every command that runs the loop shares: its budget and its output."""
    command.add_argument("--steps", type=_step_count, default=10_000, help="most steps (1e4)")
    command.add_argument(
        "--tol",
        type=_non_negative_float,
        default=1e-5,
        help="stop when the gradient norm is at most this (default 1e-5)",
    )
    command.add_argument("--json", action="store_true", help="print the result as JSON")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__, optimizers

    parser = _Parser(prog="steepest", description="Gradient descent in JAX, checked and compiled.")
    parser.add_argument("--version", action="version", version=f"steepest {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    fit = commands.add_parser(
        "fit",
        help="fit a linear model by gradient descent",
        description="Fit y ≈ X w + b by minimizing the mean squared error with a compiled loop. "
        "Without --data, fits the built-in dataset.",
    )
    _add_data_arguments(fit)
    fit.add_argument(
        "--lr",
        type=_positive_float,
        help="learning rate (default: 1/L, L the largest eigenvalue of the Hessian of the cost)",
    )
    add_run_arguments(fit)
    fit.add_argument(
        "--optimizer",
        default="gd",
        choices=optimizers.names(),
        metavar="NAME",
        help=f"one of {', '.join(optimizers.names())} (default gd, the tutorial's rule)",
    )
    fit.add_argument(
        "--method",
        choices=["loop", "quadratic"],
        default="loop",
        help="quadratic: take the Hessian and gradient once, then step in O(d^2) (mse is "
        "quadratic in w and b; same iterates up to rounding)",
    )
    from . import cli_experiments

    cli_experiments.add_commands(commands)
    from . import cli_bench

    cli_bench.add_command(commands)

    from .gradcheck import DEFAULT_FD_RTOL, DEFAULT_RTOL

    check = commands.add_parser(
        "check",
        help="check a hand-derived gradient against autodiff and finite differences",
        description="Compare a hand-derived gradient with jax.grad and with central finite "
        "differences, in float64, at the params and at random points near them; say what "
        "is wrong when they differ. Without LOSS, checks the tutorial's linear-regression "
        "gradient on the built-in dataset. Exits 0 when the check passes, 1 when it fails.",
    )
    check.add_argument(
        "loss", nargs="?", metavar="LOSS", help="the loss as FILE.py:FUNCTION, loss(params, ...)"
    )
    check.add_argument("--grad", metavar="FILE.py:FUNCTION", help="the hand-derived gradient")
    check.add_argument(
        "--params",
        nargs="+",
        metavar="NAME=SHAPE",
        help="the params, a dict of arrays: e.g. w=3 b=scalar W=4x2 (random normal values)",
    )
    check.add_argument(
        "--data",
        metavar="FILE.npz",
        help="arrays passed after params, matched by the loss's argument names",
    )
    check.add_argument("--points", type=_positive_int, default=3, help="points to check (3)")
    check.add_argument("--seed", type=_seed, default=0, help="seed of params and points (0)")
    check.add_argument(
        "--rtol", type=_positive_float, default=DEFAULT_RTOL,
        help=f"hand-derived vs autodiff tolerance, relative (default {DEFAULT_RTOL:g})",
    )  # fmt: skip
    check.add_argument(
        "--fd-rtol", type=_positive_float, default=DEFAULT_FD_RTOL,
        help=f"autodiff vs finite differences tolerance, relative (default {DEFAULT_FD_RTOL:g})",
    )  # fmt: skip
    check.add_argument(
        "--atol", type=_non_negative_float, default=0.0, help="absolute floor (default 0)"
    )
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    """The console script ``steepest``."""
    args = build_parser().parse_args(argv)
    if getattr(args, "x64", False):
        jax.config.update("jax_enable_x64", True)
    from . import cli_bench, cli_experiments
    from .data import DataError

    command = {
        "fit": _fit,
        "check": _check,
        "compare": cli_experiments.compare,
        "sweep": cli_experiments.sweep,
        "plot-surface": cli_experiments.plot_surface,
        "bench": cli_bench.run,
    }[args.command]
    try:
        return command(args)
    except (DataError, ValueError) as error:
        # ValueError: input that passed the boundary checks but cannot be descended on,
        # e.g. a cost that overflows at the start or a Hessian with no positive eigenvalue.
        sys.stderr.write(f"steepest: error: {error}\n")
        return EXIT_BAD_INPUT
    except OSError as error:  # a figure or record that cannot be written
        sys.stderr.write(f"steepest: error: cannot write {error.filename}: {error.strerror}\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:  # Ctrl-C before the loop started; inside it, fit returns
        sys.stderr.write("steepest: interrupted\n")
        return EXIT_INTERRUPTED


def prepare(args):
    """The dataset of the data options, its standardizer, X and y on the device, a zero start."""
    import jax.numpy as jnp

    from . import data, models

    dataset = _load_dataset(args)
    dtype = jnp.float64 if args.x64 else jnp.float32
    standardizer = (
        data.Standardizer.of(dataset.X)
        if args.standardize
        else data.Standardizer.identity(dataset.X.shape[1])
    )
    X, y = data.to_device(standardizer.transform(dataset.X), dataset.y, dtype=dtype)
    return dataset, standardizer, X, y, models.zeros(dataset.X.shape[1], dtype)


def _load_dataset(args):
    from . import data

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", data.ConstantColumnWarning)
        if args.data is None:
            if args.y is not None or args.x is not None:
                raise data.DataError("--y and --x select columns of --data FILE; none was given")
            dataset = data.builtin(args.seed)
        else:
            dataset = data.load(args.data, y=args.y, x=args.x)
    for warning in caught:
        sys.stderr.write(f"steepest: warning: {warning.message}\n")
    return dataset


def _check(args) -> int:
    import numpy as np

    from . import analytic, data, models, records, sources
    from .gradcheck import check_gradient
    from .losses import mse

    if args.loss is None:
        if args.grad or args.params or args.data:
            raise data.DataError("--grad, --params and --data go with a LOSS to check")
        builtin = data.builtin()
        loss, grad = mse, analytic.mse_grad
        params = models.Linear(w=np.zeros(1), b=np.float64(0.0))  # the tutorial's start
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
    except Exception as error:  # the user's functions failed on these params and data
        raise data.DataError(
            f"evaluating the loss or gradient failed: {sources.describe_error(error)}"
        ) from None
    if args.json:
        print(records.dumps(report.to_dict()))
    else:
        print(report)
    return EXIT_OK if report.ok else EXIT_CHECK_FAILED


def _fit(args) -> int:
    import jax.numpy as jnp

    from . import data, models, optimizers, records, theory
    from .loop import Status, fit
    from .losses import mse

    dataset, standardizer, X, y, start = prepare(args)
    dtype = X.dtype
    if args.lr is not None:
        lr_source = "--lr"
    elif args.optimizer in optimizers.DEFAULT_LEARNING_RATES:
        lr_source = f"the default for {args.optimizer}"
    else:
        lr_source = "1/L"  # with None, fit derives 1/L itself

    with _ProgressBar(args.steps, enabled=not args.json) as bar:
        result = fit(
            mse,
            start,
            X,
            y,
            optimizer=args.optimizer,
            learning_rate=args.lr,
            max_steps=args.steps,
            tol=args.tol,
            on_chunk=bar.update,
            method=args.method,
        )

    fitted = standardizer.to_original(result.params)
    exact = theory.closed_form(dataset.X, dataset.y)
    X_original, _ = data.to_device(dataset.X, dataset.y, dtype=dtype)
    exact_loss = float(mse(models.Linear(*(jnp.asarray(v, dtype) for v in exact)), X_original, y))
    learning_rate = result.learning_rate
    message = result.message
    if result.status is Status.DIVERGED:
        critical = (
            2 * learning_rate
            if lr_source == "1/L"
            else theory.critical_learning_rate(mse, start, X, y)
        )
        message += (
            f" (critical learning rate 2/L = {critical:.6g}; this run used {learning_rate:.6g})"
        )
    record = {
        "params": records.params_to_dict(fitted),
        "loss": result.loss,
        "steps": result.num_steps,
        "status": result.status.value,
        "message": message,
        "seconds": result.seconds,
        "compile_seconds": result.compile_seconds,
        "closed_form": records.params_to_dict(exact),
        "closed_form_loss": exact_loss,
        "learning_rate": learning_rate,
        "learning_rate_source": lr_source,
        "optimizer": args.optimizer,
        "method": args.method,
        "dtype": jnp.dtype(dtype).name,
        "standardized": args.standardize,
        "data": {
            "source": dataset.source,
            "rows": int(dataset.X.shape[0]),
            "x": list(dataset.x_names),
            "y": dataset.y_name,
        },
    }
    if args.json:
        print(records.dumps(record))
    else:
        _print_table(record, result.steps_per_second)
    return {
        Status.DIVERGED: EXIT_DIVERGED,
        Status.INTERRUPTED: EXIT_INTERRUPTED,
    }.get(result.status, EXIT_OK)


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
    for column in ("parameter", "fitted", "closed form (lstsq)", "difference"):
        params.add_column(column, justify="left" if column == "parameter" else "right")
    labels = ["m" if len(names) == 1 else f"w[{j}]" for j in range(len(names))]
    rows = [
        (f"{label} ({name})", fitted, exact)
        for label, name, fitted, exact in zip(
            labels, names, record["params"]["w"], record["closed_form"]["w"], strict=True
        )
    ]
    rows.append(("b (intercept)", record["params"]["b"], record["closed_form"]["b"]))
    for label, fitted, exact in rows:
        params.add_row(label, f"{fitted:.8g}", f"{exact:.8g}", f"{fitted - exact:+.2e}")

    summary = Table(show_header=False, box=None, padding=(0, 2))
    summary.add_column(style="bold")
    summary.add_column()
    standardized = "standardized features" if record["standardized"] else "raw features"
    summary.add_row("final cost", f"{record['loss']:.8g}")
    summary.add_row("closed-form cost", f"{record['closed_form_loss']:.8g}")
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
    console = Console()
    console.print(params)
    console.print(summary)


class _ProgressBar:
    """A rich progress bar on stderr that appears once a run has lasted a second."""

    def __init__(self, total_steps: int, *, enabled: bool):
        from rich.console import Console

        self._console = Console(stderr=True)
        self._enabled = enabled and self._console.is_terminal
        self._total = total_steps
        self._started = time.perf_counter()
        self._progress = None
        self._task = None

    def __enter__(self):
        return self

    def update(self, progress) -> None:
        if not self._enabled:
            return
        if self._progress is None:
            if time.perf_counter() - self._started < PROGRESS_AFTER_SECONDS:
                return
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

            self._progress = Progress(
                "fitting",
                BarColumn(),
                MofNCompleteColumn(),
                "cost {task.fields[loss]:.6g}",
                TimeElapsedColumn(),
                console=self._console,
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task("fit", total=self._total, loss=progress.loss)
        self._progress.update(self._task, completed=progress.step, loss=progress.loss)

    def __exit__(self, *exc):
        if self._progress is not None:
            self._progress.stop()


if __name__ == "__main__":
    raise SystemExit(main())
