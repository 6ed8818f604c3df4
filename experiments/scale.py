"""Issue 23's bars for big data, measured in rounds on this machine.

    .venv/bin/python experiments/scale.py [--rounds 5] [--only closed-form epoch parquet parallel]

Four measurements, each in ``--rounds`` rounds; within a round every contender runs
once, the first moving by one each round, and each ratio is taken within its round
(a load that slows a whole round moves no ratio). Printed: the median over the rounds
and the lowest and highest round.

- ``closed-form``: ``theory.least_squares`` (the closed form ``steepest fit`` prints,
  with its certificate) against ``np.linalg.lstsq`` on the same 1e6 x 24 float64
  design (its column of ones made beforehand, untimed). The bar: 1.5x. Both answers'
  distance to the refined answer (``max_refinements=5``) is printed: the same accuracy.
- ``epoch``: an epoch of batch-256 SGD on 1e6 x 2 float32, ``fit(batch_size=256)``'s
  seconds over its epochs (each epoch shuffled inside the loop, the stop rules checked
  on all rows after it), against optax's SGD in a jitted ``lax.scan`` over the same
  batches, their order drawn beforehand and not timed. The bar: 1.2x.
- ``parquet``: a step of ``fit_stream`` over a Parquet file of 2e6 x 10 (float64
  columns, row groups of 2**17 rows) against a step of ``fit`` on the same rows in
  memory, and against pyarrow's own read of the file (``pq.read_table``).
- ``memory``: the peak resident memory of ``steepest fit --data FILE.npy`` (1e7 x 3
  float64, 240 MB) in float32 and in float64, above that of a process that imports the
  same and fits the built-in dataset, over the file's bytes (``/usr/bin/time -v``).
  The bar: 2. Then ``--stream``, in one process and in each of two (``steepest launch``;
  the peak of the larger): a process's peak above the import, whatever its share.
- ``parallel``: an epoch of batch-256 SGD on 1e6 x 2 float32 by ``steepest fit`` on
  one CPU device, split over 4 (``--devices 4``, forced host devices) and over 2
  processes (``steepest launch``), each a process of its own; seconds an epoch from
  each record.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

import steepest
from steepest import Linear, fit, fit_stream, mse
from steepest.data import stream

STEEPEST = [sys.executable, "-m", "steepest"]


def rounds_of(contenders: dict, rounds: int) -> dict[str, list[float]]:
    """Seconds of each contender, round by round, the first moving by one each round."""
    names = list(contenders)
    for name in names:  # once untimed: compiles, caches
        contenders[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(rounds):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            times[name].append(contenders[name]())
    return times


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):.3g} ({min(values):.3g} .. {max(values):.3g})"


def ratios(times: dict, numerator: str, denominator: str) -> list[float]:
    return [a / b for a, b in zip(times[numerator], times[denominator], strict=True)]


def timed(function):
    def run():
        started = time.perf_counter()
        function()
        return time.perf_counter() - started

    return run


def closed_form(rounds: int) -> None:
    rng = np.random.default_rng(0)
    rows, width = 1_000_000, 24
    X = rng.normal(size=(rows, width)) * rng.uniform(0.5, 2.0, width) + rng.normal(size=width)
    y = X @ rng.normal(size=width) + 1.0 + rng.normal(size=rows)
    design = np.column_stack([X, np.ones(rows)])
    found = {}

    def ours():
        found["ours"] = steepest.theory.least_squares(X, y)

    def lstsq():
        found["lstsq"] = np.linalg.lstsq(design, y, rcond=None)[0]

    times = rounds_of({"least_squares": timed(ours), "np.linalg.lstsq": timed(lstsq)}, rounds)
    refined = steepest.theory.least_squares(X, y, max_refinements=5).params
    exact = np.append(refined.w, refined.b)
    mine = np.append(found["ours"].params.w, found["ours"].params.b)
    print(f"closed form, {rows:,} x {width} float64, {rounds} rounds")
    for name, values in times.items():
        print(f"  {name}: {summary(values)} s")
    ratio = ratios(times, "least_squares", "np.linalg.lstsq")
    print(f"  least_squares / lstsq: {summary(ratio)}  (bar 1.5: "
          f"{'met' if statistics.median(ratio) <= 1.5 else 'missed'})")  # fmt: skip
    for name, answer in (("least_squares", mine), ("np.linalg.lstsq", found["lstsq"])):
        distance = np.linalg.norm(answer - exact) / np.linalg.norm(exact)
        print(f"  {name}: relative distance to the refined answer {distance:.2g}")
    print(f"  least_squares' own bound: {found['ours'].relative_error:.2g} "
          f"({found['ours'].refinements} refinements)")  # fmt: skip


def epoch(rounds: int) -> None:
    rng = np.random.default_rng(1)
    rows, batch, epochs = 1_000_000, 256, 5
    X = rng.normal(size=(rows, 2)).astype(np.float32)
    y = (X @ np.array([1.0, -2.0], np.float32) + 0.5).astype(np.float32)
    X, y = jnp.asarray(X), jnp.asarray(y)
    full, _rest = divmod(rows, batch)
    order = jnp.asarray(rng.permutation(rows)[: full * batch].reshape(full, batch))
    transformation = optax.sgd(0.01)

    @jax.jit
    def optax_epoch(params, state, order):
        def one(carry, rows):
            params, state = carry
            grad = jax.grad(mse)(params, X[rows], y[rows])
            updates, state = transformation.update(grad, state, params)
            return (optax.apply_updates(params, updates), state), None

        return jax.lax.scan(one, (params, state), order)[0]

    def plain():
        params = Linear.zeros(2)
        carry = (params, transformation.init(params))
        for _ in range(epochs):
            carry = optax_epoch(*carry, order)
        jax.block_until_ready(carry)

    seconds = {}

    def ours():
        result = fit(mse, Linear.zeros(2), X, y, learning_rate=0.01, batch_size=batch,
                     epochs=epochs, tol=0.0, stall_patience=None, certificate=False)  # fmt: skip
        seconds["fit"] = result.seconds

    times = rounds_of({"fit": lambda: (ours(), seconds["fit"])[1], "optax": timed(plain)}, rounds)
    print(
        f"epoch of batch-{batch} SGD, {rows:,} x 2 float32, {epochs} epochs a run, {rounds} rounds"
    )
    for name, values in times.items():
        print(f"  {name}: {summary([v / epochs for v in values])} s an epoch")
    ratio = ratios(times, "fit", "optax")
    print(f"  fit / optax + lax.scan: {summary(ratio)}  (bar 1.2: "
          f"{'met' if statistics.median(ratio) <= 1.2 else 'missed'})")  # fmt: skip


def parquet(rounds: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(2)
    rows, width, steps = 2_000_000, 9, 5
    X = rng.normal(size=(rows, width))
    y = X @ rng.normal(size=width) + 0.5 + rng.normal(size=rows)
    path = Path(tempfile.mkdtemp()) / "table.parquet"
    columns = {f"x{i}": X[:, i] for i in range(width)} | {"y": y}
    pq.write_table(pa.table(columns), path, row_group_size=2**17)
    X32, y32 = jnp.asarray(X, jnp.float32), jnp.asarray(y, jnp.float32)
    rule = dict(learning_rate=0.1, max_steps=steps, tol=0.0, stall_patience=None)
    chunks = stream(path)

    def streamed():
        return fit_stream(mse, Linear.zeros(width), chunks, **rule).seconds / steps

    def memory():
        return fit(mse, Linear.zeros(width), X32, y32, certificate=False, **rule).seconds / steps

    times = rounds_of(
        {"fit_stream step": streamed, "fit step": memory, "pq.read_table": timed(
            lambda: pq.read_table(path, use_threads=True))},
        rounds,
    )  # fmt: skip
    size = path.stat().st_size / 2**20
    print(f"Parquet, {rows:,} x {width + 1} float64 ({size:.0f} MB), {rounds} rounds")
    for name, values in times.items():
        print(f"  {name}: {summary(values)} s")
    print(
        f"  streamed step / in-memory step: {summary(ratios(times, 'fit_stream step', 'fit step'))}"
    )
    print(f"  streamed step / pyarrow read: "
          f"{summary(ratios(times, 'fit_stream step', 'pq.read_table'))}")  # fmt: skip


def parallel(rounds: int) -> None:
    rng = np.random.default_rng(3)
    rows, epochs = 1_000_000, 4
    X = rng.normal(size=(rows, 2))
    path = Path(tempfile.mkdtemp()) / "table.npy"
    np.save(path, np.column_stack([X, X @ [1.0, 2.0] + 3.0 + 0.1 * rng.normal(size=rows)]))
    flags = ["fit", "--data", str(path), "--batch-size", "256", "--epochs", str(epochs),
             "--no-closed-form", "--json"]  # fmt: skip
    four = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4"}
    runs = {
        "1 device": (STEEPEST + flags, os.environ),
        "4 devices": ([*STEEPEST, *flags, "--devices", "4"], four),
        "2 processes": ([*STEEPEST, "launch", "--processes", "2", "--", *flags], os.environ),
    }

    def one(command, environment):
        def run():
            done = subprocess.run(command, capture_output=True, text=True, env=environment)
            return json.loads(done.stdout)["seconds"] / epochs

        return run

    times = rounds_of({name: one(*run) for name, run in runs.items()}, rounds)
    print(f"data-parallel epochs of batch-256 SGD, {rows:,} x 2 float32, {rounds} rounds")
    for name, values in times.items():
        print(f"  {name}: {summary(values)} s an epoch")


def peak_megabytes(command: list[str]) -> float:
    done = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True)
    if done.returncode not in (0, 3):
        raise SystemExit(f"{command} failed:\n{done.stderr[-2000:]}")
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    assert found, done.stderr[-2000:]
    return int(found.group(1)) / 1024


def memory(rounds: int) -> None:
    rng = np.random.default_rng(4)
    rows = 10_000_000
    X = rng.normal(size=(rows, 2))
    path = Path(tempfile.mkdtemp()) / "long.npy"
    np.save(path, np.column_stack([X, X @ [1.0, 2.0] + 1.0 + rng.normal(size=rows)]))
    del X
    size = path.stat().st_size / 2**20
    baseline = [sys.executable, "-c", "import steepest.cli, steepest; steepest.linear()"]
    runs = {"import": baseline}
    for flags in ([], ["--x64"]):
        runs[" ".join(["fit", *flags])] = [*STEEPEST, "fit", "--data", str(path), *flags, "--json"]
    streamed = ["fit", "--data", str(path), "--stream", "--json"]
    runs["fit --stream"] = [*STEEPEST, *streamed]
    runs["launch --processes 2 -- fit --stream"] = [
        *STEEPEST, "launch", "--processes", "2", "--", *streamed
    ]  # fmt: skip
    peaks: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, command in runs.items():
            peaks[name].append(peak_megabytes(command))
    print(f"memory of steepest fit, {rows:,} x 3 float64 ({size:.0f} MB), {rounds} rounds")
    base = statistics.median(peaks["import"])
    print(f"  import and a small fit: {summary(peaks['import'])} MB")
    for name in list(runs)[1:3]:
        above = [(peak - base) / size for peak in peaks[name]]
        print(f"  {name}: {summary(peaks[name])} MB, above the import / file: {summary(above)} "
              f"(bar 2: {'met' if statistics.median(above) <= 2 else 'missed'})")  # fmt: skip
    for name in list(runs)[3:]:  # streamed: a process's peak, whatever its share of the file
        above = [peak - base for peak in peaks[name]]
        print(f"  {name}: {summary(peaks[name])} MB, {summary(above)} MB above the import")


MEASUREMENTS = {"closed-form": closed_form, "epoch": epoch, "parquet": parquet,
                "memory": memory, "parallel": parallel}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", nargs="+", choices=list(MEASUREMENTS), default=list(MEASUREMENTS))
    args = parser.parse_args()
    print(f"jax {jax.__version__}, {os.cpu_count()} CPUs")
    for name in args.only:
        MEASUREMENTS[name](args.rounds)


if __name__ == "__main__":
    main()
