"""Issue 20, section 3: what a new user tripped on, each held by a test.

A pandas CSV's index column, a blank surface plot, a loss that returns a vector, a
FILE.py that imports its neighbour, params that can only be random, feature names
that differ by route, outputs written without a word.
"""

import json
import textwrap

import numpy as np
import pandas as pd
import pytest
from cli_runs import run_command

import steepest


def one_error_line(run) -> str:
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 2 and len(lines) == 1, run.describe()
    assert lines[0].startswith("steepest: error: "), run.describe()
    return lines[0]


# --- a CSV written by pandas' to_csv -----------------------------------------------------------


def test_a_pandas_index_column_is_left_out_and_said_so(tmp_path):
    rows = np.arange(8.0)
    frame = pd.DataFrame({"width": rows, "loss": 3 * rows + 1}, index=rows[::-1] * 10)
    frame.to_csv(tmp_path / "runs.csv")  # its first column: the index, with no name
    run = run_command(["fit", "--data", "runs.csv", "--json"], tmp_path)
    assert run.returncode == 0, run.describe()
    assert run.record()["data"]["x"] == ["width"]
    assert run.stderr == (
        "steepest: warning: runs.csv: its first column has no name: taken for a row index "
        "(as pandas' to_csv writes one) and left out\n"
    )
    with pytest.warns(steepest.data.IndexColumnWarning):
        fit = steepest.linear(tmp_path / "runs.csv")
    assert fit.x_names == ("width",) and fit.params.w[0] == pytest.approx(3.0, rel=1e-5)


def test_a_column_with_no_name_elsewhere_is_refused(tmp_path):
    (tmp_path / "gap.csv").write_text("a,,y\n1,2,3\n4,5,7\n6,1,2\n")
    run = run_command(["fit", "--data", "gap.csv"], tmp_path)
    assert one_error_line(run) == "steepest: error: gap.csv: column 2 of the header has no name"


# --- plot-surface with its defaults ---------------------------------------------------------------


def test_the_default_surface_frames_the_costs_level_set_and_the_paths():
    surface = steepest.cost_surface(steps=10)
    m_span, b_span = np.ptp(surface.m_grid), np.ptp(surface.b_grid)
    # Standardized, the Hessian is 2 I: the level set of the start is a circle, so the
    # frame is about square (it was 0.002 tall: contours as vertical stripes).
    assert 0.5 < b_span / m_span < 2
    for ms, bs in list(surface.paths.values())[:2]:  # the stable descents lie inside
        assert surface.m_grid[0] <= ms.min() and ms.max() <= surface.m_grid[-1]
        assert surface.b_grid[0] <= bs.min() and bs.max() <= surface.b_grid[-1]
    # The contours close: the cost rises to at least the start's on every side.
    start_cost = surface.costs[np.argmin(np.abs(surface.b_grid)), np.argmin(np.abs(surface.m_grid))]
    edges = [surface.costs[0], surface.costs[-1], surface.costs[:, 0], surface.costs[:, -1]]
    assert all(edge.min() >= start_cost * 0.99 for edge in edges)
    figure = steepest.plots.cost_surface(surface)
    assert figure.axes[0].get_ylim()[1] - figure.axes[0].get_ylim()[0] == pytest.approx(b_span)


# --- steepest check, a user's own files -----------------------------------------------------------

MODEL = """
import jax.numpy as jnp
from penalties import ridge  # a module beside this file


def loss(p, x, y, lam=0.0):
    return jnp.mean((x * p["w"] - y) ** 2) + ridge(p, lam)


def grad(p, x, y, lam=0.0):
    return {"w": jnp.mean(2 * x * (x * p["w"] - y)) + 2 * lam * p["w"]}


def vector(p, x, y):
    return (x * p["w"] - y) ** 2


def pair(p, x, y):
    return jnp.sum(p["w"]), 1.0


def nothing(p, x, y):
    return None


def named(p, x, y):
    return {"cost": jnp.sum(p["w"])}


def kept(p, x, y):
    return jnp.sum(p["w"] * x, keepdims=True)


def init():
    return {"w": jnp.array(0.5)}
"""


@pytest.fixture
def user_files(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.py").write_text(textwrap.dedent(MODEL))
    (folder / "penalties.py").write_text("def ridge(p, lam):\n    return lam * p['w'] ** 2\n")
    x = np.linspace(-1, 1, 7)
    np.savez(folder / "data.npz", x=x, y=2 * x + 0.1)
    (folder / "start.json").write_text(json.dumps({"w": 1.5}))
    np.savez(folder / "start.npz", w=np.array(-0.5))
    return tmp_path  # the files are in model/, run from its parent


def check(user_files, *flags):
    base = ["check", "model/model.py:loss", "--grad", "model/model.py:grad"]
    return run_command([*base, "--data", "model/data.npz", *flags], user_files)


@pytest.mark.parametrize(
    ("params", "start"),
    [("model/start.json", 1.5), ("model/start.npz", -0.5), ("model/model.py:init", 0.5)],
)
def test_check_takes_values_and_keywords_from_files_beside_a_sibling_import(
    user_files, params, start
):
    run = check(user_files, "--params", params, "--keywords", "lam=0.25", "--json")
    assert run.returncode == 0, run.describe()
    record = run.record()
    assert record["ok"] and record["num_points"] == 3


def test_check_with_keywords_catches_a_gradient_without_the_penalty(user_files):
    wrong = user_files / "model" / "wrong.py"
    wrong.write_text(
        "import jax.numpy as jnp\n"
        "def grad(p, x, y, lam=0.0):\n"
        "    return {'w': jnp.mean(2 * x * (x * p['w'] - y))}\n"
    )
    run = run_command(
        ["check", "model/model.py:loss", "--grad", "model/wrong.py:grad", "--data",
         "model/data.npz", "--params", "model/start.json", "--keywords", "lam=0.25"],
        user_files,
    )  # fmt: skip
    assert run.returncode == 1, run.describe()
    assert "FAIL" in run.stdout


@pytest.mark.parametrize(
    ("loss", "returned"),
    [
        ("vector", "an array of shape (7,)"),
        ("pair", "a tuple of 2 items"),
        ("nothing", "None"),
        ("named", "a dict (keys 'cost')"),
        ("kept", "an array of shape (1,)"),
    ],
)
def test_a_loss_that_does_not_return_one_number_is_one_line_and_exit_2(user_files, loss, returned):
    run = run_command(
        ["check", f"model/model.py:{loss}", "--grad", "model/model.py:grad", "--data",
         "model/data.npz", "--params", "w=scalar"],
        user_files,
    )  # fmt: skip
    assert one_error_line(run) == (
        "steepest: error: evaluating the loss failed at params: TypeError: "
        f"{loss} returned {returned}; a loss returns one number"
    )


def test_bad_params_files_are_named(user_files):
    (user_files / "model" / "bad.json").write_text(json.dumps({"w": "wide"}))
    run = check(user_files, "--params", "model/bad.json")
    assert "model/bad.json: 'w' is not a number or a list of numbers" in one_error_line(run)
    (user_files / "model" / "nan.json").write_text('{"w": NaN}')
    run = check(user_files, "--params", "model/nan.json")
    assert "model/nan.json: ['w'] holds NaN or infinity" in one_error_line(run)
    run = check(user_files, "--params", "w=scalar", "--keywords", "lam")
    assert "--keywords 'lam': expected NAME=VALUE" in one_error_line(run)


# --- one naming of a table's columns, by every route ----------------------------------------------


def test_unnamed_columns_are_named_alike_by_every_route(tmp_path):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((40, 2))
    y = X @ [1.0, -2.0] + 0.5
    np.save(tmp_path / "t.npy", np.column_stack([X, y]))
    np.savez(tmp_path / "t.npz", X=X, y=y)
    routes = {
        "npy": steepest.linear(tmp_path / "t.npy"),
        "npz": steepest.linear(tmp_path / "t.npz"),
        "stream": steepest.linear(tmp_path / "t.npy", stream=True),
        "arrays": steepest.linear(X, y),
    }
    for route, fit in routes.items():
        assert fit.x_names == ("x0", "x1"), route
    assert [row.split(" ")[0] for row in fit.to_frame()["parameter"]] == ["w[0]", "w[1]", "b"]
    assert routes["stream"].to_frame()["parameter"].tolist() == [
        "w[0] (x0)", "w[1] (x1)", "b (intercept)"
    ]  # fmt: skip


# --- outputs are announced alike ---------------------------------------------------------------


def test_out_and_plot_both_say_what_they_wrote_on_stderr(tmp_path):
    run = run_command(["fit", "--out", "fit.json", "--plot", "loss.png"], tmp_path)
    assert run.returncode == 0, run.describe()
    assert run.stderr == "steepest: wrote loss.png and fit.json\n"
    assert "wrote" not in run.stdout
    assert (tmp_path / "fit.json").is_file() and (tmp_path / "loss.png").is_file()
