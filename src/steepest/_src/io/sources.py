"""User code and arrays named on the command line: ``FILE.py:function``, ``name=SHAPE``, ``.npz``.

Like ``data.py``, a boundary: every problem becomes a one-line ``DataError``.
"""

import importlib.util
import inspect
import math
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .data import DataError

# Finite differences evaluate the loss twice per parameter at each point, and each evaluation
# costs time in proportion to the parameters: the check grows as their square. Measured on a
# 2-core CPU, 3 points, a mean squared error on 20 rows: 1000 elements 2.5 s, 3000 3 s,
# 10000 9 to 12 s, 20000 26 to 37 s (100000 had not finished after 100 s). Beyond this the
# check is too slow.
MAX_PARAMS = 10_000
# What the message and the help say about that measurement.
MAX_PARAMS_TIME = "about 10 s on a 2-core CPU"


def load_function(spec: str) -> Callable:
    """The function named by ``FILE.py:NAME``.

    Raises:
        DataError: a malformed spec, a missing file, a file that does not
            import (with the error's first line) or that calls ``sys.exit`` while
            being imported, or no such function there (listing the functions it
            defines).
    """
    path_text, separator, name = spec.rpartition(":")
    if not separator or not path_text or not name:
        raise DataError(f"{spec!r}: expected FILE.py:FUNCTION")
    path = Path(path_text)
    if not path.is_file():
        raise DataError(f"no such file: {path}")
    module_name = f"_steepest_user_{abs(hash(path.resolve()))}"
    module_spec = importlib.util.spec_from_file_location(module_name, path)
    if module_spec is None or module_spec.loader is None:
        raise DataError(f"{path}: cannot be imported as Python")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_name] = module  # dataclasses and pickling look modules up here
    try:
        module_spec.loader.exec_module(module)
    except SystemExit as stopped:  # the file's own sys.exit() must not end steepest quietly
        del sys.modules[module_name]
        raise DataError(f"{path} called {describe_exit(stopped)} while being imported") from None
    except Exception as error:
        del sys.modules[module_name]
        raise DataError(f"{path}: importing it failed: {describe_error(error)}") from None
    function = getattr(module, name, None)
    if not callable(function):
        defined = sorted(
            key for key, value in vars(module).items()
            if inspect.isfunction(value) and value.__module__ == module_name
        )  # fmt: skip
        raise DataError(
            f"{path} has no function {name!r}; it defines: {', '.join(defined) or 'none'}"
        )
    return function


def parse_shapes(specs: list[str]) -> dict[str, tuple[int, ...]]:
    """``["w=3", "b=scalar", "W=4x2"]`` as ``{"w": (3,), "b": (), "W": (4, 2)}``.

    Example:
        >>> parse_shapes(["w=3", "b=scalar", "W=4x2"])
        {'w': (3,), 'b': (), 'W': (4, 2)}
    """
    shapes = {}
    for spec in specs:
        name, separator, shape_text = spec.partition("=")
        if not separator or not name.isidentifier():
            raise DataError(f"--params {spec!r}: expected NAME=SHAPE, e.g. w=3, b=scalar, W=4x2")
        if name in shapes:
            raise DataError(f"--params names {name!r} twice")
        if shape_text == "scalar":
            shapes[name] = ()
            continue
        try:
            shape = tuple(int(size) for size in shape_text.replace(",", "x").split("x"))
        except ValueError:
            raise DataError(
                f"--params {spec!r}: the shape must be 'scalar' or sizes like 3 or 4x2"
            ) from None
        if any(size < 1 for size in shape):
            raise DataError(f"--params {spec!r}: sizes must be at least 1")
        shapes[name] = shape
    total = sum(math.prod(shape) for shape in shapes.values())
    if total > MAX_PARAMS:
        raise DataError(
            f"--params: {total} elements in all, but at most {MAX_PARAMS}: finite differences "
            f"evaluate the loss twice per element at each point, so the check grows as the "
            f"square of the elements ({MAX_PARAMS} take {MAX_PARAMS_TIME})"
        )
    return shapes


def random_params(shapes: dict[str, tuple[int, ...]], seed: int) -> dict[str, np.ndarray]:
    """Standard normal float64 values of the given shapes, from ``seed``."""
    rng = np.random.default_rng(seed)
    return {name: rng.standard_normal(shape) for name, shape in shapes.items()}


def data_for(function: Callable, path: str | Path | None) -> list[np.ndarray]:
    """The arrays of an ``.npz`` file in the order ``function`` takes them after params.

    They are matched by the names of ``function``'s parameters; a function with
    ``*args`` takes every array, in the order of the file.
    """
    parameters = list(inspect.signature(function).parameters.values())[1:]
    if path is None:
        required = [
            p.name for p in parameters if p.default is p.empty and p.kind != p.VAR_POSITIONAL
        ]
        if required:
            raise DataError(
                f"the loss takes {', '.join(required)} after params: pass --data FILE.npz"
            )
        return []
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no such file: {path}")
    unreadable = (ValueError, OSError, EOFError, zipfile.BadZipFile)
    try:
        loaded = np.load(path, allow_pickle=False)
    except unreadable as error:
        raise DataError(f"{path}: not a readable .npz file ({describe_error(error)})") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise DataError(f"{path}: expected an .npz file of named arrays")
    try:
        with loaded:
            arrays = {key: loaded[key] for key in loaded.files}
    except unreadable as error:
        raise DataError(f"{path}: not a readable .npz file ({describe_error(error)})") from None
    if any(p.kind == p.VAR_POSITIONAL for p in parameters):
        return list(arrays.values())
    missing = [p.name for p in parameters if p.name not in arrays and p.default is p.empty]
    if missing:
        raise DataError(
            f"{path} has no array {', '.join(map(repr, missing))} for the loss; "
            f"it holds: {', '.join(arrays) or 'nothing'}"
        )
    return [arrays[p.name] for p in parameters if p.name in arrays]


def describe_error(error: BaseException) -> str:
    """``TypeError: the first line of its message``: an error in one line."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def describe_exit(stopped: SystemExit) -> str:
    """``sys.exit(0)``: the call that raised ``stopped``, as the user wrote it.

    Example:
        >>> [describe_exit(SystemExit(code)) for code in (0, None, "no")]
        ['sys.exit(0)', 'sys.exit()', "sys.exit('no')"]
    """
    return "sys.exit()" if stopped.code is None else f"sys.exit({stopped.code!r})"
