"""The quadratic fast path against ordinary steps, at N = 1e6, d = 64, float32.

Times (median of 3, after a warm-up that compiles): ``fit`` running 20 ordinary
steps (per-step time), and ``fit(method="quadratic")`` running 1000 steps, its
one pass over the data for the Hessian and gradient included. The bar: the 1000
quadratic steps within the time of 3 ordinary steps.

Usage: .venv/bin/python experiments/quadratic_path.py
"""

import argparse
import statistics
import time

import numpy as np

import steepest


def timed(function, repeats=3):
    function()  # warm-up: compiles
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((1_000_000, 64), dtype=np.float32)
    y = X @ rng.standard_normal(64, dtype=np.float32) + rng.standard_normal(1_000_000, np.float32)
    X, y = steepest.data.to_device(X, y)
    start = steepest.Linear.zeros(64)

    def ordinary():
        return steepest.fit(steepest.mse, start, X, y, learning_rate=0.1, max_steps=20, tol=0)

    def quadratic():
        return steepest.fit(steepest.mse, start, X, y, learning_rate=0.1, max_steps=1000, tol=0,
                            method="quadratic")  # fmt: skip

    per_step = timed(lambda: ordinary().seconds) / 20  # fit's own clock: the steps only
    whole = timed(quadratic)  # wall clock: the Hessian pass and every step
    print(f"ordinary step: {per_step * 1e3:.2f} ms; 3 of them: {3 * per_step * 1e3:.1f} ms")
    print(f"quadratic, 1000 steps, setup included: {whole * 1e3:.1f} ms "
          f"({whole / per_step:.1f} ordinary steps)")  # fmt: skip


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()  # --help
    main()
