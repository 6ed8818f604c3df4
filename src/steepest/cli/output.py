"""What every command does with its result: exit codes, ``--json`` and ``--out`` (``emit``),
``--plot`` (``draw``), and one line on stderr at the end (``finish``)."""

import contextlib
import sys

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_NOT_CONVERGED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_TERMINATED = 143  # SIGTERM, handled as Ctrl-C is
EXIT_BROKEN_PIPE = 141  # stdout closed by its reader, as a shell reports SIGPIPE


class StdoutFailed(OSError):
    """stdout could not be written (a full disk, /dev/full): not a file of ours."""


@contextlib.contextmanager
def printing():
    """An OSError while printing raised as ``StdoutFailed`` (a reader gone away stays a
    ``BrokenPipeError``), so that it is not taken for a file that cannot be written."""
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as error:
        raise StdoutFailed(error.errno, error.strerror) from error


class Outputs:
    """What a command wrote (``--out``, ``--plot``) and what it could not: ``finish``
    says both in one line on stderr, once the result is printed."""

    def __init__(self):
        self.written: list[str] = []
        self.unwritten: list[str] = []

    def attempt(self, option: str, path, write) -> bool:
        """``write()``; an OSError is noted as unwritten instead of raised."""
        try:
            write()
        except OSError as error:
            self.unwritten.append(f"{option} {path} ({error.strerror or error})")
            return False
        self.written.append(str(path))
        return True


def emit(args, record, argv: list[str] | None, outputs: Outputs | None = None) -> None:
    """Print ``record`` (a dict, or a result with ``to_dict``) as JSON with ``--json``;
    write it with its context (the command, versions, machine, date) to ``--out``.

    With ``outputs``, an ``--out`` that cannot be written is noted there instead of
    raised, so that the command prints its result anyway (see ``finish``).
    """
    from steepest import records

    if args.out:  # first: a stdout that fails (full, closed) loses no record
        command = ["steepest", *(sys.argv[1:] if argv is None else argv)]

        def write():
            records.write(args.out, record, command=command)

        if outputs is None:
            write()
        else:
            outputs.attempt("--out", args.out, write)
    if args.json:
        with printing():
            print(records.dumps(record))


def draw(args, make_figure, outputs: Outputs) -> bool:
    """Save the figure ``make_figure(steepest.plots)`` returns to ``--plot``; True when it
    was written. (Only a run that draws imports matplotlib: a second or more.)

    A figure that cannot be written is noted in ``outputs``, not raised: the run's
    result is printed (and its record written) anyway.
    """
    if not args.plot:
        return False
    from steepest import plots

    return outputs.attempt("--plot", args.plot, lambda: plots.save(make_figure(plots), args.plot))


def deliver(args, argv, report, figure=None, *, record=None, heading: str = "") -> Outputs:
    """What becomes of a command's result: ``figure(plots)`` saved to ``--plot``, the record
    (``report``'s, unless ``record`` is given) printed with ``--json`` and written to
    ``--out``, and without ``--json`` the report's table on stdout, under ``heading``."""
    outputs = Outputs()
    if figure is not None:
        draw(args, figure, outputs)
    emit(args, report if record is None else record, argv, outputs)
    if not args.json:
        from rich.console import Console

        console = Console()
        with printing():
            if heading:
                console.print(heading)
            console.print(report)
    return outputs


def finish(code: int, outputs: Outputs, *, kept: str = "") -> int:
    """The exit code once the result is printed, with at most one line on stderr: for
    an interrupted command (130), that it was and what it ``kept``; for an output that
    could not be written, which (2, or 130 when interrupted as well); else which files
    were written.
    """
    wrote = f"wrote {' and '.join(outputs.written)}" if outputs.written else ""
    lost = f"not written: {'; '.join(outputs.unwritten)}" if outputs.unwritten else ""
    if code == EXIT_INTERRUPTED:
        said = "; ".join(filter(None, (kept, wrote, lost)))
        sys.stderr.write(f"steepest: interrupted; {said}\n")
        return code
    if lost:
        printed = "; ".join(filter(None, ("the result was printed", wrote)))
        sys.stderr.write(f"steepest: error: {lost}; {printed}\n")
        return EXIT_BAD_INPUT
    if wrote:
        sys.stderr.write(f"steepest: {wrote}\n")
    return code


def refuse(message: str) -> int:
    """Bad input found by a command itself: one line on stderr, and its exit code, 2."""
    sys.stderr.write(f"steepest: error: {message}\n")
    return EXIT_BAD_INPUT
