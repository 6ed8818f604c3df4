"""Checkpoints of a run: the loop state whole, saved as it goes, and a run resumed from one.

A run's ``LoopState`` holds everything its next step depends on: the params, the
optimizer's state (a schedule's count included), the step, the stop rules' records,
the loss history, and the seed of the rows' order (an epoch's order is drawn from the
seed and the step alone). Saved between chunks of the compiled loop and loaded into
the same engine, it makes the resumed run take the uninterrupted run's steps, bit
for bit on a CPU.

The state is written by Orbax (``orbax.checkpoint``, the optional extra
``steepest[checkpoint]``), the JAX ecosystem's checkpointing library: each save is a
folder named by its step, written under a temporary name and renamed when complete,
so that a run killed mid-save leaves the last complete checkpoint readable. Beside
the state, a JSON record of the run (``fingerprint``) is kept: a checkpoint is
resumed only by the run it was taken from.

Example:
    >>> import tempfile
    >>> import jax.numpy as jnp
    >>> from steepest import Linear, fit, mse
    >>> X = jnp.arange(10.0); y = 2 * X + 1
    >>> folder = tempfile.mkdtemp()
    >>> first = fit(mse, Linear.zeros(1), X, y, learning_rate=0.01, max_steps=40, tol=0.0,
    ...             checkpoint=Checkpoint(folder, every_steps=10))
    >>> resumed = fit(mse, Linear.zeros(1), X, y, learning_rate=0.01, max_steps=40,
    ...               tol=0.0, resume=folder)
    >>> resumed.num_steps, bool(resumed.params.w[0] == first.params.w[0])
    (40, True)
"""

import dataclasses
import hashlib
import json
import math
import numbers
import re
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np

from .engine import owned
from .io.dataset import DataError

# The JSON record's version: a checkpoint of another layout is refused, not misread.
FORMAT = 1
# Rows of each data array hashed into the fingerprint: enough to tell other data apart,
# few enough to cost nothing on a billion rows.
SAMPLED_ROWS = 1024


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """Where and how often a run saves its state (``fit(..., checkpoint=...)``).

    Attributes:
        directory: the folder of the checkpoints (made if missing). It keeps the last
            complete one; a run refuses a folder holding another run's.
        every_steps: save after every this many steps (the loop pauses there).
        every_seconds: save when at least this many seconds passed since the last save.
            With neither given, every 60 seconds. The final state is always saved,
            whatever stopped the run (Ctrl-C included).
    """

    directory: str | Path
    every_steps: int | None = None
    every_seconds: float | None = None

    def __post_init__(self):
        if re.match(r"[A-Za-z][A-Za-z0-9+.-]+:/", str(self.directory)):  # Path("gs://b"): gs:/b
            raise ValueError(
                f"checkpoint folder {self.directory}: checkpoints are written to a local "
                "folder (or a mounted one), not to a URL yet"
            )
        for name in ("every_steps", "every_seconds"):
            value = getattr(self, name)
            numeric = isinstance(value, numbers.Real) and not isinstance(value, bool)
            if value is not None and not (numeric and math.isfinite(value) and value > 0):
                raise ValueError(f"checkpoint {name} must be a positive number, got {value!r}")
        if self.every_steps is not None and self.every_steps != int(self.every_steps):
            raise ValueError(f"checkpoint every_steps must be whole, got {self.every_steps!r}")
        if self.every_steps is None and self.every_seconds is None:
            object.__setattr__(self, "every_seconds", 60.0)

    def next_save(self, step: int) -> int | None:
        """The step at which the next save by steps falls, after ``step`` (None: by time)."""
        if self.every_steps is None:
            return None
        every = int(self.every_steps)
        return (step // every + 1) * every


def prepared(
    checkpoint: "Checkpoint | str | Path | None", resume: str | Path | None, engine, state,
    learning_rate, data: tuple,
):  # fmt: skip
    """The run's ``Saver`` (None without ``checkpoint``), its first state (``state``, or the
    one saved last in the folder ``resume``) and the step that one is at (None: not
    resumed)."""
    if checkpoint is None and resume is None:
        return None, state, None
    record = fingerprint(run_settings(engine, state, learning_rate), data, state)
    resumed_at = None
    if resume is not None:
        state = load(resume, state, record)
        resumed_at = int(state.step)
    if checkpoint is None:
        return None, state, resumed_at
    if not isinstance(checkpoint, Checkpoint):
        checkpoint = Checkpoint(checkpoint)
    resumed_here = resume is not None and _same_folder(resume, checkpoint.directory)
    return Saver(checkpoint, record, resumed_here), state, resumed_at


def run_settings(engine, state, learning_rate) -> dict:
    """The settings a resumed run must share with the one it resumes: the engine's, the
    loop state's (``Settings``) and the learning rate."""
    engine_settings = {
        field.name: getattr(engine, field.name) for field in dataclasses.fields(engine)
    }
    engine_settings["sharding"] = None if engine.sharding is None else engine.sharding.shards
    loop_settings = {
        name: np.asarray(value).item() for name, value in state.settings._asdict().items()
    }
    return {**engine_settings, **loop_settings, "learning_rate": learning_rate}


class Saver:
    """Saves a run's states into a ``Checkpoint``'s folder, when due.

    Raises:
        DataError: when the folder holds a checkpoint already, unless the run resumed
            from it (``resumed_here``).
    """

    def __init__(self, checkpoint: Checkpoint, fingerprint: dict, resumed_here: bool = False):
        self.checkpoint = checkpoint
        self.fingerprint = fingerprint
        self.manager = _manager(checkpoint.directory, create=True)
        self.saved_at = time.monotonic()
        held_step = self.manager.latest_step()
        if held_step is not None and not resumed_here:
            raise DataError(
                f"checkpoint folder {checkpoint.directory} holds a checkpoint already (step "
                f"{held_step:,}): resume from it (--resume), or give another folder"
            )

    def due(self, step: int) -> bool:
        """Whether the state at ``step`` is to be saved."""
        every_steps, every_seconds = self.checkpoint.every_steps, self.checkpoint.every_seconds
        if every_steps is not None and step % int(every_steps) == 0:
            return True
        return every_seconds is not None and time.monotonic() - self.saved_at >= every_seconds

    def save(self, state) -> None:
        """Write ``state`` (the folder's one checkpoint from then on) and wait until it is."""
        import orbax.checkpoint as ocp

        step = int(np.max(np.asarray(state.step)))
        if step in self.manager.all_steps():  # saved already (a chunk that took no step)
            return
        self.manager.save(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardSave(state), run=ocp.args.JsonSave(self.fingerprint)
            ),
        )
        self.manager.wait_until_finished()
        self.saved_at = time.monotonic()

    def close(self) -> None:
        """Let go of the folder (Orbax's manager and its threads): after the last save."""
        self.manager.close()


def load(directory: str | Path, like, fingerprint: dict):
    """The state saved last in ``directory``, shaped as ``like`` (a first state of the same
    run) and placed as a fresh state is (``engine.owned``).

    Raises:
        DataError: no checkpoint in the folder, or one of another run.
    """
    ocp = _orbax()
    if not Path(directory).is_dir():
        raise DataError(f"--resume {directory}: no such folder")
    manager = _manager(directory, create=False)
    try:
        step = manager.latest_step()
        if step is None:
            raise DataError(f"--resume {directory}: the folder holds no complete checkpoint")
        held = _fingerprint_held(manager)
        if held != fingerprint:
            raise DataError(
                f"--resume {directory}: the checkpoint is of another run ("
                f"{_difference(held or {}, fingerprint)}); resume with the run's own settings"
            )
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
        restored = manager.restore(
            step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract))
        )
    finally:
        manager.close()
    # Placed as a fresh state is (``engine.owned``): the arrays Orbax returns are committed
    # to one device, which data split over several devices or processes refuses beside it.
    return owned(jax.tree.map(np.asarray, restored.state))


def fingerprint(settings: dict, data: tuple, state) -> dict:
    """What makes a run the same run: its settings (JSON-able values), each data array's
    shape, dtype and a hash of ``SAMPLED_ROWS`` of its rows spread over it, and the
    shapes and dtypes of the loop state's leaves.

    Example:
        >>> record = fingerprint({"optimizer": "gd"}, (np.arange(4.0),), np.zeros(2))
        >>> record["settings"], record["data"][0][:2]
        ({'optimizer': 'gd'}, [[4], 'float64'])
    """
    record = {
        "format": FORMAT,
        "settings": {name: json_setting(value) for name, value in settings.items()},
        "data": [_array_record(leaf) for leaf in jax.tree.leaves(data)],
        "state": [[list(np.shape(leaf)), _dtype(leaf)] for leaf in jax.tree.leaves(state)],
    }
    return json.loads(json.dumps(record))  # as read back: lists, not tuples


def _array_record(leaf) -> list:
    shape = list(np.shape(leaf))
    digest = hashlib.blake2b(digest_size=16)
    if getattr(leaf, "is_fully_addressable", True):  # rows spread over processes: shape only
        rows = shape[0] if shape else 0
        picked = np.unique(np.linspace(0, rows - 1, min(rows, SAMPLED_ROWS)).astype(int))
        sample = np.asarray(leaf[picked] if shape else leaf)
        digest.update(np.ascontiguousarray(sample).tobytes())
    return [shape, _dtype(leaf), digest.hexdigest()]


def _same_folder(one: str | Path, other: str | Path) -> bool:
    return Path(one).resolve() == Path(other).resolve()


def _orbax():
    """``orbax.checkpoint``, or a DataError saying how to install it."""
    try:
        import orbax.checkpoint as ocp
    except ModuleNotFoundError as error:
        if not (error.name or "").startswith("orbax"):
            raise  # Orbax is there, a module it needs is not: its own words
        raise DataError(
            "checkpoints are written by Orbax: pip install 'steepest[checkpoint]'"
        ) from None
    return ocp


def _dtype(leaf) -> str:
    dtype = getattr(leaf, "dtype", None)
    return str(dtype if dtype is not None else np.asarray(leaf).dtype)


def _manager(directory: str | Path, *, create: bool):
    ocp = _orbax()
    options = ocp.CheckpointManagerOptions(
        max_to_keep=1, create=create, enable_async_checkpointing=False
    )
    return ocp.CheckpointManager(Path(directory).absolute(), options=options)


def _fingerprint_held(manager) -> dict | None:
    """The run record of the folder's checkpoint, or None when it holds none."""
    ocp = _orbax()
    step = manager.latest_step()
    if step is None:
        return None
    restored = manager.restore(step, args=ocp.args.Composite(run=ocp.args.JsonRestore()))
    return restored.run


def _difference(held: dict, wanted: dict) -> str:
    """The first thing that differs between two fingerprints, in words."""
    if held.get("format") != wanted.get("format"):
        return f"format {held.get('format')}, not {wanted.get('format')}"
    held_settings, settings = held.get("settings", {}), wanted.get("settings", {})
    for name in sorted(set(held_settings) | set(settings)):
        if held_settings.get(name) != settings.get(name):
            there, here = (_shown(found.get(name)) for found in (held_settings, settings))
            return f"{name} {there} there, {here} here"
    if held.get("data") != wanted.get("data"):
        return "other data"
    return "another loop state"


def _shown(value) -> str:
    """A recorded setting in a message: text as it is, anything else as Python writes it."""
    return value if isinstance(value, str) else repr(value)


def json_setting(value: Any) -> Any:
    """A setting as the fingerprint records it: JSON's own types as they are, a
    dataclass or named tuple (a ``Schedule``) by its fields, a function by its name,
    anything else by its type: never an address, which differs from process to process.
    So a caller's own optax transformation is known by its type alone (``adam(0.05)``
    and ``adam(0.5)`` look alike): resume it with the same one.

    Example:
        >>> json_setting(np.float32(0.5)), json_setting(np.sum), json_setting(object())
        (0.5, 'sum', 'object')
    """
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if dataclasses.is_dataclass(value) or hasattr(value, "_asdict"):  # a Schedule: its fields
        return repr(value)
    if callable(value) and hasattr(value, "__qualname__"):
        return value.__qualname__
    return type(value).__qualname__
