"""The compiled engine: the loop state, one step, and the chunk runner (plain and batched).

``Engine(loss, optimizer)`` is the solver core, in the shape of jaxopt's
``init_state``/``update`` or optimistix's ``init``/``step``: ``init`` builds a
``LoopState`` from a starting point, ``step`` applies one update and the stop
rules (a pure function: jit it, vmap it, or call it in a Python loop), and
``run`` runs steps inside one compiled ``lax.while_loop`` until the state stops
or a chunk's last step is reached. ``run_batched`` steps a stack of states side
by side (one per learning rate, say) with the data shared.

The settings (``max_steps``, the stop rule's ``tol``, ``rtol`` and ``mu``, the
divergence factor, the history stride)
and the learning rate are arrays inside the state, so a new value never
recompiles; the loss history has a fixed size.

Example:
    >>> import jax.numpy as jnp
    >>> from steepest import Engine, Linear, Status, mse
    >>> X = jnp.array([0.0, 1.0, 2.0]); y = 2 * X + 1
    >>> engine = Engine(mse, "gd")
    >>> state = engine.init(Linear(jnp.zeros(1), jnp.array(0.0)), X, y, learning_rate=0.2)
    >>> state = engine.run(state, 1000, X, y)
    >>> Status.of_code(state.status).value, round(float(state.params.w[0]), 3)
    ('converged', 2.0)
"""

import dataclasses
import functools
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import blocks, minibatch, optimizers
from .arguments import whole_number
from .losses import not_a_scalar
from .processes import spans_processes
from .stopping import (
    DIVERGENCE_FACTOR,
    STALL_PATIENCE,
    Status,
    decide,
    has_converged,
    has_diverged,
    has_plateaued,
    has_stalled,
    improves_on,
    is_out_of_steps,
    resolve_tolerances,
)

# The loss history keeps at most this many entries (every k-th step on longer runs), so
# that memory does not grow with max_steps and a new max_steps does not recompile.
MAX_HISTORY = 100_000
# The step counter is int32 on every backend.
MAX_STEPS_LIMIT = 2**31 - 2
# Small problems take UNROLL steps per trip of the compiled loop, which halves the loop's
# overhead (1.0 -> 0.6 us a step at N = 200 on a 2-core CPU). Not for a line search
# (L-BFGS) nor a large cost (a deep net: 126 operations, against 13 for mse): their
# compile time grows several-fold, and their steps are slow anyway. Only for a budget of
# UNROLL_MIN_STEPS or more: the unrolled loop compiles 0.3 s (gd) to 1 s (adam) longer,
# which 0.4 us a step pays back only over about a million steps.
UNROLL = 8
UNROLL_MIN_STEPS = 1_000_000
UNROLL_MAX_DATA_BYTES = 256 * 2**10
UNROLL_MAX_EQUATIONS = 64
NOT_UNROLLED = frozenset({"lbfgs"})

# A leaf of the loop state: a jax.Array in the compiled loop; NumPy on the host (the values
# ``init`` builds before ``owned`` moves them to the device, a state from ``jax.device_get``).
Leaf = jax.Array | np.ndarray | np.number | np.bool_


class Settings(NamedTuple):
    """The run's settings, as arrays in the loop state (new values never recompile)."""

    max_steps: Leaf  # int32
    stride: Leaf  # int32: the history keeps the cost of every stride-th step
    tol: Leaf  # in the dtype of the gradient's norm, as are rtol and mu
    rtol: Leaf
    mu: Leaf  # the Hessian's smallest eigenvalue, for the certified rule; 0: unknown
    patience: Leaf  # int32: the stall rule's (has_stalled); -1: never stall
    divergence_factor: Leaf  # in the dtype of the cost
    seed: Leaf  # uint32: the order of the rows in each mini-batch epoch


class LoopState(NamedTuple):
    """Everything one run carries from step to step.

    ``status`` is a ``Status.code``; ``Status.of_code`` reads it on the host.
    ``good_*`` are the last evaluated iterate that did not diverge: what a stopped
    run returns. ``history[i]`` is the cost at step ``i * stride``; the last slot
    takes the other steps' writes. ``best_loss`` and ``best_grad_norm`` are the lowest
    cost and gradient norm yet (as of their last decrease beyond rounding),
    ``steps_since_best`` the steps since either fell (the plateau rule).
    """

    params: Any  # the current iterate, number `step`; its cost may not be evaluated yet
    opt_state: Any
    step: Leaf
    status: Leaf
    loss: Leaf  # the cost last evaluated
    initial_loss: Leaf
    initial_grad_norm: Leaf
    good_params: Any
    good_loss: Leaf
    good_grad_norm: Leaf
    unchanged_steps: Leaf  # updates in a row that left every parameter as it was
    state_fixed: Leaf  # the last update left the optimizer's float state as it was too
    best_loss: Leaf
    best_grad_norm: Leaf
    steps_since_best: Leaf  # int32
    history: Leaf
    settings: Settings


def check_settings(max_steps: int, tol: float | None, rtol: float | None = None) -> None:
    """Refuse a step budget the int32 counter cannot hold, and a negative or NaN tolerance."""
    if not 0 <= max_steps <= MAX_STEPS_LIMIT:
        raise ValueError(f"max_steps must be between 0 and {MAX_STEPS_LIMIT}, got {max_steps}")
    for name, value in (("tol", tol), ("rtol", rtol)):
        if value is not None and not value >= 0:
            raise ValueError(f"{name} must be >= 0, got {value}")


def history_stride(max_steps: int) -> int:
    """Every how many steps the history keeps a cost, so that it holds at most MAX_HISTORY."""
    return max(1, math.ceil(max_steps / MAX_HISTORY))


@dataclasses.dataclass(frozen=True)
class Engine:
    """The compiled loop of one loss and one optimizer.

    Attributes:
        loss: ``loss(params, *data) -> scalar``, differentiable in ``params``.
        optimizer: a name from ``steepest.optimizers.names()``, or any
            ``optax.GradientTransformation``.
        block_rows: evaluate the cost and gradient in blocks of this many rows
            (``blocks.value_and_grad``; a row-mean loss only), or None.
        unroll: steps per trip of the compiled loop (``unroll_for``).
        sharding: how the data are split by rows over devices (``data.row_sharding``),
            so that blocks are taken from each device's own rows; None otherwise.
        batch_size: rows per mini-batch, or None for full batch. With it, a step of the
            loop is an epoch of mini-batch updates (``minibatch.run_epoch``), and the
            stop rules are checked on the whole data between epochs.
        schedule: a learning-rate schedule for a named optimizer (``optimizers.Schedule``).
        batch_shards: with ``batch_size``, draw each batch as this many equal shares of
            as many ranges of rows (``minibatch.batch_rows``), as a run on that many
            devices does; None: the devices of ``sharding``, else 1. On split data,
            each device draws its share from its own rows (data-parallel).
    """

    loss: Callable
    optimizer: str | optax.GradientTransformation
    block_rows: int | None = None
    unroll: int = 1
    sharding: blocks.RowSharding | None = None
    batch_size: int | None = None
    schedule: optimizers.Schedule | None = None
    batch_shards: int | None = None

    def __post_init__(self):
        if self.schedule is not None and not isinstance(self.optimizer, str):
            raise ValueError(
                "a schedule applies to a named optimizer; chain optax.scale_by_schedule "
                "into a transformation of your own"
            )
        if self.batch_size is not None:
            object.__setattr__(self, "batch_size", whole_number("batch_size", self.batch_size, 1))
        object.__setattr__(
            self, "batch_shards", batch_shards_of(self.batch_shards, self.batch_size, self.sharding)
        )

    @property
    def transformation(self) -> optax.GradientTransformation:
        """The optax transformation that makes the updates."""
        if isinstance(self.optimizer, str):
            return optimizers.get(self.optimizer, self.schedule)
        return self.optimizer

    def init(
        self,
        params,
        *data,
        learning_rate: float | None = None,
        max_steps: int = 10_000,
        tol: float | None = None,
        rtol: float | None = None,
        mu: float = 0.0,
        divergence_factor: float = DIVERGENCE_FACTOR,
        history_size: int = MAX_HISTORY + 2,
        stall_patience: int | None = STALL_PATIENCE,
        seed: int = 0,
    ) -> LoopState:
        """The state at ``params``, before any step.

        ``learning_rate``: required for a named optimizer; None for a caller's own
        transformation, which carries its own. ``tol``, ``rtol``, ``mu``: the stop
        rule (``stopping.has_converged``; ``resolve_tolerances`` fills the defaults).
        ``stall_patience``: the stall rule's (``stopping.has_stalled``); None: never
        stall, so that a run takes every step it may (a benchmark).
        ``history_size``: slots of the loss history (at least
        ``max_steps // history_stride(max_steps) + 2``). ``seed``: of the rows' order in
        mini-batch epochs (``batch_size``).
        """
        check_settings(max_steps, tol, rtol)
        seed = whole_number("seed", seed, 0, 2**32 - 1)
        if isinstance(self.optimizer, str):
            if learning_rate is None:
                raise ValueError(f"the optimizer {self.optimizer!r} needs a learning_rate")
            if isinstance(learning_rate, numbers.Real) and not (
                math.isfinite(learning_rate) and learning_rate > 0
            ):  # a NaN rate would make every step NaN
                raise ValueError(f"learning_rate must be a positive number, got {learning_rate!r}")
        elif learning_rate is not None:
            raise ValueError(
                "learning_rate applies to a named optimizer; "
                "an optax transformation carries its own"
            )
        loss_dtype, norm_dtype = value_and_norm_dtypes(self.loss, params, *data)
        tol, rtol = resolve_tolerances(tol, rtol, norm_dtype)
        # NumPy values: `owned` moves them to the device in its one compiled call.
        nan = np.asarray(np.nan, loss_dtype)
        state = LoopState(
            params=params,
            opt_state=None,  # made below
            step=np.int32(0),
            status=np.int32(Status.RUNNING.code),
            loss=nan,
            initial_loss=nan,
            initial_grad_norm=np.asarray(np.nan, norm_dtype),
            good_params=params,
            good_loss=nan,
            good_grad_norm=np.asarray(np.nan, norm_dtype),
            unchanged_steps=np.int32(0),
            state_fixed=np.bool_(False),
            best_loss=np.asarray(np.inf, loss_dtype),
            best_grad_norm=np.asarray(np.inf, norm_dtype),
            steps_since_best=np.int32(0),
            history=np.zeros(history_size, loss_dtype),
            settings=Settings(
                max_steps=np.int32(max_steps),
                stride=np.int32(history_stride(max_steps)),
                tol=np.asarray(tol, norm_dtype),
                rtol=np.asarray(rtol, norm_dtype),
                mu=np.asarray(mu, norm_dtype),
                patience=np.int32(-1 if stall_patience is None else stall_patience),
                # At most the dtype's largest (float16's 65504): 1e8 would overflow to inf.
                divergence_factor=np.asarray(
                    min(divergence_factor, float(np.finfo(loss_dtype).max)), loss_dtype
                ),
                seed=np.uint32(seed),
            ),
        )
        if isinstance(self.optimizer, str):
            started = _started(self.transformation.init, state)
            opt_state = optimizers.with_learning_rate(started.opt_state, learning_rate)
            return started._replace(opt_state=opt_state)
        return owned(state._replace(opt_state=self.transformation.init(params)))

    def at_starts(self, state: LoopState, starts: Sequence) -> LoopState:
        """``state`` moved to each of ``starts``, stacked along a new first axis.

        ``state`` is one ``init`` made (and checked) once; only the params and the
        optimizer's state differ from start to start, so a thousand starts cost one
        ``init``, not a thousand. ``starts``: pytrees shaped like ``state.params``.

        Example:
            >>> import jax.numpy as jnp
            >>> from steepest import Engine, Linear, mse
            >>> engine = Engine(mse, "momentum")
            >>> X = jnp.ones(3)
            >>> state = engine.init(Linear.zeros(1), X, X, learning_rate=0.1)
            >>> starts = [Linear(jnp.array([float(i)]), jnp.array(0.0)) for i in range(4)]
            >>> stacked = engine.at_starts(state, starts)
            >>> stacked.params.w.ravel().tolist(), stacked.step.shape
            ([0.0, 1.0, 2.0, 3.0], (4,))
        """
        for index, start in enumerate(starts):
            shapes = jax.tree.map(jnp.shape, start)
            if shapes != jax.tree.map(jnp.shape, state.params):
                raise ValueError(
                    f"starts[{index}] is not shaped like the params: {shapes} against "
                    f"{jax.tree.map(jnp.shape, state.params)}"
                )
        # Stacked on the host: jnp.stack of a thousand small arrays dispatches a thousand ops.
        params = jax.tree.map(
            lambda like, *leaves: jnp.asarray(np.stack(jax.device_get(leaves)), like.dtype),
            state.params,
            *starts,
        )
        opt_state = jax.vmap(self.transformation.init)(params)
        if isinstance(self.optimizer, str):
            learning_rate = state.opt_state.hyperparams["learning_rate"]
            opt_state = optimizers.with_learning_rate(
                opt_state, jnp.broadcast_to(learning_rate, (len(starts),))
            )
        stacked = jax.tree.map(
            lambda leaf: jnp.broadcast_to(leaf, (len(starts), *leaf.shape)), state
        )
        return owned(stacked._replace(params=params, good_params=params, opt_state=opt_state))

    def with_learning_rate(self, state: LoopState, learning_rate) -> LoopState:
        """A copy of ``state`` that steps at ``learning_rate`` (one per state of a stack).

        Example:
            >>> import jax.numpy as jnp
            >>> from steepest import Engine, Linear, mse
            >>> engine = Engine(mse, "gd")
            >>> X = jnp.ones(3)
            >>> state = engine.init(Linear.zeros(1), X, X, learning_rate=0.1)
            >>> engine.with_learning_rate(state, 0.5).opt_state.hyperparams["learning_rate"]
            Array(0.5, dtype=float32)
        """
        if not isinstance(self.optimizer, str):
            raise ValueError("the learning rate of a caller's own optax transformation is its own")
        opt_state = optimizers.with_learning_rate(state.opt_state, learning_rate)
        return owned(state._replace(opt_state=opt_state))

    def step(self, state: LoopState, *data) -> LoopState:
        """One step: the cost and gradient at ``state.params``, the stop rules, the update.

        A state that has stopped is returned as it was (its params, optimizer state
        and step held), so stepping it again changes nothing but recomputes the same cost.
        """
        value_and_grad = blocks.value_and_grad(self.loss, self.block_rows, self.sharding)
        value, grad = value_and_grad(state.params, *data)
        return self.step_from(state, value, grad, *data)

    def step_from(
        self, state: LoopState, value, grad, *data, advanced=None, status=None
    ) -> LoopState:
        """``step``, given the cost and gradient at ``state.params`` computed elsewhere (a
        pass over data read a chunk at a time): the stop rules, then the update. ``data``
        is what the update itself needs: a line search (L-BFGS) evaluates the loss on it.
        ``advanced``: the ``(params, opt_state)`` of this step's update, made elsewhere
        (an epoch of mini-batches read a chunk at a time), taken when the run goes on;
        ``status``: the ``status_from`` that decided to make it, taken as it is.
        """
        settings = state.settings
        verdict, grad_norm, initial, initial_grad_norm, bests, since = self._verdict(
            state, value, grad
        )
        status = verdict if status is None else status
        diverged = status == Status.DIVERGED.code
        running = status == Status.RUNNING.code
        if advanced is None:
            stepped, opt_state = self._advance(state, running, value, grad, data)
        else:
            stepped, opt_state = advanced
        params_unchanged = _unchanged(stepped, state.params)
        step, history = _traced(state.step), _traced(state.history)
        slot = jnp.where(step % settings.stride == 0, step // settings.stride, history.shape[0] - 1)

        def pick(condition, new, old):
            return jax.tree.map(lambda a, b: jnp.where(condition, a, b), new, old)

        return LoopState(
            params=pick(running, stepped, state.params),
            opt_state=pick(running, opt_state, state.opt_state),
            step=step + running.astype(step.dtype),
            status=status,
            loss=value,
            initial_loss=initial,
            initial_grad_norm=initial_grad_norm,
            good_params=pick(diverged, state.good_params, state.params),
            good_loss=jnp.where(diverged, state.good_loss, value),
            good_grad_norm=jnp.where(diverged, state.good_grad_norm, grad_norm),
            unchanged_steps=jnp.where(
                running,
                jnp.where(params_unchanged, state.unchanged_steps + 1, 0),
                state.unchanged_steps,
            ),
            state_fixed=jnp.where(
                running, _unchanged(_floats(opt_state), _floats(state.opt_state)), state.state_fixed
            ),
            best_loss=bests[0],
            best_grad_norm=bests[1],
            steps_since_best=since,
            history=history.at[slot].set(value),
            settings=settings,
        )

    def status_from(self, state: LoopState, value, grad) -> jax.Array:
        """The ``Status.code`` that ``step_from`` would give ``state`` at this cost and
        gradient: whether the run goes on, before its update is made."""
        return self._verdict(state, value, grad)[0]

    def _verdict(self, state: LoopState, value, grad):
        """The stop rules at ``state.params``: the status, the gradient's norm, the
        initial cost and gradient norm (this step's, at step 0), the lowest cost and
        gradient norm, and the steps since either fell (``improves_on``), this step's
        counted."""
        settings = state.settings
        step = _traced(state.step)
        grad_norm = optax.tree_utils.tree_norm(grad)
        # Kept apart from the history: reading the buffer in the loop makes XLA copy it.
        first = step == 0
        initial = jnp.where(first, value, state.initial_loss)
        initial_grad_norm = jnp.where(first, grad_norm, state.initial_grad_norm)
        diverged = has_diverged(value, initial, settings.divergence_factor)
        converged = has_converged(
            grad_norm,
            params_norm=optax.tree_utils.tree_norm(state.params),
            initial_grad_norm=initial_grad_norm,
            tol=_traced(settings.tol),
            rtol=_traced(settings.rtol),
            mu=_traced(settings.mu),
        )
        # A new lowest cost or gradient norm, or one more step without (held once the run
        # stopped: a stopped lane of a sweep waits for the others without counting).
        held = _traced(state.status) != Status.RUNNING.code
        lows = (_traced(state.best_loss), _traced(state.best_grad_norm))
        now = (value, grad_norm)
        falls = [improves_on(x, low) & ~held for x, low in zip(now, lows, strict=True)]
        since = _traced(state.steps_since_best)
        since = jnp.where(falls[0] | falls[1], 0, jnp.where(held, since, since + 1))
        # The update that led to these params changed nothing: stepping on is spinning.
        stalled = has_stalled(
            _traced(state.unchanged_steps), _traced(state.state_fixed), settings.patience
        ) | has_plateaued(since, step, settings.patience)
        status = decide(diverged, converged, stalled, is_out_of_steps(step, settings.max_steps))
        bests = tuple(jnp.where(f, x, low) for f, x, low in zip(falls, now, lows, strict=True))
        return status, grad_norm, initial, initial_grad_norm, bests, since

    def _advance(self, state: LoopState, running, value, grad, data):
        """The params and optimizer state after this step's update: one update with the
        full gradient, or an epoch of mini-batch updates (skipped once the run stops)."""
        bound = functools.partial(update, self.transformation)
        if self.batch_size is None:
            return bound(self.loss, data, state.params, state.opt_state, value, grad)
        assert self.batch_shards is not None, "__post_init__ resolves it"
        epoch = functools.partial(
            minibatch.run_epoch, bound, self.loss, data, batch_size=self.batch_size,
            seed=state.settings.seed, epoch=state.step, shards=self.batch_shards,
            sharding=self.sharding,
        )  # fmt: skip
        return jax.lax.cond(running, epoch, lambda *carry: carry, state.params, state.opt_state)

    def run(self, state: LoopState, chunk_end, *data) -> LoopState:
        """Steps, compiled in one call, until the state stops or reaches step ``chunk_end``.

        The state is donated (updated in place): use the one returned. An unrolled
        trip may run past ``chunk_end`` by up to ``unroll - 1`` steps; chunks only
        pace the host, ``max_steps`` is enforced at each step.
        """
        return _compiled_run(self, False)(state, chunk_end, data)

    def run_batched(self, states: LoopState, chunk_end, *data) -> LoopState:
        """``run`` for a stack of states (a leading axis on every leaf), side by side.

        One loop steps every state until none is running; a stopped state is held.
        """
        return _compiled_run(self, True)(states, chunk_end, data)

    def compiled(self, state: LoopState, *data, batched: bool = False):
        """The compiled executable of ``run`` (or ``run_batched``) for these shapes."""
        return _compiled_run(self, batched).lower(state, 0, data).compile()


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One run of the compiled loop, whole: the ``Engine`` it runs on (the loss, the
    optimizer, how a step is made) and the settings of its first state (``Engine.init``'s).

    The one setup path: ``fit``, ``sweep`` and ``fit_stream`` each build one, and a loop of
    your own may too. Every field is ``Engine``'s or ``Engine.init``'s, of the same name.

    Example:
        >>> import jax.numpy as jnp
        >>> from steepest import Linear, mse
        >>> X = jnp.array([0.0, 1.0, 2.0]); y = 2 * X + 1
        >>> spec = RunSpec(mse, "gd", learning_rate=0.2, max_steps=100)
        >>> state = spec.engine.run(spec.init(Linear.zeros(1), X, y), 100, X, y)
        >>> Status.of_code(state.status).value
        'converged'
    """

    loss: Callable
    optimizer: str | optax.GradientTransformation = "gd"
    learning_rate: float | None = None
    max_steps: int = 10_000
    tol: float | None = None
    rtol: float | None = None
    mu: float = 0.0
    divergence_factor: float = DIVERGENCE_FACTOR
    stall_patience: int | None = STALL_PATIENCE
    seed: int = 0
    history_size: int = MAX_HISTORY + 2
    block_rows: int | None = None
    unroll: int = 1
    sharding: blocks.RowSharding | None = None
    batch_size: int | None = None
    schedule: optimizers.Schedule | None = None
    batch_shards: int | None = None

    @functools.cached_property
    def engine(self) -> Engine:
        """The compiled loop this run runs on (equal specs give equal engines, so the
        compilations are shared)."""
        return Engine(
            self.loss,
            self.optimizer,
            block_rows=self.block_rows,
            unroll=self.unroll,
            sharding=self.sharding,
            batch_size=self.batch_size,
            schedule=self.schedule,
            batch_shards=self.batch_shards,
        )

    def init(self, params, *data) -> LoopState:
        """The run's state at ``params``, before any step (``Engine.init``)."""
        return self.engine.init(
            params,
            *data,
            learning_rate=self.learning_rate,
            max_steps=self.max_steps,
            tol=self.tol,
            rtol=self.rtol,
            mu=self.mu,
            divergence_factor=self.divergence_factor,
            history_size=self.history_size,
            stall_patience=self.stall_patience,
            seed=self.seed,
        )


def batch_shards_of(
    batch_shards: int | None, batch_size: int | None, sharding: blocks.RowSharding | None
) -> int:
    """The shares each mini-batch is drawn in (``Engine.batch_shards``): as given, else the
    devices the data are split over, else 1.

    Raises:
        ValueError: for shares that do not divide ``batch_size``, or split data drawn in
            other shares than its devices.

    Example:
        >>> batch_shards_of(None, 256, None), batch_shards_of(4, 256, None)
        (1, 4)
    """
    devices = 1 if sharding is None else sharding.shards
    if batch_shards is None:
        batch_shards = devices
    batch_shards = whole_number("batch_shards", batch_shards, 1)
    if batch_size is None:
        return batch_shards
    if sharding is not None and batch_shards != devices:
        raise ValueError(
            f"batch_shards is {batch_shards}, but the data are split over {devices} devices: "
            "each device draws its share of a batch from its own rows"
        )
    if batch_size % batch_shards:
        where = f"{batch_shards} devices" if sharding is not None else f"{batch_shards} shares"
        raise ValueError(
            f"batch_size {batch_size:,} does not split evenly over {where}: "
            f"give a multiple of {batch_shards}"
        )
    return batch_shards


def _unchanged(new, old) -> jax.Array:
    """Whether every leaf of ``new`` equals that of ``old``, element by element (True if none)."""
    same = [
        jnp.all(a == b) for a, b in zip(jax.tree.leaves(new), jax.tree.leaves(old), strict=True)
    ]
    return jnp.all(jnp.stack(same)) if same else jnp.asarray(True)


def _floats(tree) -> list:
    """The floating-point leaves of ``tree``: an optimizer's state without its step counters."""
    return [leaf for leaf in jax.tree.leaves(tree) if jnp.issubdtype(leaf.dtype, jnp.inexact)]


def _traced(leaf: Leaf) -> jax.Array:
    """A leaf of a state in the compiled loop, a jax.Array there (asarray adds no operation):
    the stop rules and the history's update are typed for those, not the host's NumPy."""
    return jnp.asarray(leaf)


@jax.jit
def owned(state: LoopState) -> LoopState:
    """A copy of every leaf, each of a definite (not weak) type, in one compiled call.

    A copy, so that donating the loop state never invalidates the caller's arrays.
    A definite type, as the compiled loop returns its state: a weakly typed start
    (``jnp.array(0.0)``) or optimizer state (L-BFGS's) would otherwise come back
    typed otherwise and compile the loop a second time. One call: a copy per leaf
    outside a jit compiles an operation per dtype and shape (CLI latency).
    """
    return jax.tree.map(lambda leaf: jnp.array(leaf, dtype=jnp.result_type(leaf), copy=True), state)


@functools.partial(jax.jit, static_argnums=0)
def _started(init: Callable, state: LoopState) -> LoopState:
    """``owned(state)`` with the optimizer's state ``init(params)``, in one compiled call:
    outside a jit, optax's ``inject_hyperparams`` makes each of its arrays by a compiled
    operation of its own (CLI latency). ``init``: a named optimizer's, the same function
    for the same name and schedule (``optimizers.get``), so that a fit reuses the program."""
    return owned(state._replace(opt_state=init(state.params)))


@functools.lru_cache(maxsize=64)  # bounded: each entry holds a loss closure and its executables
def _compiled_run(engine: Engine, batched: bool):
    """The jitted chunk runner of one engine, cached so that jit's own cache applies.

    Called with positional arguments only: lru_cache keys ``f(e, True)`` and
    ``f(e, batched=True)`` apart, which would make a second runner for one engine."""

    def not_done(state: LoopState, chunk_end):
        return (state.status == Status.RUNNING.code) & (state.step < chunk_end)

    def steps(state: LoopState, data) -> LoopState:
        # Unrolled: a state that stops is held from then on (see `Engine.step`). A fori_loop
        # unrolled by XLA traces the step once, not `unroll` times (60 ms less per CLI fit).
        if engine.unroll == 1:
            return engine.step(state, *data)
        return jax.lax.fori_loop(
            0, engine.unroll, lambda _, s: engine.step(s, *data), state, unroll=True
        )

    def run_chunk(state: LoopState, chunk_end, data) -> LoopState:
        if not batched:
            return jax.lax.while_loop(
                lambda s: not_done(s, chunk_end), lambda s: steps(s, data), state
            )
        # vmap of the while_loop itself would select the whole state, the loss history
        # included, lane by lane at every step: a copy of the history per step.
        return jax.lax.while_loop(
            lambda s: jnp.any(jax.vmap(lambda one: not_done(one, chunk_end))(s)),
            jax.vmap(lambda one: steps(one, data)),
            state,
        )

    return jax.jit(run_chunk, donate_argnums=0)


def update(transformation, loss, data, params, opt_state, value, grad):
    """One optimizer update: the new params and optimizer state.

    Every optimizer gets ``value``, ``grad`` and ``value_fn`` as extra arguments:
    line searches (L-BFGS) need them, the others ignore them.
    """
    transformation = optax.with_extra_args_support(transformation)
    updates, opt_state = transformation.update(
        grad, opt_state, params, value=value, grad=grad, value_fn=lambda p: loss(p, *data)
    )
    return optax.apply_updates(params, updates), opt_state


def value_and_norm_dtypes(loss: Callable, params, *data) -> tuple:
    """The dtypes of the cost and of the gradient's norm, from shapes alone.

    Raises:
        ValueError: when the loss does not return a scalar.
    """
    traced = trace_of(loss, params, *data)
    return traced.loss_dtype, traced.norm_dtype


class Traced(NamedTuple):
    """What tracing a loss's cost and gradient tells before any run (``trace_of``)."""

    equations: int  # traced operations, those inside jit, cond and scan included
    loss_dtype: np.dtype
    norm_dtype: np.dtype  # of the gradient's norm: the result type of its leaves
    # The bytes of the largest value computed along the way, for each leading length.
    widest: dict[int, int]


TRACES_KEPT = 32


def trace_of(loss: Callable, params, *data) -> Traced:
    """Trace the cost and gradient of ``loss`` once per loss and shapes of its arguments.

    A fit traces them before it runs, to check the loss, size the loop and type its
    state (10 ms or so); the same loss on arguments of the same shapes and dtypes
    (``jax.typeof``) reuses the last ``TRACES_KEPT`` traces instead.

    Raises:
        ValueError: when the loss does not return a scalar.

    Example:
        >>> import jax.numpy as jnp
        >>> trace_of(lambda p, x: jnp.sum((x - p) ** 2), jnp.zeros(2), jnp.ones(2)).loss_dtype
        dtype('float32')
    """
    leaves, structure = jax.tree.flatten((params, data))
    try:
        key = (loss, structure, tuple(jax.typeof(leaf) for leaf in leaves))
        hash(key)
    except TypeError:  # a loss or an argument that cannot key a cache: traced afresh
        return _trace(loss, params, *data)
    if key not in _TRACES:
        _TRACES[key] = _trace(loss, params, *data)
    _TRACES[key] = _TRACES.pop(key)  # used last: evicted last
    while len(_TRACES) > TRACES_KEPT:
        del _TRACES[next(iter(_TRACES))]
    return _TRACES[key]


_TRACES: dict = {}


def _trace(loss: Callable, params, *data) -> Traced:
    traced, shapes = jax.make_jaxpr(jax.value_and_grad(_scalar_loss(loss)), return_shape=True)(
        params, *data
    )
    value, grad = shapes
    return Traced(
        count_equations(traced.jaxpr),
        np.dtype(value.dtype),
        np.dtype(jnp.result_type(*jax.tree.leaves(grad))),
        widest_values(traced.jaxpr),
    )


def widest_values(jaxpr) -> dict[int, int]:
    """The bytes of the largest value an equation of ``jaxpr`` computes (those inside
    jit, cond and scan included), for each leading length: for a loss of N rows, what
    one pass over all rows holds at once, at least (the residual, a layer's activations).

    Example:
        >>> import jax.numpy as jnp
        >>> def cost(w, X):
        ...     return jnp.sum((X @ w) ** 2)
        >>> widest_values(jax.make_jaxpr(cost)(jnp.zeros(3), jnp.zeros((5, 3))).jaxpr)
        {5: 20}
    """
    found: dict[int, int] = {}
    for equation in _equations(jaxpr):
        for variable in equation.outvars:
            shape = getattr(variable.aval, "shape", ())
            if shape:  # the dtype's own itemsize: NumPy cannot read a PRNG key's
                size = math.prod(shape) * variable.aval.dtype.itemsize
                found[shape[0]] = max(found.get(shape[0], 0), size)
    return found


def step_block_rows(
    setting, loss: Callable, params, data: tuple, tags=frozenset(), *, alike: bool = False
) -> int | None:
    """The rows per block of the loop's step for ``fit(..., block_rows=setting)``: as
    ``blocks.resolve_block_rows``, but ``"auto"`` keeps the automatic blocks only where
    ``blocks.blocks_pay_in_the_loop`` says, from what one pass would hold (``trace_of``).
    Where every process of a run must choose alike (``alike``, or data that spans
    processes), from the data alone: not from the cores this process may use.

    Example:
        >>> import numpy as np
        >>> from steepest import Linear, mse
        >>> X, y = np.zeros((10**6, 64), np.float32), np.zeros(10**6, np.float32)
        >>> step_block_rows(7, mse, Linear.zeros(64), (X, y))  # as given
        7
    """
    rows_per_block = blocks.resolve_block_rows(setting, loss, data, tags)
    if setting != "auto" or rows_per_block is None:
        return rows_per_block
    widest = trace_of(loss, params, *data).widest.get(blocks.num_rows(data) or 0, 0)
    one_core = not (alike or spans_processes(data)) and blocks.runs_on_one_core()
    return rows_per_block if blocks.blocks_pay_in_the_loop(data, widest, one_core) else None


def _scalar_loss(loss: Callable) -> Callable:
    def checked(params, *data):
        value = loss(params, *data)
        if (returned := not_a_scalar(value)) is not None:
            name = getattr(loss, "__name__", "the loss")
            raise ValueError(
                f"the loss must return a scalar, one number: {name} returned {returned}"
            )
        return value

    return checked


def unroll_for(
    optimizer: str | optax.GradientTransformation,
    data: tuple,
    equations: int = 0,
    batch_size: int | None = None,
    *,
    max_steps: int,
) -> int:
    """Steps per trip of the compiled loop: ``UNROLL`` for a named optimizer (L-BFGS
    aside) on data of at most ``UNROLL_MAX_DATA_BYTES`` with a cost and gradient of at
    most ``UNROLL_MAX_EQUATIONS`` traced operations (``equations``, from
    ``equations_of``) and a budget of at least ``UNROLL_MIN_STEPS`` steps, else 1; and 1
    with ``batch_size``, where a step is an epoch.

    So a new ``max_steps`` compiles the loop again only when it crosses ``UNROLL_MIN_STEPS``.

    Example:
        >>> import numpy as np
        >>> data = (np.zeros(200), np.zeros(200))
        >>> unroll_for("gd", data, max_steps=10**6), unroll_for("lbfgs", (), max_steps=10**6)
        (8, 1)
        >>> unroll_for("gd", data, equations=500, max_steps=10**6)  # a deep net
        1
        >>> unroll_for("gd", data, max_steps=10_000)  # the compile would cost more than it saves
        1
    """
    if not isinstance(optimizer, str) or optimizer in NOT_UNROLLED or batch_size is not None:
        return 1
    if max_steps < UNROLL_MIN_STEPS:
        return 1
    small = blocks.size_in_bytes(data) <= UNROLL_MAX_DATA_BYTES
    return UNROLL if small and equations <= UNROLL_MAX_EQUATIONS else 1


def equations_of(loss: Callable, params, *data) -> int:
    """Operations in the traced cost and gradient of ``loss``: a proxy for compile time.

    Raises:
        ValueError: when the loss does not return a scalar.

    Example:
        >>> import jax.numpy as jnp
        >>> equations_of(lambda p, x: jnp.sum((x - p) ** 2), jnp.zeros(2), jnp.ones(2)) < 10
        True
    """
    return trace_of(loss, params, *data).equations


def count_equations(jaxpr) -> int:
    """Equations in a jaxpr, those of the jaxprs inside it (jit, cond, scan) included."""
    return sum(1 for _ in _equations(jaxpr))


def _equations(jaxpr):
    """Every equation of ``jaxpr``, and of the jaxprs inside it (jit, cond, scan)."""
    for equation in jaxpr.eqns:
        yield equation
        for value in equation.params.values():
            for inner in value if isinstance(value, tuple | list) else (value,):
                inner = getattr(inner, "jaxpr", inner)  # a ClosedJaxpr holds a Jaxpr
                if hasattr(inner, "eqns"):
                    yield from _equations(inner)
