"""``steepest fit --loss FILE.py:FUNCTION``: a user's own loss of any pytree, with the same
records and figures; checked against independent references (Newton's method in NumPy for
the logistic loss, the normal equations for ridge)."""

import json
import textwrap

import numpy as np
import pytest
from cli_runs import run_command

MODEL = """
import jax.numpy as jnp
import numpy as np


def logistic(p, X, y, lam=0.0):
    z = X @ p["w"] + p["b"]
    return jnp.mean(jnp.logaddexp(0.0, z) - y * z) + lam * jnp.sum(p["w"] ** 2)


def ridge(p, X, y, lam=0.0):
    return jnp.mean((X @ p["w"] - y) ** 2) + lam * jnp.sum(p["w"] ** 2)


def init():
    return {"w": np.zeros(2), "b": 0.0}
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("own")
    (folder / "model.py").write_text(textwrap.dedent(MODEL))
    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 2))
    labels = (X @ [1.5, -2.0] + 0.3 + rng.logistic(size=300) > 0).astype(float)
    np.savez(folder / "labels.npz", X=X, y=labels)
    np.savez(folder / "targets.npz", X=X, y=X @ [0.7, -0.4] + 0.05 * rng.normal(size=300))
    (folder / "zero.json").write_text(json.dumps({"w": [0.0, 0.0]}))
    return folder


def newton_logistic(X, y, lam):
    """The logistic loss's minimizer by Newton's method in float64 (params [w, b])."""
    A = np.column_stack([X, np.ones(len(y))])
    penalty = np.diag([2 * lam] * X.shape[1] + [0.0])
    theta = np.zeros(A.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-A @ theta))
        gradient = A.T @ (p - y) / len(y) + penalty @ theta
        hessian = (A * (p * (1 - p))[:, None]).T @ A / len(y) + penalty
        theta -= np.linalg.solve(hessian, gradient)
    return theta


def test_a_logistic_loss_reaches_newtons_answer(folder):
    run = run_command(
        ["fit", "--loss", "model.py:logistic", "--params", "model.py:init", "--data",
         "labels.npz", "--keywords", "lam=0.01", "--x64", "--json", "--rtol", "1e-12"],
        folder,
    )  # fmt: skip
    assert run.returncode == 0, run.describe()
    record = run.record()
    assert record["loss_function"] == "model.py:logistic" and record["status"] == "converged"
    data = np.load(folder / "labels.npz")
    expected = newton_logistic(data["X"], data["y"], 0.01)
    found = np.array([*record["params"]["w"], record["params"]["b"]])
    np.testing.assert_allclose(found, expected, rtol=1e-8)
    assert record["certificate"] is None  # not quadratic: no certificate claimed


def test_ridge_reaches_the_normal_equations_with_its_certificate(folder):
    run = run_command(
        ["fit", "--loss", "model.py:ridge", "--params", "zero.json", "--data", "targets.npz",
         "--keywords", "lam=0.5", "--x64", "--json", "--plot", "ridge.png"],
        folder,
    )  # fmt: skip
    assert run.returncode == 0, run.describe()
    record = run.record()
    data = np.load(folder / "targets.npz")
    X, y = data["X"], data["y"]
    exact = np.linalg.solve(X.T @ X / len(y) + 0.5 * np.eye(2), X.T @ y / len(y))
    np.testing.assert_allclose(record["params"]["w"], exact, rtol=1e-9)
    assert record["certificate"]["digits"] >= 9  # quadratic: certified
    assert run.stderr == "steepest: wrote ridge.png\n"


def test_the_table_names_each_leaf_and_the_flags_of_the_linear_model_are_refused(folder):
    run = run_command(
        ["fit", "--loss", "model.py:ridge", "--params", "w=2", "--data", "targets.npz"], folder
    )
    assert run.returncode == 0, run.describe()
    assert "steepest fit: model.py:ridge on targets.npz" in run.stdout
    assert "['w']" in run.stdout and "(2,)" in run.stdout and "converged after" in run.stdout
    refused = run_command(
        ["fit", "--loss", "model.py:ridge", "--params", "w=2", "--data", "targets.npz",
         "--no-intercept", "--x", "a"],
        folder,
    )  # fmt: skip
    assert refused.returncode == 2 and refused.stderr == (
        "steepest: error: --loss fits your own loss: --x, --no-intercept do not apply "
        "(the linear model's)\n"
    )
    alone = run_command(["fit", "--params", "w=2"], folder)
    assert alone.stderr == (
        "steepest: error: --params and --keywords go with --loss FILE.py:FUNCTION\n"
    )


def test_a_loss_that_raises_is_named_in_one_line(folder):
    (folder / "broken.py").write_text("def loss(p, X, y):\n    return p['q'] * X.sum()\n")
    run = run_command(
        ["fit", "--loss", "broken.py:loss", "--params", "w=2", "--data", "targets.npz"], folder
    )
    assert run.returncode == 2 and run.stderr == (
        "steepest: error: broken.py:loss failed: KeyError: 'q'\n"
    ), run.describe()
