"""Issue 25: XLA's matrix-vector products on the CPU against NumPy's BLAS, the two
products of a least-squares step alone (``r = X @ w - y``, ``g = r @ X``), 20 steps in a
``jax.lax.fori_loop`` against the same 20 steps in NumPy, float32.

    .venv/bin/python experiments/xla_dot.py
    XLA_FLAGS=--xla_cpu_use_xnnpack=false .venv/bin/python experiments/xla_dot.py

Prints, per size, the median milliseconds a step of each and the bandwidth it reads X
at (two reads a step), so XLA's flags can be tried against the same NumPy.
"""

import os
import statistics
import time

import jax
import numpy as np

SIZES = ((10**5, 16), (10**6, 16), (10**5, 64), (10**6, 64), (10**4, 256), (10**6, 256))
STEPS = 20


def median_seconds(run, repeats: int = 7) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def one_size(rows: int, features: int) -> str:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((rows, features), dtype=np.float32)
    y = rng.standard_normal(rows, dtype=np.float32)
    w = np.zeros(features, np.float32)
    rate = np.float32(0.01 / rows)

    @jax.jit
    def steps(w, X, y):
        def step(_, w):
            return w - rate * ((X @ w - y) @ X)

        return jax.lax.fori_loop(0, STEPS, step, w)

    def by_numpy():
        v = w
        for _ in range(STEPS):
            v = v - rate * ((X @ v - y) @ X)
        return v

    Xd, yd, wd = jax.device_put((X, y, w))
    steps(wd, Xd, yd).block_until_ready()  # compiles
    xla = median_seconds(lambda: steps(wd, Xd, yd).block_until_ready()) / STEPS
    numpy = median_seconds(by_numpy) / STEPS
    read = 2 * X.nbytes / 1e9
    return (
        f"N={rows:.0e} d={features:3}: XLA {1e3 * xla:8.3f} ms ({read / xla:5.1f} GB/s), "
        f"NumPy {1e3 * numpy:8.3f} ms ({read / numpy:5.1f} GB/s): XLA {numpy / xla:.2f}x"
    )


def main() -> None:
    print(f"XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}")
    for rows, features in SIZES:
        print(one_size(rows, features), flush=True)


if __name__ == "__main__":
    main()
