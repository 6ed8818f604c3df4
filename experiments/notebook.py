"""A researcher's notebook, as a script: what `steepest fit` prints, by one library call.

Three routes to the same fit, each as a notebook cell would write it: the built-in
dataset, a CSV file, and a pandas DataFrame. Each cell prints the table `steepest fit`
prints for the same data (the same numbers and the same words: `print(fit)`), and
the last cells show what a notebook does with the result: its history as a frame, its
record, its figure. `tests/test_notebook.py` runs this script and holds every table to
the command's.

Usage:
    .venv/bin/python experiments/notebook.py [FOLDER]   # files go to FOLDER (a temporary one)
"""

import sys
import tempfile
from pathlib import Path

import pandas as pd

import steepest


def cells(folder: Path) -> dict[str, steepest.LinearFit]:
    """Run the notebook's cells; each fit by the name of its route."""
    fits = {}

    # In [1]: the built-in dataset (sales ~ radio), as `steepest fit` with no options.
    fits["builtin"] = steepest.linear()
    print(fits["builtin"], end="\n\n")

    # In [2]: a CSV file of your own, columns picked by name.
    data = steepest.data.builtin(x=None)
    frame = pd.DataFrame(dict(zip(data.x_names, data.X.T, strict=True), sales=data.y))
    frame.to_csv(folder / "ads.csv", index=False)
    fits["csv"] = steepest.linear(folder / "ads.csv", y="sales", x=["TV", "radio"])
    print(fits["csv"], end="\n\n")

    # In [3]: the same data as a DataFrame.
    fits["frame"] = steepest.linear(frame, y="sales", x=["TV", "radio"])
    print(fits["frame"], end="\n\n")

    # In [4]: the result is data: the history as a frame, the record, the figure.
    fit = fits["frame"]
    print(fit.history.to_frame().tail(3), end="\n\n")
    steepest.records.write(folder / "fit.json", fit, notebook="experiments/notebook.py")
    figure = steepest.plots.loss_curve(fit)
    steepest.plots.save(figure, folder / "loss.png")
    print(f"status {fit.status}; wrote {folder / 'fit.json'} and {folder / 'loss.png'}")
    return fits


def main(argv: list[str]) -> int:
    folder = Path(argv[0]) if argv else Path(tempfile.mkdtemp(prefix="steepest-notebook-"))
    folder.mkdir(parents=True, exist_ok=True)
    cells(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
