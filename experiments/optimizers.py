"""The optimizer comparison: every optimizer of the default set, to one tolerance, raw features.

Usage: .venv/bin/python experiments/optimizers.py   (writes docs/figures/compare.{png,json})
"""

from record import FIGURES, run_and_record

if __name__ == "__main__":
    png = FIGURES / "compare.png"
    arguments = ["compare", "--no-standardize", "--x64", "--steps", "100000", "--tol", "1e-6"]
    record = run_and_record([*arguments, "--plot", str(png)], FIGURES / "compare.json")
    for run in record["result"]["runs"]:
        print(f"{run['optimizer']:>9} {run['status']:>10} {run['steps']:>7} steps")
