"""fit with and without row blocks: ms per step and XLA's scratch memory, on the bench's data.

Usage:
    .venv/bin/python experiments/blocks.py [ROWS FEATURES [BLOCK_ROWS ...]]

Defaults to N=1e6, d=64. Each setting runs 30 steps of gd, 4 times; the median
of the last 3 is printed (the first compiles).
"""

import argparse
import statistics

import steepest
from steepest import Linear, data
from steepest._src import blocks  # the rule behind block_rows="auto": internal, shown here
from steepest._src.bench import measure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rows", nargs="?", type=float, default=1e6, help="N (default 1e6)")
    parser.add_argument("features", nargs="?", type=int, default=64, help="d (default 64)")
    parser.add_argument("block_rows", nargs="*", type=int, help="block sizes to try")
    args = parser.parse_args()
    rows, features = int(args.rows), args.features
    problem = measure.Problem(rows=rows, features=features, steps={})
    X, y = data.to_device(*measure.problem_data(problem))
    for setting in [None, "auto", *args.block_rows]:
        chosen = blocks.resolve_block_rows(setting, steepest.mse, (X, y))
        times = []
        for _ in range(4):
            result = steepest.fit(
                steepest.mse, Linear.zeros(features), X, y, learning_rate=0.1, max_steps=30,
                tol=0.0, block_rows=setting,
            )  # fmt: skip
            times.append(result.seconds / 30)
        plan = steepest.memory(
            steepest.mse, Linear.zeros(features), X, y, learning_rate=0.1, block_rows=setting
        )
        print(
            f"block_rows={setting!s:>7} ({chosen} rows): {statistics.median(times[1:]) * 1e3:6.2f} "
            f"ms a step, XLA scratch {plan['temporary'] / 2**20:6.2f} MB "
            f"(X and y {plan['data'] / 2**20:.0f} MB)"
        )


if __name__ == "__main__":
    main()
