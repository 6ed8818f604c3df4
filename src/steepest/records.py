"""Results as JSON: stable keys, plain numbers, files written atomically."""

import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np

from .models import Linear


def params_to_dict(params: Linear) -> dict:
    """``{"w": [...], "b": ...}`` as plain floats.

    Example:
        >>> import numpy as np
        >>> params_to_dict(Linear(np.array([1.5]), np.float64(2.0)))
        {'w': [1.5], 'b': 2.0}
    """
    return {"w": [float(v) for v in np.ravel(params.w)], "b": float(params.b)}


def _finite_or_none(value):
    """JSON has no NaN or infinity; say "unknown" (null) instead of writing an invalid file."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite_or_none(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite_or_none(item) for item in value]
    return value


def dumps(record: dict) -> str:
    """The record as indented, strictly valid JSON (non-finite numbers become null)."""
    return json.dumps(_finite_or_none(record), indent=2, allow_nan=False)


def write_json(path: str | Path, record: dict) -> Path:
    """Write ``record`` to ``path`` atomically: readers see the old file or the new, never half.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> write_json(folder / "run.json", {"loss": 1.0}).read_text().strip()[:1]
        '{'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
    ) as file:
        file.write(dumps(record) + "\n")
        temporary = Path(file.name)
    os.replace(temporary, path)
    return path
