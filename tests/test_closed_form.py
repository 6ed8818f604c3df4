"""The closed form against exact rational least squares, built here with ``fractions``.

The reference is the exact minimizer for the float64 values of ``X`` and ``y``: the
normal equations ``X~^T X~ beta = X~^T y`` (``X~ = [X 1]``, or ``X`` without an
intercept) formed and solved by Gaussian elimination in ``Fraction`` arithmetic, with
no rounding anywhere. Each problem has 40 rows, so that a reference costs milliseconds.

Two errors are measured against it:

- per coefficient, ``|w_j - w*_j| / |w*_j|`` and the same for ``b``, in the original
  units: "6 correct digits" means each of these is at most 1e-6;
- norm-wise in the scaled coordinates ``v = (s * w, b + c . w)`` that ``least_squares``
  documents (``c`` the column means, ``s`` the power of two just above each column's
  largest deviation): what its ``relative_error`` estimates.
"""

import functools
import math
from fractions import Fraction

import numpy as np
import pytest
from exact import exact_fractions

from steepest import Linear, theory

ROWS = 40
EPS = float(np.finfo(np.float64).eps)

# Where the powers of x live: the nearer the interval to 0 relative to its width, the
# better the scaled design. [1000, 1001) is badly placed: past degree 3 its condition
# number exceeds 1e10.
INTERVALS = {
    "(0, 1]": np.arange(1, ROWS + 1) / ROWS,
    "[-1, 1]": np.linspace(-1.0, 1.0, ROWS),
    "[1, 2)": 1 + np.arange(ROWS) / ROWS,
    "[10, 11)": 10 + np.arange(ROWS) / ROWS,
    "[1000, 1001)": 1000 + np.arange(ROWS) / ROWS,
}


def scaling(X, fit_intercept: bool = True):
    """The documented scaling: column means (zero without an intercept), powers of two."""
    X = np.asarray(X, np.float64).reshape(len(X), -1)
    center = X.mean(axis=0) if fit_intercept else np.zeros(X.shape[1])
    _, exponent = np.frexp(np.abs(X - center).max(axis=0))
    return center, np.ldexp(1.0, exponent)


def scaled_design(X, fit_intercept: bool = True) -> np.ndarray:
    center, scale = scaling(X, fit_intercept)
    Z = (np.asarray(X, np.float64).reshape(len(X), -1) - center) / scale
    return np.column_stack([Z, np.ones(len(Z))]) if fit_intercept else Z


def standardized_design(X, fit_intercept: bool = True) -> np.ndarray:
    """``scaled_design`` with each column of unit norm: the design descent runs on, up to
    a common factor sqrt(N)."""
    design = scaled_design(X, fit_intercept)
    return design / np.linalg.norm(design, axis=0)


def errors(params: Linear, exact: list[Fraction], X, fit_intercept: bool = True):
    """(norm-wise relative error in scaled coordinates, worst relative error per coefficient)."""
    got = [Fraction(float(value)) for value in params.w]
    if fit_intercept:
        got.append(Fraction(float(params.b)))
    center, scale = (list(map(Fraction, part.tolist())) for part in scaling(X, fit_intercept))

    def scaled(coefficients):
        w = coefficients[: len(scale)]
        v = [wj * sj for wj, sj in zip(w, scale, strict=True)]
        if fit_intercept:
            v.append(coefficients[-1] + sum(cj * wj for cj, wj in zip(center, w, strict=True)))
        return v

    distance = sum((a - b) ** 2 for a, b in zip(scaled(got), scaled(exact), strict=True))
    size = sum(b**2 for b in scaled(exact))
    normwise = math.sqrt(distance / size) if size else math.sqrt(distance)
    per_coefficient = max(
        abs((a - b) / b) if b else abs(a - b) for a, b in zip(got, exact, strict=True)
    )
    return normwise, float(per_coefficient)


def noise(seed: int) -> np.ndarray:
    """Fixed-seed noise of dyadic rationals k/64, |k| <= 64: exact in float64."""
    return np.random.default_rng(seed).integers(-64, 65, ROWS) / 64


@functools.cache
def polynomial_problem(interval: str, degree: int):
    """Features x, x^2, ..., x^degree; y a quadratic in (x - start) plus noise; the exact answer."""
    x = INTERVALS[interval]
    X = np.column_stack([x**k for k in range(1, degree + 1)])
    t = x - x[0]
    y = 1 + 2 * t - 3 * t**2 + noise(degree)
    return X, y, exact_fractions(X, y)


def assert_trustworthy(result: theory.LeastSquares, exact, X, fit_intercept: bool = True):
    """6 correct digits in every coefficient; an estimate that is honest and not absurd."""
    normwise, worst = errors(result.params, exact, X, fit_intercept)
    assert result.reliable, result.message
    assert worst <= 1e-6, (worst, result.message)
    assert normwise <= result.relative_error <= 100 * max(normwise, EPS), (normwise, result)
    assert result.correct_digits >= 6
    assert result.correct_digits == min(15, math.floor(-math.log10(result.relative_error)))
    assert result.message.startswith(f"closed form certain to about {result.correct_digits} digits")


@pytest.mark.parametrize("degree", range(1, 11))
@pytest.mark.parametrize("interval", INTERVALS)
def test_polynomial_designs_reach_six_digits_or_say_they_are_unreliable(interval, degree):
    """The bar: at least 6 correct digits wherever the standardized design's condition number is
    at most 1e10, and "unreliable" beyond it."""
    X, y, exact = polynomial_problem(interval, degree)
    result = theory.least_squares(X, y)
    kappa = result.condition_number
    if kappa < 1e12:  # where numpy's own estimate is still good to 1e-4
        assert kappa == pytest.approx(np.linalg.cond(standardized_design(X)), rel=1e-4)
    if kappa <= theory.RELIABLE_CONDITION:
        assert_trustworthy(result, exact, X)
    else:
        assert not result.reliable
        assert result.message.startswith("closed form unreliable: ")
        assert result.correct_digits < 6  # no claim of the bar's 6 digits past 1e10


def test_the_polynomial_cases_reach_both_sides_of_the_bar():
    kappas = [
        theory.least_squares(*polynomial_problem(interval, degree)[:2]).condition_number
        for interval in ("[1, 2)", "[10, 11)", "[1000, 1001)")
        for degree in range(1, 11)
    ]
    assert sum(1e8 < kappa <= 1e10 for kappa in kappas) >= 3  # just below the bar
    assert sum(1e10 < kappa <= 1e14 for kappa in kappas) >= 3  # just above it


def test_iterative_refinement_measurably_helps():
    """Near the bar (condition number 7e9) the QR solve alone keeps about 7 digits;
    refinement in double-double brings it to float64's last digit."""
    X, y, exact = polynomial_problem("[1, 2)", 9)
    plain = theory.least_squares(X, y, max_refinements=0)
    refined = theory.least_squares(X, y)
    assert 1e9 < refined.condition_number <= theory.RELIABLE_CONDITION
    plain_error, _ = errors(plain.params, exact, X)
    refined_error, _ = errors(refined.params, exact, X)
    assert plain.refinements == 0 and refined.refinements >= 1
    assert refined_error <= 1e-13 and refined_error * 1e3 < plain_error
    assert plain.relative_error >= plain_error  # the a priori bound of perturbation theory


@pytest.mark.parametrize(("interval", "degree"), [("[1000, 1001)", 3), ("timestamps", 2)])
def test_the_old_closed_form_had_no_correct_digit_where_this_one_has_six(interval, degree):
    """The issue's closed form, np.linalg.lstsq on the raw columns with rcond=None, drops
    the small singular values of the raw design: no correct digit, at a condition number
    of the standardized design far below 1e10."""
    if interval == "timestamps":
        x = 1.7e9 + 60.0 * np.arange(ROWS)  # one reading a minute, in Unix seconds
        X = np.column_stack([x, x**2])
        y = 3 + 1e-5 * (x - x[0]) / 60 + noise(7)
        exact = exact_fractions(X, y)
    else:
        X, y, exact = polynomial_problem(interval, degree)
    raw = np.linalg.lstsq(np.column_stack([X, np.ones(ROWS)]), y, rcond=None)[0]
    _, old_error = errors(Linear(raw[:-1], raw[-1]), exact, X)
    assert old_error >= 0.5  # not one correct digit
    assert_trustworthy(theory.least_squares(X, y), exact, X)


def test_near_collinear_columns():
    rng = np.random.default_rng(11)
    a = rng.integers(-512, 513, ROWS) / 512
    b, c = rng.integers(-512, 513, (2, ROWS)) / 512
    X = np.column_stack([a, a + 2.0**-20 * c, b])
    y = a - b + noise(12)
    result = theory.least_squares(X, y)
    assert result.condition_number > 1e5
    assert_trustworthy(result, exact_fractions(X, y), X)


def test_a_tiny_target_on_large_features():
    """y about 0.1, x about 1e6: the issue's case where the loop stopped at 1 or 2 digits."""
    x = 1e6 + np.arange(ROWS, dtype=np.float64)
    y = 0.1 + 1e-8 * (x - 1e6) + noise(13) / 2**20
    assert_trustworthy(theory.least_squares(x, y), exact_fractions(x, y), x)


def test_a_timestamp_column():
    x = 1.7e9 + 60.0 * np.arange(ROWS)
    y = 3 + 1e-5 * (x - x[0]) / 60 + noise(14)
    result = theory.least_squares(x, y)
    assert result.condition_number < 10
    assert_trustworthy(result, exact_fractions(x, y), x)


def test_without_an_intercept_no_centering_and_the_raw_answer():
    X = np.column_stack([np.arange(1.0, ROWS + 1), np.cos(np.arange(ROWS))])
    y = 2 * X[:, 0] - X[:, 1] + noise(15)
    result = theory.least_squares(X, y, fit_intercept=False)
    assert result.params.b is None
    np.testing.assert_allclose(result.params.w, np.linalg.lstsq(X, y, rcond=None)[0], rtol=1e-13)
    assert result.condition_number == pytest.approx(np.linalg.cond(standardized_design(X, False)))
    assert_trustworthy(result, exact_fractions(X, y, False), X, fit_intercept=False)
    assert theory.closed_form(X, y, fit_intercept=False).b is None


def test_without_an_intercept_on_an_ill_conditioned_design():
    X, y, _ = polynomial_problem("[1, 2)", 6)
    result = theory.least_squares(X, y, fit_intercept=False)
    assert result.condition_number > 1e5
    assert_trustworthy(result, exact_fractions(X, y, False), X, fit_intercept=False)


def test_a_constant_column_gets_weight_zero():
    x = INTERVALS["(0, 1]"]
    y = 1 + 3 * x + noise(16)
    result = theory.least_squares(np.column_stack([x, np.full(ROWS, 5.0)]), y)
    assert result.params.w[1] == 0.0
    assert result.reliable and result.rank == 2  # x and the intercept: the constant is left out
    assert_trustworthy(theory.least_squares(x, y), exact_fractions(x, y), x)
    np.testing.assert_allclose(result.params.w[0], theory.closed_form(x, y).w[0], rtol=1e-15)
    # Without an intercept a constant column is the intercept.
    through_origin = theory.least_squares(
        np.column_stack([x, np.ones(ROWS)]), y, fit_intercept=False
    )
    np.testing.assert_allclose(
        through_origin.params.w, [result.params.w[0], result.params.b], rtol=1e-13
    )


def test_duplicated_columns_get_the_least_norm_answer_in_scaled_coordinates():
    x = INTERVALS["(0, 1]"]
    y = 1 + 3 * x + noise(17)
    single = theory.least_squares(x, y).params
    result = theory.least_squares(np.column_stack([x, 2 * x]), y)
    assert not result.reliable and result.rank == 2
    assert "rank-deficient (rank 2 of 3" in result.message
    assert "least-norm" in result.message
    # The scaled columns are equal (2x scales to the same column), so they share the weight.
    w = result.params.w
    assert w[0] == pytest.approx(2 * w[1], rel=1e-12)
    assert w[0] + 2 * w[1] == pytest.approx(single.w[0], rel=1e-12)
    assert result.params.b == pytest.approx(single.b, rel=1e-12)


def test_fewer_rows_than_columns_interpolate_with_the_least_norm_answer():
    rng = np.random.default_rng(18)
    X, y = rng.standard_normal((2, 4)), rng.standard_normal(2)
    result = theory.least_squares(X, y)
    assert result.rank == 2 and not result.reliable and result.correct_digits == 0
    np.testing.assert_allclose(X @ result.params.w + result.params.b, y, atol=1e-14)


def test_one_dimensional_x_is_one_feature():
    x = INTERVALS["[10, 11)"]
    y = 2 * x + noise(19)
    flat, column = theory.least_squares(x, y), theory.least_squares(x[:, None], y)
    assert flat.params.w.shape == (1,)
    np.testing.assert_array_equal(flat.params.w, column.params.w)
    assert (flat.params.b, flat.relative_error) == (column.params.b, column.relative_error)
    assert_trustworthy(flat, exact_fractions(x, y), x)


def test_blocks_of_rows_give_the_same_answer():
    X, y, exact = polynomial_problem("[10, 11)", 5)  # condition number 3e8
    whole = theory.least_squares(X, y)
    blocked = theory.least_squares(X, y, block_rows=7)
    np.testing.assert_allclose(blocked.params.w, whole.params.w, rtol=1e-13)
    assert blocked.condition_number == pytest.approx(whole.condition_number, rel=1e-6)
    assert_trustworthy(blocked, exact, X)


def test_float32_inputs_are_solved_in_float64():
    X, y, _ = polynomial_problem("(0, 1]", 4)
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    result = theory.least_squares(X32, y32)
    assert result.params.w.dtype == np.float64
    exact = exact_fractions(X32, y32)  # the float32 values, exactly
    assert_trustworthy(result, exact, X32.astype(np.float64))


def test_closed_form_is_the_params_and_its_cost_is_float64_with_or_without_b():
    X, y, _ = polynomial_problem("(0, 1]", 3)
    for fit_intercept in (True, False):
        params = theory.closed_form(X, y, fit_intercept=fit_intercept)
        expected = theory.least_squares(X, y, fit_intercept=fit_intercept).params
        np.testing.assert_array_equal(params.w, expected.w)
        assert params.b == expected.b
        cost = theory.closed_form_cost(params, X.astype(np.float32), y, block_rows=8)
        residual = y - X.astype(np.float32).astype(np.float64) @ params.w - (params.b or 0.0)
        assert cost.dtype == np.float64
        assert cost == pytest.approx(np.mean(residual**2), rel=1e-13)


def test_a_zero_target_is_fitted_exactly():
    result = theory.least_squares(INTERVALS["(0, 1]"], np.zeros(ROWS))
    assert result.params.w.tolist() == [0.0] and result.params.b == 0.0
    assert result.reliable and result.correct_digits == 15
