"""Data read a chunk at a time (issue 12, item 3): fit_stream against fit in memory.

The same rows, in a .npy file read in chunks of 70 (the last of 60 of 480 rows)
and as arrays in memory, for a fixed number of steps: the same iterates up to
rounding in the order of the sums (1e-5 relative in float32, 1e-12 in float64).
"""

import tempfile

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from cli_runs import run_command
from problems import regression_problem, shuffled

import steepest
from steepest import DataError, Linear, Status, fit, fit_stream, mse
from steepest.data import standardizer_of, stream

ROWS, FEATURES, CHUNK = 480, 3, 70


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    X, y = regression_problem(21, ROWS, FEATURES)
    path = tmp_path_factory.mktemp("stream") / "table.npy"
    np.save(path, np.column_stack([X, y]))
    return path, X, y


def flat(result):
    return np.append(np.asarray(result.params.w, np.float64), float(result.params.b))


@pytest.mark.parametrize("optimizer", ["gd", "adam"])
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64], ids=["float32", "float64"])
def test_streamed_steps_are_the_in_memory_steps(table, optimizer, dtype):
    path, X, y = table
    rule = dict(optimizer=optimizer, learning_rate=0.05, max_steps=40, tol=0.0,
                stall_patience=None)  # fmt: skip
    with jax.enable_x64(dtype == jnp.float64):
        chunks = stream(path, chunk_rows=CHUNK, dtype=dtype)
        streamed = fit_stream(mse, Linear.zeros(FEATURES, dtype), chunks, **rule)
        memory = fit(mse, Linear.zeros(FEATURES, dtype), jnp.asarray(X, dtype),
                     jnp.asarray(y, dtype), certificate=False, **rule)  # fmt: skip
    assert streamed.num_steps == memory.num_steps == 40
    rtol = 1e-5 if dtype == jnp.float32 else 1e-12
    np.testing.assert_allclose(flat(streamed), flat(memory), rtol=rtol)
    assert streamed.loss == pytest.approx(memory.loss, rel=rtol)  # both in float64


def test_a_default_streamed_fit_converges_to_the_least_squares_answer(table):
    path, X, y = table
    result = fit_stream(mse, Linear.zeros(FEATURES), stream(path, chunk_rows=CHUNK))
    assert result.status is Status.CONVERGED, result.message
    exact, *_ = np.linalg.lstsq(np.column_stack([X, np.ones(ROWS)]), y, rcond=None)
    np.testing.assert_allclose(flat(result), exact, rtol=1e-4, atol=1e-4)


def test_the_chunks_are_the_file_in_order(table):
    path, X, y = table
    chunks = list(stream(path, chunk_rows=CHUNK, dtype=np.float64).chunks())
    assert [len(c[1]) for c in chunks] == [70] * 6 + [60]
    np.testing.assert_array_equal(np.concatenate([c[0] for c in chunks]), X)
    np.testing.assert_array_equal(np.concatenate([c[1] for c in chunks]), y)


def write(path, array):
    np.save(path, array)
    return path


def test_files_streaming_cannot_read_are_named(tmp_path):
    (tmp_path / "t.csv").write_text("x,y\n1,2\n")
    cases = [
        (tmp_path / "t.csv", "streaming reads a .npy file of one 2-D array or a .parquet file"),
        (write(tmp_path / "a.npy", np.zeros((4, 2, 2))), "needs a C-ordered 2-D array"),
        (write(tmp_path / "f.npy", np.asfortranarray(np.ones((4, 2)))), "Fortran order"),
        (write(tmp_path / "c.npy", np.ones((4, 2), complex)), "complex numbers"),
        (tmp_path / "missing.npy", "no such file"),
    ]
    for path, words in cases:
        with pytest.raises(DataError, match=words):
            stream(path)
    truncated = write(tmp_path / "t.npy", np.ones((100, 2)))
    truncated.write_bytes(truncated.read_bytes()[:-8])
    with pytest.raises(DataError, match="shorter than its header declares"):
        stream(truncated)


def test_a_nan_is_named_by_its_row_before_any_step(tmp_path):
    values = np.ones((300, 2))
    values[257, 0] = np.nan
    with pytest.raises(DataError, match="row 257 holds NaN or infinity"):
        fit_stream(mse, Linear.zeros(1), stream(write(tmp_path / "n.npy", values), chunk_rows=64))


def test_what_streaming_cannot_do_is_refused_in_one_line(table):
    path, *_ = table
    chunks = stream(path, chunk_rows=CHUNK)
    with pytest.raises(ValueError, match="batch_size 71 is more than a chunk's 70 rows"):
        fit_stream(mse, Linear.zeros(FEATURES), chunks, batch_size=71)
    with pytest.raises(ValueError, match="L-BFGS's line search"):
        fit_stream(mse, Linear.zeros(FEATURES), chunks, optimizer="lbfgs")
    with pytest.raises(ValueError, match="streaming needs a row-mean loss"):
        fit_stream(lambda p, X, y: mse(p, X, y) * len(y), Linear.zeros(FEATURES), chunks)
    with pytest.raises(ValueError, match=r"learning_rate must be a positive number, got 0\.0"):
        fit_stream(mse, Linear.zeros(FEATURES), chunks, learning_rate=0.0)


def test_the_command_line_streams_a_file_and_reports_the_in_memory_fit(table, tmp_path):
    path, *_ = table
    streamed = run_command(["fit", "--data", str(path), "--stream", "--json"], tmp_path)
    memory = run_command(["fit", "--data", str(path), "--json"], tmp_path)
    assert (streamed.returncode, memory.returncode) == (0, 0), streamed.describe()
    got, want = streamed.record(), memory.record()
    assert got["streamed"]["chunks"] == 1 and got["status"] == "converged"
    for key in ("w", "b"):
        np.testing.assert_allclose(got["params"][key], want["params"][key], rtol=1e-4, atol=1e-5)


def numpy_streamed_sgd(path, chunk_rows, learning_rate, batch_size, epochs, seed):
    """Mini-batch gradient descent on the mean squared error in float64, the rows read
    as fit_stream documents: chunks in the order of fold_in(fold_in(key(seed), epoch), 0),
    the i-th chunk read shuffled by fold_in(..., 1 + i), batches ending with their chunk."""
    table = np.load(path)
    X, y = table[:, :-1], table[:, -1]
    chunks = [slice(start, start + chunk_rows) for start in range(0, len(y), chunk_rows)]
    w, b = np.zeros(X.shape[1]), 0.0
    for epoch in range(epochs):
        key = jax.random.fold_in(jax.random.key(seed), epoch)
        order = jax.random.permutation(jax.random.fold_in(key, 0), len(chunks)).tolist()
        for i, chunk in enumerate(order):
            X_chunk, y_chunk = X[chunks[chunk]], y[chunks[chunk]]
            rows = shuffled(jax.random.fold_in(key, 1 + i), len(y_chunk))
            for start in range(0, len(rows), batch_size):
                batch = rows[start : start + batch_size]
                residual = X_chunk[batch] @ w + b - y_chunk[batch]
                w = w - learning_rate * 2 * X_chunk[batch].T @ residual / len(batch)
                b = b - learning_rate * 2 * residual.mean()
    return np.append(w, b)


def test_streamed_mini_batches_are_the_numpy_loop_batch_for_batch(table, x64):
    path, *_ = table
    chunks = stream(path, chunk_rows=CHUNK, dtype=jnp.float64)  # 7 chunks, the last of 60
    result = fit_stream(
        mse, Linear.zeros(FEATURES, jnp.float64), chunks, learning_rate=0.05, batch_size=16,
        epochs=3, seed=5, tol=0.0, stall_patience=None,
    )  # fmt: skip
    assert result.num_steps == 3 and result.seconds > 0  # epochs, timed apart from compiling
    assert "a step is an epoch: 34 updates, on batches of 16 rows" in result.message  # 6*5 + 4
    expected = numpy_streamed_sgd(path, CHUNK, 0.05, 16, epochs=3, seed=5)
    np.testing.assert_allclose(flat(result), expected, rtol=1e-12, atol=1e-14)
    again = fit_stream(
        mse, Linear.zeros(FEATURES, jnp.float64), chunks, learning_rate=0.05, batch_size=16,
        epochs=3, seed=6, tol=0.0, stall_patience=None,
    )  # fmt: skip
    assert not np.allclose(flat(again), flat(result), rtol=1e-9)  # another seed, another order


def test_the_command_line_streams_mini_batches_over_parquet_row_groups(tmp_path):
    """Row groups read in a shuffled order, a schedule that decays the rate: near the
    least-squares answer, and the record says how it ran."""
    X, y = regression_problem(3, 400, 2)
    path = write_parquet(tmp_path / "p.parquet", X, y, row_group_size=90)
    run = run_command(
        ["fit", "--data", str(path), "--x", "x0", "x1", "--stream", "--batch-size", "20",
         "--epochs", "40", "--schedule", "cosine", "--lr", "0.05", "--json"],
        tmp_path,
    )  # fmt: skip
    assert run.returncode in (0, 3), run.describe()
    record = run.record()
    assert record["batch_size"] == 20 and record["schedule"]["kind"] == "cosine"
    # Row groups of 90 (the last of 40) cut into batches of 20: 4 x 5 + 2 updates an epoch.
    assert record["schedule"]["steps"] == 40 * 22
    assert "drawn within each chunk" in record["message"]
    exact, *_ = np.linalg.lstsq(np.column_stack([X, np.ones(len(y))]), y, rcond=None)
    fitted = np.append(record["params"]["w"], record["params"]["b"])
    np.testing.assert_allclose(fitted, exact, rtol=1e-2, atol=1e-2)


STREAM_BAD = [
    (["--stream"], "--stream needs --data FILE.npy or FILE.parquet"),
    (["--data", "t.csv", "--stream"], "t.csv: streaming reads a .npy file of one 2-D array"),
    (["--data", "PARQUET", "--stream", "--y", "target"], "PARQUET: unknown column 'target'"),
    (["--data", "TABLE", "--stream", "--no-intercept"], "--stream does not take --no-intercept"),
    (
        ["--data", "TABLE", "--stream", "--optimizer", "lbfgs"],
        "--stream does not take --optimizer lbfgs",
    ),
]


@pytest.mark.parametrize(("flags", "words"), STREAM_BAD, ids=[w for _, w in STREAM_BAD])
def test_what_the_streamed_command_cannot_do_exits_2_in_one_line(table, tmp_path, flags, words):
    (tmp_path / "t.csv").write_text("x,y\n1,2\n3,4\n")
    parquet = str(write_parquet(tmp_path / "p.parquet", *regression_problem(2, 50, 2)))
    flags = [{"TABLE": str(table[0]), "PARQUET": parquet}.get(flag, flag) for flag in flags]
    words = words.replace("PARQUET", parquet)
    run = run_command(["fit", *flags], tmp_path)
    assert run.returncode == 2, run.describe()
    assert run.stderr.startswith(f"steepest: error: {words}") and run.stderr.count("\n") == 1


@pytest.mark.parametrize(("file_dtype", "offset"), [(np.float32, 1e3), (np.float64, 1.7e9)])
def test_a_standardized_stream_gives_the_standardized_rows(tmp_path, file_dtype, offset):
    """On the device for a float32 file, on the host in float64 for a float64 one (read
    into float32 chunks; at 1.7e9, subtracting in float32 would lose the column): either
    way, (x - mean) / std of every feature, and y - mean(y)."""
    X, y = regression_problem(5, 300, 2)
    X[:, 1] += offset
    table = np.column_stack([X, y]).astype(file_dtype)
    path = write(tmp_path / "s.npy", table)
    chunks = stream(path, chunk_rows=128)
    chunks = chunks.standardized(*standardizer_of(chunks))
    got_X, got_y = (np.concatenate(parts) for parts in zip(*chunks.chunks(), strict=True))
    values = table.astype(np.float64)
    want = (values - values.mean(0)) / values.std(0)
    np.testing.assert_allclose(got_X, want[:, :2], atol=2e-6 if file_dtype == np.float64 else 1e-3)
    np.testing.assert_allclose(got_y, values[:, 2] - values[:, 2].mean(), atol=1e-5)


def write_parquet(path, X, y, row_group_size=None):
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {f"x{i}": X[:, i] for i in range(X.shape[1])}
    columns["note"] = [f"row {i}" for i in range(len(y))]  # a column of text, not read
    columns["y"] = y
    pq.write_table(pa.table(columns), path, row_group_size=row_group_size)
    return path


def test_a_parquet_file_streams_by_its_named_columns_to_the_in_memory_fit(tmp_path):
    """Row groups of 100 read in batches of 64: batches end with their row group, and
    each chunk is weighted by the rows it holds."""
    X, y = regression_problem(9, ROWS, FEATURES)
    path = write_parquet(tmp_path / "t.parquet", X, y, row_group_size=100)
    chunks = stream(path, y="y", x=["x0", "x1", "x2"], chunk_rows=64, dtype=np.float64)
    assert (chunks.rows, chunks.x_names, chunks.y_name) == (ROWS, ("x0", "x1", "x2"), "y")
    got = [np.concatenate(parts) for parts in zip(*chunks.chunks(), strict=True)]
    assert chunks.num_chunks == len(list(chunks.tables())) > -(-ROWS // 64)
    np.testing.assert_array_equal(got[0], X)
    np.testing.assert_array_equal(got[1], y)
    rule = dict(learning_rate=0.05, max_steps=30, tol=0.0, stall_patience=None)
    with jax.enable_x64(True):
        streamed = fit_stream(mse, Linear.zeros(FEATURES, jnp.float64), chunks, **rule)
        memory = fit(mse, Linear.zeros(FEATURES, jnp.float64), jnp.asarray(X), jnp.asarray(y),
                     certificate=False, **rule)  # fmt: skip
    np.testing.assert_allclose(flat(streamed), flat(memory), rtol=1e-12)


def test_a_parquet_column_of_text_or_a_null_is_named(tmp_path):
    X, y = regression_problem(9, 20, 1)
    path = write_parquet(tmp_path / "t.parquet", X, y)
    with pytest.raises(DataError, match="column 'note' holds string, not real numbers"):
        stream(path, y="y", x=["x0", "note"])
    y[7] = np.nan
    nulls = write_parquet(tmp_path / "n.parquet", X, y)
    with pytest.raises(DataError, match="row 7 holds NaN or infinity"):
        fit_stream(mse, Linear.zeros(1), stream(nulls, y="y", x=["x0"]))


@pytest.mark.parametrize("kind", ["npy", "parquet"])
def test_parts_of_a_file_are_its_rows_and_their_sums_its_sums(tmp_path, kind):
    """What each process of several streams (``Stream.part``): its rows, in order, row
    groups cut where a part starts or ends. (Their sums over processes:
    tests/test_distributed.py.)"""
    values = np.random.default_rng(3).normal(size=(23, 3)) * [1.0, 10.0, 1.0] + [0.0, 5.0, 0.0]
    if kind == "npy":
        path = tmp_path / "t.npy"
        np.save(path, values)
    else:
        pyarrow = pytest.importorskip("pyarrow")
        import pyarrow.parquet as pq

        path = tmp_path / "t.parquet"
        table = pyarrow.table({name: values[:, i] for i, name in enumerate(["a", "b", "y"])})
        pq.write_table(table, path, row_group_size=7)  # groups 0-6, 7-13, 14-20, 21-22
    whole = stream(path, chunk_rows=4)
    for start, stop in [(0, 8), (8, 15), (15, 23), (3, 4), (2, 19)]:
        part = whole.part(slice(start, stop))
        for kind_of_read in (part, part.decoded()):
            chunks = list(kind_of_read.chunks())
            read = np.concatenate([np.column_stack([X, y]) for X, y in chunks])
            np.testing.assert_array_equal(read, values[start:stop].astype(np.float32))
            assert [len(y) for _, y in chunks] == part.chunk_rows_each()
            kind_of_read.discard_decoded()
        assert part.rows == stop - start and part.file_rows == 23
    with pytest.raises(ValueError, match="a part is a nonempty range of rows"):
        whole.part(slice(5, 5))


def test_a_parquet_file_is_decoded_once_however_many_steps_read_it(tmp_path, monkeypatch):
    """Every pass after the first reads the decoded rows: pyarrow decodes each row group
    once, for 30 steps; the steps are those of the file decoded at every pass."""
    pa, pq = pytest.importorskip("pyarrow"), pytest.importorskip("pyarrow.parquet")
    X, y = regression_problem(4, 120, 2)
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"a": X[:, 0], "b": X[:, 1], "y": y}), path, row_group_size=50)
    decoded_groups = []
    iter_batches = pq.ParquetFile.iter_batches

    def counted(self, *args, row_groups=None, **kwargs):
        decoded_groups.extend(row_groups)
        return iter_batches(self, *args, row_groups=row_groups, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", counted)
    rule = dict(learning_rate=0.1, max_steps=30, tol=0.0, stall_patience=None)
    once = fit_stream(mse, Linear.zeros(2), stream(path, chunk_rows=40), **rule)
    assert once.num_steps == 30 and sorted(decoded_groups) == [0, 1, 2]
    monkeypatch.setattr(steepest.data.Stream, "decoded", lambda self, folder=None: self)
    every_pass = fit_stream(mse, Linear.zeros(2), stream(path, chunk_rows=40), **rule)
    assert len(decoded_groups) > 30 * 3  # each of 30 steps decoded the three groups
    np.testing.assert_array_equal(once.params.w, every_pass.params.w)


def test_fit_stream_removes_the_rows_it_decoded(tmp_path, monkeypatch):
    """Decoded for one call, the rows are that call's: none are left on the disk after it
    (a stream decoded by the caller keeps them until ``discard_decoded``)."""
    pa, pq = pytest.importorskip("pyarrow"), pytest.importorskip("pyarrow.parquet")
    X, y = regression_problem(6, 60, 2)
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"a": X[:, 0], "b": X[:, 1], "y": y}), path)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    for _ in range(3):
        fit_stream(mse, Linear.zeros(2), stream(path), max_steps=5)
    assert list(scratch.iterdir()) == []
    kept = stream(path).decoded()
    fit_stream(mse, Linear.zeros(2), kept, max_steps=5)
    assert kept.decoded_rows.exists()
    kept.discard_decoded()
    assert list(scratch.iterdir()) == []
