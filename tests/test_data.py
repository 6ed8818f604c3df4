"""Data at the boundary: the built-in dataset, loading, validation, standardization."""

import warnings

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from problems import regression_problem

import steepest
from steepest import DataError, data


def test_builtin_is_deterministic_and_near_its_true_line():
    first, again, other = data.builtin(0), data.builtin(0), data.builtin(1)
    np.testing.assert_array_equal(first.X, again.X)
    np.testing.assert_array_equal(first.y, again.y)
    assert not np.array_equal(first.y, other.y)
    exact = steepest.theory.closed_form(first.X, first.y)
    # 200 points with noise 2 over x in [0, 50): the slope is known to about 0.01.
    assert exact.w[0] == pytest.approx(0.25, abs=0.03)  # the documented true m and b
    assert exact.b == pytest.approx(5.0, abs=1.0)


@given(
    seed=st.integers(0, 2**32 - 1),
    shift=st.floats(-1e3, 1e3),
    log_scale=st.floats(-3, 3),
)
def test_standardized_least_squares_maps_back_to_the_original(seed, shift, log_scale):
    X, y = regression_problem(seed, 40, 3)
    X = X * 10.0**log_scale + shift
    standardizer = data.Standardizer.of(X)
    in_standard_units = steepest.theory.closed_form(standardizer.transform(X), y)
    back = standardizer.to_original(in_standard_units)
    exact = steepest.theory.closed_form(X, y)
    # lstsq on the raw columns loses digits as the columns grow ill-conditioned.
    rtol = 1e-12 * np.linalg.cond(np.column_stack([X, np.ones(40)]))
    np.testing.assert_allclose(back.w, exact.w, rtol=rtol, atol=rtol * np.abs(exact.w).max())
    assert back.b == pytest.approx(exact.b, rel=rtol, abs=rtol * np.abs(exact.b))


def test_constant_column_is_centered_not_divided_by_zero():
    X = np.column_stack([np.arange(5.0), np.full(5, 7.0)])
    standardizer = data.Standardizer.of(X)
    assert np.all(np.isfinite(standardizer.transform(X)))
    np.testing.assert_array_equal(standardizer.transform(X)[:, 1], 0.0)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_load_csv_picks_columns(tmp_path):
    path = write(tmp_path, "d.csv", "a,b,target\n1,2,3\n4,5,6.5\n7,8.5,9\n")
    default = data.load(path)
    assert (default.x_names, default.y_name) == (("a", "b"), "target")
    np.testing.assert_array_equal(default.y, [3, 6.5, 9])
    chosen = data.load(path, y="a", x=["target"])
    np.testing.assert_array_equal(chosen.X[:, 0], [3, 6.5, 9])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        ("a,b\n", "no data rows"),
        ("a,b\n1,2\n", "needs at least 2 rows, got 1"),
        ("a,b\n1,2\n3,abc\n", r"line 3, column 2 \('b'\): 'abc' is not a number"),
        ("a,b\n1,2\n3,nan\n", "line 3: column 'b' is nan"),
        ("a,b\n1,2\n3,4\n-inf,5\n", "line 4: column 'a' is -inf"),
        ("a,b\n1,2\n3\n", "line 3: 1 cells, but the header has 2"),
    ],
)
def test_load_csv_errors_name_the_place(tmp_path, text, message):
    with pytest.raises(DataError, match=message):
        data.load(write(tmp_path, "d.csv", text))


def test_unknown_column_lists_the_available_ones(tmp_path):
    path = write(tmp_path, "d.csv", "a,b,c\n1,2,3\n4,5,6\n")
    with pytest.raises(DataError, match="unknown column 'z'; available: a, b, c"):
        data.load(path, y="z")
    with pytest.raises(DataError, match="unknown column 'q'"):
        data.load(path, x=["a", "q"])


def test_missing_and_unsupported_files(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        data.load(tmp_path / "nope.csv")
    with pytest.raises(DataError, match=r"unsupported file type '\.txt'"):
        data.load(write(tmp_path, "d.txt", "a\n1\n"))


def test_load_numpy_files(tmp_path):
    X, y = regression_problem(0, 10, 2)
    np.savez(tmp_path / "m.npz", X=X, y=y)
    loaded = data.load(tmp_path / "m.npz")
    assert (loaded.x_names, loaded.y_name) == (("x0", "x1"), "y")
    np.testing.assert_array_equal(loaded.X, X)
    np.save(tmp_path / "a.npy", np.column_stack([X, y]))
    loaded = data.load(tmp_path / "a.npy")
    assert (loaded.x_names, loaded.y_name) == (("0", "1"), "2")
    np.testing.assert_array_equal(loaded.y, y)
    np.savez(tmp_path / "ragged.npz", a=np.zeros(3), b=np.zeros(4))
    with pytest.raises(DataError, match="columns differ in length: 'a' has 3, 'b' has 4"):
        data.load(tmp_path / "ragged.npz")
    np.savez(tmp_path / "text.npz", a=np.array(["x", "y"]), b=np.zeros(2))
    with pytest.raises(DataError, match="array 'a' has dtype <U1, not real numbers"):
        data.load(tmp_path / "text.npz")


def test_validate_catches_mismatched_lengths_and_warns_on_constant_columns():
    with pytest.raises(DataError, match="X has 3 rows but y has 2"):
        data.validate(np.zeros((3, 1)), np.zeros(2), ("x",), "y", "demo")
    with pytest.warns(data.ConstantColumnWarning, match="column 'c' is constant"):
        data.validate(np.ones((3, 1)), np.arange(3.0), ("c",), "y", "demo")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data.validate(np.arange(3.0), np.arange(3.0), ("x",), "y", "demo")


def test_to_device_refuses_values_that_overflow_float32():
    with pytest.raises(DataError, match="does not fit float32"):
        data.to_device(np.array([1.0, 1e39]))
    (placed,) = data.to_device(np.array([1.0, 2.0]))
    assert placed.dtype == jnp.float32
