"""``steepest launch --processes K -- fit ...``: a fit over K processes on this machine.

Starts K ``python -m steepest.distributed`` processes, joined through a coordinator on
a free local port; each reads its own rows of ``--data``. The first prints the result
on this command's stdout; the stderr of the process whose outcome it is, is shown once
all have ended (so there is no live progress bar). Should one fail while the others
wait on it, they are stopped too. Ctrl-C, SIGTERM and SIGHUP are passed on to every
process, which stop together after the chunk of steps in flight; should the
launcher itself be killed, they stop on their own.
"""

import contextlib
import errno
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

from .arguments import port, process_count
from .group import LAUNCHER, command_of, refusal
from .output import EXIT_BAD_INPUT, refuse

# Once a process has ended with a code other than 0, how long the others get to end (the
# longer FINISHED_GRACE_SECONDS where it stopped because another failed: that one reports).
FAILED_GRACE_SECONDS = 2.0
# Once a process has finished, how long the others get to finish too.
FINISHED_GRACE_SECONDS = 30.0
# Words of JAX's and gloo's errors when another process went away mid-run. (One that
# stops for another's bad rows says that one's words: ``steepest: process 1: error: ...``.)
LOST_PEER = ("Gloo", "coordination service", "by peer")
# The signals passed on to the processes.
PASSED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


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
        "--port", type=port, help="the coordinator's port on 127.0.0.1 (default: a free one)"
    )
    launch.add_argument("command", nargs="...", help="-- fit and its options, as for steepest fit")
    launch.set_defaults(run=run)


def run(args, argv=None) -> int:
    command = command_of(args.command)
    if not command:
        return refuse("launch needs a command: steepest launch --processes 2 -- fit ...")
    if (refused := refusal(command)) is not None:
        return refuse(refused)
    tasks = os.environ.get("SLURM_NTASKS")
    if tasks not in (None, "1"):
        return refuse(
            f"this is a SLURM step of {tasks} tasks: run python -m steepest.distributed "
            f"{command[0]} ... in each (srun), not steepest launch"
        )
    if args.port is not None and not _port_is_free(args.port):
        return refuse(
            f"port {args.port} is in use: give another --port, or none (a free one is found)"
        )
    coordinator = f"127.0.0.1:{args.port or _free_port()}"
    with contextlib.ExitStack() as stack:
        logs = [stack.enter_context(tempfile.TemporaryFile()) for _ in range(args.count)]
        children: list[subprocess.Popen] = []
        stack.callback(_stop_running, children)  # whatever happens here, none is left behind
        previous = {
            number: signal.signal(number, _passer(children))
            for number in PASSED
            if signal.getsignal(number) is not signal.SIG_IGN
        }
        try:
            for index, log in enumerate(logs):
                children.append(_start(index, args.count, coordinator, command, log))
            ended, stopped = _wait(children, logs)
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)
        return report(children, logs, ended, stopped)


def _start(index: int, count: int, coordinator: str, command: list[str], log):
    environment = {
        **os.environ,
        "JAX_COORDINATOR_ADDRESS": coordinator,
        "JAX_NUM_PROCESSES": str(count),
        "JAX_PROCESS_ID": str(index),
        LAUNCHER: str(os.getpid()),
        **gpu_share(index, count),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "steepest.distributed", *command],
        env=environment,
        stdout=None if index == 0 else subprocess.DEVNULL,
        stderr=log,
        start_new_session=True,  # a Ctrl-C reaches them once, from here (_passer)
    )


def _passer(children):
    def passed(number, frame):
        # Each handles a hangup as SIGTERM: after the chunk in flight, with a result, 129.
        for child in children:
            if child.poll() is None:
                child.send_signal(number)

    return passed


def _stop_running(children) -> None:
    for child in children:
        if child.poll() is None:
            child.kill()
            child.wait()


def _wait(children, logs) -> tuple[list[int], set[int]]:
    """Wait for every child; the order they ended in, and those this stopped (SIGKILL)."""
    ended: list[int] = []
    stopped: set[int] = set()
    deadline = None
    while len(ended) < len(children):
        for index, child in enumerate(children):
            if index not in ended and child.poll() is not None:
                ended.append(index)
                own_failure = child.returncode and not _waited_for_another(_lines(logs[index]))
                grace = FAILED_GRACE_SECONDS if own_failure else FINISHED_GRACE_SECONDS
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


def _waited_for_another(lines: list[str]) -> bool:
    """Whether a process's stderr says it stopped for another's sake (``LOST_PEER``),
    without an error's words."""
    lost = any(word in line for line in lines for word in LOST_PEER)
    return lost and not _said_why(lines)


# A steepest error line: the process's own, or another's that it was told of.
ERROR_LINE = re.compile(r"steepest: (process \d+: )?error: ")


def _said_why(lines: list[str]) -> bool:
    """Whether a process's stderr gives an error's words: its own (``steepest: error:``)
    or another process's bad rows (``steepest: process 1: error:``), on a line without
    JAX's or gloo's words for a lost peer (which may be logged around it, once the
    coordinator has gone)."""
    return any(
        ERROR_LINE.match(line) and not any(word in line for word in LOST_PEER) for line in lines
    )


def report(children, logs, ended: list[int], stopped: set[int]) -> int:
    """Replay the stderr of the process whose outcome this is, and return its exit code.

    That is the first process's, which prints the result, unless it was stopped or
    failed for want of another (``LOST_PEER``, or ended by a signal): then that of the
    first other process to fail on its own (bad rows of its own, say).
    """
    codes = [child.returncode for child in children]
    texts = [_lines(log) for log in logs]

    def lost(index: int) -> bool:
        return codes[index] < 0 or _waited_for_another(texts[index])

    chosen = 0
    if 0 in stopped or (codes[0] and lost(0)):
        failed = [i for i in ended if i not in stopped and codes[i]]
        on_its_own = [i for i in ended if _said_why(texts[i]) or (i in failed and not lost(i))]
        chosen = on_its_own[0] if on_its_own else failed[0] if failed else 0
    sys.stderr.writelines(_as_process(chosen, texts[chosen]))
    if (chosen in stopped or codes[chosen] < 0) and _said_why(texts[chosen]):
        return EXIT_BAD_INPUT  # its error said, its exit held up (stopped here) or cut short
    if chosen in stopped:
        return refuse("the processes stopped without a result")
    if codes[chosen] < 0:
        name = signal.Signals(-codes[chosen]).name
        refuse(f"process {chosen} was ended by {name}")
        return 128 - codes[chosen]
    return codes[chosen]


def _lines(log) -> list[str]:
    log.seek(0)
    return log.read().decode(errors="replace").splitlines(keepends=True)


def _as_process(index: int, lines: list[str]) -> list[str]:
    """``lines`` of process ``index``'s stderr, its own ``steepest:`` lines saying so (a
    line that names another process's error already says whose it is)."""
    if index == 0:
        return lines
    prefix = "steepest: "

    def own(line: str) -> bool:
        return line.startswith(prefix) and not line.startswith(f"{prefix}process ")

    return [
        f"{prefix}process {index}: {line[len(prefix) :]}" if own(line) else line for line in lines
    ]


def gpu_share(index: int, count: int, environ=os.environ) -> dict[str, str]:
    """``JAX_LOCAL_DEVICE_IDS`` for process ``index`` of ``count`` on a machine of GPUs:
    each its own, an equal share in order (else every process would see them all and
    take the first); nothing where no GPU is known (``$CUDA_VISIBLE_DEVICES``, else
    ``nvidia-smi -L``), or where the caller chose already.

    Example:
        >>> gpu_share(1, 2, {"CUDA_VISIBLE_DEVICES": "0,1,2,3"})
        {'JAX_LOCAL_DEVICE_IDS': '2,3'}
        >>> gpu_share(1, 2, {"CUDA_VISIBLE_DEVICES": ""})
        {}
    """
    if "JAX_LOCAL_DEVICE_IDS" in environ:
        return {}
    gpus = _gpu_count(environ)
    if gpus < count:  # none, or fewer than the processes: JAX's choice stands
        return {}
    share = gpus // count
    ids = range(index * share, (index + 1) * share)
    return {"JAX_LOCAL_DEVICE_IDS": ",".join(map(str, ids))}


def _gpu_count(environ) -> int:
    """GPUs this machine shows its processes: ``$CUDA_VISIBLE_DEVICES``'s, else
    ``nvidia-smi -L``'s lines, else 0."""
    if "CUDA_VISIBLE_DEVICES" in environ:
        visible = environ["CUDA_VISIBLE_DEVICES"].strip()
        return len(visible.split(",")) if visible else 0
    try:
        listed = subprocess.run(
            ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(line.startswith("GPU ") for line in listed.stdout.splitlines())


def _port_is_free(port: int) -> bool:
    """Whether the coordinator can listen on ``port``: JAX's gRPC server binds it on every
    address (``[::]``), and on a port in use it failed with a line of gRPC's own log
    and a message that blamed the processes."""
    for family, everywhere in ((socket.AF_INET6, "::"), (socket.AF_INET, "0.0.0.0")):
        try:
            with socket.socket(family) as probe:
                probe.bind((everywhere, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return False  # another family unsupported (no IPv6): left to the other
    return True


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
