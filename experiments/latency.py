"""Issue 13, item 3: the latency a user feels, each run a new process.

    .venv/bin/python experiments/latency.py [--repeats 5]

1. ``steepest fit --json`` on the built-in data, wall time of the whole process (import
   included): uncached (``--no-cache``), then the first run into an empty compilation
   cache, then the runs after it, each beside a process that only runs
   ``import jax, optax`` (issue 25's bar: a second fit at most 0.25 s beyond that import),
   and beside them ``steepest fit`` printing its table (rich's import and layout added).
   Every process runs with bytecode, as an installed package does: steepest's modules are
   compiled first, and a ``PYTHONDONTWRITEBYTECODE`` of the shell is dropped (set, it
   makes an editable install compile its 40 modules from source in every process).
2. The first ``fit`` of a small logistic loss (60 rows, 3 features) in a new process:
   its compile time as the result reports it, and the wall time of the call (the bar:
   compiling in at most 1.5 s).

Medians of ``--repeats`` processes, each in brackets.
"""

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
LOGISTIC = f"""
import sys, time, json
sys.path.insert(0, {str(HERE / "gradients")!r})
import jax.numpy as jnp
import logistic
from steepest import fit
data = logistic.make_data()
X, y = jnp.asarray(data["X"], jnp.float32), jnp.asarray(data["y"], jnp.float32)
started = time.perf_counter()
result = fit(logistic.loss, {{"w": jnp.zeros(3), "b": jnp.zeros(())}}, X, y, learning_rate=0.5)
wall = time.perf_counter() - started
print(json.dumps({{"compile": result.compile_seconds, "wall": wall,
                  "status": result.status.value}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    compileall.compile_dir(HERE.parent / "src" / "steepest", quiet=1)
    cache = Path(tempfile.mkdtemp()) / "cache"
    environment = {"STEEPEST_CACHE_DIR": str(cache)}
    uncached = [fit_wall(environment, "--json", "--no-cache") for _ in range(args.repeats)]
    first = fit_wall(environment, "--json")
    cached, tables, imports = [], [], []
    for _ in range(args.repeats):  # alternating, so that all see the same machine
        cached.append(fit_wall(environment, "--json"))
        tables.append(fit_wall(environment))
        imports.append(import_wall())
    beyond = [fit - imported for fit, imported in zip(cached, imports, strict=True)]
    table_beyond = [fit - imported for fit, imported in zip(tables, imports, strict=True)]
    print(f"steepest fit --json, built-in data, wall time of the process ({args.repeats} each):")
    print(f"  uncached (--no-cache): {show(uncached)}")
    print(f"  first into an empty cache: {first:.2f} s")
    print(f"  cached: {show(cached)}")
    print(f"  import jax, optax alone: {show(imports)}")
    met = "met" if statistics.median(beyond) <= 0.25 else "missed"
    print(f"bar, a second fit at most 0.25 s beyond the import: {show(beyond)} {met}")
    print(f"steepest fit (its table), cached: {show(tables)}")
    print(f"  beyond the import: {show(table_beyond)}")
    runs = [logistic_first_fit() for _ in range(args.repeats)]
    compiles = [run["compile"] for run in runs]
    print(f"first fit of a small logistic loss ({runs[0]['status']}):")
    print(f"  compile: {show(compiles)}; the whole call: {show([run['wall'] for run in runs])}")
    met = "met" if statistics.median(compiles) <= 1.5 else "missed"
    print(f"bar, its first compile at most 1.5 s: {statistics.median(compiles):.2f} s {met}")


def fit_wall(environment: dict, *flags: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [str(HERE.parent / ".venv" / "bin" / "steepest"), "fit", *flags],
        env={**BYTECODE, **environment}, check=True, capture_output=True,
    )  # fmt: skip
    return time.perf_counter() - started


def import_wall() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import jax, optax"], env=BYTECODE, check=True)
    return time.perf_counter() - started


# The environment of every timed process: the shell's, bytecode allowed.
BYTECODE = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def logistic_first_fit() -> dict:
    completed = subprocess.run(
        [sys.executable, "-c", LOGISTIC], env={**BYTECODE, "STEEPEST_CACHE_DIR": ""},
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(completed.stdout)


def show(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s ({', '.join(f'{v:.2f}' for v in values)})"


if __name__ == "__main__":
    main()
