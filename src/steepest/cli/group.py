"""What ``steepest launch`` and ``python -m steepest.distributed`` share: the commands that
run over several processes, and how a launched process knows its launcher."""

# The commands that run over several processes.
COMMANDS = ("fit",)
# Set by ``steepest launch``: the launcher's process id. Should it go away (its terminal
# closed, a kill -9), its processes stop too instead of running on, orphaned.
LAUNCHER = "STEEPEST_LAUNCHER_PID"


def command_of(arguments: list[str]) -> list[str]:
    """The command after an optional ``--``.

    Example:
        >>> command_of(["--", "fit", "--json"])
        ['fit', '--json']
    """
    return arguments[1:] if arguments[:1] == ["--"] else arguments


def refusal(command: list[str]) -> str | None:
    """Why ``command`` cannot run over several processes; None when it can.

    Example:
        >>> refusal(["sweep"])
        "'sweep': only fit runs over several processes"
    """
    if not command or command[0] not in COMMANDS:
        given = f"{command[0]!r}" if command else "no command"
        return f"{given}: only {', '.join(COMMANDS)} runs over several processes"
    return None
