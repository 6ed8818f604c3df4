"""The learning-rate figure: 64 learning rates in one compiled call, against 2/L.

Usage: .venv/bin/python experiments/learning_rate.py   (writes docs/figures/sweep.{png,json})
"""

from record import FIGURES, run_and_record

if __name__ == "__main__":
    png = FIGURES / "sweep.png"
    record = run_and_record(["sweep", "--x64", "--plot", str(png)], FIGURES / "sweep.json")
    result = record["result"]
    print(
        f"2/L = {result['critical_learning_rate']:.6g}; divergence from "
        f"{result['divergence_threshold']:.6g} ({result['threshold_over_critical']:.4f} x 2/L)"
    )
