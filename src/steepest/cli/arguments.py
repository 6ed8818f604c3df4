"""What every command parses alike: the parser (its errors one line, exit 2), argument
types, the shared flags, and the library's keywords made of them.

One vocabulary on every command: ``--json`` prints the result on stdout, ``--out
FILE.json`` writes the same record (with the command, versions, machine and date)
atomically, ``--plot FILE.png`` writes the command's figure. Lists are space-separated
(``--x tv radio``), the comma form is accepted too, and a repeated list flag extends the
list.
"""

import argparse
import errno
import math
import os
import sys
from pathlib import Path

from .output import EXIT_BAD_INPUT


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
    """A whole number from ``smallest`` to ``largest``, written ``1000`` or ``1e3``."""
    try:
        value = int(text)
    except ValueError:
        try:
            written = float(text)
        except ValueError:
            written = math.nan
        if not (math.isfinite(written) and written == int(written)):
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        value = int(written)
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
    try:
        if text.endswith(("/", os.sep)) or path.is_dir():
            raise argparse.ArgumentTypeError(
                f"cannot write {text!r}: it is a folder; name a file in it, {kind}"
            )
        folder = path.parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if len(os.fsencode(path.name)) > _longest_name(folder):
            raise OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG))
    except OSError as error:  # a name too long, a loop of links: one line, before the run
        raise argparse.ArgumentTypeError(f"cannot write {text!r}: {error.strerror}") from None
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(
            f"cannot write {text!r}: {str(folder)!r} is a file, not a folder"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(
            f"cannot write {text!r}: the folder {str(folder)!r} is not writable"
        )
    return text


def _longest_name(folder: Path) -> int:
    """The longest file name, in bytes, the file system of ``folder`` takes (255 where it
    does not say)."""
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (AttributeError, ValueError, OSError):  # no pathconf (Windows), or no answer
        return 255


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


def port(text: str) -> int:
    return whole_number(text, 1, 65535)


def dataset_argument(args):
    """What the data options name, for the library's ``dataset_of``: the ``--data`` path,
    or the built-in dataset of ``--seed`` with the command's default features."""
    from steepest import data

    if args.data is not None:
        return args.data
    if args.y not in (None, "sales"):
        raise data.DataError(
            f"--y {args.y}: the built-in dataset's target is sales (--data FILE for yours)"
        )
    return data.builtin(args.seed, x=args.x or args.builtin_x)


def batch_settings(args) -> dict:
    """``fit``'s and ``sweep``'s keywords of the mini-batch and schedule flags, checked in
    the flags' words (``max_steps`` or ``epochs`` among them: the budget). A schedule's
    length defaults to every update of the run (``Schedule.steps`` None).

    Example:
        >>> from argparse import Namespace
        >>> flags = dict(batch_size=None, epochs=None, shuffle_seed=0, schedule="cosine",
        ...              schedule_steps=None, schedule_end=0.1, schedule_rate=0.5,
        ...              warmup_steps=0, steps=300)
        >>> settings = batch_settings(Namespace(**flags))
        >>> settings["max_steps"], settings["schedule"].steps
        (300, None)
        >>> mini = Namespace(**{**flags, "batch_size": 64, "epochs": 5, "steps": 10_000})
        >>> sorted(batch_settings(mini))
        ['batch_size', 'epochs', 'schedule', 'seed']
    """
    from steepest._src.fit import MAX_STEPS
    from steepest.data import DataError
    from steepest.optimizers import Schedule

    _check_applies(args)
    settings: dict = {}
    if args.batch_size is None:
        if args.epochs is not None:
            raise DataError("--epochs applies with --batch-size (full batch: --steps)")
        settings["max_steps"] = args.steps
    else:
        if args.steps != MAX_STEPS:
            raise DataError("with --batch-size the budget is --epochs, not --steps")
        settings.update(batch_size=args.batch_size, epochs=args.epochs, seed=args.shuffle_seed)
    if args.schedule is not None:
        settings["schedule"] = Schedule(
            args.schedule, args.schedule_steps, args.schedule_end, args.schedule_rate,
            args.warmup_steps,
        )  # fmt: skip
    return settings


def _check_applies(args) -> None:
    """A DataError for a mini-batch or schedule flag given where it does nothing."""
    from steepest._src.io.dataset import DataError
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
