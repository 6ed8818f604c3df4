"""Tests of ``steepest check``: pass, fail, and bad input, in-process through ``main``."""

import json
from pathlib import Path

import numpy as np
import pytest
from cli_runs import Runs, run_command

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


DERIVED = """
import jax.numpy as jnp
import numpy as np


def loss(params, X, y):
    r = X @ params["w"] + params["b"] - y
    return jnp.mean(r**2) + 0.05 * jnp.sum(params["w"] ** 2)


def design(X, bias_first=True):
    ones = jnp.ones((X.shape[0], 1))
    return jnp.concatenate([ones, X] if bias_first else [X, ones], axis=1)


def hessian(params, X, y, bias_first=True):  # over [b, w]: ravel_pytree sorts dict keys
    A = design(X, bias_first)
    w = slice(1, None) if bias_first else slice(None, -1)
    return (2 * A.T @ A / X.shape[0]).at[w, w].add(0.1 * jnp.eye(X.shape[1]))


def hessian_w_first(params, X, y):
    return hessian(params, X, y, bias_first=False)


def hvp(params, v, X, y):
    Av = X @ v["w"] + v["b"]
    return {"w": 2 * X.T @ Av / X.shape[0] + 0.1 * v["w"], "b": 2 * jnp.mean(Av)}


def predict(params, X):
    return X @ params["w"] + params["b"]


def jvp(params, tangent, X):
    return X @ tangent["w"] + tangent["b"]


def vjp_mean(params, cotangent, X):  # b's should be the sum
    return {"w": X.T @ cotangent, "b": jnp.mean(cotangent)}


def numpy_loss(params, X, y):
    return float(np.mean((np.asarray(X) @ params["w"] + params["b"] - y) ** 2))


def raises(params, X, y):
    raise KeyError("w2")


def hvp_none(params, v, X, y):
    return None
"""
# (option and function, exit code, what the output says)
DERIVED_RUNS = {
    "hessian": (["loss", "--hessian", "hessian"], 0, "Hessian check passed at 3 points"),
    "hessian-order": (
        ["loss", "--hessian", "hessian_w_first"], 1, "it orders the params w, b, where"
    ),
    "hvp": (["loss", "--hvp", "hvp"], 0, "Hessian check passed"),
    "jvp": (["predict", "--jvp", "jvp"], 0, "JVP check passed"),
    "vjp": (["predict", "--vjp", "vjp_mean"], 1, "derivative of output[0] with respect to "
            "params['b'] is 0.1, not 1"),
    "raises": (["loss", "--hessian", "raises"], 2, "derived.py:raises raised KeyError: 'w2'"),
    "numpy": (["numpy_loss", "--hessian", "hessian"], 2, "JAX cannot differentiate "
              "derived.py:numpy_loss"),
    "vector-loss": (["predict", "--hessian", "hessian"], 2, "checking the Hessian of "
                    "derived.py:predict with derived.py:hessian: TypeError: Gradient only"),
    "hvp-none": (["loss", "--hvp", "hvp_none"], 2, "the hand Hessian-vector product returns "
                 "0 values"),
}  # fmt: skip


@pytest.mark.parametrize("name", DERIVED_RUNS)
def test_hessians_products_jvps_and_vjps_are_checked_from_files(tmp_path, name):
    (tmp_path / "derived.py").write_text(DERIVED)
    rng = np.random.default_rng(3)
    np.savez(tmp_path / "data.npz", X=rng.normal(size=(10, 3)), y=rng.normal(size=10))
    (loss, option, derived), code, said = DERIVED_RUNS[name]
    run = run_command(
        ["check", f"derived.py:{loss}", option, f"derived.py:{derived}",
         "--params", "w=3", "b=scalar", "--data", "data.npz"],
        tmp_path,
    )  # fmt: skip
    assert run.returncode == code, run.describe()
    assert said in (run.stdout if code < 2 else run.stderr), run.describe()
    if code == 2:
        assert len(run.stderr.strip().splitlines()) == 1, run.describe()


def test_one_derived_function_at_a_time(tmp_path):
    run = run_command(
        ["check", "d.py:loss", "--grad", "d.py:g", "--hessian", "d.py:h", "--params", "w=3"],
        tmp_path,
    )
    assert run.returncode == 2 and "not allowed with argument --grad" in run.stderr
