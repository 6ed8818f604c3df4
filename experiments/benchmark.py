"""The benchmark: ``steepest bench``, the same code (``steepest._src.bench``).

Usage:
    .venv/bin/python experiments/benchmark.py [--size small] [--device gpu] [--out FILE]

Prints the table of time per step for steepest, its peers (NumPy, the tutorial,
and PyTorch and optimistix when installed) and the one-read floor, judges the
speed bars, and writes a JSON record (default ``results/benchmark.json``).
"""

import sys

from steepest import cli

if __name__ == "__main__":
    sys.exit(cli.main(["bench", *sys.argv[1:]]))
