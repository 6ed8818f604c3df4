"""Gradients written outside JAX: a loss and gradient in NumPy alone, held to finite
differences (said plainly), and functions written in PyTorch (steepest.from_torch,
steepest.torch_gradient), held to the JAX cost's autodiff as well where one is given.

The PyTorch tests need torch, an optional extra (steepest[torch]); they are skipped
without it.
"""

import jax.numpy as jnp
import numpy as np
import pytest
from cli_runs import run_command

from steepest import GradientCheckError, check_gradient
from steepest.testing import assert_gradient_matches

RNG = np.random.default_rng(7)
X = RNG.normal(size=(20, 3))
Y = X @ np.array([1.0, -2.0, 0.5]) + 0.3 + 0.1 * RNG.normal(size=20)
N = len(Y)
LAM = 0.1


# Ridge regression written as a course writes it: NumPy alone, the cost a Python float.
def numpy_loss(p, X, y):
    r = X @ p["w"] + p["b"] - y
    return float(np.mean(r**2) + LAM * np.sum(p["w"] ** 2))


def numpy_grad(p, X, y):
    r = X @ p["w"] + p["b"] - y
    return {"w": 2 * X.T @ r / len(y) + 2 * LAM * p["w"], "b": 2 * np.mean(r)}


def grad_without_mean(p, X, y):  # the 1/N left out of the data term
    r = X @ p["w"] + p["b"] - y
    return {"w": 2 * X.T @ r + 2 * LAM * p["w"], "b": 2 * np.sum(r)}


def grad_half_penalty(p, X, y):  # the penalty's 2 dropped
    r = X @ p["w"] + p["b"] - y
    return {"w": 2 * X.T @ r / len(y) + LAM * p["w"], "b": 2 * np.mean(r)}


def grad_negated(p, X, y):
    return {name: -value for name, value in numpy_grad(p, X, y).items()}


PARAMS = {"w": np.array([0.5, -1.0, 0.25]), "b": np.float64(0.2)}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_right_numpy_gradient_passes_against_finite_differences_said_plainly(dtype):
    params = {name: np.asarray(value, dtype) for name, value in PARAMS.items()}
    report = check_gradient(numpy_loss, numpy_grad, params, X.astype(dtype), Y.astype(dtype))
    assert report.ok, str(report)
    assert report.reference == "finite differences"
    assert "JAX cannot differentiate the loss" in report.autodiff_skipped
    assert all(c.hand_vs_autodiff is None and c.autodiff_vs_fd is None for c in report.checks)
    table = str(report)
    assert "hand-derived vs finite differences within rtol 1e-05" in table
    assert "not compared with autodiff" in table
    assert "cannot see a mistake smaller than about 1e-05" in table
    assert "max|hand-auto|" not in table


@pytest.mark.parametrize(
    ("grad", "named"),
    [
        (grad_without_mean, "N (= 20) times on the data term, penalty right"),
        (grad_half_penalty, "differs from finite differences by -0.1 · w"),
        (grad_negated, "sign flipped"),
    ],
)
def test_a_wrong_numpy_gradient_is_named_against_finite_differences(grad, named):
    report = check_gradient(numpy_loss, grad, PARAMS, X, Y)
    assert not report.ok
    assert named in report.diagnosis, report.diagnosis
    assert "autodiff" not in report.diagnosis


def test_the_mistake_can_be_small_and_still_seen_above_the_finite_difference_floor():
    def slightly_off(p, X, y):
        g = numpy_grad(p, X, y)
        return {"w": g["w"] * (1 + 1e-4), "b": g["b"]}

    report = check_gradient(numpy_loss, slightly_off, PARAMS, X, Y)
    assert not report.ok, str(report)
    assert "w is off by a factor of 1.0001" in report.diagnosis


def test_autodiff_false_holds_a_jax_loss_to_finite_differences_alone():
    def loss(p, X, y):
        return jnp.mean((X @ p["w"] + p["b"] - y) ** 2) + LAM * jnp.sum(p["w"] ** 2)

    report = check_gradient(loss, numpy_grad, PARAMS, X, Y, autodiff=False)
    assert report.ok and report.reference == "finite differences"
    assert report.autodiff_skipped == "autodiff=False"
    assert check_gradient(loss, numpy_grad, PARAMS, X, Y).reference == "autodiff"


def test_held_to_finite_differences_both_functions_get_writable_numpy_arrays():
    seen = []

    def grad(p, X, y):
        seen.append((type(p["w"]), type(X), p["w"].flags.writeable))
        return numpy_grad(p, X, y)

    assert check_gradient(numpy_loss, grad, PARAMS, X, Y).ok
    assert set(seen) == {(np.ndarray, np.ndarray, True)}


def test_autodiff_true_makes_a_numpy_loss_an_error_naming_the_stage():
    with pytest.raises(GradientCheckError) as raised:
        check_gradient(numpy_loss, numpy_grad, PARAMS, X, Y, autodiff=True)
    assert raised.value.stage == "autodiff"


def test_a_gradient_finite_differences_cannot_resolve_fails_as_unchecked():
    # A cost of 1e12: its rounding over the step exceeds the gradient, so finite
    # differences, the only reference, cannot tell 20 p from the true 2 p.
    def loss(p):
        return float(1e12 + np.sum(p**2))

    report = check_gradient(loss, lambda p: 20 * p, np.array([1.0, 0.5]))
    assert not report.ok and report.unresolved > 0
    assert "cannot resolve 2 of 2 elements (params[0] first)" in report.diagnosis, str(report)


def test_an_unused_param_whose_gradient_is_zero_is_checked_not_unresolved():
    def loss(p, X, y):
        return numpy_loss({"w": p["w"], "b": p["b"]}, X, y)

    def grad(p, X, y):
        return {**numpy_grad(p, X, y), "unused": np.zeros(2)}

    assert check_gradient(loss, grad, {**PARAMS, "unused": np.ones(2)}, X, Y).ok
    wrong = {**PARAMS, "unused": np.ones(2)}
    report = check_gradient(loss, lambda *a: {**grad(*a), "unused": np.ones(2)}, wrong, X, Y)
    assert not report.ok and "unused is wrong in every element" in report.diagnosis


def test_a_numpy_loss_that_computes_in_float32_and_returns_a_python_float_passes():
    def loss32(p, X, y):
        r = (
            X.astype(np.float32) @ p["w"].astype(np.float32)
            + np.float32(p["b"])
            - y.astype(np.float32)
        )
        return float(np.mean(r**2) + np.float32(LAM) * np.sum(p["w"].astype(np.float32) ** 2))

    assert check_gradient(loss32, numpy_grad, PARAMS, X, Y).ok


def test_a_numpy_loss_that_writes_in_place_is_checked_by_finite_differences():
    def relu_loss(p, X, y):
        h = X @ p["W"]
        h[h < 0] = 0  # NumPy's way; a JAX array refuses it
        return float(np.mean((h @ p["v"] - y) ** 2))

    def relu_grad(p, X, y):
        h = np.maximum(X @ p["W"], 0)
        r = 2 * (h @ p["v"] - y) / len(y)
        return {"W": X.T @ (np.outer(r, p["v"]) * (h > 0)), "v": h.T @ r}

    params = {"W": RNG.normal(size=(3, 4)), "v": RNG.normal(size=4)}
    report = check_gradient(relu_loss, relu_grad, params, X, Y)
    assert report.ok and report.reference == "finite differences", str(report)


def test_a_jax_loss_jax_cannot_trace_is_still_an_error():
    def loss(p):
        return float(jnp.sum(p**2))  # JAX inside: fixable, not a NumPy loss

    with pytest.raises(GradientCheckError) as raised:
        check_gradient(loss, lambda p: 2 * p, np.array([1.0, 2.0]))
    assert raised.value.stage == "autodiff"
    with pytest.raises(ValueError, match="autodiff must be True, False or None, got 0"):
        check_gradient(loss, lambda p: 2 * p, np.array([1.0, 2.0]), autodiff=0)


def test_assert_gradient_matches_puts_the_diagnosis_first():
    with pytest.raises(AssertionError) as raised:
        assert_gradient_matches(numpy_loss, grad_negated, PARAMS, X, Y)
    first_line = str(raised.value).splitlines()[0]
    assert first_line.startswith("gradient check failed: sign flipped"), first_line


NUMPY_FILE = """
import numpy as np


def loss(params, X, y):
    r = X @ params["w"] - y
    return float(r @ r / len(y))


def grad(params, X, y):
    return {"w": 2 * X.T @ (X @ params["w"] - y) / len(y)}


def grad_sum(params, X, y):
    return {"w": 2 * X.T @ (X @ params["w"] - y)}
"""


def test_the_command_line_checks_a_file_with_no_jax_in_it(tmp_path):
    (tmp_path / "course.py").write_text(NUMPY_FILE)
    np.savez(tmp_path / "data.npz", X=X, y=Y)
    common = ["--params", "w=3", "--data", "data.npz"]
    right = run_command(["check", "course.py:loss", "--grad", "course.py:grad", *common], tmp_path)
    assert right.returncode == 0, right.describe()
    assert "not compared with autodiff: JAX cannot differentiate the loss" in right.stdout
    wrong = run_command(
        ["check", "course.py:loss", "--grad", "course.py:grad_sum", *common, "--json"], tmp_path
    )
    assert wrong.returncode == 1, wrong.describe()
    record = wrong.record()
    assert record["reference"] == "finite differences"
    assert "N (= 20)" in record["diagnosis"]


# PyTorch: the same ridge, its gradient derived by hand and by torch.autograd.
def jax_loss(p, X, y):
    return jnp.mean((X @ p["w"] + p["b"] - y) ** 2) + LAM * jnp.sum(p["w"] ** 2)


def torch_loss(p, X, y):
    r = X @ p["w"] + p["b"] - y
    return (r**2).mean() + LAM * (p["w"] ** 2).sum()


def torch_grad(p, X, y):
    r = X @ p["w"] + p["b"] - y
    return {"w": 2 * X.T @ r / len(y) + 2 * LAM * p["w"], "b": 2 * r.mean()}


def torch_grad_half_penalty(p, X, y):  # the penalty's 2 dropped
    r = X @ p["w"] + p["b"] - y
    return {"w": 2 * X.T @ r / len(y) + LAM * p["w"], "b": 2 * r.mean()}


def test_a_pytorch_hand_gradient_is_held_to_the_jax_costs_autodiff():
    from steepest import from_torch

    pytest.importorskip("torch")
    report = check_gradient(jax_loss, from_torch(torch_grad), PARAMS, X, Y)
    assert report.ok and report.reference == "autodiff", str(report)
    wrong = check_gradient(jax_loss, from_torch(torch_grad_half_penalty), PARAMS, X, Y)
    assert not wrong.ok
    assert "differs from autodiff by -0.1 · w" in wrong.diagnosis, wrong.diagnosis


def test_a_pytorch_loss_alone_is_held_to_finite_differences():
    from steepest import from_torch

    pytest.importorskip("torch")
    report = check_gradient(from_torch(torch_loss), from_torch(torch_grad), PARAMS, X, Y)
    assert report.ok, str(report)
    assert report.reference == "finite differences"


def test_torch_autograd_of_a_port_is_held_to_jax_autodiff_and_finite_differences():
    from steepest import torch_gradient

    pytest.importorskip("torch")
    assert check_gradient(jax_loss, torch_gradient(torch_loss), PARAMS, X, Y).ok

    def torch_loss_with_sum(p, X, y):  # the port forgot the mean
        r = X @ p["w"] + p["b"] - y
        return (r**2).sum() + LAM * (p["w"] ** 2).sum()

    report = check_gradient(jax_loss, torch_gradient(torch_loss_with_sum), PARAMS, X, Y)
    assert not report.ok
    assert "N (= 20) times on the data term" in report.diagnosis, report.diagnosis


def test_without_torch_the_bridge_says_how_to_install_it(monkeypatch):
    import builtins

    from steepest import from_torch

    real_import = builtins.__import__

    def no_torch(name, *arguments, **keywords):
        if name == "torch":
            raise ImportError("No module named 'torch'")
        return real_import(name, *arguments, **keywords)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    with pytest.raises(ImportError, match=r"pip install 'steepest\[torch\]'"):
        from_torch(torch_grad)


def test_torch_gradient_of_a_loss_that_uses_no_param_is_zero():
    from steepest import torch_gradient

    pytest.importorskip("torch")
    gradient = torch_gradient(lambda p, X, y: (X**2).sum())
    assert all(np.all(leaf == 0) for leaf in gradient(PARAMS, X, Y).values())
