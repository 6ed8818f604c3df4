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


def test_builtin_multivariable_columns_are_as_documented():
    one, three = data.builtin(0), data.builtin(0, x=None)
    assert three.x_names == data.BUILTIN_FEATURES == ("TV", "radio", "newspaper")
    # radio and sales are drawn first: the one-feature example is the same data.
    np.testing.assert_array_equal(three.X[:, 1], one.X[:, 0])
    np.testing.assert_array_equal(three.y, one.y)
    tv, radio, newspaper = three.X.T
    assert np.corrcoef(radio, newspaper)[0, 1] == pytest.approx(0.85, abs=0.05)
    assert abs(np.corrcoef(tv, radio)[0, 1]) < 0.2
    assert newspaper.min() >= 0 and tv.min() > 0
    # TV explains most of what radio leaves; newspaper sells nothing.
    w = steepest.theory.closed_form(three.X, three.y).w
    assert w[0] == pytest.approx(0.045, abs=0.005) and abs(w[2]) < 0.03
    assert w[1] == pytest.approx(0.25, abs=0.03)
    # Standardized, still ill-conditioned: the Hessian 2/N [Z 1]^T [Z 1] has kappa about 12.
    Z = data.Standardizer.of(three.X).transform(three.X)
    design = np.column_stack([Z, np.ones(len(Z))])
    eigenvalues = np.linalg.eigvalsh(2 / len(Z) * design.T @ design)
    assert 8 < eigenvalues[-1] / eigenvalues[0] < 20
    assert data.builtin(0, x=["newspaper", "TV"]).x_names == ("newspaper", "TV")
    with pytest.raises(DataError, match=r"no column 'tv'; its features: TV, radio, newspaper"):
        data.builtin(0, x=["tv"])
    with pytest.raises(DataError, match=r"named twice: radio, radio"):
        data.builtin(0, x=["radio", "radio"])
    assert data.builtin(0, x="radio").x_names == ("radio",)


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
        ("a,b\n1,2\n   \n3,4\n", "line 3: 1 cells, but the header has 2"),  # not blank
        ("a,b\n1,2\n3,4,\n", "line 3: 3 cells, but the header has 2"),
        ("a\n1\n \n2\n", r"line 3, column 1 \('a'\): '' is not a number"),
        ("\ufeffa,b\n\n1,2\n\n\n3,x\n", r"line 6, column 2 \('b'\): 'x' is not a number"),
        ("a,b\r\n\r\n1,2\r\n3,inf\r\n", "line 4: column 'b' is inf"),
        ("a, a\n1,2\n3,4\n", r"names column 'a' twice \(columns 1 and 2\)"),
        (",\n1,2\n", "is empty"),
        ("\n", "is empty"),
        ("a,b\n\n\n", "no data rows"),
        ("a,b\n1,2\n# 3,4\n", r"line 3, column 1 \('a'\): '# 3' is not a number"),
        ("a,b\n1_000,2\n3,4\n", r"line 2, column 1 \('a'\): '1_000' is not a number"),
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
    assert (loaded.x_names, loaded.y_name) == (("x0", "x1"), "y")
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


def csv_text(values, names, *, quote=False, pad="", newline="\n", blank_every=0, bom=False):
    """``values`` as CSV text, each number written exactly (``repr``) and formatted as asked."""
    cell = '"{}"'.format if quote else f"{pad}{{}}{pad}".format
    lines = [",".join(names)]
    for index, row in enumerate(values, start=1):
        lines.append(",".join(cell(repr(float(v))) for v in row))
        if blank_every and index % blank_every == 0:
            lines.append("")
    return ("\ufeff" if bom else "") + newline.join(lines) + newline


@given(
    seed=st.integers(0, 2**32 - 1),
    pad=st.sampled_from(["", " ", "\t", " \t "]),
    newline=st.sampled_from(["\n", "\r\n"]),
    blank_every=st.integers(0, 7),
    bom=st.booleans(),
)
def test_csv_loads_as_numpy_parses_it(tmp_path_factory, seed, pad, newline, blank_every, bom):
    rng = np.random.default_rng(seed)
    values = rng.standard_normal((30, 3)) * 10.0 ** rng.integers(-300, 300, (30, 3))
    folder = tmp_path_factory.mktemp("csv")
    plain = write(folder, "plain.csv", csv_text(values, ["a", "b", "c"]))
    text = csv_text(values, ["a", "b", "c"], pad=pad, newline=newline, blank_every=blank_every)
    formatted = folder / "formatted.csv"
    formatted.write_bytes(text.encode("utf-8-sig" if bom else "utf-8"))
    expected = np.loadtxt(plain, delimiter=",", skiprows=1, ndmin=2)
    np.testing.assert_array_equal(expected, values)
    loaded = data.load(formatted)
    np.testing.assert_array_equal(loaded.X, expected[:, :2])
    np.testing.assert_array_equal(loaded.y, expected[:, 2])
    assert (loaded.x_names, loaded.y_name) == (("a", "b"), "c")


@given(seed=st.integers(0, 2**32 - 1), blank_every=st.integers(0, 5))
def test_csv_read_cell_by_cell_gives_the_same_dataset(tmp_path_factory, seed, blank_every):
    # NumPy's parser refuses quoted cells, so the quoted file is read cell by cell.
    values = np.random.default_rng(seed).standard_normal((20, 3))
    folder = tmp_path_factory.mktemp("csv")
    names = ["a", "b", "c"]
    fast = data.load(write(folder, "fast.csv", csv_text(values, names, blank_every=blank_every)))
    quoted = csv_text(values, names, quote=True, blank_every=blank_every)
    slow = data.load(write(folder, "slow.csv", quoted), y="a", x=["c", "b"])
    np.testing.assert_array_equal(slow.X, values[:, [2, 1]])
    np.testing.assert_array_equal(slow.y, values[:, 0])
    both = data.load(write(folder, "both.csv", quoted))
    np.testing.assert_array_equal(both.X, fast.X)
    np.testing.assert_array_equal(both.y, fast.y)
    assert (both.x_names, both.y_name) == (fast.x_names, fast.y_name)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('a,b\n"1","2"\n3,"4.5"\n', [[1, 2], [3, 4.5]]),  # quoted cells
        ("a,b\r1,2\r3,4\r", [[1, 2], [3, 4]]),  # old Mac line ends
        ("a,b\n1,2\n,\n3,4\n", [[1, 2], [3, 4]]),  # a row of empty cells is blank
    ],
)
def test_csv_the_fast_parser_refuses_is_still_read(tmp_path, text, expected):
    loaded = data.load(write(tmp_path, "d.csv", text))
    np.testing.assert_array_equal(np.column_stack([loaded.X, loaded.y]), expected)


def large_csv(tmp_path, rows, bad_line_text=None, at=None):
    """A CSV of ``rows`` rows with a blank line after every 1000th; returns (path, lines)."""
    lines = ["a,b"]
    for index in range(rows):
        lines.append(f"{index},{2 * index + 1}")
        if index % 1000 == 999:
            lines.append("")
    if bad_line_text is not None:
        lines[at - 1] = bad_line_text
    return write(tmp_path, "large.csv", "\n".join(lines) + "\n"), lines


def test_an_error_in_a_large_csv_names_its_line_and_column(tmp_path):
    rows = 100_000
    _, lines = large_csv(tmp_path, rows)
    at = len(lines) - 17  # a data line late in the file (1-based: line `at`)
    assert lines[at - 1]
    path, _ = large_csv(tmp_path, rows, f"{lines[at - 1].split(',')[0]},oops", at)
    with pytest.raises(DataError, match=rf"large\.csv, line {at}, column 2 \('b'\): 'oops'"):
        data.load(path)
    path, _ = large_csv(tmp_path, rows, "nan,1", at)
    with pytest.raises(DataError, match=rf"large\.csv, line {at}: column 'a' is nan"):
        data.load(path)


def test_a_bad_encoding_anywhere_comes_before_a_bad_cell(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(b"a,b\n1,x\n" + b"3,4\n" * 5000 + "5,\u00e9\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"is not UTF-8 text \(byte \d+\)"):
        data.load(path)


def test_float64_npy_columns_are_views_of_the_file_array_not_copies(tmp_path):
    table = np.random.default_rng(0).standard_normal((50, 3))
    np.save(tmp_path / "t.npy", table)
    loaded = data.load(tmp_path / "t.npy")
    assert loaded.X.base is not None and loaded.X.base is loaded.y.base
    np.testing.assert_array_equal(loaded.X, table[:, :2])
    chosen = data.load(tmp_path / "t.npy", y="x0", x=["y", "x1"])  # not in file order: copies
    assert chosen.X.flags.owndata and chosen.y.flags.owndata
    np.testing.assert_array_equal(chosen.X, table[:, [2, 1]])
    np.save(tmp_path / "f32.npy", table.astype(np.float32))
    converted = data.load(tmp_path / "f32.npy")
    assert converted.X.dtype == np.float64
    np.testing.assert_array_equal(converted.y, table[:, 2].astype(np.float32))


@given(seed=st.integers(0, 2**32 - 1), count=st.integers(1, 4))
def test_validate_names_the_first_non_finite_value_by_row_then_column(seed, count):
    rng = np.random.default_rng(seed)
    table = rng.standard_normal((8, 3))
    for _ in range(count):
        table[rng.integers(8), rng.integers(3)] = rng.choice([np.nan, np.inf, -np.inf])
    rows, columns = np.nonzero(~np.isfinite(table))  # row-major: y is the last column
    row, column = rows[0], columns[0]
    expected = rf"demo, line {row + 2}: column '{'pqy'[column]}' is {table[row, column]}"
    with pytest.raises(DataError, match=expected):
        data.validate(table[:, :2], table[:, 2], ("p", "q"), "y", "demo", lambda i: f"line {i + 2}")
    labels = [f"line {i + 2}" for i in range(8)]  # a sequence of labels works too
    with pytest.raises(DataError, match=expected):
        data.validate(table[:, :2], table[:, 2], ("p", "q"), "y", "demo", labels)


def test_validate_keeps_float64_arrays_and_standardizing_leaves_them_alone():
    X, y = regression_problem(0, 20, 2)
    dataset = data.validate(X, y, ("a", "b"), "y", "demo")
    assert dataset.X is X and dataset.y is y
    before = X.copy()
    standardized = data.Standardizer.of(X).transform(X)
    np.testing.assert_array_equal(X, before)
    np.testing.assert_allclose(standardized, (X - X.mean(axis=0)) / X.std(axis=0))


def test_to_device_checks_the_most_negative_value_and_passes_nan():
    with pytest.raises(DataError, match="magnitude 1e\\+39 does not fit float32"):
        data.to_device(np.array([1.0, -1e39]))
    (placed,) = data.to_device(np.array([1.0, np.nan]))
    assert np.isnan(placed[1])
    (empty,) = data.to_device(np.zeros(0))
    assert empty.shape == (0,)


def test_load_reads_parquet_by_its_column_names(tmp_path):
    pyarrow = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    X, y = regression_problem(3, 30, 2)
    columns = {"width": X[:, 0], "depth": X[:, 1].astype(np.float32), "loss": y}
    pq.write_table(pyarrow.table(columns), tmp_path / "runs.parquet", row_group_size=7)
    loaded = data.load(tmp_path / "runs.parquet", y="loss", x=["depth", "width"])
    assert (loaded.x_names, loaded.y_name) == (("depth", "width"), "loss")
    np.testing.assert_array_equal(loaded.X, np.column_stack([columns["depth"], X[:, 0]]))
    np.testing.assert_array_equal(loaded.y, y)
