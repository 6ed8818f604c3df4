"""``steepest``: the console script. Parses the command line, runs one command, exits.

The only place that turns errors into exit codes: bad input prints one line,
``steepest: error: ...``, and exits 2. float64 (``--x64``) is switched on for
the command's run only, never left on for the process.
"""

import sys

from . import bench, check, compare, fit, surface, sweep
from .options import EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_TERMINATED, Interrupts, Parser

COMMANDS = (fit, check, compare, sweep, surface, bench)


def build_parser() -> Parser:
    from steepest import __version__

    parser = Parser(
        prog="steepest",
        description="Gradient descent in JAX, checked and compiled.",
        example="steepest fit --plot loss.png",
    )
    parser.add_argument("--version", action="version", version=f"steepest {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command in COMMANDS:
        command.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``steepest`` with ``argv`` (default: the process's arguments); return the exit code."""
    import jax

    from steepest import DataError

    args = build_parser().parse_args(argv)
    with Interrupts() as interrupts:
        code = _run(args, argv, jax, DataError)
    if interrupts.terminated and code == EXIT_INTERRUPTED:
        return EXIT_TERMINATED
    return code


def _run(args, argv, jax, DataError) -> int:
    try:
        with jax.enable_x64(bool(getattr(args, "x64", False))):
            return args.run(args, argv)
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
