"""Issue 13, item 2: what evaluating the cost at every step adds to a step of ``fit``.

    .venv/bin/python experiments/cost_overhead.py [--rounds 7]

Against ``fit`` (float32, ``optimizer="gd"``, ``tol=0``, no stall rule, no
certificate: its steps alone, ``FitResult.seconds``), a loop that takes only the
gradient: ``w <- w - lr * grad`` in a jitted ``fori_loop``, the gradient taken in
the same row blocks as ``fit`` takes it (its cost left unused, so XLA drops it), the
same number of steps on the same data. In rounds, each timing both once; printed, per
problem, the median over the rounds of fit's step over the gradient-only step, with
the spread (the bar: at most 1.05).
"""

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from steepest import Linear, fit, mse
from steepest._src import blocks  # the same row blocks as fit's

PROBLEMS = [(10**5, 1), (10**6, 1), (10**7, 1), (10**6, 64)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"fit's step / a gradient-only step, median of {args.rounds} rounds (bar 1.05):")
    for rows, features in PROBLEMS:
        X = jnp.asarray(rng.standard_normal((rows, features), dtype=np.float32))
        y = jnp.asarray(rng.standard_normal(rows, dtype=np.float32))
        steps = max(10, 2 * 10**8 // (rows * features))
        fit_step(X, y, steps)  # compiled, caches warm
        ratios, fits, gradients = [], [], []
        for _ in range(args.rounds):
            fit_seconds, gradient_seconds = fit_step(X, y, steps), gradient_step(X, y, steps)
            fits.append(fit_seconds)
            gradients.append(gradient_seconds)
            ratios.append(fit_seconds / gradient_seconds)
        median = statistics.median(ratios)
        print(
            f"  N={rows:.0e}, d={features}: {median:.2f} ({min(ratios):.2f} to {max(ratios):.2f}); "
            f"fit {statistics.median(fits) * 1e3:.3g} ms, gradient only "
            f"{statistics.median(gradients) * 1e3:.3g} ms a step; "
            f"{'met' if median <= 1.05 else 'missed'}"
        )


def fit_step(X, y, steps: int) -> float:
    result = fit(
        mse, Linear.zeros(X.shape[1]), X, y, learning_rate=0.01, max_steps=steps, tol=0.0,
        stall_patience=None, certificate=False,
    )  # fmt: skip
    return result.seconds / steps


def gradient_step(X, y, steps: int) -> float:
    value_and_grad = blocks.value_and_grad(mse, blocks.automatic_block_rows(mse, (X, y)), None)

    @jax.jit
    def loop(params, X, y):
        def step(_, params):
            _, grad = value_and_grad(params, X, y)  # the cost unused: dropped by XLA
            return jax.tree.map(lambda p, g: p - 0.01 * g, params, grad)

        return jax.lax.fori_loop(0, steps, step, params)

    jax.block_until_ready(loop(Linear.zeros(X.shape[1]), X, y))  # compiled
    started = time.perf_counter()
    jax.block_until_ready(loop(Linear.zeros(X.shape[1]), X, y))
    return (time.perf_counter() - started) / steps


if __name__ == "__main__":
    main()
