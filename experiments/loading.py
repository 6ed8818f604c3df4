"""Loading at library speed: the two bars of the data loader, measured.

Usage:
    .venv/bin/python experiments/loading.py [--csv-rows 1000000] [--npy-rows 10000000]
                                            [--repeats 5]

1. Time: ``steepest.data.load`` on a ``rows x 3`` CSV takes at most 1.5 times
   ``np.loadtxt(file, delimiter=",", skiprows=1, ndmin=2)`` on the same file:
   the median of ``repeats`` runs of each, in this process, alternating which
   goes first, after one warm-up read of each.
2. Memory: the peak resident set of ``steepest fit --data big.npy --steps 10``,
   on a ``(rows, 2)`` float64 ``.npy`` (one feature and the target), minus the
   peak of a process that only imports JAX and puts ``jnp.zeros(1)`` on the
   device, is at most 3 times the bytes of X and y as the fit holds them:
   float32 by default, ``rows * 2 * 4`` bytes (80 MB for 1e7 rows). The peak
   of ``steepest.data.load`` alone (its Dataset holds X and y in float64) is
   printed beside it, without a bar.

Peak RSS comes from ``/usr/bin/time -v`` when present, else from
``resource.getrusage(RUSAGE_CHILDREN)`` in a fresh wrapper process. The data
files go to a temporary folder, removed at the end. Prints each command and a
table: measured, bar, met.
"""

import argparse
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from steepest import data

TIME_BAR = 1.5  # load / np.loadtxt
MEMORY_BAR = 3.0  # peak RSS above import jax / bytes of X and y as the fit holds them
FIT_BYTES_PER_VALUE = 4  # float32, the fit's default dtype
BASELINE_CODE = "import jax; import jax.numpy as jnp; jnp.zeros(1)"
LOAD_CODE = "import sys; from steepest import data; data.load(sys.argv[1])"
WRAPPER_CODE = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
    "stdout=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def write_csv(path: Path, rows: int) -> None:
    """A ``rows x 3`` CSV of standard normal numbers (seed 0), header ``a,b,c``."""
    values = np.random.default_rng(0).standard_normal((rows, 3))
    np.savetxt(path, values, delimiter=",", header="a,b,c", comments="", fmt="%.17g")


def write_npy(path: Path, rows: int) -> None:
    """A ``(rows, 2)`` float64 array: x uniform in [0, 50), y = 0.25 x + 5 + noise (seed 0)."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0.0, 50.0, rows)
    np.save(path, np.column_stack([x, 0.25 * x + 5.0 + rng.normal(0.0, 2.0, rows)]))


def seconds(function, *args, **kwargs) -> float:
    start = time.perf_counter()
    function(*args, **kwargs)
    return time.perf_counter() - start


def time_ratio(path: Path, repeats: int) -> tuple[float, float]:
    """Median seconds of ``data.load`` and of ``np.loadtxt`` on ``path``, alternating."""

    def load():
        return seconds(data.load, path)

    def loadtxt():
        return seconds(np.loadtxt, path, delimiter=",", skiprows=1, ndmin=2)

    load(), loadtxt()  # warm-up: the file in the page cache, the code paths imported
    ours, numpy = [], []
    for repeat in range(repeats):
        if repeat % 2:
            numpy.append(loadtxt())
            ours.append(load())
        else:
            ours.append(load())
            numpy.append(loadtxt())
    return statistics.median(ours), statistics.median(numpy)


def peak_rss(command: list[str]) -> int:
    """Peak resident set of ``command`` (a fresh process), in bytes."""
    if Path("/usr/bin/time").exists():
        done = subprocess.run(
            ["/usr/bin/time", "-v", *command],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for line in done.stderr.splitlines():
            if "Maximum resident set size" in line:
                return int(line.rsplit(":", 1)[1]) * 1024
        raise RuntimeError(f"no peak RSS in /usr/bin/time's output:\n{done.stderr}")
    wrapper = [sys.executable, "-c", WRAPPER_CODE, *command]
    done = subprocess.run(wrapper, check=True, capture_output=True, text=True)
    return int(done.stdout.split()[-1]) * 1024  # kilobytes on Linux


def steepest_command() -> str:
    beside = Path(sys.executable).parent / "steepest"
    return str(beside) if beside.exists() else shutil.which("steepest") or "steepest"


def yes(met: bool) -> str:
    return "yes" if met else "no"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv-rows", type=int, default=1_000_000, help="rows of the CSV")
    parser.add_argument("--npy-rows", type=int, default=10_000_000, help="rows of the .npy")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each reader")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="steepest-loading-") as folder:
        csv_path, npy_path = Path(folder, "table.csv"), Path(folder, "big.npy")
        write_csv(csv_path, args.csv_rows)
        ours, numpy = time_ratio(csv_path, args.repeats)
        ratio = ours / numpy
        print(
            f"time: median of {args.repeats}, alternating, in one process:\n"
            f"  steepest.data.load({str(csv_path)!r})  {ours:.3f} s\n"
            f"  np.loadtxt({str(csv_path)!r}, delimiter=',', skiprows=1, ndmin=2)"
            f"  {numpy:.3f} s"
        )

        write_npy(npy_path, args.npy_rows)
        fit = [steepest_command(), "fit", "--data", str(npy_path), "--steps", "10"]
        baseline = [sys.executable, "-c", BASELINE_CODE]
        load_only = [sys.executable, "-c", f"{BASELINE_CODE}; {LOAD_CODE}", str(npy_path)]
        fit_peak, baseline_peak = peak_rss(fit), peak_rss(baseline)
        load_peak = peak_rss(load_only)
    held = args.npy_rows * 2 * FIT_BYTES_PER_VALUE
    above = fit_peak - baseline_peak
    print(
        "memory: peak RSS (/usr/bin/time -v, else getrusage of a wrapper):\n"
        f"  {shlex.join(fit)}  {fit_peak / 1e6:.0f} MB\n"
        f"  {shlex.join(baseline)}  {baseline_peak / 1e6:.0f} MB\n"
        f"  {shlex.join(load_only)}  {load_peak / 1e6:.0f} MB (the loader alone)\n"
        f"  X and y as the fit holds them: {args.npy_rows} rows x 2 x 4 bytes (float32)"
        f" = {held / 1e6:.0f} MB"
    )

    rows = [
        (
            f"load / np.loadtxt, {args.csv_rows} x 3 CSV",
            f"{ratio:.2f}x",
            f"<= {TIME_BAR}x",
            yes(ratio <= TIME_BAR),
        ),
        (
            f"fit peak RSS above import jax, {args.npy_rows} x 2 .npy",
            f"{above / 1e6:.0f} MB ({above / held:.1f}x)",
            f"<= {MEMORY_BAR * held / 1e6:.0f} MB ({MEMORY_BAR}x)",
            yes(above <= MEMORY_BAR * held),
        ),
        (
            "  of which the loader alone (float64 X, y)",
            f"{(load_peak - baseline_peak) / 1e6:.0f} MB",
            "(no bar)",
            "",
        ),
    ]
    header = ("what", "measured", "bar", "met")
    widths = [max(len(row[j]) for row in [header, *rows]) for j in range(4)]
    print()
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
