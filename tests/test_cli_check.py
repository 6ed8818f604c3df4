"""Tests of ``steepest check``: pass, fail, and bad input, in-process through ``main``."""

import json
from pathlib import Path

import numpy as np
import pytest
from cli_runs import Runs

EXAMPLES = Path(__file__).resolve().parent.parent / "experiments" / "gradients"
RIDGE = str(EXAMPLES / "ridge.py")


def write_ridge_data(folder: Path) -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    np.savez(folder / "ridge.npz", X=X, y=X @ np.array([1.0, -2.0, 0.5]) + 1)
    np.savez(folder / "no_y.npz", X=X)
    (folder / "broken.py").write_text("def loss(params, X, y):\n    return (\n")
    (folder / "empty.py").write_text("def helper():\n    pass\n")
    (folder / "raises.py").write_text(
        "def grad(params, X, y):\n    raise ZeroDivisionError('no gradient yet')\n"
    )
    (folder / "max_row.py").write_text(MAX_ROW)
    np.savez(folder / "scores.npz", X=X[:8])  # few rows: the loss runs row by row, eagerly


# A loss as course materials write it, Python's max over each row: vmap cannot trace it.
MAX_ROW = """
import numpy as np


def loss(params, X):
    return sum(max(row) for row in X @ params["W"]) / X.shape[0]


def grad(params, X):
    scores = np.asarray(X) @ np.asarray(params["W"])
    chosen = np.eye(scores.shape[1])[scores.argmax(axis=1)]
    return {"W": np.asarray(X).T @ chosen / X.shape[0]}
"""
MAX_ROW_ARGS = ["max_row.py:loss", "--grad", "max_row.py:grad", "--params", "W=3x2"]


RIDGE_ARGS = ["--params", "w=3", "b=scalar", "--data", "ridge.npz"]
RUNS = {
    "builtin": [],
    "builtin-json": ["--json"],
    "ridge-right": [f"{RIDGE}:loss", "--grad", f"{RIDGE}:grad", *RIDGE_ARGS],
    "ridge-buggy": [f"{RIDGE}:loss", "--grad", f"{RIDGE}:grad_buggy", *RIDGE_ARGS, "--json"],
    "max-row": [*MAX_ROW_ARGS, "--data", "scores.npz"],
}
# (args, fragments the one-line error must contain)
BAD = {
    "missing-file": (["nope.py:loss", "--grad", "nope.py:grad", "--params", "w=3"], ["nope.py"]),
    "no-colon": ([RIDGE, "--grad", f"{RIDGE}:grad", *RIDGE_ARGS], ["FILE.py:FUNCTION"]),
    "missing-function": (
        [f"{RIDGE}:lose", "--grad", f"{RIDGE}:grad", *RIDGE_ARGS],
        ["no function 'lose'", "grad, grad_buggy, loss"],
    ),
    "syntax-error": (
        ["broken.py:loss", "--grad", "broken.py:loss", *RIDGE_ARGS],
        ["broken.py", "SyntaxError"],
    ),
    "nothing-defined": (
        [f"{RIDGE}:loss", "--grad", "empty.py:grad", *RIDGE_ARGS],
        ["empty.py", "helper"],
    ),
    "bad-shape": (
        [f"{RIDGE}:loss", "--grad", f"{RIDGE}:grad", "--params", "w=abc"],
        ["w=abc", "scalar"],
    ),
    "no-grad": ([f"{RIDGE}:loss", *RIDGE_ARGS], ["--grad"]),
    "no-params": ([f"{RIDGE}:loss", "--grad", f"{RIDGE}:grad"], ["--params"]),
    "no-data": (
        [f"{RIDGE}:loss", "--grad", f"{RIDGE}:grad", "--params", "w=3", "b=scalar"],
        ["X, y", "--data"],
    ),
    "missing-array": (
        [
            f"{RIDGE}:loss",
            "--grad",
            f"{RIDGE}:grad",
            "--params",
            "w=3",
            "b=scalar",
            "--data",
            "no_y.npz",
        ],
        ["no array 'y'", "holds: X"],
    ),
    "shapes-do-not-fit": (
        [
            f"{RIDGE}:loss",
            "--grad",
            f"{RIDGE}:grad",
            "--params",
            "w=5",
            "b=scalar",
            "--data",
            "ridge.npz",
        ],
        ["evaluating the loss failed at params: TypeError: dot_general"],
    ),
    "grad-raises": (
        [f"{RIDGE}:loss", "--grad", "raises.py:grad", *RIDGE_ARGS],
        ["evaluating the hand-derived gradient failed at params: ZeroDivisionError: no gradient"],
    ),
    "points-zero": (["--points", "0"], ["--points"]),
    "seed-too-large": (["--seed", "99999999999999999999"], ["--seed", "4294967295"]),
    "too-many-params": (
        [f"{RIDGE}:loss", "--grad", f"{RIDGE}:grad", "--params", "w=100000x100000"],
        ["--params", "10000000000 elements in all, but at most 10000:"],
    ),
    "grad-without-loss": (["--grad", f"{RIDGE}:grad"], ["LOSS"]),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Runs:
    """Every run, in one folder with the data files, run in-process when first read."""
    folder = tmp_path_factory.mktemp("check")
    write_ridge_data(folder)
    everything = {**RUNS, **{f"bad-{name}": args for name, (args, _) in BAD.items()}}
    return Runs({name: ["check", *args] for name, args in everything.items()}, folder)


def test_builtin_check_passes(runs):
    run = runs["builtin"]
    assert run.returncode == 0, run.stderr
    assert "PASS" in run.stdout and "in float64" in run.stdout
    record = json.loads(runs["builtin-json"].stdout)
    assert record["ok"] is True and record["diagnosis"] is None
    assert {check["leaf"] for check in record["checks"]} == {"w", "b"}


def test_a_right_gradient_from_a_file_passes(runs):
    run = runs["ridge-right"]
    assert run.returncode == 0, run.stdout + run.stderr
    assert "PASS" in run.stdout


def test_a_buggy_gradient_fails_with_exit_1_and_its_diagnosis(runs):
    run = runs["ridge-buggy"]
    assert run.returncode == 1, run.stdout + run.stderr
    record = json.loads(run.stdout)
    assert record["ok"] is False
    assert "w is wrong in every element" in record["diagnosis"]
    # grad_buggy drops the 2 of the penalty's derivative 2 lam w, with lam = 0.3
    assert "it differs from autodiff by -0.3 · w" in record["diagnosis"]
    assert record["diagnosis"].endswith("(failed at 3 of 3 points)")
    assert record["failed_points"] == 3 and record["fd_eager"] is False


def test_a_loss_with_python_max_passes_with_finite_differences_run_eagerly(runs):
    run = runs["max-row"]
    assert run.returncode == 0, run.describe()
    assert "PASS" in run.stdout
    assert "finite differences were evaluated eagerly, one direction at a time" in run.stdout


@pytest.mark.parametrize("name", BAD)
def test_bad_input_is_one_line_and_exit_2(runs, name):
    run = runs[f"bad-{name}"]
    assert run.returncode == 2, f"{run.returncode}\n{run.stdout}\n{run.stderr}"
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("steepest: error: "), run.stderr
    for fragment in BAD[name][1]:
        assert fragment in lines[0], lines[0]
