"""Hostile data (issue 11): files built to break loading and standardization.

Each case failed before its fix: a wrong answer, a silent replacement, a traceback,
or a RuntimeWarning ahead of the one-line error. Every refusal is one line that
names the file, and exits 2 through the command.
"""

import io
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from cli_runs import run_command

from steepest import DataError, data


def write(path, text):
    path.write_text(text)
    return path


def refused_in_one_line(tmp_path, argv):
    """The command's stderr, after checking it exits 2 with one line and no warning."""
    run = run_command(argv, tmp_path)
    assert run.returncode == 2, run.describe()
    assert run.stderr.count("\n") == 1, run.describe()
    assert "Warning" not in run.stderr and "Traceback" not in run.stderr, run.describe()
    return run.stderr


# Item 2: extreme magnitudes are standardized, not dropped.


@pytest.mark.parametrize(
    ("column", "rtol"),
    [
        ([1e300, 2e300, 3e300], 1e-12),
        ([1e-300, 2e-300, 3e-300], 1e-12),
        ([-1.7e308, 1.7e308, 1.7e308], 1e-12),  # x - mean overflows: 2.27e308
        ([1e-320, 2e-320, 3e-320], 1e-3),  # subnormal: the mean and scale keep 11 bits
    ],
)
def test_extreme_columns_standardize_like_moderate_ones(column, rtol):
    X = np.array(column)[:, None]
    with np.errstate(all="raise"):  # no overflow, underflow or invalid value on the way
        standardizer = data.Standardizer.of(X)
        Z = standardizer.transform(X)
    reference = data.Standardizer.of(X / np.max(np.abs(X)))
    expected = reference.transform(X / np.max(np.abs(X)))
    np.testing.assert_allclose(Z, expected, rtol=rtol)
    assert np.all(np.isfinite(standardizer.scale)) and np.all(standardizer.scale > 0)


def test_extreme_target_mean_does_not_overflow():
    y = np.array([1.7e308, 1.7e308, -1.7e308])
    standardizer = data.Standardizer.of(np.arange(3.0)[:, None], y)
    assert standardizer.target_mean == pytest.approx(1.7e308 / 3)


def test_fit_on_a_column_at_1e300_finds_its_slope(tmp_path):
    write(tmp_path / "b.csv", "x,y\n1e300,1\n2e300,2\n3e300,3.5\n")
    run = run_command(["fit", "--data", "b.csv", "--x64", "--json"], tmp_path)
    assert run.returncode == 0, run.describe()
    record = run.record()
    assert record["params"]["w"][0] == pytest.approx(1.25e-300, rel=1e-9)
    assert record["params"]["b"] == pytest.approx(-1 / 3, rel=1e-9)


def test_a_centered_target_beyond_float64_is_one_line_without_warnings(tmp_path):
    write(tmp_path / "e.csv", "x,y\n1,1.7e308\n2,1.7e308\n3,-1.7e308\n")
    stderr = refused_in_one_line(tmp_path, ["fit", "--data", "e.csv", "--x64"])
    assert "does not fit float64; scale the data" in stderr
    assert "--x64" not in stderr  # it was given


def test_raw_features_at_1e30_say_what_to_do_without_a_numpy_warning(tmp_path):
    """In float32 the Hessian of raw features at 1e30 overflows: sweep has no learning
    rate to offer and says how to get one; fit stalls and says so. Warnings are errors
    here: pytest would otherwise catch the RuntimeWarning that a process prints."""
    write(tmp_path / "h.csv", "x,y\n1e30,1\n2e30,2\n3e30,3\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stderr = refused_in_one_line(tmp_path, ["sweep", "--data", "h.csv", "--no-standardize"])
        fitted = run_command(["fit", "--data", "h.csv", "--no-standardize", "--json"], tmp_path)
    assert "no learning rate to sweep" in stderr and "--x64" in stderr
    assert "learning_rates" not in stderr  # the library's word
    assert fitted.returncode == 3 and fitted.record()["status"] == "stalled", fitted.describe()


# Item 3: an npz with X and x0 is ambiguous.


def test_npz_with_X_and_x0_is_refused(tmp_path):
    np.savez(tmp_path / "m.npz", X=np.zeros((3, 2)), x0=np.ones(3), y=np.arange(3.0))
    with pytest.raises(DataError, match=r"m\.npz: holds a 2-D 'X'.*x0\.\.x1.*'x0'"):
        data.load(tmp_path / "m.npz")
    stderr = refused_in_one_line(tmp_path, ["fit", "--data", "m.npz"])
    assert "m.npz" in stderr and "'x0'" in stderr


# Item 15: declared sizes are checked before reading.


def npy_header(shape, dtype="<f8"):
    """The bytes of a .npy file that declares ``shape`` and holds no data."""
    buffer = io.BytesIO()
    header = {"descr": dtype, "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue()


HUGE = (2**20, 2**20)  # 8 TiB of float64: more than any machine here


def test_npz_declaring_terabytes_is_refused_before_reading(tmp_path):
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("X.npy", npy_header(HUGE))
        archive.writestr("y.npy", npy_header((2**20,)))
    with pytest.raises(DataError, match=r"bomb\.npz: array 'X' declares shape \(1048576, 10"):
        data.load(path)
    stderr = refused_in_one_line(tmp_path, ["fit", "--data", "bomb.npz"])
    assert "8.8 TB" in stderr and "memory available" in stderr


def test_npy_declaring_terabytes_is_refused_before_reading(tmp_path):
    path = tmp_path / "bomb.npy"
    path.write_bytes(npy_header(HUGE))
    with pytest.raises(DataError, match=r"bomb\.npy: array '0' declares .* 8\.8 TB, more than"):
        data.load(path)


def available_memory():
    """MemAvailable, as the loader reads it (Linux)."""
    with open("/proc/meminfo") as meminfo:
        return next(int(line.split()[1]) * 1024 for line in meminfo if "MemAvailable" in line)


def header_only_npz(path, **shapes):
    with zipfile.ZipFile(path, "w") as archive:
        for name, (shape, dtype) in shapes.items():
            archive.writestr(f"{name}.npy", npy_header(shape, dtype))
    return path


@pytest.mark.skipif(not Path("/proc/meminfo").exists(), reason="reads MemAvailable")
def test_arrays_and_their_table_are_checked_together(tmp_path):
    rows = int(0.45 * available_memory()) // 8  # two arrays of 0.45, and a table of 0.9
    path = header_only_npz(tmp_path / "m.npz", a=((rows,), "<f8"), b=((rows,), "<f8"))
    with pytest.raises(DataError, match=r"m\.npz: its arrays and their float64 table need"):
        data.load(path)


@pytest.mark.skipif(not Path("/proc/meminfo").exists(), reason="reads MemAvailable")
def test_a_float64_npy_needs_no_second_copy(tmp_path):
    rows = int(0.35 * available_memory()) // 8  # 0.7 of what is available, in 2 columns
    (tmp_path / "f.npy").write_bytes(npy_header((rows, 2), "<f8"))
    with pytest.raises(DataError, match=r"f\.npy: not a readable NumPy file"):  # it has no data
        data.load(tmp_path / "f.npy")
    (tmp_path / "i.npy").write_bytes(npy_header((rows, 2), "<i8"))  # and a float64 copy
    with pytest.raises(DataError, match=r"i\.npy: its arrays and their float64 table need"):
        data.load(tmp_path / "i.npy")


# The weak cases.


def test_csv_without_a_header_row_says_so(tmp_path):
    write(tmp_path / "n.csv", "1,2\n3,4\n5,6.5\n")
    with pytest.raises(DataError, match=r"n\.csv: the first row is all numbers \(1, 2\); the file"):
        data.load(tmp_path / "n.csv")
    write(tmp_path / "q.csv", '"1","2"\n3,4\n5,6.5\n')  # read cell by cell
    with pytest.raises(DataError, match="the first row is all numbers"):
        data.load(tmp_path / "q.csv")
    stderr = refused_in_one_line(tmp_path, ["fit", "--data", "n.csv"])
    assert "needs a header row naming the columns" in stderr


def test_a_number_with_an_underscore_is_not_a_number(tmp_path):
    write(tmp_path / "u.csv", "x,y\n1,2\n1_0,3\n4,5\n")
    stderr = refused_in_one_line(tmp_path, ["fit", "--data", "u.csv"])
    assert "u.csv, line 3, column 1 ('x'): '1_0' is not a number" in stderr


@pytest.mark.parametrize("dtype", ["m8[s]", "M8[D]", "?"])
def test_time_and_bool_arrays_are_not_real_numbers(tmp_path, dtype):
    values = np.arange(6).reshape(3, 2).astype(dtype)
    np.save(tmp_path / "t.npy", values)
    with pytest.raises(DataError, match=r"t\.npy: array 'x0' has dtype .*, not real numbers"):
        data.load(tmp_path / "t.npy")
    np.savez(tmp_path / "t.npz", a=values[:, 0], y=np.arange(3.0))
    with pytest.raises(DataError, match=r"t\.npz: array 'a' has dtype .*, not real numbers"):
        data.load(tmp_path / "t.npz")


def test_a_directory_is_named_as_one(tmp_path):
    (tmp_path / "folder.csv").mkdir()
    stderr = refused_in_one_line(tmp_path, ["fit", "--data", "folder.csv"])
    assert "folder.csv is a directory" in stderr and "no such file" not in stderr


def test_a_feature_selected_twice_is_refused(tmp_path):
    write(tmp_path / "d.csv", "a,b,y\n1,2,3\n4,5,7\n7,9,8\n")
    with pytest.raises(DataError, match=r"d\.csv: feature 'a' is selected twice"):
        data.load(tmp_path / "d.csv", x=["a", "a"])
    stderr = refused_in_one_line(tmp_path, ["fit", "--data", "d.csv", "--x", "a", "a"])
    assert "feature 'a' is selected twice" in stderr
