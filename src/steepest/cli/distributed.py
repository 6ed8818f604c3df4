"""``python -m steepest.distributed``: one process of a fit over several, on one machine
or a cluster (``steepest launch`` starts them all on this one).

Each process joins the others with ``jax.distributed.initialize`` (gloo collectives on
the CPU), loads only its own rows of the file, and runs the same command: one compiled
loop over an array split by rows over every process's devices. The first process
prints the result; it is the result of the same command in one process, to rounding.

Where the coordinator, the process count and this process's id come from, in order:
the flags; the environment, ``JAX_COORDINATOR_ADDRESS`` (read by JAX),
``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID``; then the cluster, as JAX finds it
(SLURM, Open MPI, Kubernetes).
"""

import argparse
import os
import sys
import threading

from steepest._src.distributed import (
    JOIN_SECONDS,
    JoinError,
    agree,
    join,
    local_devices_of,
    shutdown,
)

from .arguments import Parser, positive_float, process_count, process_id
from .group import LAUNCHER, command_of, refusal
from .main import main as run_command
from .output import (
    EXIT_BAD_INPUT,
    EXIT_BROKEN_PIPE,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_NOT_CONVERGED,
    EXIT_OK,
    refuse,
)


def build_parser() -> Parser:
    parser = Parser(
        prog="python -m steepest.distributed",
        description="Run one process of a fit over several processes (on one machine or a "
        "cluster); each reads its own rows of --data, the first prints the result.",
        example="JAX_COORDINATOR_ADDRESS=host0:1234 JAX_NUM_PROCESSES=4 JAX_PROCESS_ID=0 "
        "python -m steepest.distributed fit --data big.npy",
    )
    parser.add_argument(
        "--coordinator",
        metavar="HOST:PORT",
        help="the address of process 0 (default $JAX_COORDINATOR_ADDRESS, or the cluster's)",
    )
    parser.add_argument(
        "--num-processes",
        type=process_count,
        metavar="K",
        help="how many processes the run has (default $JAX_NUM_PROCESSES, or the cluster's)",
    )
    parser.add_argument(
        "--process-id",
        type=process_id,
        metavar="I",
        help="this process's place, 0 to K-1 (default $JAX_PROCESS_ID, or the cluster's)",
    )
    parser.add_argument(
        "--join-timeout",
        type=positive_float,
        default=JOIN_SECONDS,
        metavar="SECONDS",
        help=f"wait at most this long for every process to join (default {JOIN_SECONDS:g})",
    )
    parser.add_argument(
        "--local-devices",
        metavar="IDS|all",
        help="the local GPUs this process takes: ids (0,1,2,3), or all of them, for one "
        "process per host (default $JAX_LOCAL_DEVICE_IDS; under SLURM, JAX's choice: the "
        "GPU of $SLURM_LOCALID, one process per GPU)",
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, help="fit and its options")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Join the run's processes, then run the command (``cli.main.main``) as one of them."""
    args = build_parser().parse_args(argv)
    command = command_of(args.command)
    if (refused := refusal(command)) is not None:
        return refuse(refused)
    try:
        count = _given(args.num_processes, "JAX_NUM_PROCESSES", process_count)
        index = _given(args.process_id, "JAX_PROCESS_ID", process_id)
    except argparse.ArgumentTypeError as error:
        return refuse(str(error))
    if count is not None and index is not None and index >= count:
        return refuse(f"process id {index} is not below the process count {count}")
    try:
        local = None if args.local_devices is None else local_devices_of(args.local_devices)
    except ValueError as error:
        return refuse(str(error))
    if count == 1:
        return run_command(command)
    try:
        processes = join(
            args.coordinator, count, index, timeout=args.join_timeout, local_devices=local
        )
    except KeyboardInterrupt:
        sys.stderr.write("steepest: interrupted while the processes joined; nothing was run\n")
        return EXIT_INTERRUPTED
    except JoinError as error:
        return refuse(str(error))
    if not agree(processes, "\0".join(command)):
        return refuse("the processes were started with different commands; start each alike")
    return run_command(command, processes=processes)


def _given(flag: int | None, variable: str, kind) -> int | None:
    """The flag's value, else the environment variable's read as the flag's, else None."""
    if flag is not None or variable not in os.environ:
        return flag
    try:
        return kind(os.environ[variable])
    except argparse.ArgumentTypeError as error:
        raise argparse.ArgumentTypeError(f"{variable}: {error}") from None


def console() -> None:
    """``python -m steepest.distributed``: ``main``, then a quick exit (as ``steepest``).

    Native libraries' chatter on stdout (gloo's "[Gloo] Rank 0 is connected to 1 peer
    ranks") is sent to nowhere: stdout carries the result alone, ``--json`` included.
    """
    result = os.dup(1)
    nowhere = os.open(os.devnull, os.O_WRONLY)
    os.dup2(nowhere, 1)
    os.close(nowhere)
    encoding, errors = sys.stdout.encoding, sys.stdout.errors
    sys.stdout = open(result, "w", encoding=encoding, errors=errors)  # noqa: SIM115 (for good)
    _watch_launcher()
    try:
        code = main()
        sys.stdout.flush()  # the result is out before the last wait on the others
        if code in (EXIT_OK, EXIT_FAILED, EXIT_NOT_CONVERGED):  # all finished: leave together
            shutdown()
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    except BrokenPipeError:
        code = EXIT_BROKEN_PIPE
    except SystemExit as exit:  # --help, and argparse's errors
        code = exit.code if isinstance(exit.code, int) else EXIT_BAD_INPUT
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        code = EXIT_BROKEN_PIPE
    os._exit(code)


def _watch_launcher() -> None:
    """When started by ``steepest launch``, exit once the launcher is gone."""
    launcher = os.environ.get(LAUNCHER)
    if launcher is None:
        return

    def watch():
        while os.getppid() == int(launcher):
            threading.Event().wait(1.0)
        os._exit(EXIT_INTERRUPTED)

    threading.Thread(target=watch, daemon=True, name="steepest-launcher-watch").start()
