"""fit with and without row blocks: ms per step and XLA's scratch memory, on the bench's data.

Usage:
    .venv/bin/python experiments/blocks.py [ROWS FEATURES [BLOCK_ROWS ...]]

Defaults to N=1e6, d=64. Each setting runs 30 steps of gd, 4 times; the median
of the last 3 is printed (the first compiles).
"""

import statistics
import sys

import steepest
from steepest import Linear, data
from steepest._src import blocks  # the rule behind block_rows="auto": internal, shown here
from steepest._src.bench import measure


def main(argv: list[str]) -> None:
    rows, features = (int(float(argv[0])), int(argv[1])) if argv else (1_000_000, 64)
    problem = measure.Problem(rows=rows, features=features, steps={})
    X, y = data.to_device(*measure.problem_data(problem))
    for setting in [None, "auto", *(int(a) for a in argv[2:])]:
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
    main(sys.argv[1:])
