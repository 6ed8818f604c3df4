"""Microseconds per step of full-batch gradient descent: tutorial loop, NumPy, ``steepest.fit``.

What is measured: one step of the tutorial's rule on the mean squared error of a
linear model, ``w <- w - lr * grad_w``, ``b <- b - lr * grad_b``, run three ways:

- ``tutorial``: ``steepest.tutorial.update_weights``, pure Python floats, a ``for``
  loop over the rows (small problem only; it would take hours at N = 1e6).
- ``numpy``: the same rule vectorized in NumPy, float32 (``numpy_gd`` below).
- ``steepest.fit``: ``fit(mse, params, X, y, optimizer="gd", max_steps=S, tol=0)``,
  float32, compiled; the time is ``FitResult.seconds``, the wall time of the
  steps with compilation excluded (``fit`` syncs with the device, i.e. blocks
  until the result is ready, after every chunk of steps, so the time covers the
  work done).

Two problems: the built-in dataset (N = 200, d = 1, standardized as the CLI does,
X of shape (N, 1)), and a random one with N = 1e6 rows and d = 8 features
(``numpy.random.default_rng(0)``, float32).

How: every method runs first once as a warm-up whose time is discarded (for
``fit`` that run also compiles the loop; the timed runs reuse it, since the
shapes, ``max_steps`` included, are the same). Then each measurement is
repeated and the median is reported, in microseconds per step. The step counts
are chosen so that one timed run lasts tens of milliseconds or more, far above
the timer's resolution. Before timing, the three methods are run for the same
number of steps from the same start and their final params compared, so that
the timings compare the same computation.

Usage:
    .venv/bin/python experiments/benchmark.py [--size small] [--out results/benchmark.json]
"""

import argparse
import dataclasses
import statistics
import sys
import time
from collections.abc import Callable

import jax
import numpy as np
from rich.console import Console
from rich.table import Table

import steepest
from steepest import data, models, records

REPEATS = 5


@dataclasses.dataclass(frozen=True)
class Problem:
    """A regression problem and how many steps each method runs on it."""

    name: str
    X: np.ndarray  # float32, (N, d)
    y: np.ndarray  # float32, (N,)
    learning_rate: float
    steps: dict[str, int]  # method -> steps per timed run
    check_steps: int  # steps of the agreement check


def small_problem() -> Problem:
    """The built-in dataset, standardized, X as the (N, 1) array the CLI passes."""
    dataset = data.builtin()
    X = data.Standardizer.of(dataset.X).transform(dataset.X).astype(np.float32)
    return Problem(
        name=f"N={X.shape[0]}, d={X.shape[1]}",
        X=X,
        y=dataset.y.astype(np.float32),
        learning_rate=0.01,
        steps={"tutorial": 1_000, "numpy": 20_000, "steepest.fit": 200_000},
        check_steps=200,
    )


def large_problem(rows: int = 1_000_000, features: int = 8) -> Problem:
    """Random features and a noisy linear target, float32, from a fixed seed."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((rows, features), dtype=np.float32)
    w = rng.standard_normal(features, dtype=np.float32)
    y = X @ w + np.float32(0.5) + rng.standard_normal(rows, dtype=np.float32)
    return Problem(
        name=f"N={rows:.0e}, d={features}".replace("e+0", "e"),
        X=X,
        y=y,
        learning_rate=0.1,
        steps={"numpy": 50, "steepest.fit": 50},
        check_steps=50,
    )


# --- the three methods; each returns (final params as a flat float64 array, seconds) ---


def run_tutorial(problem: Problem, steps: int) -> tuple[np.ndarray, float]:
    """``update_weights`` on Python lists of the same float32 values (exact in float64)."""
    X = problem.X[:, 0].tolist()
    Y = problem.y.tolist()
    m, b = 0.0, 0.0
    started = time.perf_counter()
    for _ in range(steps):
        m, b = steepest.tutorial.update_weights(m, b, X, Y, problem.learning_rate)
    seconds = time.perf_counter() - started
    return np.array([m, b]), seconds


def numpy_gd(w, b, X, y, learning_rate, steps):
    """The tutorial's rule, vectorized, in the dtype of its inputs (float32 here).

    ``r = y - (X w + b)``, ``grad_w = -2/N * X.T r``, ``grad_b = -2/N * sum(r)``.
    """
    scale = np.float32(-2.0 / X.shape[0])
    learning_rate = np.float32(learning_rate)
    for _ in range(steps):
        residual = y - (X @ w + b)
        w = w - learning_rate * (scale * (X.T @ residual))
        b = b - learning_rate * (scale * residual.sum())
    return w, b


def run_numpy(problem: Problem, steps: int) -> tuple[np.ndarray, float]:
    w = np.zeros(problem.X.shape[1], np.float32)
    b = np.float32(0.0)
    started = time.perf_counter()
    w, b = numpy_gd(w, b, problem.X, problem.y, problem.learning_rate, steps)
    seconds = time.perf_counter() - started
    assert w.dtype == np.float32 and b.dtype == np.float32, "the NumPy loop left float32"
    return np.append(w, b).astype(np.float64), seconds


def run_fit(problem: Problem, steps: int) -> tuple[np.ndarray, float]:
    """``steepest.fit`` with tol=0, so that it runs exactly ``steps`` updates."""
    X, y = data.to_device(problem.X, problem.y)
    result = steepest.fit(
        steepest.mse,
        models.zeros(problem.X.shape[1]),
        X,
        y,
        optimizer="gd",
        learning_rate=problem.learning_rate,
        max_steps=steps,
        tol=0.0,
    )
    if result.num_steps != steps:
        raise RuntimeError(f"fit ran {result.num_steps} of {steps} steps: {result.message}")
    params = jax.block_until_ready(result.params)
    return np.append(np.asarray(params.w), np.asarray(params.b)).astype(np.float64), result.seconds


METHODS: dict[str, Callable[[Problem, int], tuple[np.ndarray, float]]] = {
    "tutorial": run_tutorial,
    "numpy": run_numpy,
    "steepest.fit": run_fit,
}


# --- measuring ---


def check_agreement(problem: Problem) -> dict:
    """Run every method for ``check_steps`` steps from zero; the largest difference to NumPy."""
    finals = {method: METHODS[method](problem, problem.check_steps)[0] for method in problem.steps}
    reference = finals["numpy"]
    scale = float(np.max(np.abs(reference)))
    differences = {
        method: float(np.max(np.abs(params - reference))) / scale
        for method, params in finals.items()
    }
    return {
        "steps": problem.check_steps,
        "params": {method: params.tolist() for method, params in finals.items()},
        "max_relative_difference_to_numpy": differences,
        "agree": all(difference < 1e-4 for difference in differences.values()),
    }


def seconds_per_step(method: str, problem: Problem) -> tuple[float, list[float]]:
    """Median seconds per step over ``REPEATS`` timed runs, after one discarded warm-up run."""
    steps = problem.steps[method]
    METHODS[method](problem, steps)  # warm-up: compiles fit, warms caches and allocators
    times = [METHODS[method](problem, steps)[1] / steps for _ in range(REPEATS)]
    return statistics.median(times), times


def benchmark(problem: Problem) -> tuple[list[dict], dict]:
    agreement = check_agreement(problem)
    medians = {}
    rows = []
    for method in problem.steps:
        median, times = seconds_per_step(method, problem)
        medians[method] = median
        rows.append(
            {
                "problem": problem.name,
                "rows": int(problem.X.shape[0]),
                "features": int(problem.X.shape[1]),
                "method": method,
                "steps": problem.steps[method],
                "repeats": REPEATS,
                "us_per_step": median * 1e6,
                "us_per_step_all_repeats": [t * 1e6 for t in times],
            }
        )
    for row in rows:
        row["speedup_vs_numpy"] = medians["numpy"] / medians[row["method"]]
        if "tutorial" in medians:
            row["speedup_vs_tutorial"] = medians["tutorial"] / medians[row["method"]]
    return rows, agreement


# --- reporting ---


def format_us(microseconds: float) -> str:
    """Three significant digits, without exponents: 0.948, 19.5, 3,470."""
    return f"{microseconds:,.0f}" if microseconds >= 100 else f"{microseconds:.3g}"


def table(rows: list[dict]) -> Table:
    result = Table(
        title="Full-batch gradient descent, float32 (median of repeats)",
        caption="vs X: X's time per step / this method's (above 1: faster than X)",
    )
    result.add_column("problem")
    result.add_column("method")
    result.add_column("us/step", justify="right")
    result.add_column("vs NumPy", justify="right")
    result.add_column("vs tutorial", justify="right")
    for row in rows:
        versus_tutorial = row.get("speedup_vs_tutorial")
        result.add_row(
            row["problem"],
            row["method"],
            format_us(row["us_per_step"]),
            f"{row['speedup_vs_numpy']:.3g}",
            "-" if versus_tutorial is None else f"{versus_tutorial:.3g}",
        )
    return result


def agreement_line(problem: Problem, agreement: dict) -> str:
    differences = ", ".join(
        f"{method} {difference:.1e}"
        for method, difference in agreement["max_relative_difference_to_numpy"].items()
        if method != "numpy"
    )
    verdict = "agree" if agreement["agree"] else "[bold red]DISAGREE[/]"
    return (
        f"{problem.name}: after {agreement['steps']} steps the methods {verdict} "
        f"(largest |params - NumPy's| / max|NumPy's|: {differences})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--size", choices=("small", "all"), default="all", help="small: N=200 only (quick)"
    )
    parser.add_argument("--out", default="results/benchmark.json", help="the JSON record")
    args = parser.parse_args(argv)

    console = Console()
    problems = [small_problem()]
    if args.size == "all":
        problems.append(large_problem())

    all_rows, agreements = [], {}
    for problem in problems:
        with console.status(f"timing {problem.name}"):
            rows, agreement = benchmark(problem)
        all_rows += rows
        agreements[problem.name] = agreement
        console.print(agreement_line(problem, agreement))

    info = records.environment()
    console.print(table(all_rows))
    console.print(
        f"{info['machine']['processor']}, {info['machine']['cpu_count']} CPUs; "
        f"jax {info['versions']['jax']} on {info['jax_device']['description']}"
    )
    problem_settings = {
        problem.name: {
            "learning_rate": problem.learning_rate,
            "steps": problem.steps,
            "dtype": "float32",
        }
        for problem in problems
    }
    record = {
        "rows": all_rows,
        "agreement": agreements,
        "problems": problem_settings,
        **info,
    }
    path = records.write_json(args.out, record)
    console.print(f"wrote {path}")
    return 0 if all(a["agree"] for a in agreements.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
