"""Issue 25, item 1: what a step costs in a short run against a long one, and where the
difference goes.

    .venv/bin/python experiments/short_runs.py [--rows 10000] [--features 64] [--rounds 7]

For runs of 100, 400, 4,000 and 10,000 steps of gradient descent on the mean squared
error (N rows, d features, float32), interleaved over rounds, it times:

- ``fit``: ``result.seconds`` over the steps (compilation excluded), as the bench does;
- ``bare``: a ``jax.jit`` ``fori_loop`` of the same update (``w -= lr * grad``), no
  history, no stop rules: the floor of the loop, called right after a warm-up call;
- ``bare idle``: the same after 50 ms of sleep, as a run starts after its setup: what
  the machine's own warm-up (its threads and clocks waking) costs any loop.

Then the chunks of one 100-step and one 10,000-step ``fit``: the step each call of the
compiled loop ended at and its milliseconds. These fits repeat a loop run before, so
the driver sizes their first chunk from the step time it measured then.

Prints the median over the rounds of the microseconds a step, each round in brackets.
"""

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from steepest import Linear, fit, mse

LENGTHS = (100, 400, 4_000, 10_000)


def bare_loop(X, y, learning_rate):
    grad = jax.grad(mse)

    @jax.jit
    def run(params, steps):
        def body(_, p):
            g = grad(p, X, y)
            return jax.tree.map(lambda a, b: a - learning_rate * b, p, g)

        return jax.lax.fori_loop(0, steps, body, params)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    X = jnp.asarray(rng.standard_normal((args.rows, args.features)), jnp.float32)
    y = jnp.asarray(rng.standard_normal(args.rows), jnp.float32)
    learning_rate = 0.1
    start = Linear.zeros(args.features)

    def by_fit(steps, on_chunk=None):
        result = fit(mse, start, X, y, learning_rate=learning_rate, max_steps=steps, tol=0.0,
                     stall_patience=None, certificate=False, on_chunk=on_chunk)  # fmt: skip
        assert result.num_steps == steps, result.message
        return result.seconds

    bare = bare_loop(X, y, learning_rate)

    def by_bare(steps):
        jax.block_until_ready(bare(start, steps))  # compiled once: steps is traced
        began = time.perf_counter()
        jax.block_until_ready(bare(start, steps))
        return time.perf_counter() - began

    def by_bare_idle(steps):
        jax.block_until_ready(bare(start, steps))
        time.sleep(0.05)
        began = time.perf_counter()
        jax.block_until_ready(bare(start, steps))
        return time.perf_counter() - began

    timings: dict[tuple[str, int], list[float]] = {}
    runs = (("fit", by_fit), ("bare", by_bare), ("bare idle", by_bare_idle))
    for _ in range(args.rounds):
        for steps in LENGTHS:
            for name, timed in runs:
                timings.setdefault((name, steps), []).append(1e6 * timed(steps) / steps)
    print(f"N={args.rows} d={args.features}: microseconds a step (median of {args.rounds})")
    for (name, steps), values in sorted(timings.items()):
        shown = " ".join(f"{v:.1f}" for v in values)
        print(f"{name:9} {steps:>6} steps  {statistics.median(values):8.1f}  [{shown}]")
    for steps in (100, 10_000):
        print(f"chunks of a {steps}-step fit (end step: ms):", chunks_of(steps, by_fit))


def chunks_of(steps: int, run_fit) -> str:
    """The chunks of one ``fit`` (a repeat: the loop's step time known): each one's end
    step and milliseconds, as the driver reports them to ``on_chunk``."""
    reported: list = []
    run_fit(steps, on_chunk=reported.append)
    ends = [0.0] + [progress.seconds for progress in reported]
    return "  ".join(
        f"{progress.step}: {1e3 * (ends[i + 1] - ends[i]):.2f}"
        for i, progress in enumerate(reported)
    )


if __name__ == "__main__":
    main()
