"""Issue 13, item 2: how low the sweep and quadratic-path ratios can go on this machine.

    .venv/bin/python experiments/matmul_bound.py [--rounds 5]

At N = 1e6, d = 64, float32, one round times each of:

- ``fit``'s plain step, a step of ``sweep`` over 64 learning rates and
  ``fit(method="quadratic")`` over 1000 steps, each timed by the bench's own code
  (``bench.measure``: 20 steps of fit, 10 of the sweep, the quadratic path whole);
- the Hessian alone, by autodiff (``theory.hessian``: a Hessian-vector product per
  column, in row blocks);
- the matmuls the bars rest on, jitted: ``X @ W`` and ``X.T @ V`` with W and V of 64
  columns (a sweep step needs both), and the Gram matrix ``X.T @ X``.

Printed: the medians over the rounds, the matmul rate each reached (GFLOP/s), and each
bar's ratio against the lowest ratio the machine's matmul rate allows: a sweep step reads
X twice through matmuls of 64 columns, the Hessian by autodiff is two matmuls of d + 1
columns (``X V`` forward, ``X.T (X V)`` backward), against one of the Gram matrix.
Then issue 25's bars, against those floors: a sweep step at most 1.2x its two matmuls,
and the quadratic path at most 1.3x the Gram matmul (its setup, judged with its 1000
O(d^2) steps in: a few ms).
"""

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from steepest import Linear, mse, theory
from steepest._src.bench import measure  # the bench's timings, so the bars match it

ROWS, FEATURES, RATES = 10**6, 64, 64


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    X = jnp.asarray(rng.standard_normal((ROWS, FEATURES), dtype=np.float32))
    y = jnp.asarray(rng.standard_normal(ROWS, dtype=np.float32))
    W = jnp.asarray(rng.standard_normal((FEATURES, RATES), dtype=np.float32))
    V = jnp.asarray(rng.standard_normal((ROWS, RATES), dtype=np.float32))
    start = Linear.zeros(FEATURES)
    device = jax.devices()[0]
    plain = measure.prepare_fit(X, y, 0.01, device)
    swept = measure.prepare_sweep(X, y, 0.01, device, RATES)
    quadratic = measure.prepare_fit(X, y, 0.01, device, method="quadratic")
    forward, backward = jax.jit(lambda X, W: X @ W), jax.jit(lambda X, V: X.T @ V)
    gram = jax.jit(lambda X: X.T @ X)
    methods = {
        "fit step": lambda: plain(20)[1] / 20,
        "sweep step (64 rates)": lambda: swept(10)[1] / 10,
        "quadratic path (1000 steps)": lambda: quadratic(1000)[1],
        "Hessian by autodiff": lambda: wall(lambda: theory.hessian(mse, start, X, y)),
        "X @ W (64 columns)": lambda: wall(lambda: forward(X, W)),
        "X.T @ V (64 columns)": lambda: wall(lambda: backward(X, V)),
        "Gram X.T @ X": lambda: wall(lambda: gram(X)),
    }
    for method in methods.values():
        method()  # compiled, caches warm
    times = {name: [] for name in methods}
    for _ in range(args.rounds):
        for name, method in methods.items():
            times[name].append(method())
    median = {name: statistics.median(seconds) for name, seconds in times.items()}
    flops = {
        "X @ W (64 columns)": 2 * ROWS * FEATURES * RATES,
        "X.T @ V (64 columns)": 2 * ROWS * FEATURES * RATES,
        "Gram X.T @ X": 2 * ROWS * FEATURES * FEATURES,
        "Hessian by autodiff": 2 * 2 * ROWS * (FEATURES + 1) * (FEATURES + 1),
    }
    print(f"N={ROWS:.0e}, d={FEATURES}, float32, medians of {args.rounds} rounds:")
    for name, seconds in median.items():
        rate = f" ({flops[name] / seconds / 1e9:.0f} GFLOP/s)" if name in flops else ""
        print(f"  {name}: {seconds * 1e3:.1f} ms{rate}")
    step = median["fit step"]
    matmuls = median["X @ W (64 columns)"] + median["X.T @ V (64 columns)"]
    print(
        f"sweep: {median['sweep step (64 rates)'] / step:.1f}x one run (bar 3x); "
        f"its two matmuls alone take {matmuls / step:.1f}x"
    )
    print(
        f"quadratic path: {median['quadratic path (1000 steps)'] / step:.1f} steps (bar 3); "
        f"its Hessian {median['Hessian by autodiff'] / step:.1f}, "
        f"the Gram matmul alone {median['Gram X.T @ X'] / step:.1f}"
    )
    over_matmuls = median["sweep step (64 rates)"] / matmuls
    over_gram = median["quadratic path (1000 steps)"] / median["Gram X.T @ X"]
    print(f"bar, a sweep step <= 1.2x its two matmuls: {judged(over_matmuls, 1.2)}")
    print(f"bar, the quadratic path <= 1.3x the Gram matmul: {judged(over_gram, 1.3)}")


def judged(ratio: float, bar: float) -> str:
    return f"{ratio:.2f}x {'met' if ratio <= bar else 'missed'}"


def wall(function) -> float:
    started = time.perf_counter()
    jax.block_until_ready(function())
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
