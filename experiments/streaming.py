"""Issue 12, item 3's bars for data read a chunk at a time, measured.

    .venv/bin/python experiments/streaming.py [--rows 100000000] [--width 10] [--steps 5]

Writes a float32 .npy of ``rows`` x ``width`` (4 GB by default; the target last) in
the system's temporary folder, warms the page cache, then runs, each in a process
of its own under ``/usr/bin/time -v``:

- ``read``: one pass of ``Stream.tables()`` (the chunks as read, no computation), the
  one-read floor;
- ``stream``: ``fit_stream`` for ``steps`` gradient-descent steps at a fixed rate;
- ``memory``: ``fit`` on the same data loaded into memory, the same steps.

and prints the seconds per step (the first step, which compiles, left out) and each
process's peak resident memory: the median over ``--repeats`` processes of each
(this 2-core VM's timings vary by a third from run to run). The bars: streaming's
peak RSS at most 1 GB; a streamed step at most 1.5x the one-read floor and at most
1.5x the in-memory step.
"""

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def write_table(path: Path, rows: int, width: int) -> None:
    table = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, width))
    rng = np.random.default_rng(0)
    w = rng.uniform(-2, 2, width - 1).astype(np.float32)
    step = 2_000_000
    for start in range(0, rows, step):
        X = rng.standard_normal((min(step, rows - start), width - 1), dtype=np.float32)
        table[start : start + len(X), :-1] = X
        table[start : start + len(X), -1] = X @ w + 0.5 + 0.1 * rng.standard_normal(len(X))
    table.flush()
    del table


def run_child(mode: str, path: Path, steps: int) -> dict:
    """One measurement in a process of its own: its seconds and its peak RSS."""
    command = [sys.executable, __file__, "--child", mode, "--path", str(path)]
    command += ["--steps", str(steps)]
    if mode == "cli":  # the command itself; its features standardized by two passes first
        steepest = Path(sys.executable).with_name("steepest")
        command = [str(steepest), "fit", "--data", str(path), "--stream", "--lr", "0.1"]
        command += ["--tol", "0", "--steps", str(steps), "--json"]
    done = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True)
    if done.returncode not in (0, 3):  # 3: max_steps, the fixed number of steps asked for
        raise SystemExit(f"{mode} failed:\n{done.stderr[-3000:]}")
    if mode == "cli":  # its JSON record, over several lines
        record = json.loads(done.stdout)
        record = {"seconds": record["seconds"] / (record["steps"] - 1)}
    else:
        record = json.loads(done.stdout.strip().splitlines()[-1])
    kilobytes = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)[1])
    return {"seconds": record["seconds"], "peak_rss_mb": kilobytes / 1024}


def median_of(runs: list[dict]) -> dict:
    seconds = sorted(run["seconds"] for run in runs)
    return {"seconds": seconds[len(seconds) // 2], "all": seconds,
            "peak_rss_mb": max(run["peak_rss_mb"] for run in runs)}  # fmt: skip


def child(mode: str, path: Path, steps: int) -> dict:
    import jax.numpy as jnp

    from steepest import Linear, fit, fit_stream, mse
    from steepest.data import stream

    chunks = stream(path)
    rule = dict(learning_rate=0.1, max_steps=steps, tol=0.0, stall_patience=None)
    start = Linear.zeros(len(chunks.x_columns))
    if mode == "read":
        began = time.perf_counter()
        rows = sum(len(table) for table in chunks.tables())
        return {"seconds": time.perf_counter() - began, "rows": rows}
    if mode == "stream":
        result = fit_stream(mse, start, chunks, **rule)
    else:
        table = np.load(path)
        X, y = jnp.asarray(table[:, :-1]), jnp.asarray(table[:, -1])
        del table
        result = fit(mse, start, X, y, certificate=False, **rule)
    # fit_stream counts the first step as compiling; fit's compile is apart from its steps.
    timed = steps - 1 if mode == "stream" else steps
    return {"seconds": result.seconds / timed, "steps": result.num_steps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--width", type=int, default=10)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", choices=["read", "stream", "memory"])
    parser.add_argument("--path", type=Path)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.path, args.steps)))
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.npy"
        began = time.perf_counter()
        write_table(path, args.rows, args.width)
        size = path.stat().st_size
        print(f"wrote {size / 1e9:.2f} GB ({args.rows:,} x {args.width} float32) "
              f"in {time.perf_counter() - began:.0f} s")  # fmt: skip
        subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL, check=True)  # warm
        measured = {
            mode: median_of([run_child(mode, path, args.steps) for _ in range(args.repeats)])
            for mode in ("read", "stream", "cli", "memory")
        }
    labels = {
        "read": "one read of the file (warm page cache)",
        "stream": "fit_stream, a step",
        "cli": "steepest fit --stream, a step",
        "memory": "fit in memory, a step",
    }
    print(f"medians of {args.repeats} processes each:")
    for mode, label in labels.items():
        runs = ", ".join(f"{seconds:.2f}" for seconds in measured[mode]["all"])
        print(f"  {label}: {measured[mode]['seconds']:.2f} s ({runs}), "
              f"peak RSS {measured[mode]['peak_rss_mb']:.0f} MB")  # fmt: skip
    read, memory = measured["read"]["seconds"], measured["memory"]["seconds"]
    for mode in ("stream", "cli"):
        step, rss = measured[mode]["seconds"], measured[mode]["peak_rss_mb"]
        verdicts = [
            f"peak RSS {rss:.0f} MB <= 1024 MB {'met' if rss <= 1024 else 'missed'}",
            f"step / read {step / read:.2f} <= 1.5 {'met' if step <= 1.5 * read else 'missed'}",
            f"step / in-memory step {step / memory:.2f} <= 1.5 "
            + ("met" if step <= 1.5 * memory else "missed"),
        ]
        print(f"bars, {labels[mode]}: {'; '.join(verdicts)}")


if __name__ == "__main__":
    main()
