"""The host driver: runs an engine chunk by chunk, times it, reports progress, honours Ctrl-C.

The device runs many steps per call (``Engine.run``); the host touches it only
between chunks, sized to take about ``CHUNK_SECONDS`` each: long enough that
the sync is noise, short enough for a live progress bar and a prompt Ctrl-C.
The first chunk of a loop never run before is one step, which times a step; a loop
run before (the same engine, on data of the same shapes) starts from the step time
it last measured (``StepTimes``), so a short run repeated is one call, not two.
In a run of several processes, every process must run the same chunks: each chunk's
length and whether to stop after it are agreed between them (``Processes``).
"""

import signal
import threading
import time
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .checkpoint import Saver
from .engine import LoopState
from .processes import ONE, Processes, spans_processes
from .stopping import Status

CHUNK_SECONDS = 0.2
REMEMBERED_LOOPS = 64


class Progress(NamedTuple):
    """What a run reports to its ``on_chunk`` callback after each chunk of steps.

    ``loss`` and ``grad_norm`` are those of the last iterate evaluated that did not
    diverge (the lowest among the runs of a sweep; ``step`` the furthest).
    """

    step: int
    max_steps: int
    loss: float
    grad_norm: float
    seconds: float


class Driven(NamedTuple):
    """What ``drive`` returns: the final state, the seconds of steps and of compiling."""

    state: LoopState  # one, or a stack of them (run_batched)
    seconds: float
    compile_seconds: float


def drive(
    run: Callable,
    state,
    data: tuple,
    max_steps: int,
    on_chunk: Callable[[Progress], None] | None = None,
    saver: Saver | None = None,
    processes: Processes | None = None,
) -> Driven:
    """Call ``run(state, chunk_end, *data)`` until every state has stopped, or Ctrl-C.

    ``run`` is ``Engine.run`` or ``Engine.run_batched``. The first Ctrl-C stops
    after the chunk in flight (the state then says ``RUNNING``: interrupted); a
    second raises ``KeyboardInterrupt`` at once. ``saver``: saves the state between
    chunks when due (a chunk ends at each step a save by steps falls on), and the
    final state. ``processes``: the processes that run this loop together (default: those
    the data span), which agree on each chunk's length and on whether to stop.
    """
    data = jax.tree.map(jnp.asarray, tuple(data))  # on the device once, not at every chunk
    started = time.perf_counter()
    # Empty chunks: they compile and run no step. Twice: should a state come back typed
    # otherwise than it went in (a caller's own optax state), the second variant compiles
    # here, not inside the timed steps.
    for _ in range(2):
        state = run(state, 0, *data)
    jax.block_until_ready(state)
    compile_seconds = time.perf_counter() - started

    run_seconds = 0.0
    step = int(np.asarray(state.step).max())  # 0, or where a resumed run is
    # Data that spans processes: each runs this loop, and they must run the same chunks.
    if processes is None:
        processes = Processes.current() if spans_processes(data) else ONE
    # Processes agree on every chunk, and each remembers only its own runs: one step first.
    loop = None if processes.many else StepTimes.key(run, state, data)
    chunk = STEP_TIMES.first_chunk(loop)
    with InterruptFlag() as interrupt:
        while True:
            chunk_end = min(step + chunk, max_steps + 1)
            if saver is not None and (next_save := saver.checkpoint.next_save(step)):
                chunk_end = min(chunk_end, next_save)
            began = time.perf_counter()
            state = run(state, chunk_end, *data)
            steps, statuses = np.asarray(state.step), np.asarray(state.status)  # the one sync
            elapsed = time.perf_counter() - began
            run_seconds += elapsed
            new_step = int(steps.max())
            done, step = max(new_step - step, 1), new_step
            if on_chunk is not None:
                on_chunk(
                    Progress(
                        step=step,
                        max_steps=max_steps,
                        loss=float(np.asarray(state.good_loss).min()),
                        grad_norm=float(np.asarray(state.good_grad_norm).min()),
                        seconds=run_seconds,
                    )
                )
            interrupted = interrupt.raised  # read after on_chunk, which may take long
            if processes.many:  # the slowest process's time, and a Ctrl-C to any of them
                elapsed, interrupted = processes.max([elapsed, interrupted]).tolist()
            chunk = max(1, min(100 * chunk, int(done * CHUNK_SECONDS / elapsed)))
            STEP_TIMES.measured(loop, done, elapsed)
            if not np.any(statuses == Status.RUNNING.code) or interrupted:
                break
            if saver is not None and processes.max([saver.due(step)])[0]:  # all save, or none
                saver.save(state)
    if saver is not None:
        saver.save(state)
        saver.close()
    return Driven(state, run_seconds, compile_seconds)


class StepTimes:
    """The seconds a step took, by loop, for the first chunk of the next run of that loop.

    A loop is one engine's ``run`` (or ``run_batched``) on data and state of the same
    shapes, dtypes and placement; its step time is that of its longest chunk yet
    (the most steps, the least noise). The ``REMEMBERED_LOOPS`` loops used last are kept.

    Example:
        >>> times = StepTimes()
        >>> times.first_chunk("loop"), times.first_chunk(None)  # never run: one step
        (1, 1)
        >>> times.measured("loop", 1000, 0.01)  # 10 us a step
        >>> times.first_chunk("loop")  # CHUNK_SECONDS of them
        20000
    """

    def __init__(self):
        self._seconds: dict = {}  # loop -> (steps, seconds) of its longest chunk

    @staticmethod
    def key(run: Callable, state, data: tuple):
        """What identifies a loop: an engine's bound ``run`` and the shapes of what it
        runs on; None (nothing remembered) for any other callable, which may be made
        anew at every call and hold its data."""
        engine, method = getattr(run, "__self__", None), getattr(run, "__func__", None)
        if engine is None or method is None:
            return None
        try:
            leaves = jax.tree.leaves((state, data))
            shapes = tuple((jax.typeof(x), getattr(x, "sharding", None)) for x in leaves)
            hash((engine, method, shapes))
        except TypeError:  # something that cannot key a dict: not remembered
            return None
        return engine, method, shapes

    def first_chunk(self, loop) -> int:
        """Steps in the first chunk: ``CHUNK_SECONDS`` at the remembered step time, or 1."""
        if loop is None or loop not in self._seconds:
            return 1
        steps, seconds = self._seconds[loop]
        return max(1, int(steps * CHUNK_SECONDS / max(seconds, 1e-9)))

    def measured(self, loop, steps: int, seconds: float) -> None:
        """Remember a chunk of ``steps`` steps that took ``seconds``, if the longest yet."""
        if loop is None:
            return
        known = self._seconds.pop(loop, (0, 0.0))
        self._seconds[loop] = max(known, (steps, seconds))  # moved to the end: used last
        while len(self._seconds) > REMEMBERED_LOOPS:
            del self._seconds[next(iter(self._seconds))]


STEP_TIMES = StepTimes()


class InterruptFlag:
    """Turns Ctrl-C (SIGINT) into a flag that the host loop checks between chunks.

    A second Ctrl-C restores the previous handler and raises ``KeyboardInterrupt``
    at once, for when waiting for the chunk to end is not wanted. Outside the main
    thread (where Python delivers signals) it installs nothing.
    """

    def __init__(self):
        self.raised = False
        self._installed = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def _handle(self, signum, frame):
        if self.raised:
            self._restore()
            raise KeyboardInterrupt
        self.raised = True

    def _restore(self):
        if self._installed:
            # None means a handler not installed from Python; Python's default stands in.
            previous = signal.default_int_handler if self._previous is None else self._previous
            signal.signal(signal.SIGINT, previous)
            self._installed = False

    def __exit__(self, *exc):
        self._restore()
