"""``linear``'s own checks: the fit's cost against the closed form's."""

import dataclasses

import jax
import numpy as np
import pytest

import steepest
from steepest import Linear, Status, fit, mse
from steepest._src.processes import Processes
from steepest._src.workflows import linear as workflow


@pytest.fixture(scope="module")
def converged():
    """The built-in problem set up as ``linear`` sets it up, and its honest fit."""
    with jax.enable_x64(True):
        problem = workflow.setup(
            steepest.data.builtin(), None, None, intercept=True, standardize=True, x64=True,
            devices=None, processes=Processes.current(),
        )  # fmt: skip
        ready = problem.ready
        honest = fit(mse, ready.start, ready.X, ready.y, evaluate64=ready.evaluate64)
    assert honest.status is Status.CONVERGED, honest.message
    return problem, honest


def reported(problem, result):
    with jax.enable_x64(True):
        return workflow.report(
            problem, result, optimizer="gd", learning_rate_source="1/L", method="loop",
            batch_size=None, schedule=None,
        )  # fmt: skip


def moved_off(problem, result, **changes):
    """``result`` with its weights moved by 1e-5 and its float64 cost there (and
    ``changes``): no longer at the minimizer."""
    moved = Linear(np.asarray(result.params.w) + 1e-5, np.asarray(result.params.b))
    loss = float(problem.ready.evaluate64(moved)[0])
    return dataclasses.replace(result, params=moved, loss=loss, **changes)


def test_a_fit_whose_cost_is_above_the_closed_forms_is_never_converged(converged):
    """The net under the certificate (``linear``): a converged result moved off the
    minimizer, its certificate kept, costs more than the closed form beyond rounding and
    beyond what that certificate allows, and is reported imprecise; unmoved, it stands."""
    problem, honest = converged
    assert reported(problem, honest).status == "converged"
    caught = reported(problem, moved_off(problem, honest))
    assert caught.status == "imprecise" and caught.result.status is Status.IMPRECISE
    assert "above the closed form's" in caught.message, caught.message


def test_a_fit_without_a_certificate_is_not_held_to_the_closed_forms_cost(converged):
    """No certificate, no claim of digits: a cost above the closed form's is no
    contradiction (a wide design's fit may sit ||g||^2 / (2 mu) above it)."""
    problem, honest = converged
    found = reported(problem, moved_off(problem, honest, certificate=None))
    assert found.status == "converged", found.message
