"""``steepest``: the console script. Parses the command line, runs one command, exits.

The only place that turns errors into exit codes: bad input prints one line,
``steepest: error: ...``, and exits 2. float64 (``--x64``) is switched on for
the command's run only, never left on for the process.

Ctrl-C and SIGTERM are caught from the first moment: this module imports nothing
heavier than the standard library, and JAX, NumPy and the commands load only once
``Interrupts`` holds both signals.
"""

import contextlib
import os
import sys

from steepest._src.interrupts import Interrupts

from .arguments import Parser
from .output import EXIT_BAD_INPUT, EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, StdoutFailed

# Each command and its module in this package, in the order of the help.
COMMANDS = {
    "fit": "fit", "check": "check", "compare": "compare", "sweep": "sweep",
    "plot-surface": "surface", "bench": "bench", "launch": "launch",
}  # fmt: skip


def build_parser(command: str | None = None) -> Parser:
    """The parser of every command, or of ``command`` alone when it names one: ``steepest
    fit ...`` then imports no other command's module (24 ms to build, against 46 ms for
    all seven, after ``import jax``)."""
    import importlib

    from steepest import __version__

    from . import cache

    parser = Parser(
        prog="steepest",
        description="Gradient descent in JAX, checked and compiled.",
        example="steepest fit --plot loss.png",
    )
    parser.add_argument("--version", action="version", version=f"steepest {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name in [command] if command in COMMANDS else COMMANDS:
        importlib.import_module(f"{__package__}.{COMMANDS[name]}").add_parser(commands)
    for name, subparser in commands.choices.items():
        if name != "launch":  # starts other processes, which take it
            cache.add_argument(subparser)
    return parser


def main(argv: list[str] | None = None, processes=None) -> int:
    """Run ``steepest`` with ``argv`` (default: the process's arguments); return the exit code.

    ``processes``: this process's place in a run of several (``steepest.distributed``);
    each runs the command on its own rows, and only the first prints and writes.
    """
    with Interrupts() as interrupts:
        try:
            args, jax, DataError = _start(argv, interrupts)
        except KeyboardInterrupt:
            sys.stderr.write("steepest: interrupted while starting; nothing was run\n")
            code = EXIT_INTERRUPTED
        else:
            from steepest._src.processes import ONE

            args.processes = processes or ONE
            with _quiet(args) if args.processes.index else contextlib.nullcontext():
                code = _run(args, argv, jax, DataError)
        if interrupts.received and code != EXIT_INTERRUPTED:
            # Swallowed on the way (JAX's callbacks do that) and the command finished anyway.
            sys.stderr.write("steepest: interrupted after the command had finished\n")
            code = EXIT_INTERRUPTED
    if interrupts.terminated and code == EXIT_INTERRUPTED:
        return 128 + interrupts.terminated  # 143 for SIGTERM (EXIT_TERMINATED), 129 SIGHUP
    return code


def console() -> None:
    """The ``steepest`` executable: ``main`` on the process's arguments, then a quick exit.

    Once the output is flushed the process leaves without the interpreter's teardown
    (``os._exit``): a Ctrl-C that lands while XLA compiles can leave XLA in a state that
    the teardown crashes on (SIGSEGV after "interrupted", 3 of 49 runs before this), and a
    Ctrl-C during that teardown would end the process with no word.
    """
    if sys.stderr is None:  # started with stderr closed: the exit code still says it all
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (open to the process's end)
    if sys.stdout is None:  # started with stdout closed (`steepest fit >&-`)
        sys.stderr.write(
            "steepest: error: stdout is closed, so the result would be lost; redirect "
            "it to a file (or to /dev/null, to keep only --out and --plot)\n"
        )
        sys.stderr.flush()
        os._exit(EXIT_BAD_INPUT)
    try:
        code = main()
        sys.stdout.flush()
        sys.stderr.flush()
    except KeyboardInterrupt:  # between main's return and here
        code = EXIT_INTERRUPTED
    except BrokenPipeError:  # what was left for a reader that went away
        code = EXIT_BROKEN_PIPE
    except OSError as error:  # stdout (or stderr) full: /dev/full, a full disk
        with contextlib.suppress(OSError):
            os.write(2, f"steepest: error: cannot write the output: {error.strerror}\n".encode())
        code = EXIT_BAD_INPUT
    os._exit(code)


@contextlib.contextmanager
def _quiet(args):
    """No output on stdout and no file written: a process other than the first of a run
    of several, whose result the first prints."""
    for option in ("out", "plot"):
        if hasattr(args, option):
            setattr(args, option, None)
    with open(os.devnull, "w") as nowhere, contextlib.redirect_stdout(nowhere):
        yield


def _start(argv, interrupts):
    """The parsed arguments, then JAX and ``DataError`` loaded; ``KeyboardInterrupt`` if stopped."""
    with interrupts.held():
        arguments = sys.argv[1:] if argv is None else argv
        command = arguments[0] if arguments else None
        args = build_parser(command).parse_args(argv)  # the parser's choices import JAX
        import jax

        from steepest import DataError
    return args, jax, DataError


@contextlib.contextmanager
def _warnings_on_stderr():
    """The library's warnings about the data (a constant column, a CSV's index column) as
    one line each on stderr, ``steepest: warning: ...``, as they are raised."""
    import warnings

    from steepest.data import DataWarning

    with warnings.catch_warnings():
        warnings.simplefilter("always", DataWarning)
        shown = warnings.showwarning

        def show(message, category, *rest, **keywords):
            if issubclass(category, DataWarning):
                sys.stderr.write(f"steepest: warning: {message}\n")
            else:
                shown(message, category, *rest, **keywords)

        warnings.showwarning = show
        yield


def _error_line(error: ValueError) -> str:
    """``steepest: error: WORDS``; where another process of the run stopped on bad rows of
    its own, its words, as ``steepest launch`` shows that process's line."""
    from steepest._src.processes import StoppedElsewhere

    if isinstance(error, StoppedElsewhere):
        return f"steepest: process {error.process}: error: {error.words}\n"
    return f"steepest: error: {error}\n"


def _run(args, argv, jax, DataError) -> int:
    from .cache import compilation_cache

    try:
        with (
            jax.enable_x64(bool(getattr(args, "x64", False))),
            compilation_cache(not getattr(args, "no_cache", True)),
            _warnings_on_stderr(),
        ):
            return args.run(args, argv)
    except (DataError, ValueError) as error:
        # ValueError: input that passed the boundary checks but cannot be descended on,
        # e.g. a cost that overflows at the start or a Hessian with no positive eigenvalue.
        sys.stderr.write(_error_line(error))
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # the reader of stdout went away (`steepest fit | head -1`)
        return EXIT_BROKEN_PIPE
    except StdoutFailed as error:  # stdout full (/dev/full, a full disk)
        sys.stderr.write(f"steepest: error: cannot write to stdout: {error.strerror}\n")
        return EXIT_BAD_INPUT
    except OSError as error:  # a figure or record that cannot be written, or another
        said = f"cannot write {error.filename}: " if error.filename is not None else ""
        sys.stderr.write(f"steepest: error: {said}{error.strerror or error}\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:  # Ctrl-C before the loop started; inside it, fit returns
        sys.stderr.write("steepest: interrupted\n")
        return EXIT_INTERRUPTED
