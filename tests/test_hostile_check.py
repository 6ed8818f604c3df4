"""Hostile cases against the gradient checker and ``steepest check`` (issue 11).

Each case failed before its fix: a complex hand-derived gradient passed, a user
file's ``sys.exit(0)`` ended ``steepest check`` with exit 0 and no report, a
negative or NaN tolerance was blamed on the hand derivation, the user's prints
landed in ``--json``'s stdout, ``--params w=100000`` ran for minutes, and a
report holding NaN crashed ``--json``. Every refusal is one line and exit 2.
"""

import math

import jax.numpy as jnp
import numpy as np
import pytest
from cli_runs import run_command

from steepest import Linear, analytic, check_gradient, mse

X = jnp.array([[0.0], [1.0], [2.0], [3.0]])
Y = jnp.array([1.0, 3.0, 5.0, 8.0])
PARAMS = Linear(w=jnp.array([0.5]), b=jnp.array(0.2))


def shifted(shift):
    """``analytic.mse_grad`` with ``shift`` added to b's gradient."""

    def grad(params, X, y):
        g = analytic.mse_grad(params, X, y)
        return g._replace(b=g.b + shift)

    return grad


# --- item 4: a complex hand-derived gradient -----------------------------------------


def test_a_complex_hand_gradient_fails_naming_the_leaf():
    report = check_gradient(mse, shifted(5j), PARAMS, X, Y)
    assert not report.ok
    assert report.diagnosis == (
        "the hand-derived gradient of b is complex (imaginary part up to 5): "
        "a gradient of real params must be real"
    )
    assert report.failed_points == 3


def test_a_complex_loss_fails_instead_of_raising_a_type_error():
    def loss(params, X, y):
        return mse(params, X, y) + 1j

    report = check_gradient(loss, analytic.mse_grad, PARAMS, X, Y, num_points=1)
    assert not report.ok
    assert "the loss returns a complex value at params (imaginary part 1)" in report.diagnosis


# --- weak: tolerances and num_points are refused, not blamed on the hand derivation ---


@pytest.mark.parametrize(
    ("keywords", "words"),
    [
        ({"rtol": -1.0}, "rtol must be a finite number >= 0, got -1.0"),
        ({"rtol": math.nan}, "rtol must be a finite number >= 0, got nan"),
        ({"fd_rtol": -1e-5}, "fd_rtol must be a finite number >= 0"),
        ({"atol": math.inf}, "atol must be a finite number >= 0"),
        ({"atol": "tiny"}, "atol must be a number"),
        ({"num_points": 0}, "num_points must be at least 1, got 0"),
        ({"num_points": 2.5}, "num_points must be a whole number"),
    ],
)
def test_bad_settings_are_refused_naming_the_argument(keywords, words):
    with pytest.raises(ValueError, match="^" + words.replace("(", r"\(").replace(")", r"\)")):
        check_gradient(mse, analytic.mse_grad, PARAMS, X, Y, **keywords)


# --- the command -----------------------------------------------------------------------

LOSS = """
import jax.numpy as jnp


def loss(params):
    return jnp.sum((params["w"] - 1.0) ** 2)


def grad(params):
    return {"w": 2 * (params["w"] - 1.0)}
"""


def one_error_line(run, *words):
    assert run.returncode == 2, run.describe()
    assert run.stdout == "", run.describe()
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("steepest: error: "), run.describe()
    for word in words:
        assert word in lines[0], run.describe()


SYS_EXITS = {
    "at import": (
        "import sys\n\nsys.exit(0)\n" + LOSS,
        "quits.py called sys.exit(0) while being imported",
    ),
    "in the loss": (
        LOSS.replace("def loss(params):\n", "def loss(params):\n    raise SystemExit\n"),
        "quits.py:loss called sys.exit() while being checked",
    ),
    "in the gradient": (
        LOSS.replace("def grad(params):\n", "def grad(params):\n    import sys; sys.exit(3)\n"),
        "quits.py:grad called sys.exit(3) while being checked",
    ),
}


@pytest.mark.parametrize("where", SYS_EXITS)
def test_sys_exit_in_user_code_is_an_error(tmp_path, where):
    source, message = SYS_EXITS[where]
    (tmp_path / "quits.py").write_text(source)
    run = run_command(
        ["check", "quits.py:loss", "--grad", "quits.py:grad", "--params", "w=3"], tmp_path
    )
    one_error_line(run, message)


def test_json_holds_only_json_when_the_user_prints(tmp_path):
    (tmp_path / "chatty.py").write_text(
        "print('importing')\n"
        + LOSS.replace("def loss(params):\n", "def loss(params):\n    print('in the loss')\n")
    )
    argv = ["check", "chatty.py:loss", "--grad", "chatty.py:grad", "--params", "w=3", "--json"]
    run = run_command(argv, tmp_path)
    assert run.returncode == 0, run.describe()
    assert run.record()["ok"] is True
    assert "importing" in run.stderr and "in the loss" in run.stderr


def test_too_many_params_are_refused_at_once(tmp_path):
    (tmp_path / "model.py").write_text(LOSS)
    argv = ["check", "model.py:loss", "--grad", "model.py:grad", "--params", "w=100000"]
    one_error_line(
        run_command(argv, tmp_path),
        "--params: 100000 elements in all, but at most 10000",
        "about 10 s on a 2-core CPU",
    )


def test_json_of_a_report_holding_nan_is_valid(tmp_path):
    # A loss finite at params but NaN a finite-difference step above it: autodiff is
    # finite, finite differences are NaN, and the report holds NaN.
    w = float(np.random.default_rng(0).standard_normal((1,))[0])  # the params of --seed 0
    (tmp_path / "edge.py").write_text(
        "import jax.numpy as jnp\n\n\n"
        "def loss(params):\n"
        f"    w = params['w']\n"
        f"    return jnp.sum(jnp.where(w > {w!r} + 1e-9, jnp.nan, w**2))\n\n\n"
        "def grad(params):\n"
        "    return {'w': 2 * params['w']}\n"
    )
    argv = ["check", "edge.py:loss", "--grad", "edge.py:grad", "--params", "w=1"]
    run = run_command([*argv, "--points", "1", "--json"], tmp_path)
    assert run.returncode == 1, run.describe()
    record = run.record()  # strictly valid JSON: NaN would raise here
    assert record["ok"] is False
    assert record["checks"][0]["autodiff_vs_fd"]["max_abs"] is None
    assert np.isfinite(record["checks"][0]["hand_vs_autodiff"]["max_abs"])
    assert record["diagnosis"].startswith(
        "finite differences of the loss give nan for w[0] at params: the cost is not finite "
        "a step away"
    )


def test_json_of_a_nan_hand_gradient_is_valid(tmp_path):
    (tmp_path / "nan.py").write_text(LOSS.replace("2 * (params", "jnp.nan * (params"))
    argv = ["check", "nan.py:loss", "--grad", "nan.py:grad", "--params", "w=2", "--json"]
    run = run_command(argv, tmp_path)
    assert run.returncode == 1, run.describe()
    record = run.record()
    assert record["checks"][0]["hand_vs_autodiff"]["max_abs"] is None
    assert record["checks"][0]["hand_vs_autodiff"]["index"] == [0]  # a tuple, as a list
