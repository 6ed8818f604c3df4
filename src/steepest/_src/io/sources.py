"""User code and arrays named on the command line: ``FILE.py:function``, ``name=SHAPE``, ``.npz``.

Like ``data.py``, a boundary: every problem becomes a one-line ``DataError``.
"""

import importlib.util
import inspect
import json
import math
import sys
import zipfile
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

import numpy as np

from .dataset import DataError, check_file

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

    The file's folder is put on ``sys.path`` (first, for as long as the process runs),
    as ``python FILE.py`` would: a file that imports a module beside it finds it.

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
    check_file(path)
    module_name = f"_steepest_user_{abs(hash(path.resolve()))}"
    module_spec = importlib.util.spec_from_file_location(module_name, path)
    if module_spec is None or module_spec.loader is None:
        raise DataError(f"{path}: cannot be imported as Python")
    module = importlib.util.module_from_spec(module_spec)
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
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
    shapes: dict[str, tuple[int, ...]] = {}
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


def user_inputs(
    loss_spec: str, params_specs: list[str], data_path, keyword_specs: list[str] | None,
    seed: int | None,
) -> tuple[Callable, dict[str, Any], Any, list[np.ndarray]]:  # fmt: skip
    """What a user names on the command line for a loss of their own: the loss as written
    (``FILE.py:FUNCTION``), its keyword arguments (``parse_keywords``), the params
    (``params_from``) and the arrays of ``data_path`` it takes (``data_for``)."""
    keywords = parse_keywords(keyword_specs)
    function = load_function(loss_spec)
    params = params_from(params_specs, seed)
    return function, keywords, params, data_for(function, data_path, keywords)


def params_from(specs: list[str], seed: int | None) -> Any:
    """The params ``--params`` names: values from a ``.npz`` or ``.json`` file (a dict of
    name to number or nested list), the pytree an init function returns
    (``FILE.py:INIT``, called with no argument), or values of the shapes ``NAME=SHAPE``
    (``parse_shapes``): random normal ones drawn from ``seed``, or zeros (``seed`` None).

    Raises:
        DataError: a file that cannot be read, values that are not finite real numbers,
            more than ``MAX_PARAMS`` elements, an init function that raises.

    Example:
        >>> import json, tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "start.json"
        >>> _ = path.write_text(json.dumps({"w": [1.0, 2.0], "b": 0.5}))
        >>> {name: value.tolist() for name, value in params_from([str(path)], 0).items()}
        {'b': 0.5, 'w': [1.0, 2.0]}
    """
    if len(specs) == 1 and specs[0].lower().endswith((".npz", ".json")):
        return _checked_values(specs[0], _read_values(Path(specs[0])))
    if len(specs) == 1 and ".py:" in specs[0]:
        init = load_function(specs[0])
        try:
            values = init()
        except Exception as error:
            raise DataError(f"{specs[0]} failed: {describe_error(error)}") from None
        return _checked_values(specs[0], values)
    shapes = parse_shapes(specs)
    if seed is None:
        return {name: np.zeros(shape) for name, shape in shapes.items()}
    return random_params(shapes, seed)


def _read_values(path: Path) -> dict[str, np.ndarray]:
    """Named arrays from a ``.json`` (an object of numbers and nested lists) or ``.npz``."""
    check_file(path)
    if path.suffix.lower() == ".npz":
        try:
            with np.load(path, allow_pickle=False) as loaded:
                return {key: loaded[key] for key in loaded.files}
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
            raise DataError(f"{path}: not a readable .npz file ({describe_error(error)})") from None
    try:
        values = json.loads(path.read_text())
    except (ValueError, OSError) as error:
        raise DataError(f"{path}: not readable JSON ({describe_error(error)})") from None
    if not isinstance(values, dict) or not values:
        raise DataError(f'{path}: expected an object of named values, e.g. {{"w": [1, 2]}}')
    arrays = {}
    for name, value in values.items():
        try:
            arrays[name] = np.asarray(value, np.float64)
        except (TypeError, ValueError):
            raise DataError(f"{path}: {name!r} is not a number or a list of numbers") from None
    return arrays


def _checked_values(source: str, params: Any) -> Any:
    """``params`` with every leaf a finite float64 array, at most ``MAX_PARAMS`` in all."""
    import jax

    leaves, treedef = jax.tree.flatten(params)
    if not leaves:
        raise DataError(f"{source}: holds no values")
    checked = []
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        where = jax.tree_util.keystr(path) or "the value"
        array = np.asarray(leaf)
        if array.dtype.kind not in "iuf":
            raise DataError(f"{source}: {where} is {array.dtype}, not real numbers")
        if not np.all(np.isfinite(array)):
            raise DataError(f"{source}: {where} holds NaN or infinity")
        checked.append(array.astype(np.float64))
    total = sum(array.size for array in checked)
    if total > MAX_PARAMS:
        raise DataError(
            f"{source}: {total} elements in all, but at most {MAX_PARAMS} "
            f"(the check grows as the square of the elements)"
        )
    return jax.tree.unflatten(treedef, checked)


def parse_keywords(specs: list[str] | None) -> dict[str, Any]:
    """``["lam=0.1", "kind=l2"]`` as ``{"lam": 0.1, "kind": "l2"}``: each value read as
    JSON (a number, true/false, a list), else kept as text.

    Example:
        >>> parse_keywords(["lam=0.1", "kind=l2", "sizes=[1, 2]"])
        {'lam': 0.1, 'kind': 'l2', 'sizes': [1, 2]}
    """
    keywords: dict[str, Any] = {}
    for spec in specs or []:
        name, separator, text = spec.partition("=")
        if not separator or not name.isidentifier():
            raise DataError(f"--keywords {spec!r}: expected NAME=VALUE, e.g. lam=0.1")
        if name in keywords:
            raise DataError(f"--keywords names {name!r} twice")
        try:
            keywords[name] = json.loads(text)
        except ValueError:
            keywords[name] = text
    return keywords


def data_for(
    function: Callable, path: str | Path | None, keywords: Collection[str] = ()
) -> list[np.ndarray]:
    """The arrays of an ``.npz`` file in the order ``function`` takes them after params.

    They are matched by the names of ``function``'s parameters (but ``keywords``, given
    by name); a function with ``*args`` takes every array, in the order of the file.
    """
    parameters = list(inspect.signature(function).parameters.values())[1:]
    parameters = [p for p in parameters if p.name not in keywords]
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
    check_file(path)
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
    for key, array in arrays.items():
        if array.dtype.kind not in "biuf":  # text, dates, objects, complex: not a loss's data
            raise DataError(f"{path}: array {key!r} holds {array.dtype} values, not real numbers")
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
    """``TypeError: the first line of its message``: an error in one line; for a traced
    value turned into a Python number or truth value, what that means and what to write
    instead (JAX's own first line names neither).

    Example:
        >>> describe_error(ValueError("bad; see below" + chr(10) + "more"))
        'ValueError: bad; see below'
    """
    jax = sys.modules.get("jax")  # loaded by whatever traced: not imported here for this
    if jax is not None and isinstance(error, jax.errors.ConcretizationTypeError):
        return (
            f"{type(error).__name__}: the loss turns a traced value into a Python number or "
            "truth value (float(...), an if on values), which jax.grad cannot follow; write "
            "it with jnp.where or jax.lax.cond"
        )
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def describe_exit(stopped: SystemExit) -> str:
    """``sys.exit(0)``: the call that raised ``stopped``, as the user wrote it.

    Example:
        >>> [describe_exit(SystemExit(code)) for code in (0, None, "no")]
        ['sys.exit(0)', 'sys.exit()', "sys.exit('no')"]
    """
    return "sys.exit()" if stopped.code is None else f"sys.exit({stopped.code!r})"
