"""experiments/notebook.py reproduces `steepest fit`'s table through the library call: for
the built-in dataset, a CSV file and a DataFrame, the same numbers and the same words."""

import contextlib
import importlib.util
import io
import json
import re
from pathlib import Path

import pytest
from cli_runs import run_command

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("notebook", ROOT / "experiments" / "notebook.py")
notebook = importlib.util.module_from_spec(spec)
spec.loader.exec_module(notebook)

COMMANDS = {
    "builtin": ["fit"],
    "csv": ["fit", "--data", "ads.csv", "--y", "sales", "--x", "TV", "radio"],
    "frame": ["fit", "--data", "ads.csv", "--y", "sales", "--x", "TV", "radio"],
}


def words(table: str) -> list[str]:
    """A printed table's words and numbers, in order, without its frame and without the
    wall-time line (the clock) or the source (a path, or "DataFrame")."""
    kept = table.split("wall time")[0]
    kept = re.sub(r"steepest fit: [^,]*,", "steepest fit: SOURCE,", kept)
    return re.sub(r"[│┃┏┓┗┛┡┩└┘┌┐━─╇╋┳┻┼]", " ", kept).split()


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    folder = tmp_path_factory.mktemp("notebook")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        fits = notebook.cells(folder)
    return folder, fits, printed.getvalue()


@pytest.mark.parametrize("route", list(COMMANDS))
def test_each_cell_prints_what_the_command_prints(ran, route):
    folder, fits, printed = ran
    run = run_command(COMMANDS[route], folder)
    assert run.returncode == 0, run.describe()
    assert words(repr(fits[route])) == words(run.stdout)
    assert repr(fits[route]) in printed
    record = run_command([*COMMANDS[route], "--json"], folder).record()
    mine = fits[route].to_dict()
    assert mine["params"] == record["params"] and mine["message"] == record["message"]
    assert mine["certificate"] == record["certificate"]


def test_the_last_cell_writes_the_record_and_the_figure(ran):
    folder, fits, printed = ran
    record = json.loads((folder / "fit.json").read_text())
    assert record["notebook"] == "experiments/notebook.py" and "versions" in record
    assert record["params"] == fits["frame"].to_dict()["params"]
    assert (folder / "loss.png").read_bytes().startswith(b"\x89PNG")
    assert "status converged" in printed
