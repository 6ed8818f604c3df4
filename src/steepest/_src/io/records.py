"""Results as JSON: stable keys, plain numbers, files written atomically."""

import datetime
import importlib.metadata
import json
import math
import os
import platform
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..model import Linear


def params_to_dict(params: Linear) -> dict:
    """``{"w": [...], "b": ...}`` as plain floats (``b`` None for a model without intercept).

    Example:
        >>> import numpy as np
        >>> params_to_dict(Linear(np.array([1.5]), np.float64(2.0)))
        {'w': [1.5], 'b': 2.0}
        >>> params_to_dict(Linear(np.array([1.5])))
        {'w': [1.5], 'b': None}
    """
    b = None if params.b is None else float(params.b)
    return {"w": [float(v) for v in np.ravel(params.w)], "b": b}


def _finite_or_none(value):
    """JSON has no NaN or infinity; say "unknown" (null) instead of writing an invalid file.

    Any NumPy scalar or array becomes plain Python first (``np.float32`` is no ``float``),
    so that one rule covers them all.

    Example:
        >>> import numpy as np
        >>> _finite_or_none({"a": np.float32("nan"), "b": np.array([1.0, np.inf]), "c": (2,)})
        {'a': None, 'b': [1.0, None], 'c': [2]}
    """
    if isinstance(value, np.ndarray | np.generic):
        value = value.tolist()  # nested lists of Python numbers, or one Python number
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite_or_none(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_none(item) for item in value]
    return value


def as_record(result: Any) -> dict:
    """A result as a record: its ``to_dict()`` (``LinearFit``, ``FitResult``,
    ``SweepResult``, ``GradientReport``), or a dict as it is."""
    if hasattr(result, "to_dict"):
        return result.to_dict()
    if isinstance(result, dict):
        return result
    raise TypeError(f"a record is a dict or a result with to_dict(), got {type(result).__name__}")


def dumps(result: Any) -> str:
    """The record of ``result`` (a dict, or a result with ``to_dict``) as indented,
    strictly valid JSON (non-finite numbers become null)."""
    return json.dumps(_finite_or_none(as_record(result)), indent=2, allow_nan=False)


def write_atomically(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(temporary)`` on a file beside ``path``, then rename it to ``path``.

    Readers see the old file or the new, never half of one: a full disk or a kill
    mid-write leaves the old file as it was, and a failed write removes its
    temporary file. An ``OSError`` names ``path`` (never the temporary file, never None).

    Example:
        >>> import tempfile, pathlib
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "note.txt"
        >>> write_atomically(target, lambda file: file.write_text("hi")).read_text()
        'hi'
    """
    path = Path(path)
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
        ) as file:
            temporary = Path(file.name)
        write(temporary)
        temporary.chmod(0o644)  # NamedTemporaryFile makes it private; an output is for reading
        os.replace(temporary, path)
    except BaseException as error:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
        if isinstance(error, OSError):
            reason = error.strerror or str(error) or type(error).__name__
            raise OSError(error.errno, reason, str(path)) from error
        raise
    return path


def write_json(path: str | Path, record: Any) -> Path:
    """Write ``record`` (a dict, or a result with ``to_dict``) to ``path`` atomically:
    readers see the old file or the new, never half.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> write_json(folder / "run.json", {"loss": 1.0}).read_text().strip()[:1]
        '{'
    """
    text = dumps(record) + "\n"  # an invalid record fails here, before any file is touched
    return write_atomically(path, lambda temporary: temporary.write_text(text))


def write(path: str | Path, result: Any, **context: Any) -> Path:
    """Write ``result``'s record to ``path`` (atomically) with what made it: the machine,
    the package versions, the JAX device and the date (``environment``), then
    ``context`` (say, the command or the config of an experiment).

    Example:
        >>> import tempfile, pathlib, json
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "run.json"
        >>> record = json.loads(write(path, {"loss": 1.0}, config={"lr": 0.1}).read_text())
        >>> record["config"], record["loss"], "versions" in record
        ({'lr': 0.1}, 1.0, True)
    """
    return write_json(path, {**environment(), **context, **as_record(result)})


def environment() -> dict:
    """What made a result: machine, package versions, JAX device and the date (UTC).

    Example:
        >>> sorted(environment())
        ['date', 'jax_device', 'machine', 'versions']
    """
    import jax

    device = jax.devices()[0]
    return {
        "machine": {
            "platform": platform.platform(),
            "processor": _cpu_model(),
            "cpu_count": os.cpu_count(),
        },
        "versions": {
            "python": sys.version.split()[0],
            **{
                name: importlib.metadata.version(name)
                for name in ("steepest", "jax", "jaxlib", "optax", "numpy")
            },
        },
        "jax_device": {
            "platform": device.platform,
            "kind": device.device_kind,
            "description": str(device),
            "count": jax.device_count(),
        },
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def _cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
