"""Issue 25: fit with its automatic row blocks against one pass (``block_rows=None``) and
against a bare jitted loop, where the scaling bench found fit slower than the bare loop.

    .venv/bin/python experiments/row_blocks.py [--rounds 5] [--steps 100] [--sizes 1e7x1,1e6x64]

For each size (N rows, d features, float32), interleaved over rounds: fit's
``result.seconds`` per step with ``block_rows="auto"``, with blocks of about 4 MB
(``blocks.automatic_block_rows``, which the loop keeps only where they pay for sure:
``engine.step_block_rows``) and with ``None`` (each with the cost, history and stop
rules), and the bench's bare loop (``jax.grad`` in a ``fori_loop``). Prints the median
microseconds a step, each round in brackets, and the rows per block. Run it under
``taskset -c 0`` for one core.
"""

import argparse
import statistics

import jax
import numpy as np

from steepest import Linear, fit, mse
from steepest._src import blocks
from steepest._src.bench.measure import prepare_gradient_only
from steepest._src.engine import step_block_rows

SIZES = "1e5x16,1e6x16,1e5x64,1e6x64,1e5x256,1e6x256"


def sizes_of(text: str) -> list[tuple[int, int]]:
    """``"1e7x1,1e6x64"`` as ``[(10_000_000, 1), (1_000_000, 64)]``."""
    return [(int(float(n)), int(d)) for n, d in (size.split("x") for size in text.split(","))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--sizes", type=sizes_of, default=sizes_of(SIZES), help="NxD,...")
    args = parser.parse_args()
    device = jax.devices()[0]
    for rows, features in args.sizes:
        rng = np.random.default_rng(0)
        X = rng.standard_normal((rows, features), dtype=np.float32)
        y = rng.standard_normal(rows, dtype=np.float32)
        Xd, yd = jax.device_put((X, y), device)

        def by_fit(block_rows, Xd=Xd, yd=yd, features=features):
            result = fit(mse, Linear.zeros(features), Xd, yd, learning_rate=0.1,
                         max_steps=args.steps, tol=0.0, stall_patience=None,
                         certificate=False, block_rows=block_rows)  # fmt: skip
            return result.seconds

        bare = prepare_gradient_only(X, y, 0.1, device, blocked=False)
        four_mb = blocks.automatic_block_rows(mse, (Xd, yd))
        in_the_loop = step_block_rows("auto", mse, Linear.zeros(features), (Xd, yd))
        runs = {
            "fit, auto": lambda: by_fit("auto"),
            "fit, 4 MB blocks": lambda four_mb=four_mb: by_fit(four_mb),
            "fit, one pass": lambda: by_fit(None),
            "bare loop": lambda bare=bare: bare(args.steps)[1],
        }
        times: dict[str, list[float]] = {name: [] for name in runs}
        for run in runs.values():
            run()  # compiles
        for _ in range(args.rounds):
            for name, run in runs.items():
                times[name].append(1e6 * run() / args.steps)
        print(
            f"N={rows:.0e} d={features} ({X.nbytes / 2**20:.0f} MB; 4 MB blocks of {four_mb} "
            f"rows; the loop's, auto: {in_the_loop})"
        )
        for name, values in times.items():
            shown = " ".join(f"{v:.0f}" for v in values)
            print(f"  {name:17} {statistics.median(values):9.0f} us  [{shown}]")
        del Xd, yd, X, y


if __name__ == "__main__":
    main()
