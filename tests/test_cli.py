"""Tests of ``steepest fit``: in-process through ``steepest.cli.main``, and end to end.

Every run that does not need a live process is listed once in ``RUNS`` and run
in-process (``cli_runs``) the first time a test asks for it, each in a folder of
its own; the tests read the results by name. Data files are written under
pytest's temporary folder, from fixed seeds. The tests marked ``e2e`` run the
installed console script as a real process: Ctrl-C, and one smoke run.

References are independent of the code under test: ``np.linalg.lstsq`` with an
intercept column, computed here.
"""

import dataclasses
import math
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from cli_runs import Run, Runs
from exact import exact_least_squares

import steepest

TIMEOUT_SECONDS = 180
STABLE_KEYS = (
    "params",
    "loss",
    "steps",
    "status",
    "message",
    "seconds",
    "compile_seconds",
    "closed_form",
    "learning_rate",
)
FLOAT = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def _command() -> list[str]:
    """The installed console script next to this interpreter, else ``python -m steepest.cli``."""
    script = Path(sys.executable).with_name("steepest")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "steepest.cli"]


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("JAX_ENABLE_X64", None)  # float32 unless the run says --x64
    env["XLA_FLAGS"] = env["STEEPEST_TEST_USER_XLA_FLAGS"]  # XLA as users have it (conftest.py)
    env["COLUMNS"] = "200"  # rich wraps nothing in the table
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def run_process(args: list[str], cwd: Path) -> Run:
    """``steepest fit ARGS`` as a real process of the installed console script."""
    try:
        completed = subprocess.run(
            [*_command(), "fit", *args],
            cwd=cwd,
            env=_environment(),
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:  # fails the one test that reads this run, not the module
        return Run(-1, "", f"steepest fit {' '.join(args)} ran past {TIMEOUT_SECONDS} s")
    return Run(completed.returncode, completed.stdout, completed.stderr)


# ---------------------------------------------------------------- data and references


def least_squares(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``[w..., b]`` from np.linalg.lstsq on ``[X 1]``."""
    design = np.column_stack([X, np.ones(len(y))])
    return np.linalg.lstsq(design, y, rcond=None)[0]


def least_squares_cost(X: np.ndarray, y: np.ndarray) -> float:
    solution = least_squares(X, y)
    residual = y - (X @ solution[:-1] + solution[-1])
    return float(np.mean(residual**2))


def flat(params: dict) -> np.ndarray:
    """``{"w": [...], "b": ...}`` as ``[w..., b]``."""
    return np.array([*params["w"], params["b"]], dtype=float)


BUILTIN = steepest.data.builtin(0)


def _two_features(seed: int = 20240601, rows: int = 40):
    """A well-conditioned problem: columns a, target, b (the target in the middle)."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(rows)
    b = 3.0 + 2.0 * rng.standard_normal(rows)
    target = 1.5 * a - 0.75 * b + 0.5 + 0.1 * rng.standard_normal(rows)
    return {"a": a, "target": target, "b": b}


TWO = _two_features()
# A target far from zero with a small slope: rounded to float32 uncentered, y keeps no trace of x.
_X_OFFSET = np.random.default_rng(7).uniform(0, 10, 60)
OFFSET = {
    "x": _X_OFFSET,
    "y": 1e6 + 0.01 * _X_OFFSET + 0.001 * np.random.default_rng(8).standard_normal(60),
}


def _csv_text(columns: dict[str, np.ndarray]) -> str:
    lines = [",".join(columns)]
    lines += [",".join(repr(float(v)) for v in row) for row in zip(*columns.values(), strict=True)]
    return "\n".join(lines) + "\n"


def _write_text(text: str, encoding: str = "utf-8") -> Callable[[Path], None]:
    return lambda path: path.write_bytes(text.encode(encoding))


def _write_npz(**arrays) -> Callable[[Path], None]:
    return lambda path: np.savez(path, **arrays)


def _write_npy(array) -> Callable[[Path], None]:
    return lambda path: np.save(path, array)


# ---------------------------------------------------------------- every batch run, by name


@dataclasses.dataclass(frozen=True)
class Spec:
    args: list[str]
    files: dict[str, Callable[[Path], None]] = dataclasses.field(default_factory=dict)


_TWO_FEATURE_NPY = np.column_stack([TWO["a"], TWO["b"], TWO["target"]])
_SMALL = "alpha,beta,gamma\n1,2,3\n4,5,7\n6,1,2\n2,8,1\n"

# The bad inputs: each must exit 2 with one line on stderr naming what is wrong.
# (name, spec, fragments the error message must contain)
BAD_INPUTS = [
    ("missing-file", Spec(["--data", "missing.csv"]), ["missing.csv"]),
    (
        "non-numeric-cell",
        Spec(["--data", "f.csv"], {"f.csv": _write_text("a,b,y\n1,2,3\n4,abc,6\n7,8,10\n")}),
        ["f.csv", "line 3", "column 2", "abc"],
    ),
    (
        "nan-cell",
        Spec(["--data", "f.csv"], {"f.csv": _write_text("a,b,y\n1,2,3\n4,5,6\n7,nan,9\n")}),
        ["f.csv", "line 4", "nan"],
    ),
    (
        "inf-cell",
        Spec(["--data", "f.csv"], {"f.csv": _write_text("a,b,y\n1,2,3\n4,5,-inf\n7,8,9\n")}),
        ["f.csv", "line 3", "inf"],
    ),
    ("empty-file", Spec(["--data", "f.csv"], {"f.csv": _write_text("")}), ["f.csv", "empty"]),
    (
        "header-only",
        Spec(["--data", "f.csv"], {"f.csv": _write_text("a,b,y\n")}),
        ["f.csv", "row"],
    ),
    (
        "one-data-row",
        Spec(["--data", "f.csv"], {"f.csv": _write_text("a,b,y\n1,2,3\n")}),
        ["f.csv", "row"],
    ),
    (
        "unknown-y-column",
        Spec(["--data", "f.csv", "--y", "zeta"], {"f.csv": _write_text(_SMALL)}),
        ["zeta", "alpha", "beta", "gamma"],
    ),
    (
        "unknown-x-column",
        Spec(["--data", "f.csv", "--x", "alpha", "zeta"], {"f.csv": _write_text(_SMALL)}),
        ["zeta", "alpha", "beta", "gamma"],
    ),
    (
        "ragged-row",
        Spec(["--data", "f.csv"], {"f.csv": _write_text("a,b,y\n1,2,3\n4,5\n7,8,9\n")}),
        ["f.csv", "line 3"],
    ),
    (
        "npz-columns-differ-in-length",
        Spec(
            ["--data", "f.npz"],
            {"f.npz": _write_npz(first=np.arange(5.0), second=np.arange(4.0))},
        ),
        ["f.npz", "first", "second"],
    ),
    ("lr-zero", Spec(["--lr", "0"]), ["--lr"]),
    ("lr-negative", Spec(["--lr", "-1"]), ["--lr", "-1"]),
    ("lr-nan", Spec(["--lr", "nan"]), ["--lr", "nan"]),
    ("lr-not-a-number", Spec(["--lr", "abc"]), ["--lr", "abc"]),
    ("steps-negative", Spec(["--steps", "-1"]), ["--steps", "-1"]),
    ("steps-fraction", Spec(["--steps", "1.5"]), ["--steps", "1.5"]),
    ("tol-negative", Spec(["--tol", "-1"]), ["--tol", "-1"]),
    # The built-in dataset's target is sales: another --y needs --data.
    ("y-without-data", Spec(["--y", "revenue"]), ["--y revenue", "--data"]),
    ("steps-beyond-int32", Spec(["--steps", "1e15"]), ["--steps", "2147483646"]),
    ("seed-negative", Spec(["--seed", "-1"]), ["--seed", "-1"]),
    ("optimizer-unknown", Spec(["--optimizer", "sgdd"]), ["--optimizer", "sgdd"]),
    # Squares of 1e20 overflow float32: the starting cost is infinite.
    (
        "cost-overflows-float32",
        Spec(["--data", "f.csv"], {"f.csv": _write_text("x,y\n1,1e20\n2,3e20\n3,2e20\n")}),
        ["inf", "float32"],
    ),
    # A CSV saved in Latin-1 (e.g. by a spreadsheet on Windows) is not UTF-8 text.
    (
        "csv-not-utf8",
        Spec(["--data", "f.csv"], {"f.csv": _write_text("température,y\n1,2\n3,5\n", "latin-1")}),
        ["f.csv"],
    ),
    (
        "npz-corrupt",
        Spec(["--data", "f.npz"], {"f.npz": lambda path: path.write_bytes(b"PK\x03\x04junk")}),
        ["f.npz"],
    ),
    # Two columns of one name: one of them would be dropped without a word.
    (
        "csv-duplicate-column",
        Spec(["--data", "f.csv"], {"f.csv": _write_text("alpha,alpha,y\n1,5,3\n4,2,7\n6,1,2\n")}),
        ["alpha"],
    ),
]

_CSV_ARGS = ["--data", "two.csv", "--x64", "--json", "--tol", "1e-12"]
_TWO_CSV = {"two.csv": _write_text(_csv_text(TWO))}
_TWO_CSV_BOM = {"two.csv": _write_text(_csv_text(TWO), "utf-8-sig")}

RUNS: dict[str, Spec] = {
    "table": Spec([]),
    "json-float32": Spec(["--json"]),
    "json-x64": Spec(["--json", "--x64"]),
    "json-x64-raw": Spec(
        ["--json", "--x64", "--no-standardize", "--steps", "200000", "--tol", "1e-10"]
    ),
    "csv-explicit": Spec([*_CSV_ARGS, "--y", "target", "--x", "b", "a"], _TWO_CSV),
    "csv-default": Spec(_CSV_ARGS, _TWO_CSV),
    "csv-excel-bom": Spec([*_CSV_ARGS, "--y", "target", "--x", "b", "a"], _TWO_CSV_BOM),
    "npz": Spec(
        ["--data", "two.npz", "--x64", "--json", "--tol", "1e-12"],
        {"two.npz": _write_npz(X=_TWO_FEATURE_NPY[:, :2], y=_TWO_FEATURE_NPY[:, 2])},
    ),
    "npy": Spec(
        ["--data", "two.npy", "--x64", "--json", "--tol", "1e-12"],
        {"two.npy": _write_npy(_TWO_FEATURE_NPY)},
    ),
    "constant-column": Spec(
        ["--data", "f.csv", "--x64", "--json"],
        {
            "f.csv": _write_text(
                _csv_text({"a": TWO["a"], "c": np.full(40, 3.0), "y": TWO["target"]})
            )
        },
    ),
    "diverged": Spec(["--lr", "5", "--json"]),
    "huge-steps": Spec(["--steps", "2147483646", "--json"]),
    "adam": Spec(["--optimizer", "adam", "--lr", "0.1", "--steps", "1e5", "--json"]),
    "seed-1": Spec(["--seed", "1", "--json"]),
    "lbfgs": Spec(["--optimizer", "lbfgs", "--no-standardize", "--json"]),
    "no-intercept": Spec(["--x", "TV", "radio", "newspaper", "--no-intercept", "--json", "--x64"]),
    "offset-target": Spec(
        ["--data", "offset.csv", "--json"], {"offset.csv": _write_text(_csv_text(OFFSET))}
    ),
    "stalled": Spec(["--no-standardize", "--steps", "300000", "--json"]),
    "imprecise": Spec(["--tol", "1", "--rtol", "1e-6", "--x", "TV", "radio", "--json"]),
    **{f"bad-{name}": spec for name, spec, _ in BAD_INPUTS},
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Runs:
    """Every run in ``RUNS``, each in a folder of its own, run in-process when first read."""
    root = tmp_path_factory.mktemp("cli")
    folders = {}
    for name, spec in RUNS.items():
        folder = folders[name] = root / name
        folder.mkdir()
        for file_name, write in spec.files.items():
            write(folder / file_name)
    return Runs({name: ["fit", *spec.args] for name, spec in RUNS.items()}, folders)


def assert_clean_exit(run: Run, code: int) -> None:
    assert run.returncode == code, run.describe()
    assert "Traceback" not in run.stderr, run.describe()


def assert_record_shape(record: dict, features: int) -> None:
    """The stable keys, with plain numbers of the right shapes."""
    assert set(STABLE_KEYS) <= set(record), sorted(record)
    for key in ("params", "closed_form"):
        params = record[key]
        assert set(params) == {"w", "b"}, params
        assert len(params["w"]) == features, params
        assert all(isinstance(v, float) and math.isfinite(v) for v in flat(params)), params
    assert isinstance(record["steps"], int) and record["steps"] >= 0
    assert record["status"] in {status.value for status in steepest.Status}
    assert isinstance(record["loss"], float) and math.isfinite(record["loss"])
    assert isinstance(record["seconds"], float) and record["seconds"] >= 0
    assert isinstance(record["learning_rate"], float) and record["learning_rate"] > 0


def numbers_after(text: str, label: str) -> list[float]:
    """The numbers on the one line of ``text`` that contains ``label``, after it."""
    lines = [line for line in text.splitlines() if label in line]
    assert len(lines) == 1, f"expected one line with {label!r} in:\n{text}"
    return [float(v.replace(",", "")) for v in re.findall(FLOAT, lines[0].split(label, 1)[1])]


# ---------------------------------------------------------------- 1. the default run


def test_default_fit_prints_the_fit_next_to_the_closed_form(runs):
    run = runs["table"]
    assert_clean_exit(run, 0)
    out = run.stdout
    exact_m, exact_b = least_squares(BUILTIN.X, BUILTIN.y)
    fitted_m, certain_m, closed_m, _ = numbers_after(out, "m (radio)")
    fitted_b, certain_b, closed_b, _ = numbers_after(out, "b (intercept)")
    np.testing.assert_allclose([closed_m, closed_b], [exact_m, exact_b], rtol=1e-7)
    np.testing.assert_allclose([fitted_m, fitted_b], [exact_m, exact_b], rtol=1e-3)
    # The certificate's bounds, as printed (2 digits), hold against the exact answer.
    assert (
        abs(fitted_m - exact_m) <= 1.05 * certain_m and abs(fitted_b - exact_b) <= 1.05 * certain_b
    )
    assert "closed form" in out
    exact_cost = least_squares_cost(BUILTIN.X, BUILTIN.y)
    np.testing.assert_allclose(numbers_after(out, "final cost"), [exact_cost], rtol=1e-5)
    np.testing.assert_allclose(numbers_after(out, "closed-form cost"), [exact_cost], rtol=1e-6)
    steps = re.search(r"^\s*steps\s+(\d+)\s*$", out, re.MULTILINE)
    assert steps is not None and int(steps.group(1)) >= 1, out
    status = [line for line in out.splitlines() if re.match(r"\s*status\s", line)]
    assert len(status) == 1 and "converged after" in status[0], out
    assert "certain to about" in out
    # 1/L with L = 2, the largest eigenvalue of the Hessian on standardized data.
    assert numbers_after(out, "learning rate")[0] == pytest.approx(0.5, rel=1e-4)
    wall = numbers_after(out, "wall time")
    assert wall and wall[0] >= 0
    assert "steps/s" in out


# ---------------------------------------------------------------- 2. --json on the built-in data


@pytest.mark.parametrize(
    ("name", "dtype", "rtol"),
    [
        ("json-float32", "float32", 1e-3),
        ("json-x64", "float64", 1e-8),
        ("json-x64-raw", "float64", 1e-8),
    ],
)
def test_json_on_builtin_data_matches_lstsq(runs, name, dtype, rtol):
    run = runs[name]
    assert_clean_exit(run, 0)
    record = run.record()
    assert_record_shape(record, features=1)
    assert record["status"] == "converged", record
    assert record["dtype"] == dtype
    exact = least_squares(BUILTIN.X, BUILTIN.y)
    np.testing.assert_allclose(flat(record["closed_form"]), exact, rtol=1e-10)
    np.testing.assert_allclose(flat(record["params"]), exact, rtol=rtol, atol=0)
    exact_cost = least_squares_cost(BUILTIN.X, BUILTIN.y)
    assert record["loss"] == pytest.approx(exact_cost, rel=max(rtol, 1e-6))


# ---------------------------------------------------------------- 3. data files


@pytest.mark.parametrize(
    ("name", "x_names", "y_name"),
    [
        ("csv-explicit", ["b", "a"], "target"),  # --x order is the order of w
        ("csv-default", ["a", "target"], "b"),  # y is the last column, x the others
        ("csv-excel-bom", ["b", "a"], "target"),  # a spreadsheet's UTF-8 with a BOM
    ],
)
def test_csv_fit_matches_lstsq(runs, name, x_names, y_name):
    run = runs[name]
    assert_clean_exit(run, 0)
    record = run.record()
    assert_record_shape(record, features=2)
    assert record["data"]["x"] == x_names
    assert record["data"]["y"] == y_name
    assert record["data"]["rows"] == 40
    exact = least_squares(np.column_stack([TWO[x] for x in x_names]), TWO[y_name])
    np.testing.assert_allclose(flat(record["params"]), exact, rtol=1e-8, atol=0)
    np.testing.assert_allclose(flat(record["closed_form"]), exact, rtol=1e-10)


@pytest.mark.parametrize(
    ("name", "x_names", "y_name"),
    [("npz", ["x0", "x1"], "y"), ("npy", ["x0", "x1"], "y")],
)
def test_numpy_file_fit_matches_lstsq(runs, name, x_names, y_name):
    run = runs[name]
    assert_clean_exit(run, 0)
    record = run.record()
    assert_record_shape(record, features=2)
    assert record["data"]["x"] == x_names
    assert record["data"]["y"] == y_name
    exact = least_squares(_TWO_FEATURE_NPY[:, :2], _TWO_FEATURE_NPY[:, 2])
    np.testing.assert_allclose(flat(record["params"]), exact, rtol=1e-8, atol=0)


# ---------------------------------------------------------------- 4. bad input


@pytest.mark.parametrize(
    ("name", "fragments"),
    [pytest.param(name, fragments, id=name) for name, _, fragments in BAD_INPUTS],
)
def test_bad_input_is_one_line_and_exit_2(runs, name, fragments):
    run = runs[f"bad-{name}"]
    assert_clean_exit(run, 2)
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.describe()
    assert lines[0].startswith("steepest: error: "), run.describe()
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} is not in the message: {lines[0]}"
    assert run.stdout == "", run.describe()


def test_constant_column_warns_and_still_fits(runs):
    """The minimizer is not unique: no coefficient is certain, so the run is not
    converged (exit 3); the cost is unique, and the fit reaches it."""
    run = runs["constant-column"]
    assert_clean_exit(run, 3)
    warnings = [line for line in run.stderr.splitlines() if line.startswith("steepest: warning:")]
    assert len(warnings) == 1, run.describe()
    assert "constant" in warnings[0] and "'c'" in warnings[0], warnings
    record = run.record()
    assert_record_shape(record, features=2)
    assert record["status"] == "imprecise", record
    assert "no digit of the coefficients can be certified" in record["message"], record
    assert record["certificate"] is None
    exact_cost = least_squares_cost(np.column_stack([TWO["a"], np.full(40, 3.0)]), TWO["target"])
    assert record["loss"] == pytest.approx(exact_cost, rel=1e-9)
    assert record["closed_form_loss"] == pytest.approx(exact_cost, rel=1e-9)


def test_step_budget_far_beyond_need_still_converges(runs):
    """--steps is a most, not a cost: the built-in data converges in one step."""
    run = runs["huge-steps"]
    assert_clean_exit(run, 0)
    record = run.record()
    assert record["status"] == "converged", record
    assert record["steps"] <= 10, record


def test_adam_reaches_least_squares(runs):
    record = runs["adam"].record()
    assert record["optimizer"] == "adam" and record["learning_rate"] == 0.1
    assert record["status"] == "converged", record
    data = steepest.data.builtin()
    np.testing.assert_allclose(flat(record["params"]), least_squares(data.X, data.y), rtol=1e-3)


def test_lbfgs_converges_in_a_few_steps_on_raw_data(runs):
    record = runs["lbfgs"].record()
    assert record["status"] == "converged" and record["steps"] <= 20, record
    assert record["learning_rate_source"] == "the default for lbfgs"
    data = steepest.data.builtin()
    np.testing.assert_allclose(flat(record["params"]), least_squares(data.X, data.y), rtol=1e-4)


def test_seed_selects_the_builtin_data(runs):
    record = runs["seed-1"].record()
    data = steepest.data.builtin(seed=1)
    assert record["data"]["source"] == "built-in (seed 1)"
    np.testing.assert_allclose(flat(record["closed_form"]), least_squares(data.X, data.y))
    assert flat(record["closed_form"])[0] != flat(runs["json-float32"].record()["closed_form"])[0]


def test_no_intercept_fits_through_the_origin(runs):
    """In float64, where the data reach the descent unrounded: the bounds hold exactly."""
    run = runs["no-intercept"]
    assert_clean_exit(run, 0)
    record = run.record()
    assert record["status"] == "converged" and record["intercept"] is False, record
    assert record["params"]["b"] is None and record["closed_form"]["b"] is None
    data = steepest.data.builtin(x=("TV", "radio", "newspaper"))
    expected = exact_least_squares(data.X, data.y, intercept=False)
    np.testing.assert_allclose(record["closed_form"]["w"], expected, rtol=1e-12)
    error = np.abs(np.array(record["params"]["w"]) - expected)
    assert np.all(error <= np.array(record["certificate"]["bounds"]["w"])), record


def test_a_target_far_from_zero_keeps_its_slope_in_float32(runs):
    run = runs["offset-target"]
    assert_clean_exit(run, 0)
    record = run.record()
    expected = exact_least_squares(OFFSET["x"], OFFSET["y"])
    error = np.abs(flat(record["params"]) - expected)
    assert error[0] <= record["certificate"]["bounds"]["w"][0], record
    assert error[1] <= record["certificate"]["bounds"]["b"], record
    np.testing.assert_allclose(record["params"]["w"][0], expected[0], rtol=1e-3)


def test_a_stalled_run_exits_3_and_points_to_x64(runs):
    """Raw features in float32: the steps for b fall below the spacing of numbers near 5."""
    run = runs["stalled"]
    assert_clean_exit(run, 3)
    record = run.record()
    assert record["status"] == "stalled" and record["steps"] < 300_000, record
    assert "--x64" in record["message"], record["message"]


def test_a_loose_absolute_tol_short_of_rtol_is_imprecise_and_exits_3(runs):
    run = runs["imprecise"]
    assert_clean_exit(run, 3)
    record = run.record()
    assert record["status"] == "imprecise", record
    assert "short of rtol 1e-06" in record["message"]
    assert record["certificate"]["relative"] > 1e-6


# ---------------------------------------------------------------- 5. divergence


def test_divergence_exits_1_with_the_critical_learning_rate(runs):
    run = runs["diverged"]
    assert_clean_exit(run, 1)
    record = run.record()  # strict JSON: no NaN, no Infinity
    assert_record_shape(record, features=1)  # params finite, not null
    assert record["status"] == "diverged", record
    assert record["learning_rate"] == 5.0
    message = record["message"]
    assert "critical learning rate" in message, message
    # 2/L = 1 on the standardized built-in data.
    critical = re.search(rf"critical learning rate.*?=\s*({FLOAT})", message)
    assert critical is not None and float(critical.group(1)) == pytest.approx(1.0, rel=1e-4)


# ---------------------------------------------------------------- 6. the console script, Ctrl-C


@dataclasses.dataclass(frozen=True)
class Timed:
    run: Run
    seconds: float


@pytest.fixture(scope="module")
def console_script(tmp_path_factory) -> Timed:
    """``steepest fit --json`` as a real process, and how long it took to start, compile, finish."""
    started = time.perf_counter()
    run = run_process(["--json"], tmp_path_factory.mktemp("console-script"))
    return Timed(run, time.perf_counter() - started)


@pytest.mark.e2e
def test_the_installed_console_script_fits_the_builtin_data(console_script, runs):
    """Under XLA's default settings, as users run it: the run the suite makes in-process,
    under its own (conftest.py), to the last bit."""
    run = console_script.run
    assert_clean_exit(run, 0)
    record = run.record()
    in_process = runs["json-float32"].record()
    for key in ("params", "closed_form", "steps", "loss", "status", "message"):
        assert record[key] == in_process[key], key
    assert_record_shape(record, features=1)
    assert record["status"] == "converged", record
    assert record["dtype"] == "float32"  # a process starts in float32: nothing left x64 on
    exact = least_squares(BUILTIN.X, BUILTIN.y)
    np.testing.assert_allclose(flat(record["closed_form"]), exact, rtol=1e-10)
    np.testing.assert_allclose(flat(record["params"]), exact, rtol=1e-3, atol=0)


@pytest.mark.e2e
def test_ctrl_c_stops_the_run_and_reports_what_it_reached(tmp_path, console_script):
    assert_clean_exit(console_script.run, 0)  # the timing below is of a run that worked
    # A step so small that every update moves the params, and the gradient keeps falling
    # (in float64: float32's reaches its rounding floor and plateaus): no stall, no
    # convergence.
    arguments = ["--no-standardize", "--lr", "1e-7", "--steps", "1e9", "--x64", "--json"]
    process = subprocess.Popen(
        [*_command(), "fit", *arguments],
        cwd=tmp_path,
        env=_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
    )
    try:
        # Twice the whole of a run with next to nothing to do, plus a second: well inside
        # the loop by then.
        time.sleep(max(4.0, 2 * console_script.seconds + 1))
        assert process.poll() is None, "the run ended before Ctrl-C"
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    run = Run(process.returncode, stdout, stderr)
    assert_clean_exit(run, 130)
    record = run.record()
    assert_record_shape(record, features=1)
    assert record["status"] == "interrupted", record
    assert record["steps"] > 0, record
    # The message counts the same steps as the record.
    counts = [int(n) for n in re.findall(r"\d+", record["message"])]
    assert record["steps"] in counts, record
