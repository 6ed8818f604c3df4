"""``steepest launch --processes K -- fit ...``: a fit over K processes on this machine.

Starts K ``python -m steepest.distributed`` processes, joined through a coordinator on
a free local port; each reads its own rows of ``--data``. The first prints the result
on this command's stdout; what the others write to stderr is shown only when one of
them fails. Should one stop while the others wait on it, they are stopped too.
Ctrl-C (and SIGTERM) is passed on to every process, which stop together after the
chunk of steps in flight.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

from .distributed import refusal
from .options import EXIT_BAD_INPUT, process_count

# Once a process has failed, how long the others get to end on their own.
FAILED_GRACE_SECONDS = 2.0
# Once a process has finished, how long the others get to finish too.
FINISHED_GRACE_SECONDS = 30.0
# Words of JAX's and gloo's errors when another process went away mid-run.
LOST_PEER = ("Gloo", "coordination service", "by peer")


def add_parser(commands) -> None:
    launch = commands.add_parser(
        "launch",
        help="run a fit over several processes on this machine",
        description="Start K processes (python -m steepest.distributed) that run one fit "
        "together, each on its own rows of --data (a .npy or .parquet), and print its "
        "result: the result of the same fit in one process, to rounding. On a cluster, run "
        "python -m steepest.distributed on each host instead (see the README).",
        example="steepest launch --processes 2 -- fit --data big.npy --json",
    )
    launch.add_argument(
        "--processes",
        dest="count",
        type=process_count,
        required=True,
        metavar="K",
        help="how many processes",
    )
    launch.add_argument(
        "--port",
        type=int,
        help="the coordinator's port on 127.0.0.1 (default: a free one)",
    )
    launch.add_argument("command", nargs="...", help="-- fit and its options, as for steepest fit")
    launch.set_defaults(run=run)


def run(args, argv=None) -> int:
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        return _refuse("launch needs a command: steepest launch --processes 2 -- fit ...")
    if (refused := refusal(command)) is not None:
        return _refuse(refused)
    tasks = os.environ.get("SLURM_NTASKS")
    if tasks not in (None, "1"):
        return _refuse(
            f"this is a SLURM step of {tasks} tasks: run python -m steepest.distributed "
            f"{command[0]} ... in each (srun), not steepest launch"
        )
    coordinator = f"127.0.0.1:{args.port or _free_port()}"
    with contextlib.ExitStack() as files:
        logs = [files.enter_context(tempfile.TemporaryFile()) for _ in range(args.count)]
        children = [
            _start(index, args.count, coordinator, command, log) for index, log in enumerate(logs)
        ]
        previous = {number: signal.signal(number, _passer(children)) for number in _PASSED}
        try:
            ended, stopped = _wait(children)
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)
        return _report(children, logs, ended, stopped)


_PASSED = (signal.SIGINT, signal.SIGTERM)


def _start(index: int, count: int, coordinator: str, command: list[str], log):
    environment = {
        **os.environ,
        "JAX_COORDINATOR_ADDRESS": coordinator,
        "JAX_NUM_PROCESSES": str(count),
        "JAX_PROCESS_ID": str(index),
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "steepest.distributed", *command],
        env=environment,
        stdout=None if index == 0 else subprocess.DEVNULL,
        stderr=log,
        start_new_session=True,  # a Ctrl-C reaches them once, from here (_passer)
    )
    return child


def _passer(children):
    def passed(number, frame):
        for child in children:
            if child.poll() is None:
                child.send_signal(number)

    return passed


def _wait(children) -> tuple[list[int], set[int]]:
    """Wait for every child; the order they ended in, and those this stopped (SIGKILL)."""
    ended, stopped = [], set()
    deadline = None
    while len(ended) < len(children):
        for index, child in enumerate(children):
            if index not in ended and child.poll() is not None:
                ended.append(index)
                grace = FAILED_GRACE_SECONDS if child.returncode else FINISHED_GRACE_SECONDS
                deadline = min(deadline or float("inf"), time.monotonic() + grace)
        if deadline is not None and time.monotonic() > deadline:
            for index, child in enumerate(children):
                if index not in ended:
                    child.kill()
                    child.wait()
                    ended.append(index)
                    stopped.add(index)
        time.sleep(0.02)
    return ended, stopped


def _report(children, logs, ended: list[int], stopped: set[int]) -> int:
    """Replay the stderr of the process whose outcome this is, and return its exit code.

    That is the first process, unless another failed on its own first (bad rows of its
    own): the others then fail for want of it (``LOST_PEER``), and are not the cause.
    """
    codes = [child.returncode for child in children]
    texts = [_lines(log) for log in logs]
    failed = [i for i in ended if i not in stopped and codes[i]]
    causes = [i for i in failed if not any(word in "".join(texts[i]) for word in LOST_PEER)]
    chosen = next(iter(causes or failed), 0)
    if 0 not in stopped and (codes[0], texts[0]) == (codes[chosen], texts[chosen]):
        chosen = 0  # the same outcome: every process reports the same result
    sys.stderr.writelines(_as_process(chosen, texts[chosen]))
    if chosen in stopped:
        sys.stderr.write("steepest: error: the processes stopped without a result\n")
        return EXIT_BAD_INPUT
    if codes[chosen] < 0:
        name = signal.Signals(-codes[chosen]).name
        sys.stderr.write(f"steepest: error: process {chosen} was ended by {name}\n")
        return 128 - codes[chosen]
    return codes[chosen]


def _lines(log) -> list[str]:
    log.seek(0)
    return log.read().decode(errors="replace").splitlines(keepends=True)


def _as_process(index: int, lines: list[str]) -> list[str]:
    """``lines`` of process ``index``'s stderr, its own ``steepest:`` lines saying so."""
    if index == 0:
        return lines
    prefix = "steepest: "
    return [
        f"{prefix}process {index}: {line[len(prefix) :]}" if line.startswith(prefix) else line
        for line in lines
    ]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _refuse(message: str) -> int:
    sys.stderr.write(f"steepest: error: {message}\n")
    return EXIT_BAD_INPUT
