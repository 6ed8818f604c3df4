"""The house rules, checked: a curated public API, a one-way flow, no private names shared.

These read the source (``ast``), so they cost no JAX compilation.
"""

import ast
import importlib
from pathlib import Path

import pytest

import steepest

PACKAGE = Path(steepest.__file__).resolve().parent
PUBLIC_NAMESPACES = ["analytic", "data", "distributed", "optimizers", "plots", "records"]
PUBLIC_NAMESPACES += ["testing", "theory", "tutorial"]


def modules() -> dict[str, ast.Module]:
    """Every module of the package by dotted name, parsed."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = ast.parse(path.read_text(), str(path))
    return found


def imports(name: str, tree: ast.Module, is_package: bool) -> list[tuple[str, list[str]]]:
    """(module imported, names taken from it) for each import inside the package."""
    here = name if is_package else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            if target == "steepest" or target.startswith("steepest."):
                found.append((target, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names if a.name.startswith("steepest")]
    return found


def test_the_public_api_is_listed_and_every_listed_name_exists():
    assert sorted(steepest.__all__) == sorted(set(steepest.__all__))
    # The literal list is the lazy loader's table: every name it loads, and those only.
    assert sorted(steepest.__all__) == sorted(
        [*steepest._HOME, *steepest._NAMESPACES, "__version__"]
    )
    for name in steepest.__all__:
        assert hasattr(steepest, name), name
    for namespace in PUBLIC_NAMESPACES:
        module = importlib.import_module(f"steepest.{namespace}")
        assert module.__all__, namespace
        for name in module.__all__:
            assert hasattr(module, name), f"steepest.{namespace}.{name}"
    public = {name for name in dir(steepest) if not name.startswith("_")}
    # Nothing public by accident: every public attribute is listed (the internal
    # subpackages _src and cli aside, and the namespaces loaded lazily).
    assert public - set(steepest.__all__) <= {"cli"}


def test_the_names_type_checkers_see_are_the_names_loaded_on_first_use():
    """``steepest`` loads its names lazily; its ``TYPE_CHECKING`` imports say the same."""
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    [block] = [node for node in tree.body if isinstance(node, ast.If)]
    seen = {}
    for node in block.body:
        if isinstance(node, ast.ImportFrom):
            source = f"steepest.{node.module}" if node.module else "steepest"
            module = importlib.import_module(source)
            seen.update({alias.name: getattr(module, alias.name) for alias in node.names})
    assert sorted([*seen, "__version__"]) == sorted(steepest.__all__)
    for name, value in seen.items():
        assert getattr(steepest, name) is value, name


def test_no_private_name_crosses_a_module_boundary():
    crossings = []
    for name, tree in modules().items():
        is_package = (PACKAGE.parent / Path(*name.split("."))).is_dir()
        for target, names in imports(name, tree, is_package):
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            crossings += [f"{name} imports {target}.{n}" for n in private]
    assert not crossings


def test_the_package_imports_no_circle():
    """Imports between the modules of the package, at any depth (a function's own imports
    too), form no cycle; the entry points (``__main__``) aside, which nothing imports."""
    trees = modules()
    graph = {}
    for name, tree in trees.items():
        if name.endswith("__main__") or name == "steepest":  # the lazy loader: names only
            continue
        is_package = (PACKAGE.parent / Path(*name.split("."))).is_dir()
        targets = set()
        for target, names in imports(name, tree, is_package):
            for imported in names or [""]:
                candidate = f"{target}.{imported}" if imported else target
                targets.add(candidate if candidate in trees else target)
        graph[name] = {t for t in targets if t in trees and t != name}

    def visit(node, path):
        if node in path:
            pytest.fail(f"import circle: {' -> '.join([*path[path.index(node) :], node])}")
        for following in graph.get(node, ()):
            visit(following, [*path, node])

    for start in graph:
        visit(start, [])


def test_nothing_outside_the_cli_imports_it():
    """The command line is a skin over the library: the library never reaches into it (the
    entry points, ``python -m steepest`` and ``python -m steepest.distributed``, aside)."""
    reaching = [
        f"{name} imports {target}"
        for name, tree in modules().items()
        if not name.startswith("steepest.cli") and not name.endswith("__main__")
        for target, _ in imports(name, tree, (PACKAGE.parent / Path(*name.split("."))).is_dir())
        if target == "steepest.cli" or target.startswith("steepest.cli.")
    ]
    assert not reaching


def test_nothing_below_the_cli_prints():
    printing = [
        f"{name}:{node.lineno}"
        for name, tree in modules().items()
        if name.startswith("steepest._src") and not name.startswith("steepest._src.bench")
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print"
    ]
    assert not printing


def test_tests_here_use_the_public_api_only():
    """Tests of internal names live beside their module (src/steepest/_src/*_test.py)."""
    here = Path(__file__).resolve().parent
    reading_internals = []
    for path in sorted(here.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom | ast.Import):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                names += [alias.name for alias in node.names]
                if any("_src" in name.split(".") for name in names):
                    reading_internals.append(f"{path.name}:{node.lineno}")
    assert not reading_internals
