"""Issue 12, item 2: ``steepest launch --processes K -- fit`` against ``steepest fit``.

    .venv/bin/python experiments/distributed.py [--rows 2000000] [--processes 2]

Writes a table of ``--rows`` rows (three features on scales 1, 10 and 100, a noisy
target) to a temporary ``.npy``, then runs, for each optimizer given and in float32
and float64, the same fit in one process and launched over ``--processes``, each with
``--json``, under ``/usr/bin/time -v``. Printed per case: the largest relative
difference of the coefficients and of the closed form against the issue's bars
(1e-5 in float32, 1e-12 in float64), the steps, the seconds a step took, the wall
time, and the peak resident memory (the launcher's largest child for K processes).
"""

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

BARS = {"float32": 1e-5, "float64": 1e-12}
STEEPEST = [sys.executable, "-m", "steepest"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--optimizers", nargs="+", default=["gd", "momentum", "adam", "lbfgs"])
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    rng = np.random.default_rng(12)
    X = rng.normal(size=(args.rows, 3)) * [1.0, 10.0, 100.0] + [0.0, 5.0, 1000.0]
    y = X @ [1.0, -2.0, 0.03] + 4.0 + rng.normal(size=args.rows)
    np.save(folder / "table.npy", np.column_stack([X, y]))
    del X, y
    print(f"{args.rows:,} rows, 3 features; {args.processes} processes against one")
    header = f"{'optimizer':9} {'dtype':8} {'params':>8} {'closed':>8} {'bar':>4} {'steps':>6}"
    header += (
        f" {'s/step 1':>9} {'s/step K':>9} {'wall 1':>7} {'wall K':>7} {'MB 1':>6} {'MB K':>6}"
    )
    print(header)
    for optimizer in args.optimizers:
        for dtype, bar in BARS.items():
            fit = ["fit", "--data", str(folder / "table.npy"), "--optimizer", optimizer, "--json"]
            fit += ["--x64"] if dtype == "float64" else []
            one = timed([*STEEPEST, *fit], folder)
            many = timed(
                [*STEEPEST, "launch", "--processes", str(args.processes), "--", *fit], folder
            )
            if one["code"] or many["code"]:
                print(f"{optimizer:9} {dtype:8} failed: {one['stderr'] or many['stderr']}")
                continue
            params = worst(one["record"], many["record"], "params")
            closed = worst(one["record"], many["record"], "closed_form")
            met = "yes" if max(params, closed) <= bar else "no"
            steps = one["record"]["steps"], many["record"]["steps"]
            per_step = [run["record"]["seconds"] / max(steps[0] - 1, 1) for run in (one, many)]
            taken = "/".join(map(str, sorted(set(steps))))
            print(
                f"{optimizer:9} {dtype:8} {params:8.1e} {closed:8.1e} {met:>4} "
                f"{taken:>6} {per_step[0]:9.2e} {per_step[1]:9.2e} "
                f"{one['wall']:7.2f} {many['wall']:7.2f} {one['megabytes']:6.0f} "
                f"{many['megabytes']:6.0f}"
            )


def timed(command: list[str], folder: Path) -> dict:
    """``command`` under ``/usr/bin/time -v``: its exit code, record, wall time, peak MB."""
    completed = subprocess.run(
        ["/usr/bin/time", "-v", *command], cwd=folder, capture_output=True, text=True
    )
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", completed.stderr)
    hours, minutes, seconds = (float(part or 0) for part in wall.groups())
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", completed.stderr)
    return {
        "code": completed.returncode,
        "stderr": completed.stderr.splitlines()[0] if completed.returncode else "",
        "record": json.loads(completed.stdout) if completed.returncode == 0 else None,
        "wall": 3600 * hours + 60 * minutes + seconds,
        "megabytes": int(peak.group(1)) / 1024,
    }


def worst(one: dict, many: dict, key: str) -> float:
    """The largest relative difference of ``key``'s coefficients, ``[w..., b]``."""
    a = np.array([*one[key]["w"], one[key]["b"]])
    b = np.array([*many[key]["w"], many[key]["b"]])
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a), 1e-300)))


if __name__ == "__main__":
    main()
