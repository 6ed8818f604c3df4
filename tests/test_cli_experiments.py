"""Tests of ``steepest compare``, ``sweep`` and ``plot-surface``, in-process through ``main``."""

import json
from pathlib import Path

import numpy as np
import pytest
from cli_runs import Runs

import steepest

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

RUNS = {
    "compare": ["compare", "--json", "--plot", "compare.png"],
    "compare-table": ["compare", "--optimizers", "gd,adam"],
    "compare-csv": ["compare", "--data", "two.csv", "--optimizers", "gd,lbfgs", "--json"],
    "sweep": ["sweep", "--json", "--plot", "sweep.png"],
    "sweep-csv": ["sweep", "--data", "two.csv", "--json", "--num", "32"],
    "sweep-seeds": ["sweep", "--seeds", "2", "--num", "16", "--json"],
    "sweep-all-diverge": ["sweep", "--lr-min", "1.2", "--lr-max", "1.5", "--num", "4"],
    "surface-flat": [
        "plot-surface",
        "--data",
        "steep.csv",
        "--no-standardize",
        "--steps",
        "300",
        "--plot",
        "steep.png",
        "--json",
    ],
    "bad-plot-path": ["compare", "--optimizers", "gd", "--plot", "two.csv/x.png"],
    "surface-csv": ["plot-surface", "--data", "one.csv", "--plot", "one.png"],
    "surface": ["plot-surface", "--plot", "surface.png", "--json", "--steps", "10"],
    "surface-table": ["plot-surface", "--plot", "raw.png", "--no-standardize"],
    "bad-optimizers": ["compare", "--optimizers", "gd,nope"],
    "bad-lr-range": ["sweep", "--lr-min", "2", "--lr-max", "1"],
    "bad-surface-features": ["plot-surface", "--data", "two.csv", "--plot", "x.png"],
    "bad-surface-no-plot": ["plot-surface"],
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("experiments")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 2))
    y = X @ np.array([1.5, -0.5]) + 2 + 0.1 * rng.standard_normal(40)
    rows = "\n".join(f"{a},{b},{t}" for (a, b), t in zip(X, y, strict=True))
    (folder / "two.csv").write_text(f"a,b,target\n{rows}\n")
    ones = "\n".join(f"{a},{t}" for (a, _), t in zip(X, y, strict=True))
    # y = 1000 x: the intercept's optimum is near zero, where a frame sized by it collapses.
    x = np.linspace(0, 50, 100)
    steep = "\n".join(f"{a},{1000 * a + e}" for a, e in zip(x, rng.normal(0, 1, 100), strict=True))
    (folder / "steep.csv").write_text(f"x,y\n{steep}\n")
    (folder / "one.csv").write_text(f"a,target\n{ones}\n")
    # Each run in-process when a test first reads it; a test reads a run before its figure.
    return folder, Runs(RUNS, folder)


def critical_of_the_builtin_data() -> float:
    """2/L on the built-in data's features (all of them), standardized, from numpy alone."""
    data = steepest.data.builtin(0, x=None)
    standardized = (data.X - data.X.mean(axis=0)) / data.X.std(axis=0)
    design = np.column_stack([standardized, np.ones(len(data.y))])
    return 2 / np.linalg.eigvalsh(2 / len(data.y) * design.T @ design)[-1]


def png(path: Path) -> bytes:
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 10_000, path
    return data


def test_compare_reaches_the_closed_form_and_plots(runs):
    folder, results = runs
    run = results["compare"]
    assert run.returncode == 0, run.stderr
    record = json.loads(run.stdout)
    assert [r["optimizer"] for r in record["runs"]] == [
        "gd",
        "momentum",
        "nesterov",
        "adam",
        "lbfgs",
    ]
    for row in record["runs"]:
        assert row["status"] == "converged", row
        assert row["distance_to_closed_form"] < 1e-4, row
    png(folder / "compare.png")
    table = results["compare-table"]
    assert table.returncode == 0 and "adam" in table.stdout and "|p - p*|" in table.stdout
    csv = json.loads(results["compare-csv"].stdout)
    assert {r["optimizer"]: r["status"] for r in csv["runs"]} == {
        "gd": "converged",
        "lbfgs": "converged",
    }


def test_sweep_finds_the_divergence_threshold_at_two_over_L(runs):
    folder, results = runs
    for name in ("sweep", "sweep-csv"):
        run = results[name]
        assert run.returncode == 0, run.stderr
        record = json.loads(run.stdout)
        assert record["threshold_over_critical"] == pytest.approx(1.0, abs=0.02), record
        statuses = {r["status"] for r in record["runs"]}
        assert {"converged", "diverged"} <= statuses
    record = json.loads(results["sweep"].stdout)
    assert len(record["runs"]) == 64
    assert record["critical_learning_rate"] == pytest.approx(critical_of_the_builtin_data())
    png(folder / "sweep.png")


def test_plot_surface_draws_three_paths(runs):
    folder, results = runs
    run = results["surface"]
    assert run.returncode == 0, run.stderr
    record = json.loads(run.stdout)
    assert len(record["paths"]) == 3
    small, good, too_large = record["paths"].values()
    assert len(small["m"]) == len(good["m"]) == 11
    assert 2 <= len(too_large["m"]) <= 11  # drawn until it leaves the frame
    for path in (small, good, too_large):
        assert path["m"][0] == 0.0 and path["b"][0] == 0.0  # the tutorial's start
    png(folder / "surface.png")
    assert results["surface-table"].returncode == 0
    png(folder / "raw.png")
    assert results["surface-csv"].returncode == 0, results["surface-csv"].stderr
    png(folder / "one.png")


def test_sweep_from_several_seeds(runs):
    record = json.loads(runs[1]["sweep-seeds"].stdout)
    assert record["seeds"] == 2 and len(record["runs"]) == 32
    assert {run["start"] for run in record["runs"]} == {0, 1}
    assert record["threshold_over_critical"] == pytest.approx(1.0, abs=0.02)


def test_sweep_says_when_every_run_diverged(runs):
    run = runs[1]["sweep-all-diverge"]
    assert run.returncode == 0
    assert "every run diverged" in " ".join(run.stdout.split())
    assert "narrowed" not in run.stdout


def test_plot_surface_frames_paths_near_a_zero_optimum(runs):
    folder, results = runs
    record = json.loads(results["surface-flat"].stdout)
    small, good, _ = record["paths"].values()
    assert len(small["m"]) == len(good["m"]) == 301
    png(folder / "steep.png")


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("bad-optimizers", "unknown 'nope'"),
        ("bad-lr-range", "--lr-min"),
        ("bad-surface-features", "one feature"),
        ("bad-surface-no-plot", "--plot"),
        ("bad-plot-path", "cannot write"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(runs, name, fragment):
    run = runs[1][name]
    assert run.returncode == 2, run.stdout + run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("steepest: error:") and fragment in lines[0]


def test_trajectory_follows_the_fit_iterates(x64):
    import jax.numpy as jnp

    data = steepest.data.builtin()
    X, y = steepest.data.to_device(data.X, data.y, dtype=jnp.float64)
    start = steepest.Linear.zeros(1, jnp.float64)
    path = steepest.trajectory(steepest.mse, start, X, y, learning_rate=5e-4, steps=7)
    result = steepest.fit(steepest.mse, start, X, y, learning_rate=5e-4, max_steps=7, tol=0.0)
    np.testing.assert_allclose(path.w[-1], result.params.w, rtol=1e-12)
    assert path.b.shape == (8,)
