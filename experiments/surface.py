"""The cost surface: f(m, b) on the raw built-in data with three gradient-descent paths.

Usage: .venv/bin/python experiments/surface.py   (writes docs/figures/surface.{png,json})
"""

from record import FIGURES, run_and_record

if __name__ == "__main__":
    png = FIGURES / "surface.png"
    arguments = ["plot-surface", "--no-standardize", "--x64", "--steps", "3000", "--plot", str(png)]
    run_and_record(arguments, FIGURES / "surface.json")
