"""``fit`` over data read a chunk of rows at a time (``io.stream``): exact full-batch
descent on data bigger than memory.

Each step sums the cost and gradient of a row-mean loss over the chunks, weighted
by their rows (as ``blocks`` does over blocks of rows in memory),

.. math::

    f(p) = \\sum_k \\frac{N_k}{N} f_k(p), \\qquad
    \\nabla f(p) = \\sum_k \\frac{N_k}{N} \\nabla f_k(p),

then takes the engine's step on them (``Engine.step_from``: the stop rules, the
update). The next chunk is read from the file while the current one computes. The
iterates are ``fit``'s on the same data in memory, up to rounding in the order of
the sums.

With ``batch_size``, a step is an epoch of mini-batch updates that streams too: the
chunks are read in an order drawn from the seed, and each chunk's rows are shuffled
and cut into batches, one update each (``minibatch``: batches end with their chunk,
so the order is not the in-memory run's). The stop rules are checked on the whole
data, by a full pass, before each epoch.
"""

import dataclasses
import functools
import time
from collections.abc import Callable, Collection, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from . import blocks, minibatch, optimizers, theory
from .arguments import whole_number
from .certificate import from_hessian, rule_mu, value_and_grad64
from .driver import Progress, drive
from .engine import Engine, LoopState, RunSpec, step_block_rows, update
from .fit import (
    MAX_STEPS,
    FitResult,
    check_arguments,
    checked,
    resolve_learning_rate,
    scheduled,
    step_budget,
    with_epoch_message,
)
from .io.dataset import DataError
from .io.remote import as_path
from .io.sharding import ROWS, row_mesh
from .io.sources import describe_error
from .io.stream import Stream
from .losses import quadratic_tag, tags_of
from .processes import ONE, Processes
from .stopping import DIVERGENCE_FACTOR, STALL_PATIENCE, Status, steps_phrase


def fit_stream(
    loss: Callable,
    params,
    data: Stream,
    *,
    optimizer: str = "gd",
    learning_rate: float | None = None,
    max_steps: int = MAX_STEPS,
    tol: float | None = None,
    rtol: float | None = None,
    divergence_factor: float = DIVERGENCE_FACTOR,
    on_chunk: Callable[[Progress], None] | None = None,
    tags: Collection = frozenset(),
    stall_patience: int | None = STALL_PATIENCE,
    batch_size: int | None = None,
    epochs: int | None = None,
    seed: int = 0,
    schedule: optimizers.Schedule | None = None,
    across_processes: bool = False,
    devices: int | str | None = None,
) -> FitResult:
    """Minimize ``loss(params, X, y)`` over the rows of ``data``, read a chunk at a time.

    As ``fit`` (the same optimizers but L-BFGS, the same stop rules and statuses),
    with the cost and gradient of every step summed over the file's chunks. The first
    pass checks every value and, for the default learning rate ``1 / L``, sums the
    Hessian over the chunks. ``result.loss`` is the loss at the final params in
    float64, summed over the chunks too. For a loss tagged ``quadratic_tag`` (``mse``),
    the float64 Hessian, cost and gradient summed over the chunks read in float64 give
    the stop rule its ``mu`` and the result its certificate, as ``fit``'s in memory;
    for another, the rule is the one without ``mu`` (``||g|| <= rtol ||g_0||``, or
    ``tol``). A file that cannot be read again during the run (deleted, truncated,
    rewritten) stops it as Ctrl-C does: ``interrupted``, the params reached, the file
    named.

    ``batch_size``, ``epochs``, ``seed``, ``schedule``: as ``fit``'s, the batches drawn
    within each chunk in turn, the chunks read in an order drawn from ``seed`` (the
    module's docstring); a step is then an epoch. Of a Parquet file, the pieces read in
    a drawn order are its row groups: a file of one row group is read in the same
    order every epoch, only each chunk's rows shuffled (write it with ``row_group_size``).

    ``across_processes``: in a run of several processes (``jax.distributed``), ``data``
    is this process's part of the file (``Stream.part``; every process's together, the
    whole) and every process makes the same call: each step sums the cost and gradient
    over each process's chunks, then over the processes (one gather of the sums), and
    every process takes the same step. With ``batch_size``, each update takes
    ``batch_size / processes`` rows of the chunk each process reads (``_epoch_step``):
    every process's part must read in chunks of the same sizes (``check_parts_alike``).

    ``devices``: split each chunk by rows over this many local devices (``"all"``: every
    one; the rows a count does not divide, a few at most, on all of them alike), each
    computing its rows' share of the sums. Full batch only, for now.

    A Parquet file is decoded once, into raw rows in a temporary folder that every pass
    then reads (``Stream.decoded``: the disk of its rows as float64, where there is).

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from steepest import Linear, mse
        >>> from steepest.data import stream
        >>> path = Path(tempfile.mkdtemp()) / "line.npy"
        >>> x = np.linspace(-1, 1, 1000)
        >>> np.save(path, np.column_stack([x, 3 * x + 1]))
        >>> result = fit_stream(mse, Linear.zeros(1), stream(path, chunk_rows=300))
        >>> result.status.value, [round(float(v), 4) for v in (result.params.w[0], result.params.b)]
        ('converged', [3.0, 1.0])
    """
    check_arguments(params, optimizer, max_steps)
    blocks.require_row_mean("streaming", loss, tags)
    processes = Processes.current() if across_processes else ONE
    placement = ChunkPlacement.of(devices)
    if placement.mesh is not None and batch_size is not None:
        raise ValueError(
            "mini-batches streamed over several devices are not supported yet: stream full "
            "batches, or hold the rows in memory"
        )
    total_rows = int(processes.sum(data.rows))  # the weights' denominator: every part's rows
    if processes.many and batch_size is not None:
        check_parts_alike(data, batch_size, processes)
    given = data
    data = data.decoded()  # a Parquet file: decoded once, not at every pass
    try:
        return _fit_stream(
            loss, params, data, optimizer=optimizer, learning_rate=learning_rate,
            max_steps=max_steps, tol=tol, rtol=rtol, divergence_factor=divergence_factor,
            on_chunk=on_chunk, tags=tags, stall_patience=stall_patience, batch_size=batch_size,
            epochs=epochs, seed=seed, schedule=schedule, processes=processes,
            placement=placement, total_rows=total_rows,
        )  # fmt: skip
    finally:
        if data is not given:  # decoded here: its rows are this call's alone
            data.discard_decoded()


def _fit_stream(
    loss, params, data: Stream, *, optimizer, learning_rate, max_steps, tol, rtol,
    divergence_factor, on_chunk, tags, stall_patience, batch_size, epochs, seed, schedule,
    processes: Processes, placement: "ChunkPlacement", total_rows: int,
) -> FitResult:  # fmt: skip
    """``fit_stream``'s run, its arguments checked and a Parquet file decoded."""
    as_read = file_state(data.path)  # a file changed during the run is not read as it is
    budget = step_budget(loss, (), tags, "loop", max_steps, batch_size, epochs, rows=data.rows)
    # Over several processes, each update takes this share of each process's chunk.
    share = None if batch_size is None else batch_size // processes.count
    if share is not None and share > data.chunk_rows:
        raise ValueError(
            f"batch_size {batch_size:,} is more than a chunk's {data.chunk_rows:,} rows: batches "
            "end with their chunk (stream the file with chunk_rows of at least batch_size)"
        )
    per_epoch = None if share is None else data.updates_per_epoch(share)
    schedule = scheduled(schedule, budget, per_epoch)
    if optimizer == "lbfgs":
        raise ValueError(
            "L-BFGS's line search evaluates the cost at trial points, each a pass over the "
            "file: stream with another optimizer"
        )
    # For a cost declared quadratic the float64 Hessian is summed over the file in a first
    # pass (its certificate, mu for the stop rule and 1/L); for another, only for 1/L.
    certified = (
        quadratic_tag in tags_of(loss, tags)
        and sum(np.size(leaf) for leaf in jax.tree.leaves(params)) <= theory.MAX_DENSE_HESSIAN
    )
    needs_hessian = (
        learning_rate is None
        and isinstance(optimizer, str)
        and optimizer not in optimizers.DEFAULT_LEARNING_RATES
    )
    data64 = dataclasses.replace(data, dtype=np.dtype(np.float64))
    first, hessian = _first_pass(loss, params, data, needs_hessian and not certified, processes)
    cost = _quadratic_cost(loss, params, data64, processes) if certified else None
    largest = None
    if needs_hessian and cost is not None:
        largest = cost.L
    elif needs_hessian:
        if certified:  # its float64 Hessian was not finite: the run dtype's, for 1/L
            first, hessian = _first_pass(loss, params, data, True, processes)
        largest = float(np.linalg.eigvalsh(hessian)[-1])
    learning_rate = resolve_learning_rate(optimizer, learning_rate, loss, params, largest=largest)
    spec = RunSpec(
        loss, optimizer, learning_rate=learning_rate, max_steps=budget, tol=tol, rtol=rtol,
        mu=rule_mu(cost), divergence_factor=divergence_factor, stall_patience=stall_patience,
        seed=seed, schedule=schedule,
    )  # fmt: skip
    engine, state = spec.engine, spec.init(params, *first)
    target = float(state.settings.rtol)  # read now: the steps donate the state
    started = time.perf_counter()
    # Split over devices, XLA splits each chunk's work by rows: no blocks of the whole chunk.
    block_rows = (
        None
        if placement.mesh
        else step_block_rows("auto", loss, params, first, tags, alike=processes.many)
    )
    accumulate = jax.jit(_accumulate(loss, data, block_rows))
    warm: Callable | None = None  # with mini-batches: compiles the step on a chunk as read
    if batch_size is None:
        full_batch = jax.jit(engine.step_from, donate_argnums=0)
        step: Callable = full_batch
    else:
        step, warm = _epoch_step(engine, data, batch_size, seed, as_read, processes)
    # Compiled for every size of chunk before the clock starts: a step's time is a step's.
    for rows in sorted(set(data.chunk_rows_each())):
        table = np.zeros((rows, data.width), data.table_dtype)
        params = placement.spread(state.params)
        total = placement.spread(_zeros(loss, state.params, *first))
        for piece in placement.pieces(table):
            total = accumulate(total, params, piece, 1.0)
        total = placement.home(total)
        if warm is not None:
            warm(state, total, table)
    if batch_size is None:
        full_batch.lower(state, *total).compile()
    compile_seconds = time.perf_counter() - started

    def run(state: LoopState, chunk_end: int) -> LoopState:
        """The steps up to ``chunk_end`` (``drive``'s chunk), each a pass over the file."""
        try:
            while int(state.status) == Status.RUNNING.code and int(state.step) < chunk_end:
                total = in_flight = placement.spread(_zeros(loss, state.params, *first))
                params = placement.spread(state.params)
                failure = None
                try:
                    for table in _read(data.tables(), data.path, as_read):
                        for piece in placement.pieces(table):
                            total = accumulate(total, params, piece, len(piece) / total_rows)
                        # Two chunks in flight at most: the host would otherwise read ahead
                        # of the device and hold every chunk of the file at once.
                        jax.block_until_ready(in_flight)
                        in_flight = total
                except FileChanged as changed:
                    if not processes.many:
                        raise
                    failure = changed  # said to the others, who wait for this one's sums
                total = placement.home(total)
                if processes.many:
                    total = joined(total, processes, failure)
                state = step(state, *total)
        except FileChanged as changed:
            changed.state = state  # the last one whole (a failed read comes before a step)
            raise
        return state

    try:
        driven = drive(run, state, (), budget, on_chunk, processes=processes)
    except FileChanged as changed:  # kept, as Ctrl-C keeps it, and the file named
        assert changed.state is not None, "run() notes the state it reached"
        if int(changed.state.step) == 0:
            raise DataError(
                f"{data.path} changed while it was read, before the first step "
                f"({describe_error(changed.error)})"
            ) from None
        cut = FitResult.from_state(
            jax.device_get(changed.state), learning_rate=learning_rate,
            seconds=time.perf_counter() - started, compile_seconds=compile_seconds,
        )  # fmt: skip
        message = (
            f"interrupted after {steps_phrase(cut.num_steps)}: {data.path} changed while it "
            f"was read ({describe_error(changed.error)}); returning the params reached"
        )
        return dataclasses.replace(cut, message=message, warnings=(message,))
    result = FitResult.from_state(
        jax.device_get(driven.state), learning_rate=learning_rate, seconds=driven.seconds,
        compile_seconds=compile_seconds + driven.compile_seconds,
    )  # fmt: skip

    def evaluate64(params):
        """The cost and its flat gradient in float64, summed over the file's chunks read
        in float64 (never rounded to the run's dtype)."""
        value, gradient = 0.0, np.zeros(sum(np.size(leaf) for leaf in jax.tree.leaves(params)))
        failure = None
        try:
            for table in _read(data64.tables(), data.path, as_read):
                X, y = data64.split(table)
                chunk_value, chunk_gradient = value_and_grad64(loss, params, X, y)
                value += len(y) / total_rows * chunk_value
                gradient += len(y) / total_rows * chunk_gradient
        except FileChanged as changed:
            if not processes.many:
                raise
            failure = changed  # said to the others, who wait for this one's sums
        if processes.many:  # in float64 whatever the run's dtype: never through JAX
            value, *parts = summed_over(processes, np.append(value, gradient), failure)
            gradient = np.asarray(parts)
        return np.float64(value), np.asarray(gradient, np.float64)

    try:
        result = checked(result, evaluate64, cost, rtol=target, warnings=(), declared=certified)
    except FileChanged as changed:  # after the last step: the steps stand, unchecked
        note = (
            f"{data.path} changed before the result could be checked "
            f"({describe_error(changed.error)}): no digit is certified"
        )
        status = Status.IMPRECISE if result.status is Status.CONVERGED else result.status
        result = dataclasses.replace(
            result, status=status, message=f"{result.message}; {note}", warnings=(note,)
        )
    if batch_size is None:
        return result
    assert share is not None, "with batch_size"
    over = f" and each of {processes.count} processes" if processes.many else ""
    return with_epoch_message(
        result, data.updates_per_epoch(share), batch_size,
        f" drawn within each chunk of {max(data.chunk_rows_each()):,}{over}",
    )  # fmt: skip


def _epoch_step(
    engine: Engine, data: Stream, batch_size: int, seed: int, as_read: tuple,
    processes: Processes = ONE,
) -> tuple[Callable, Callable]:  # fmt: skip
    """``step(state, value, grad)`` for mini-batches: the stop rules at ``state.params``,
    then, while the run goes on, an epoch of updates over the chunks as they are read
    (``FileChanged`` for a file no longer ``as_read``); and ``warm(state, total,
    table)``, which compiles it on a chunk as read.

    Over several processes, the ``i``-th chunk each reads makes one array over a device
    of each process, and each update takes ``batch_size / processes`` rows from each
    process's chunk (``minibatch.run_epoch`` with ``sharding``: process ``p`` in the order
    ``epoch_order(seed, epoch, rows, part=i, shard=p)``), the gradients joined by one
    ``psum``: every process makes the same update."""
    bound = functools.partial(update, engine.transformation)
    mesh = _first_device_of_each(processes) if processes.many else None
    sharding = None if mesh is None else blocks.RowSharding(mesh, ROWS)

    @jax.jit
    def chunk_epoch(params, opt_state, table, epoch, part):
        return minibatch.run_epoch(
            bound, engine.loss, data.split(table), params, opt_state, batch_size=batch_size,
            seed=jnp.uint32(seed), epoch=epoch, part=part, sharding=sharding,
        )  # fmt: skip

    def one_chunk(advanced, table, epoch: int, part: int):
        if mesh is None:
            return chunk_epoch(*advanced, table, epoch, part)
        everywhere = NamedSharding(mesh, P())
        params, opt_state = jax.tree.map(
            lambda leaf: jax.make_array_from_process_local_data(everywhere, np.asarray(leaf)),
            advanced,
        )
        rows = jax.make_array_from_process_local_data(NamedSharding(mesh, P(ROWS)), table)
        done = chunk_epoch(params, opt_state, rows, epoch, part)
        return jax.tree.map(lambda leaf: leaf.addressable_data(0), done)  # this process's

    status_from = jax.jit(engine.status_from)
    step_from = jax.jit(engine.step_from)

    def step(state, value, grad):
        advanced = state.params, state.opt_state
        status = status_from(state, value, grad)  # decided once, taken by step_from as is
        if int(status) == Status.RUNNING.code:
            epoch = int(state.step)
            order = minibatch.chunk_order(seed, epoch, data.parts)
            tables = _read(data.tables(order=order), data.path, as_read)
            for part, table in enumerate(tables):
                previous = advanced
                advanced = one_chunk(advanced, table, epoch, part)
                jax.block_until_ready(previous)  # two chunks in flight at most, as a step's
        return step_from(state, value, grad, advanced=advanced, status=status)

    def warm(state, total, table):
        jax.block_until_ready(one_chunk((state.params, state.opt_state), table, 0, 0))
        status = status_from(state, *total)
        step_from(state, *total, advanced=(state.params, state.opt_state), status=status)

    return step, warm


def _first_device_of_each(processes: Processes) -> Mesh:
    """A mesh of one device of each process, in process order: its first (where its loop
    state lives)."""
    firsts: dict[int, jax.Device] = {}
    for device in sorted(jax.devices(), key=lambda device: (device.process_index, device.id)):
        firsts.setdefault(device.process_index, device)
    assert len(firsts) == processes.count, "every process has a device"
    return Mesh(np.array(list(firsts.values())), (ROWS,))


def check_parts_alike(data: Stream, batch_size: int, processes: Processes) -> None:
    """A ValueError unless every process's part reads in the same chunks (each update takes
    the same share of rows from each process's chunk) and ``batch_size`` splits evenly
    over the processes."""
    if batch_size % processes.count:
        raise ValueError(
            f"batch_size {batch_size:,} does not split evenly over {processes.count} "
            f"processes: give a multiple of {processes.count}"
        )
    sizes = data.chunk_rows_each()
    counts = processes.gather([len(sizes)])[:, 0]
    alike = np.all(counts == counts[0]) and np.all(
        processes.gather(sizes) == np.asarray(sizes, np.float64)
    )
    if not alike:
        raise ValueError(
            "the processes' parts of the file read in chunks of different sizes, which "
            "mini-batches over processes take in step: give a row count that the processes "
            "divide (a .npy), or row groups of equal size (a Parquet file)"
        )


@dataclasses.dataclass(frozen=True)
class ChunkPlacement:
    """Where a chunk's sums are computed: JAX's default device (``mesh`` None), or split by
    rows over the local devices of ``mesh``."""

    mesh: Mesh | None = None

    @classmethod
    def of(cls, devices: int | str | None) -> "ChunkPlacement":
        """The placement of ``fit_stream(..., devices=...)``: this process's devices only
        (over several processes, each sums its own chunks, and the sums are joined)."""
        if devices is None:
            return cls()
        if devices == "all":
            mesh = row_mesh(len(jax.local_devices()))
        else:  # a DataError for more devices than JAX sees
            mesh = row_mesh(whole_number("devices", devices, 1))
        return cls(mesh if mesh.size > 1 else None)

    @property
    def devices(self) -> int:
        return 1 if self.mesh is None else self.mesh.size

    def pieces(self, table: np.ndarray) -> list:
        """The chunk as the devices take it: split by rows over them, and the rows their
        count does not divide (fewer than the devices) on every one of them alike."""
        if self.mesh is None:
            return [table]
        head = len(table) - len(table) % self.mesh.size
        pieces = []
        if head:
            pieces.append(jax.device_put(table[:head], NamedSharding(self.mesh, P(ROWS))))
        if head < len(table):
            pieces.append(jax.device_put(table[head:], NamedSharding(self.mesh, P())))
        return pieces

    def spread(self, tree):
        """``tree`` on every device of the mesh (the params, the sums so far)."""
        return tree if self.mesh is None else jax.device_put(tree, NamedSharding(self.mesh, P()))

    def home(self, tree):
        """``tree`` back on the device the loop state lives on (this process's first)."""
        return tree if self.mesh is None else jax.device_put(tree, jax.local_devices()[0])


class FileChanged(Exception):
    """A streamed file that changed during the run (deleted, truncated, rewritten: it
    cannot be read again, or its size, time of modification or inode are not those it
    had at the start); ``state`` is the last loop state whole."""

    def __init__(self, error: BaseException):
        super().__init__(str(error))
        self.error = error
        self.state: LoopState | None = None


def file_state(path) -> tuple[int, int, int]:
    """What says a file changed: its size, time of modification (ns) and inode."""
    found = as_path(path).stat()
    return found.st_size, found.st_mtime_ns, found.st_ino


def _read(tables: Iterator[np.ndarray], path, as_read: tuple) -> Iterator[np.ndarray]:
    """``tables`` as they are read, a failure to read, or a file no longer as it was at
    the start (``file_state``: checked once a pass), raised as ``FileChanged``: the file
    was read whole and checked at the start, so either now is the file changing."""
    try:
        now = file_state(path)
    except (OSError, DataError) as error:  # DataError: a remote store's failure, worded
        raise FileChanged(error) from error
    if now != as_read:
        raise FileChanged(DataError(f"{path} was modified since the run began"))
    iterator = iter(tables)
    while True:
        try:
            table = next(iterator)
        except StopIteration:
            return
        except Exception as error:
            raise FileChanged(error) from error
        yield table


def _first_pass(loss, params, data: Stream, needs_hessian: bool, processes: Processes = ONE):
    """The first chunk (to type the loop state by), having checked every value of the
    file (of this process's part); and the Hessian at ``params`` summed over the chunks
    (every process's) when ``needs_hessian``."""
    rows = processes.sum(data.rows)

    def checked_pass():
        first = None
        hessian: float | np.ndarray = 0.0
        for X, y in data.chunks(check=True):
            first = first or (X, y)
            if needs_hessian:
                weight = len(y) / rows
                hessian = hessian + weight * theory.hessian(loss, params, X, y, block_rows=None)
        return first, hessian

    # A bad value in one process's part stops every process (none waits in a gather).
    first, hessian = processes.together(checked_pass)
    return first, processes.sum(hessian) if needs_hessian else hessian


def _quadratic_cost(loss, params, data64: Stream, processes: Processes = ONE):
    """The ``QuadraticCost`` of a cost declared quadratic, its float64 Hessian, value and
    gradient at ``params`` summed over the chunks of ``data64`` (read in float64; every
    process's); None when the Hessian is not finite."""
    params = jax.tree.map(lambda leaf: np.asarray(leaf, np.float64), params)
    hessian: Any = 0.0
    value, gradient = 0.0, 0.0
    rows = processes.sum(data64.rows)
    for X, y in data64.chunks():
        weight = len(y) / rows
        with jax.enable_x64(True):
            hessian = hessian + weight * theory.hessian(loss, params, X, y, block_rows=None)
        chunk_value, chunk_gradient = value_and_grad64(loss, params, X, y)
        value, gradient = value + weight * chunk_value, gradient + weight * chunk_gradient
    hessian = processes.sum(hessian)
    if not np.all(np.isfinite(hessian)):
        return None
    center = np.concatenate([np.ravel(leaf) for leaf in jax.tree.leaves(params)])
    return from_hessian(hessian, float(processes.sum(value)), processes.sum(gradient), center)


def _accumulate(loss: Callable, data: Stream, block_rows: int | None) -> Callable:
    """``total`` plus ``weight`` times the cost and gradient on a chunk as read, split into
    X and y on the device, in cache-sized blocks of rows as ``fit`` takes them in memory."""

    def on_table(params, table):
        return jax.value_and_grad(loss)(params, *data.split(table))

    value_and_grad = blocks.by_blocks(on_table, block_rows)

    def accumulate(total, params, table, weight):
        value, grad = value_and_grad(params, table)
        return jax.tree.map(lambda t, v: t + jnp.asarray(weight, v.dtype) * v, total, (value, grad))

    return accumulate


def joined(total, processes: Processes, failure: "FileChanged | None"):
    """Every process's ``total`` (a cost and gradient, weighted sums over its chunks)
    added up, the same on each (``summed_over``), in the dtypes of ``total``."""
    leaves, tree = jax.tree.flatten(total)
    flat = [np.ravel(np.asarray(leaf, np.float64)) for leaf in leaves]
    summed = summed_over(processes, np.concatenate(flat), failure)
    pieces = np.split(summed, np.cumsum([piece.size for piece in flat])[:-1])
    leaves_summed = [
        jnp.asarray(piece.reshape(np.shape(leaf)), leaf.dtype)
        for piece, leaf in zip(pieces, leaves, strict=True)
    ]
    return jax.tree.unflatten(tree, leaves_summed)


def summed_over(processes: Processes, values: np.ndarray, failure: "FileChanged | None"):
    """Every process's ``values`` added up in float64, in process order (as
    ``Processes.sum``), the same on each. A process that could not read its chunks says so
    in the same gather: then every process raises ``FileChanged``, none waits for the
    others."""
    parts = processes.gather(np.concatenate([[failure is not None], values]))
    failed = np.flatnonzero(parts[:, 0])
    if failed.size:
        if failure is not None:
            raise failure
        raise FileChanged(DataError(f"process {failed[0]} could not read its rows of the file"))
    summed = parts[0, 1:]
    for part in parts[1:]:
        summed = summed + part[1:]
    return summed


def _zeros(loss, params, *data):
    shapes = jax.eval_shape(jax.value_and_grad(loss), params, *data)
    return jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)
