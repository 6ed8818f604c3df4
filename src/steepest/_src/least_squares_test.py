"""``least_squares``' own rule: when a design is big, it refines only what needs it."""

import numpy as np
import pytest

from steepest._src import least_squares as closed

ROWS = 4000


@pytest.fixture
def big(monkeypatch):
    """Every design of more than 1000 entries counts as big (2**22 in a run)."""
    monkeypatch.setattr(closed, "REFINE_ALWAYS_ENTRIES", 1000)


def flat(params) -> np.ndarray:
    return np.append(params.w, params.b)


def test_a_big_well_conditioned_design_costs_one_qr_and_keeps_its_digits(big):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(ROWS, 3))
    y = X @ [1.0, -2.0, 0.5] + 3.0 + rng.normal(size=ROWS)
    plain, refined = closed.least_squares(X, y), closed.least_squares(X, y, max_refinements=5)
    assert plain.refinements == 0 and refined.refinements >= 1
    assert plain.relative_error <= closed.REFINE_TARGET and plain.correct_digits >= 12
    # The unrefined answer is as close to the refined one as its bound says (scaled
    # coordinates within a factor 2 of these: the columns' spreads are about 4).
    distance = np.linalg.norm(flat(plain.params) - flat(refined.params))
    assert distance <= 8 * plain.relative_error * np.linalg.norm(flat(refined.params))


def test_a_big_design_its_qr_leaves_uncertain_is_refined(big):
    x = np.linspace(1.0, 2.0, ROWS)
    X = np.column_stack([x**k for k in range(1, 7)])  # condition number about 1e7
    plain = closed.least_squares(X, 1 + x**3, max_refinements=0)
    assert plain.relative_error > closed.REFINE_TARGET
    fitted = closed.least_squares(X, 1 + x**3)
    assert fitted.refinements >= 1 and fitted.correct_digits >= 14
