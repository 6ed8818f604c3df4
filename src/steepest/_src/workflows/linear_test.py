"""``linear``'s own checks: the fit's cost against the closed form's."""

import dataclasses

import jax
import numpy as np

import steepest
from steepest import Linear, Status, fit, mse
from steepest._src.processes import Processes
from steepest._src.workflows import linear as workflow


def test_a_fit_whose_cost_is_above_the_closed_forms_is_never_converged():
    """The net under the certificate (``linear``): a converged result moved off the
    minimizer, its certificate kept, costs more than the closed form beyond rounding and
    beyond what that certificate allows, and is reported imprecise; unmoved, it stands."""
    data = steepest.data.builtin()
    with jax.enable_x64(True):
        problem = workflow.setup(
            data, None, None, intercept=True, standardize=True, x64=True, devices=None,
            processes=Processes.current(),
        )  # fmt: skip
        ready = problem.ready
        honest = fit(mse, ready.start, ready.X, ready.y, evaluate64=ready.evaluate64)
    assert honest.status is Status.CONVERGED, honest.message

    def reported(result):
        with jax.enable_x64(True):
            return workflow.report(
                problem, result, optimizer="gd", learning_rate_source="1/L", method="loop",
                batch_size=None, schedule=None,
            )  # fmt: skip

    assert reported(honest).status == "converged"
    moved = Linear(np.asarray(honest.params.w) + 1e-5, np.asarray(honest.params.b))
    forged = dataclasses.replace(honest, params=moved, loss=float(ready.evaluate64(moved)[0]))
    caught = reported(forged)
    assert caught.status == "imprecise" and caught.result.status is Status.IMPRECISE
    assert "above the closed form's" in caught.message, caught.message


def test_a_fit_without_a_certificate_is_not_held_to_the_closed_forms_cost():
    """No certificate, no claim of digits: a cost above the closed form's is no
    contradiction (a wide design's fit may sit ||g||^2 / (2 mu) above it)."""
    data = steepest.data.builtin()
    with jax.enable_x64(True):
        problem = workflow.setup(
            data, None, None, intercept=True, standardize=True, x64=True, devices=None,
            processes=Processes.current(),
        )  # fmt: skip
        ready = problem.ready
        honest = fit(mse, ready.start, ready.X, ready.y, evaluate64=ready.evaluate64)
        moved = Linear(np.asarray(honest.params.w) + 1e-5, np.asarray(honest.params.b))
        uncertified = dataclasses.replace(
            honest, params=moved, loss=float(ready.evaluate64(moved)[0]), certificate=None
        )
        found = workflow.report(
            problem, uncertified, optimizer="gd", learning_rate_source="1/L", method="loop",
            batch_size=None, schedule=None,
        )  # fmt: skip
    assert found.status == "converged", found.message
