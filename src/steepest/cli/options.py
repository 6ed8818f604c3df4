"""What every command shares: exit codes, the parser, argument types and builders, output.

One vocabulary on every command: ``--json`` prints the result on stdout, ``--out
FILE.json`` writes the same record (with the command, versions, machine and
date) atomically, ``--plot FILE.png`` writes the command's figure. Lists are
space-separated (``--x tv radio``), the comma form is accepted too, and a
repeated list flag extends the list.
"""

import argparse
import contextlib
import math
import os
import signal
import sys
import threading
import warnings
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_NOT_CONVERGED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_TERMINATED = 143  # SIGTERM, handled as Ctrl-C is
EXIT_BROKEN_PIPE = 141  # stdout closed by its reader, as a shell reports SIGPIPE


class HelpFormatter(argparse.HelpFormatter):
    """argparse's help, with the example at the end kept as written (not re-wrapped)."""

    def _fill_text(self, text, width, indent):
        if text.startswith("example:"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, like every other bad input.

    Its help ends with the command's example (``example=``).
    """

    def __init__(self, *args, example: str | None = None, **kwargs):
        if example is not None:
            kwargs["epilog"] = f"example:\n  {example}"
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        sys.stderr.write(f"steepest: error: {message}\n")
        raise SystemExit(EXIT_BAD_INPUT)


class ListAction(argparse.Action):
    """A list option: space-separated values, commas accepted; a repeat extends the list.

    ``--x a b --x c,d`` gives ``['a', 'b', 'c', 'd']``. ``commas=False`` keeps
    commas inside a value (``--params W=4,2``).
    """

    def __init__(self, option_strings, dest, commas: bool = True, **kwargs):
        kwargs.setdefault("nargs", "+")
        self.commas = commas
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        pieces = [value.split(",") if self.commas else [value] for value in values]
        items = [item.strip() for piece in pieces for item in piece]
        items = [item for item in items if item]
        if not items:
            raise argparse.ArgumentError(self, "expected at least one name")
        current = getattr(namespace, self.dest, None)
        # The default is replaced by the first use, then each use extends the list.
        previous = list(current) if current is not None and current is not self.default else []
        setattr(namespace, self.dest, previous + items)


def number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be finite, got {text!r}")
    return value


def positive_float(text: str) -> float:
    value = number(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    value = number(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be zero or more, got {text!r}")
    return value


def step_count(text: str) -> int:
    """A whole number from 0 to the loop's limit; ``1e6`` is accepted."""
    from steepest import MAX_STEPS_LIMIT

    value = number(text)
    if not (0 <= value <= MAX_STEPS_LIMIT and value == int(value)):
        raise argparse.ArgumentTypeError(
            f"must be a whole number from 0 to {MAX_STEPS_LIMIT}, got {text!r}"
        )
    return int(value)


def positive_int(text: str) -> int:
    return whole_number(text, 1, 10**6)


def unit_interval(text: str) -> float:
    """A number from 0 to 1."""
    value = number(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be from 0 to 1, got {text!r}")
    return value


def device_count(text: str) -> int | str:
    """``all``, or a whole number of devices."""
    return "all" if text == "all" else whole_number(text, 1, 2**16)


def process_count(text: str) -> int:
    return whole_number(text, 1, 2**16)


def process_id(text: str) -> int:
    return whole_number(text, 0, 2**16 - 1)


def seed(text: str) -> int:
    return whole_number(text, 0, 2**32 - 1)


def whole_number(text: str, smallest: int, largest: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if not smallest <= value <= largest:
        raise argparse.ArgumentTypeError(
            f"must be a whole number from {smallest} to {largest}, got {text!r}"
        )
    return value


def json_path(text: str) -> str:
    """An ``--out`` path: a ``*.json`` file whose folder can be written."""
    writable_file(text, "*.json")
    if Path(text).suffix.lower() != ".json":
        raise argparse.ArgumentTypeError(
            f"{text!r}: the record is JSON; name it *.json (the figure goes to --plot FILE.png)"
        )
    return text


def png_path(text: str) -> str:
    """A ``--plot`` path: a ``*.png`` file whose folder can be written."""
    writable_file(text, "*.png")
    if Path(text).suffix.lower() != ".png":
        raise argparse.ArgumentTypeError(f"{text!r}: the figure is PNG; name it *.png")
    return text


def writable_file(text: str, kind: str) -> str:
    """``text`` if a file can be written there: checked before the run, not after it.

    The path names a file (not empty, not a folder), and its folder exists and can
    be written, or can be made: the nearest folder that exists above it is writable.
    """
    if not text.strip():
        raise argparse.ArgumentTypeError(
            f"cannot write {text!r}: an empty path; name a file, {kind}"
        )
    path = Path(text)
    if text.endswith(("/", os.sep)) or path.is_dir():
        raise argparse.ArgumentTypeError(
            f"cannot write {text!r}: it is a folder; name a file in it, {kind}"
        )
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(
            f"cannot write {text!r}: {str(folder)!r} is a file, not a folder"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(
            f"cannot write {text!r}: the folder {str(folder)!r} is not writable"
        )
    return text


def add_data_arguments(command, *, builtin_x: list[str] | None) -> None:
    """The options every command on a dataset shares.

    ``builtin_x``: the features the command takes from the built-in dataset when
    ``--x`` is not given (None: all of them).
    """
    from steepest.data import BUILTIN_FEATURES

    default = "all" if builtin_x is None else " ".join(builtin_x)
    command.add_argument(
        "--data",
        metavar="FILE",
        help="a .csv (with a header), .npy, .npz or .parquet (default: the built-in dataset, whose "
        f"features are {' '.join(BUILTIN_FEATURES)} and target sales; this command takes "
        f"{default})",
    )
    command.set_defaults(builtin_x=builtin_x)
    command.add_argument("--y", metavar="COLUMN", help="the target column (default: the last)")
    command.add_argument(
        "--x",
        metavar="COLUMN",
        action=ListAction,
        help="feature columns, space- or comma-separated (default: all but --y)",
    )
    command.add_argument("--x64", action="store_true", help="compute in float64 (default float32)")
    command.add_argument(
        "--no-standardize",
        dest="standardize",
        action="store_false",
        help="descend on the raw features (default: standardized, reported in original units)",
    )
    command.add_argument(
        "--seed", type=seed, default=0, help="seed of the built-in dataset (default 0)"
    )


def add_run_arguments(command) -> None:
    """The options every command that runs the loop shares: its budget, mini-batches, the
    schedule, the devices."""
    from steepest._src.fit import MAX_STEPS
    from steepest.optimizers import SCHEDULES

    command.add_argument(
        "--steps",
        type=step_count,
        default=MAX_STEPS,
        help="most steps per run (default 1e4); with --batch-size, --epochs",
    )
    command.add_argument(
        "--rtol",
        type=non_negative_float,
        help="relative tolerance of the stop rule and the certificate's target: the params "
        "within rtol of the exact minimizer, relative to their size (default 1e-5 in float32, "
        "1e-10 with --x64)",
    )
    command.add_argument(
        "--tol",
        type=non_negative_float,
        help="also stop when the gradient norm is at most this (an absolute rule; "
        "given alone, the only rule)",
    )
    batches = command.add_argument_group("mini-batches and schedules")
    batches.add_argument(
        "--batch-size",
        type=positive_int,
        metavar="ROWS",
        help="mini-batch SGD: one update per batch of this many rows, every row once an "
        "epoch (default: full batch)",
    )
    batches.add_argument(
        "--epochs", type=positive_int, help="with --batch-size, the most epochs (default 100)"
    )
    batches.add_argument(
        "--shuffle-seed",
        type=seed,
        default=0,
        help="seed of the rows' order in each epoch (default 0; the same seed, the same run)",
    )
    batches.add_argument(
        "--schedule",
        choices=SCHEDULES,
        help="the learning rate times a schedule over updates: cosine (down to "
        "--schedule-end), exponential (--schedule-rate every --schedule-steps), "
        "warmup-cosine (up over --warmup-steps, then the cosine)",
    )
    batches.add_argument(
        "--schedule-steps",
        type=positive_int,
        metavar="UPDATES",
        help="updates over which the schedule decays (default: every update of the run)",
    )
    batches.add_argument(
        "--schedule-end",
        type=unit_interval,
        default=0.0,
        help="cosine schedules: the final multiplier of the rate (default 0)",
    )
    batches.add_argument(
        "--schedule-rate",
        type=unit_interval,
        default=0.5,
        help="exponential schedule: the multiplier after --schedule-steps updates (default 0.5)",
    )
    batches.add_argument(
        "--warmup-steps",
        type=lambda text: whole_number(text, 0, 10**9),
        default=0,
        metavar="UPDATES",
        help="warmup-cosine: updates from 0 up to the full rate (default 0)",
    )
    command.add_argument(
        "--devices",
        type=device_count,
        metavar="N|all",
        help="split the rows over N local devices (all: every one): the one-device run, "
        "up to rounding in the order of the sums (default: one device)",
    )


def stop_rule(args) -> str:
    """The stop rule of ``--tol``/``--rtol`` in words, for titles.

    Example:
        >>> from argparse import Namespace
        >>> stop_rule(Namespace(tol=None, rtol=None, x64=False))
        'rtol 1e-05'
        >>> stop_rule(Namespace(tol=1e-3, rtol=None, x64=False))
        'tol 0.001'
    """
    from steepest._src.stopping import default_rtol

    rtol = args.rtol
    if args.tol is None and rtol is None:
        rtol = default_rtol("float64" if args.x64 else "float32")
    parts = [f"{name} {value:g}" for name, value in (("rtol", rtol), ("tol", args.tol))
             if value is not None]  # fmt: skip
    return " or ".join(parts)


def add_output_arguments(command, *, plot: str | None, plot_required: bool = False) -> None:
    """``--json``, ``--out FILE.json`` and ``--plot FILE.png`` (``plot`` says what it draws;
    None for a command with no figure)."""
    command.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    command.add_argument(
        "--out",
        metavar="FILE.json",
        type=json_path,
        help="write the result as a JSON record (with the command, versions, machine, date)",
    )
    if plot is None:
        command.set_defaults(plot=None)
        return
    command.add_argument(
        "--plot", metavar="FILE.png", type=png_path, required=plot_required, help=plot
    )


def emit(args, record: dict, argv: list[str] | None, unwritten: list[str] | None = None) -> None:
    """Print ``record`` as JSON with ``--json``; write it with its context to ``--out``.

    With ``unwritten`` (a list), an ``--out`` that cannot be written is added to it
    instead of raised, so that the command prints its result anyway (see ``finish``).
    """
    from steepest._src.io import records

    if args.json:
        print(records.dumps(record))
    if args.out:
        command = ["steepest", *(sys.argv[1:] if argv is None else argv)]
        try:
            records.write_json(args.out, {**records.environment(), "command": command, **record})
        except OSError as error:
            if unwritten is None:
                raise
            unwritten.append(_not_written("--out", args.out, error))


def draw(args, figure, unwritten: list[str]) -> bool:
    """Write the figure, ``figure(path)``, to ``--plot``; True when it was written.

    A figure that cannot be written is added to ``unwritten``, not raised: the run's
    result is printed (and its record written) anyway.
    """
    if not args.plot:
        return False
    try:
        figure(args.plot)
    except OSError as error:
        unwritten.append(_not_written("--plot", args.plot, error))
        return False
    return True


def _not_written(option: str, path: str, error: OSError) -> str:
    return f"{option} {path} ({error.strerror or error})"


def finish(code: int, unwritten: list[str], *, kept: str = "") -> int:
    """The exit code once the result is printed, with at most one line on stderr: for
    an interrupted command (130), that it was and what it ``kept``; for an output that
    could not be written, which (2, or 130 when interrupted as well).
    """
    lost = f"not written: {'; '.join(unwritten)}" if unwritten else ""
    if code == EXIT_INTERRUPTED:
        sys.stderr.write(f"steepest: interrupted; {'; '.join(filter(None, (kept, lost)))}\n")
        return code
    if not unwritten:
        return code
    sys.stderr.write(f"steepest: error: {lost}; the result was printed\n")
    return EXIT_BAD_INPUT


def refuse(message: str) -> int:
    """Bad input found by a command itself: one line on stderr, and its exit code, 2."""
    sys.stderr.write(f"steepest: error: {message}\n")
    return EXIT_BAD_INPUT


def port(text: str) -> int:
    return whole_number(text, 1, 65535)


def load_dataset(args):
    """The dataset the data options name; a constant column is a warning on stderr. In a
    run of several processes, this process's rows of it (``own_rows``)."""
    from steepest._src.io import data

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", data.ConstantColumnWarning)
        if args.processes.many:
            dataset = own_rows(args)
        elif args.data is None:
            dataset = builtin_dataset(args)
        elif Path(args.data).suffix.lower() == ".parquet":  # read as --stream reads it
            from steepest._src.io.stream import stream

            dataset = stream(args.data, y=args.y, x=args.x, dtype="float64").dataset(slice(None))
        else:
            dataset = data.load(args.data, y=args.y, x=args.x)
    for warning in caught:
        sys.stderr.write(f"steepest: warning: {warning.message}\n")
    return dataset


def own_rows(args):
    """This process's rows of the dataset, in a run of several processes: read from a
    ``.npy`` (memory-mapped) or a Parquet file (its row groups that hold them), or cut
    from the built-in dataset; every process's together are the whole, in order."""
    import dataclasses

    import numpy as np

    from steepest._src.io import data, sharding
    from steepest._src.io.stream import stream

    if args.data is None:
        whole = builtin_dataset(args)
        rows = sharding.process_rows(len(whole.y))
        return dataclasses.replace(whole, X=whole.X[rows], y=whole.y[rows])
    if Path(args.data).suffix.lower() not in (".npy", ".parquet"):
        raise data.DataError(
            f"{args.data}: a fit over several processes reads each one's rows of a .npy or "
            ".parquet file; convert it first (numpy.save of the table, target last)"
        )
    table = stream(args.data, y=args.y, x=args.x, dtype=np.float64)
    return table.dataset(sharding.process_rows(table.rows), across_processes=True)


def builtin_dataset(args):
    """The built-in dataset, with the features the data options select."""
    from steepest._src.io import data

    if args.y not in (None, "sales"):
        raise data.DataError(
            f"--y {args.y}: the built-in dataset's target is sales (--data FILE for yours)"
        )
    return data.builtin(args.seed, x=args.x or args.builtin_x)


def original_data_evaluator(dataset, standardizer, processes):
    """``evaluate64(params)`` for ``fit``: the mean squared error and its gradient in
    float64 on the data as read (standardized in float64, never rounded to float32),
    a block of rows at a time, so that the certificate bounds the distance to their
    minimizer, the one the closed form finds. Over several ``processes``, the dataset
    is this process's rows, and the sums are those of every process's.
    """
    import jax
    import numpy as np

    from steepest import mse
    from steepest._src.certificate import value_and_grad64
    from steepest._src.io.data import BLOCK_ROWS

    rows = int(processes.sum(len(dataset.y)))

    def evaluate64(params):
        params = jax.tree.map(np.asarray, params)  # on the host: any process's own copy
        value, gradient = 0.0, 0.0
        for start in range(0, len(dataset.y), BLOCK_ROWS):  # this process's rows
            block = slice(start, start + BLOCK_ROWS)
            X = standardizer.transform(dataset.X[block], np.float64)
            y = standardizer.transform_target(dataset.y[block], np.float64)
            block_value, block_gradient = value_and_grad64(mse, params, X, y)
            value += block_value * len(y) / rows
            gradient += block_gradient * len(y) / rows
        if processes.many:
            value, gradient = processes.sum(value), processes.sum(gradient)
        return np.float64(value), np.asarray(gradient, np.float64)

    return evaluate64


class Interrupts:
    """Ctrl-C (SIGINT) and SIGTERM for the length of a command, noted as well as raised.

    Both raise ``KeyboardInterrupt`` as Ctrl-C does (a fit's loop turns it into a flag
    between chunks); SIGTERM then makes the exit 143. Each is also noted, so that one
    that a library swallowed (JAX's garbage-collection callback, during a long CSV load)
    is raised at the next ``check``, without Python's "Exception ignored" report; within
    ``held`` they are only noted until the block ends. In the main thread only, where
    Python delivers signals; the previous handlers are put back on exit.
    """

    active: "Interrupts | None" = None

    def __init__(self):
        self.received = False
        self.terminated = False
        self._holding = False
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGINT, signal.SIGTERM):
                if signal.getsignal(number) is not signal.SIG_IGN:  # ignored: left so
                    self._previous[number] = signal.signal(number, self._handle)
            Interrupts.active = self
            self._previous_hook = sys.unraisablehook
            sys.unraisablehook = self._unraisable
        return self

    def _unraisable(self, unraisable):
        # A Ctrl-C raised inside a callback that cannot raise (JAX's garbage-collection
        # callback): already noted, so not printed as "Exception ignored in ...".
        if not isinstance(unraisable.exc_value, KeyboardInterrupt):
            self._previous_hook(unraisable)

    def _handle(self, signum, frame):
        if signum == signal.SIGTERM:  # passed on as Ctrl-C, to whichever handler holds it
            self.terminated = True
            signal.raise_signal(signal.SIGINT)
            return
        self.received = True
        if not self._holding:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def held(self):
        """Within, an interrupt is noted but not raised; it is raised once the block is done.

        For work that must not be cut in the middle: an interrupt raised while JAX's
        compiled extensions initialize left them half-built, and the process crashed
        (SIGSEGV) a moment later.
        """
        self._holding = True
        try:
            yield
        finally:
            self._holding = False
        if self.received:
            raise KeyboardInterrupt

    def __exit__(self, *exc):
        for number, previous in self._previous.items():  # None: not set from Python
            signal.signal(number, signal.SIG_DFL if previous is None else previous)
        if Interrupts.active is self:
            sys.unraisablehook = self._previous_hook
        Interrupts.active = None

    @classmethod
    def check(cls) -> None:
        """Raise ``KeyboardInterrupt`` for an interrupt noted but swallowed on the way."""
        if cls.active is not None and cls.active.received:
            raise KeyboardInterrupt


def prepare(args):
    """The dataset of the data options, its standardizer, X and y on the device, a zero start."""
    import jax.numpy as jnp

    from steepest._src.io import data
    from steepest._src.model import Linear

    dataset = load_dataset(args)
    Interrupts.check()  # a Ctrl-C during the load that a callback swallowed
    dtype = jnp.float64 if args.x64 else jnp.float32
    place = _placement(getattr(args, "devices", None), dtype, args.processes)
    intercept = not getattr(args, "no_intercept", False)
    standardizer = (
        data.Standardizer.of(
            dataset.X, dataset.y, center=intercept, across_processes=args.processes.many
        )
        if args.standardize
        else data.Standardizer.identity(dataset.X.shape[1])
    )
    # Standardized straight into the descent's dtype (no float64 copy of X on the way), and
    # placed one at a time, so that one host copy at most is alive at once.
    [X] = place(standardizer.transform(dataset.X, dtype))
    [y] = place(standardizer.transform_target(dataset.y, dtype))
    return dataset, standardizer, X, y, Linear.zeros(dataset.X.shape[1], dtype, intercept=intercept)


def _placement(devices: int | str | None, dtype, processes):
    """How ``prepare`` puts an array on the device(s) of ``--devices``; over several
    processes, this process's rows on its devices, of an array over all of theirs."""
    import functools

    from steepest._src.io import data, sharding

    if processes.many:
        if devices is not None:
            raise data.DataError(
                f"--devices {devices}: a fit over several processes uses every device of each"
            )
        return functools.partial(sharding.shard, mesh=sharding.row_mesh(), dtype=dtype)
    if devices is None:
        return functools.partial(data.to_device, dtype=dtype)

    def named(function, *args, **kwargs):
        try:
            return function(*args, **kwargs)
        except data.DataError as error:
            raise data.DataError(f"--devices {devices}: {error}") from None

    mesh = named(sharding.row_mesh, None if devices == "all" else devices)
    return functools.partial(named, sharding.shard, mesh=mesh, dtype=dtype)


def batch_settings(args, rows: int, updates_per_epoch: int | None = None) -> dict:
    """``fit``'s and ``sweep``'s keywords of the mini-batch and schedule flags, checked in
    the flags' words (``max_steps`` among them: the budget, of updates or of epochs).
    ``updates_per_epoch``: where batches end with their chunk (streamed), not
    ``ceil(rows / batch_size)``; it sets the schedule's length.

    Example:
        >>> from argparse import Namespace
        >>> flags = dict(batch_size=None, epochs=None, shuffle_seed=0, schedule="cosine",
        ...              schedule_steps=None, schedule_end=0.1, schedule_rate=0.5,
        ...              warmup_steps=0, steps=300)
        >>> settings = batch_settings(Namespace(**flags), rows=200)
        >>> settings["max_steps"], settings["schedule"].steps
        (300, 300)
        >>> mini = Namespace(**{**flags, "batch_size": 64, "epochs": 5, "steps": 10_000})
        >>> batch_settings(mini, rows=200)["schedule"].steps  # 5 epochs of 4 batches
        20
    """
    from steepest._src.fit import DEFAULT_EPOCHS, MAX_STEPS
    from steepest._src.io.data import DataError
    from steepest.optimizers import Schedule

    _check_applies(args)
    settings = {}
    if args.batch_size is None:
        if args.epochs is not None:
            raise DataError("--epochs applies with --batch-size (full batch: --steps)")
        settings["max_steps"] = updates = args.steps
    else:
        if args.steps != MAX_STEPS:
            raise DataError("with --batch-size the budget is --epochs, not --steps")
        if args.batch_size > rows:
            raise DataError(f"--batch-size {args.batch_size} is more than the {rows} rows")
        epochs = DEFAULT_EPOCHS if args.epochs is None else args.epochs
        settings.update(batch_size=args.batch_size, epochs=epochs, seed=args.shuffle_seed)
        updates = epochs * (updates_per_epoch or math.ceil(rows / args.batch_size))
    if args.schedule is not None:
        steps = args.schedule_steps or max(updates, 1)
        if args.warmup_steps >= steps:
            raise DataError(f"--warmup-steps must be below the schedule's {steps} updates")
        settings["schedule"] = Schedule(
            args.schedule, steps, args.schedule_end, args.schedule_rate, args.warmup_steps
        )
    return settings


def _check_applies(args) -> None:
    """A DataError for a mini-batch or schedule flag given where it does nothing."""
    from steepest._src.io.data import DataError
    from steepest.optimizers import SCHEDULES

    if args.batch_size is None and args.shuffle_seed != 0:
        raise DataError("--shuffle-seed applies with --batch-size")
    uses = {  # flag: (given, the schedules it applies to)
        "--schedule-steps": (args.schedule_steps is not None, SCHEDULES),
        "--schedule-end": (args.schedule_end != 0.0, ("cosine", "warmup-cosine")),
        "--schedule-rate": (args.schedule_rate != 0.5, ("exponential",)),
        "--warmup-steps": (args.warmup_steps != 0, ("warmup-cosine",)),
    }
    for flag, (given, kinds) in uses.items():
        if given and args.schedule not in kinds:
            raise DataError(f"{flag} applies with --schedule {' or '.join(kinds)}")
