"""Files named by a URL (issue 23), read through fsspec: ``memory://``, its in-process
object store, and ``file://``; never the internet. Each is read as the same local file
is: the same table, the same chunks, the same fit to the last bit."""

import numpy as np
import pytest
from cli_runs import run_command
from problems import regression_problem

from steepest import DataError, Linear, fit_stream, mse
from steepest.data import load, stream

fsspec = pytest.importorskip("fsspec")
pa, pq = pytest.importorskip("pyarrow"), pytest.importorskip("pyarrow.parquet")


def put(url: str, local) -> str:
    """A copy of the local file ``local`` at ``url`` (a ``memory://`` one)."""
    with fsspec.open(url, "wb") as file:
        file.write(local.read_bytes())
    return url


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The same table as .npy, .parquet (row groups of 70) and .csv, here and in memory."""
    folder = tmp_path_factory.mktemp("remote")
    X, y = regression_problem(9, 300, 2)
    table = np.column_stack([X, y])
    np.save(folder / "t.npy", table)
    pq.write_table(pa.table({"x0": X[:, 0], "x1": X[:, 1], "y": y}), folder / "t.parquet",
                   row_group_size=70)  # fmt: skip
    lines = ["x0,x1,y", *(",".join(repr(float(v)) for v in row) for row in table)]
    (folder / "t.csv").write_text("\n".join(lines) + "\n")
    return {name: (folder / name, put(f"memory://steepest-tests/{name}", folder / name))
            for name in ("t.npy", "t.parquet", "t.csv")}  # fmt: skip


@pytest.mark.parametrize("name", ["t.npy", "t.parquet", "t.csv"])
def test_a_url_loads_the_table_the_local_file_holds(files, name):
    local, url = files[name]
    here, there = load(local), load(url)
    np.testing.assert_array_equal(there.X, here.X)
    np.testing.assert_array_equal(there.y, here.y)
    assert there.source == url
    file_url = load(local.absolute().as_uri())
    np.testing.assert_array_equal(file_url.X, here.X)


@pytest.mark.parametrize("name", ["t.npy", "t.parquet"])
def test_a_url_streams_the_chunks_and_the_fit_of_the_local_file(files, name):
    local, url = files[name]
    rule = dict(learning_rate=0.1, max_steps=40, tol=0.0, stall_patience=None)
    here = fit_stream(mse, Linear.zeros(2), stream(local, chunk_rows=64), **rule)
    for source in (url, local.absolute().as_uri()):
        there = fit_stream(mse, Linear.zeros(2), stream(source, chunk_rows=64), **rule)
        np.testing.assert_array_equal(there.params.w, here.params.w)
        assert there.status is here.status and there.message == here.message


def test_a_streamed_npy_url_is_read_a_chunk_at_a_time_never_whole(files, monkeypatch):
    """Each read asks for one chunk's bytes (64 rows of 3 float64), at its offset."""
    _, url = files["t.npy"]
    asked = []
    memory_file = type(fsspec.open(url, "rb").open())
    readinto = memory_file.readinto

    def counted(self, buffer):
        asked.append(len(memoryview(buffer).cast("B")))
        return readinto(self, buffer)

    monkeypatch.setattr(memory_file, "readinto", counted)
    chunks = list(stream(url, chunk_rows=64).chunks())
    assert len(chunks) == 5 and asked == [64 * 24] * 4 + [44 * 24]


def test_the_command_line_fits_a_url(files, tmp_path):
    local, url = files["t.parquet"]
    there = run_command(["fit", "--data", url, "--json"], tmp_path)
    here = run_command(["fit", "--data", str(local), "--json"], tmp_path)
    assert (there.returncode, here.returncode) == (0, 0), there.describe()
    assert there.record()["params"] == here.record()["params"]
    assert there.record()["data"]["source"] == url


def test_urls_that_cannot_be_read_are_named_in_one_line(tmp_path):
    missing = run_command(["fit", "--data", "memory://steepest-tests/none.npy"], tmp_path)
    assert missing.returncode == 2
    assert missing.stderr == "steepest: error: no such file: memory://steepest-tests/none.npy\n"
    with pytest.raises(DataError, match=r"^nosuch://bucket/t.npy: .*nosuch"):
        load("nosuch://bucket/t.npy")  # a store fsspec does not know
    with fsspec.open("memory://steepest-tests/bad.npy", "wb") as file:
        file.write(b"not numpy")
    with pytest.raises(DataError, match=r"memory://steepest-tests/bad\.npy: not a readable"):
        stream("memory://steepest-tests/bad.npy")


def test_a_store_that_fails_mid_run_stops_it_as_a_changed_file_does(files, monkeypatch):
    """The params reached are kept and the file named, as for a local file deleted."""
    _, url = files["t.npy"]
    memory = type(fsspec.filesystem("memory"))
    info = memory.info
    failing = []

    def flaky(self, path, **kwargs):
        if failing:
            raise PermissionError(13, "Permission denied", path)
        return info(self, path, **kwargs)

    monkeypatch.setattr(memory, "info", flaky)
    result = fit_stream(
        mse, Linear.zeros(2), stream(url, chunk_rows=64), learning_rate=0.01, max_steps=10**6,
        tol=0.0, on_chunk=lambda progress: failing.append(True),
    )  # fmt: skip
    assert result.status.value == "interrupted", result.message  # not a raised DataError
    assert f"{url} changed while it was read" in result.message
