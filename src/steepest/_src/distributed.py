"""Joining the processes of one run: ``jax.distributed.initialize``, with gloo collectives
on the CPU, a wait that ends in an exception rather than JAX's abort, and the shutdown.

Where the coordinator, the process count and this process's id come from when not
given: the environment, ``JAX_COORDINATOR_ADDRESS``, ``JAX_NUM_PROCESSES`` and
``JAX_PROCESS_ID`` (read by JAX); then the cluster, as JAX finds it (SLURM, Open MPI,
Kubernetes).
"""

import hashlib
import os
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where it is used: this module loads with the standard library
    from .processes import Processes

# How long a process waits for the others to join before it gives up.
JOIN_SECONDS = 60.0


class JoinError(RuntimeError):
    """The processes of a run could not join: no coordinator, count or id to be found,
    or not every process joined in time. After the second, JAX's own wait is still
    running in the background and ends the process later: exit once it is reported."""


def join(
    coordinator: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    *,
    timeout: float = JOIN_SECONDS,
    local_devices: list[int] | None = None,
) -> "Processes":
    """Join this process to the others of a run (``jax.distributed.initialize``, gloo
    collectives on the CPU) and return its place among them.

    ``local_devices``: the ids of the local devices (GPUs) this process takes. None
    leaves JAX to choose: ``$JAX_LOCAL_DEVICE_IDS``, else under SLURM the one GPU of
    ``$SLURM_LOCALID`` (one process per GPU), else every local device. For one process
    per host with all its GPUs under SLURM, give them all (``local_devices_of("all")``).

    Raises:
        JoinError: when there is no coordinator, count or id to be found, or when the
            others have not all joined within ``timeout`` seconds (JAX itself would
            abort the process with a stack trace, later).

    Example:
        >>> import steepest
        >>> steepest.distributed.join(num_processes=1).count  # a run of one: nothing to join
        1
    """
    import jax

    from .processes import Processes

    if num_processes == 1:
        return Processes.current()
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    outcome: list[BaseException | None] = []

    def initialize() -> None:
        try:
            jax.distributed.initialize(
                coordinator, num_processes, process_id, local_device_ids=local_devices,
                initialization_timeout=int(timeout) + 30,
            )  # fmt: skip
        except BaseException as error:  # handed to the waiting thread
            outcome.append(error)
        else:
            outcome.append(None)

    # JAX's wait cannot be interrupted from Python: it runs in a thread, and this one waits
    # for it with a deadline (and a Ctrl-C).
    waiter = threading.Thread(target=initialize, daemon=True, name="steepest-join")
    waiter.start()
    waiter.join(timeout)
    if not outcome:
        where = coordinator or os.environ.get("JAX_COORDINATOR_ADDRESS") or "the coordinator"
        expected = f"{num_processes} processes" if num_processes else "the processes of the cluster"
        raise JoinError(
            f"{expected} did not all join at {where} within {timeout:g} s: start as many "
            "(steepest launch --processes K), or give the number started (--num-processes, "
            "JAX_NUM_PROCESSES)"
        )
    if (error := outcome[0]) is not None:
        raise JoinError(
            f"cannot join the other processes ({error}): give --coordinator, "
            "--num-processes and --process-id (or JAX_COORDINATOR_ADDRESS, "
            "JAX_NUM_PROCESSES, JAX_PROCESS_ID), or run under SLURM"
        ) from error
    return Processes.current()


def local_devices_of(text: str, environ=os.environ) -> list[int]:
    """The local device ids ``text`` names: ``0,1,3``, or ``all``, every GPU of this host
    as the environment tells them (``$CUDA_VISIBLE_DEVICES``, which the ids count
    within, else SLURM's ``$SLURM_GPUS_ON_NODE``).

    Raises:
        ValueError: ids that are not whole numbers, or ``all`` where neither says.

    Example:
        >>> local_devices_of("all", {"SLURM_GPUS_ON_NODE": "4"})
        [0, 1, 2, 3]
        >>> local_devices_of("all", {"CUDA_VISIBLE_DEVICES": "2,5"}), local_devices_of("1,0")
        ([0, 1], [1, 0])
    """
    if text != "all":
        try:
            ids = [int(part) for part in text.split(",")]
        except ValueError:
            raise ValueError(
                f"local devices {text!r}: expected ids such as 0,1,2, or all"
            ) from None
        if any(i < 0 for i in ids) or len(set(ids)) != len(ids):
            raise ValueError(f"local devices {text!r}: ids must be distinct and at least 0")
        return ids
    visible = environ.get("CUDA_VISIBLE_DEVICES")
    if visible:
        return list(range(len(visible.split(","))))
    if (count := environ.get("SLURM_GPUS_ON_NODE", "")).isdigit() and int(count) > 0:
        return list(range(int(count)))
    raise ValueError(
        "local devices 'all': neither CUDA_VISIBLE_DEVICES nor SLURM_GPUS_ON_NODE says how "
        "many GPUs this host has; give their ids (0,1,2,...)"
    )


def agree(processes: "Processes", text: str) -> bool:
    """Whether every process holds the same ``text`` (say, the command it was given)."""
    digest = hashlib.sha256(text.encode()).digest()
    mine = float(int.from_bytes(digest[:6], "big"))  # exact in float64
    return bool((processes.gather(mine) == mine).all())


def shutdown() -> None:
    """``jax.distributed.shutdown`` where a run of several processes was joined: a barrier,
    then goodbye. Nothing for a run of one."""
    import sys

    if "jax" in sys.modules:
        import jax

        if jax.process_count() > 1:
            jax.distributed.shutdown()
