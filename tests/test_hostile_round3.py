"""Hostile input, third round (issue 22): each case failed before its fix.

Three printed a false result (integers wrapped on the device, a streamed `converged`
where the in-memory fit certifies no digit, infinite params `converged`); the others
ended in a traceback. Every refusal is one line naming what is wrong, exit 2.
"""

import contextlib
import errno
import importlib
import io
import json
import os
import sys
import tempfile
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from cli_runs import run_command

import steepest
from steepest import DataError, Linear, Status, fit, fit_stream, mse
from steepest.data import stream


def refused_in_one_line(tmp_path, argv) -> str:
    """The command's stderr, after checking it exits 2 with one line and no traceback."""
    run = run_command(argv, tmp_path)
    assert run.returncode == 2, run.describe()
    assert run.stderr.count("\n") == 1, run.describe()
    assert "Traceback" not in run.stderr and "Warning" not in run.stderr, run.describe()
    return run.stderr


def flat(params) -> np.ndarray:
    leaves = jax.tree.leaves(params)
    return np.concatenate([np.ravel(np.asarray(leaf, np.float64)) for leaf in leaves])


# Item 1: integers are converted to the run's float dtype on the host, never wrapped.


def test_integers_stream_as_the_floats_they_hold(tmp_path):
    """y = 2**32 + 3x in int64: on a device without x64 an int64 became int32 and wrapped
    (b = 8.1e-07, `converged`). Streamed, the fit is the in-memory one, step for step."""
    x = np.arange(1000, dtype=np.int64)
    path = tmp_path / "ints.npy"
    np.save(path, np.column_stack([x, 2**32 + 3 * x]))
    table = stream(path).read(0)
    assert table.dtype == np.float32
    np.testing.assert_array_equal(table[:, 1], (2**32 + 3 * x).astype(np.float32))
    run = dict(standardize=False, max_steps=50, progress=False)
    streamed = steepest.linear(str(path), stream=True, **run)
    memory = steepest.linear(str(path), **run)
    assert streamed.status == memory.status != "converged", streamed.message
    np.testing.assert_allclose(flat(streamed.params), flat(memory.params), rtol=1e-6)
    assert streamed.params.w[0] > 1e3  # heading for y ~ 2**32, not the wrapped y = 3x


# Item 2: a stream reaches the in-memory verdict: it is certified as the in-memory fit is.


@pytest.mark.parametrize("kind", ["parquet int64", "npy uint32"])
def test_a_streamed_fit_reaches_the_in_memory_verdict(tmp_path, kind):
    """Raw large-scale integers: the stream said `converged after 59 steps` with b = 4e-20
    (true -17), and w = 84040 (true 3), on the gradient rule alone."""
    if kind == "parquet int64":
        pa, pq = pytest.importorskip("pyarrow"), pytest.importorskip("pyarrow.parquet")
        x = np.random.default_rng(0).integers(10**6, 10**6 + 1000, 500)
        path = tmp_path / "ints.parquet"
        pq.write_table(pa.table({"x": x, "y": 5 * x - 17}), path)
    else:
        x = np.arange(300, dtype=np.uint32)
        path = tmp_path / "big.npy"
        np.save(path, np.column_stack([x, 3_000_000_000 + 3 * x]).astype(np.uint32))
    run = dict(standardize=False, max_steps=60, progress=False)
    streamed = steepest.linear(str(path), stream=True, **run)
    memory = steepest.linear(str(path), **run)
    assert streamed.status == memory.status != "converged", streamed.message
    assert streamed.message == memory.message
    assert (streamed.bounds is None) == (memory.bounds is None)
    if memory.bounds is not None:
        np.testing.assert_allclose(flat(streamed.bounds), flat(memory.bounds), rtol=1e-6)


def test_fit_stream_certifies_as_fit_does(tmp_path):
    """The float64 Hessian and gradient summed over the chunks: the same certificate, the
    same stop rule (with mu), the same verdict as ``fit`` on the rows in memory."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((300, 2))
    y = X @ [1.5, -2.0] + 0.5 + 0.1 * rng.standard_normal(300)
    path = tmp_path / "t.npy"
    np.save(path, np.column_stack([X, y]))
    streamed = fit_stream(mse, Linear.zeros(2), stream(path, chunk_rows=70))
    memory = fit(mse, Linear.zeros(2), jnp.asarray(X, jnp.float32), jnp.asarray(y, jnp.float32))
    assert streamed.status is memory.status is Status.CONVERGED
    assert streamed.num_steps == memory.num_steps
    assert streamed.certificate is not None and memory.certificate is not None
    np.testing.assert_allclose(
        flat(streamed.certificate.bounds), flat(memory.certificate.bounds), rtol=1e-3
    )


# Item 3: subnormal columns are refused; a non-finite parameter is never converged.


def test_a_subnormal_column_is_refused_in_one_line(tmp_path):
    """x of 1e-320 to 3e-320: `m inf`, `b -inf`, `converged`, exit 0, eight warnings."""
    rng = np.random.default_rng(0)
    x = rng.uniform(1e-320, 3e-320, 50)
    path = tmp_path / "sub.csv"
    np.savetxt(path, np.c_[x, 2 + 3 * (x / 1e-320)], delimiter=",", header="x,y", comments="")
    stderr = refused_in_one_line(tmp_path, ["fit", "--data", str(path), "--y", "y"])
    assert "column 'x' varies by only" in stderr and "smallest normal" in stderr
    with pytest.raises(DataError, match="column 'x0' varies by only"):
        steepest.linear(np.c_[x, x], 2 + 3 * (x / 1e-320), progress=False)
    np.save(tmp_path / "sub.npy", np.c_[x, 2 + 3 * (x / 1e-320)])
    with pytest.raises(DataError, match="column 'x0' has a standard deviation of only"):
        steepest.linear(str(tmp_path / "sub.npy"), stream=True, progress=False)


# Items 4 to 7: files that ended in a traceback, or never ended.


def test_a_npy_of_no_columns_is_refused_in_one_line(tmp_path):
    path = tmp_path / "empty.npy"
    np.save(path, np.zeros((10, 0)))
    stderr = refused_in_one_line(tmp_path, ["fit", "--stream", "--data", str(path)])
    assert "has no columns" in stderr


def test_parquet_row_groups_smaller_than_a_batch_are_each_one_batch(tmp_path):
    """Row groups of 10 rows, batches of 50: a traceback from lax.dynamic_slice."""
    pa, pq = pytest.importorskip("pyarrow"), pytest.importorskip("pyarrow.parquet")
    x = np.linspace(-1.0, 1.0, 100)
    path = tmp_path / "groups.parquet"
    pq.write_table(pa.table({"x": x, "y": 2 * x + 1}), path, row_group_size=10)
    found = steepest.linear(str(path), stream=True, batch_size=50, epochs=60, progress=False)
    assert found.streamed == {"chunks": 10, "chunk_rows": 10, "decoded_once": True}
    np.testing.assert_allclose([found.params.w[0], found.params.b], [2.0, 1.0], atol=1e-3)


def test_a_cell_of_two_million_digits_is_named_by_its_line(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text("x,y\n1,2\n2," + "9" * 2_000_000 + "\n3,4\n")
    stderr = refused_in_one_line(tmp_path, ["fit", "--data", str(path)])
    assert "line 3" in stderr and "'y'" in stderr


def test_a_header_of_100000_columns_is_read_in_linear_time(tmp_path):
    """One header line: the duplicate checks were quadratic (20,000 columns took 5.3 s,
    1e6 never ended); 100,000 now take well under a second."""
    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"c{i}" for i in range(100_000)) + "\n")
    stderr = refused_in_one_line(tmp_path, ["fit", "--data", str(path)])
    assert "no data rows" in stderr
    row = ",".join("1" for _ in range(100_000))
    path.write_text(path.read_text() + f"{row}\n{row}\n")
    stderr = refused_in_one_line(tmp_path, ["fit", "--data", str(path), "--y", "z"])
    assert "unknown column 'z'; available: c0, c1," in stderr and "(100,000 in all)" in stderr


# Items 8 and 9: `steepest check` on a loss of the wrong kind, or data that are text.


@pytest.mark.parametrize(
    ("returned", "words"),
    [
        ("(jnp.sum(p['w']), 1.0)", "a tuple of 2 items"),
        ("{'a': jnp.sum(p['w'])}", "a dict"),
        ("None", "None"),
        ("p['w'] * 2", "an array of shape (3,)"),
        ("jnp.sum(p['w']).reshape(1)", "an array of shape (1,)"),
    ],
)
def test_check_names_a_loss_that_returns_no_number(tmp_path, returned, words):
    (tmp_path / "odd.py").write_text(
        "import jax.numpy as jnp\n"
        f"def loss(p):\n    return {returned}\n"
        "def grad(p):\n    return {'w': 2 * p['w']}\n"
    )
    argv = ["check", "odd.py:loss", "--grad", "odd.py:grad", "--params", "w=3"]
    stderr = refused_in_one_line(tmp_path, argv)
    assert f"loss returned {words}" in stderr and "a loss returns one number" in stderr


def test_check_refuses_data_that_are_text(tmp_path):
    (tmp_path / "mse.py").write_text(
        "import jax.numpy as jnp\n"
        "def loss(p, x, y):\n    return jnp.mean((p['w'] * x - y) ** 2)\n"
        "def grad(p, x, y):\n    return {'w': jnp.mean(2 * (p['w'] * x - y) * x)}\n"
    )
    np.savez(tmp_path / "text.npz", x=np.array(["a", "b", "c"]), y=np.ones(3))
    argv = ["check", "mse.py:loss", "--grad", "mse.py:grad", "--params", "w=scalar"]
    stderr = refused_in_one_line(tmp_path, [*argv, "--data", "text.npz"])
    assert "array 'x' holds <U1 values, not real numbers" in stderr
    with pytest.raises(ValueError, match="holds <U1 values, not numbers"):
        steepest.check_gradient(
            lambda p, x: jnp.sum(p * p), lambda p, x: 2 * p, jnp.ones(2), np.array(["a", "b"])
        )


# Items 10 to 12: where the output goes.


class Full(io.StringIO):
    """A stdout on a full disk (/dev/full)."""

    def write(self, text):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_stdout_loses_no_record_and_is_named(tmp_path, monkeypatch):
    """`fit --json --out o.json > /dev/full`: "cannot write None", and no o.json (the JSON
    was printed before the record was written)."""
    from steepest.cli import main

    monkeypatch.chdir(tmp_path)
    stderr = io.StringIO()
    with contextlib.redirect_stdout(Full()), contextlib.redirect_stderr(stderr):
        code = main(["fit", "--json", "--out", "o.json"])
    assert code == 2
    assert stderr.getvalue() == "steepest: error: cannot write to stdout: No space left on device\n"
    assert json.loads((tmp_path / "o.json").read_text())["status"] == "converged"


def test_a_closed_stdout_is_one_line_and_exit_2(monkeypatch):
    """`steepest fit >&-`: 'NoneType' object has no attribute 'flush', exit 1."""
    cli = importlib.import_module("steepest.cli.main")  # the module; steepest.cli.main is main()

    def leave(code):
        raise SystemExit(code)

    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stdout", None)
    monkeypatch.setattr(sys, "stderr", stderr)
    monkeypatch.setattr(cli.os, "_exit", leave)
    with pytest.raises(SystemExit) as stopped:
        cli.console()
    assert stopped.value.code == 2
    assert stderr.getvalue().startswith("steepest: error: stdout is closed")
    assert stderr.getvalue().count("\n") == 1


@pytest.mark.parametrize("option", ["--out", "--plot"])
def test_a_file_name_too_long_is_refused_before_the_run(tmp_path, option):
    name = "a" * 300 + (".json" if option == "--out" else ".png")
    stderr = refused_in_one_line(tmp_path, ["fit", option, name])
    assert f"argument {option}: cannot write" in stderr and "File name too long" in stderr


# The weak themes: each named in one line, none a traceback or a silent wrong answer.


def test_check_takes_a_float32_loss_at_float32_precision():
    """A right gradient of a loss computed in float32 FAILed: its finite differences were
    taken at float64's step and judged at float64's rounding."""

    def loss(p):
        w = p.astype(jnp.float32)
        return jnp.sum(jnp.sin(w) * w**2)

    def grad(p):
        w = p.astype(jnp.float32)
        return jnp.cos(w) * w**2 + 2 * w * jnp.sin(w)

    def wrong(p):
        w = p.astype(jnp.float32)
        return jnp.cos(w) * w**2 + 2.1 * w * jnp.sin(w)

    params = jnp.array([0.3, -1.2, 2.0])
    assert steepest.check_gradient(loss, grad, params).ok
    assert not steepest.check_gradient(loss, wrong, params).ok


def test_check_explains_python_control_flow_on_traced_values():
    def loss(p):
        return jnp.sum(p**2) if float(jnp.sum(p)) > 0 else jnp.sum(p**4)

    with pytest.raises(steepest.GradientCheckError, match=r"jnp\.where or jax\.lax\.cond"):
        steepest.check_gradient(loss, lambda p: 2 * p, jnp.ones(2))


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["check", "--points", "1000000"], "--points: must be a whole number from 1 to 1000"),
        (["fit", "--batch-size", "2.5"], "--batch-size: must be a whole number"),
    ],
)
def test_counts_are_bounded_and_read_alike(tmp_path, argv, words):
    assert words in refused_in_one_line(tmp_path, argv)


def test_a_count_written_1e1_is_read_as_steps_are(tmp_path):
    run = run_command(["fit", "--batch-size", "1e1", "--epochs", "2", "--json"], tmp_path)
    assert run.returncode == 3 and run.record()["batch_size"] == 10, run.describe()


def test_a_pipe_as_data_is_named_as_one(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    stderr = refused_in_one_line(tmp_path, ["fit", "--data", "pipe"])
    assert "pipe is not a regular file" in stderr


def test_a_design_of_zeros_without_an_intercept_is_refused_in_words(tmp_path):
    (tmp_path / "zero.csv").write_text("a,y\n0,2\n0,3\n0,5\n")
    run = run_command(["fit", "--data", "zero.csv", "--no-intercept"], tmp_path)
    assert run.returncode == 2, run.describe()
    assert "every feature is 0 in every row" in run.stderr and "learning_rate" not in run.stderr


def test_the_constant_column_warning_fits_a_model_without_intercept(tmp_path):
    (tmp_path / "c.csv").write_text("a,b,y\n1,1,2\n2,1,3\n3,1,5\n")
    run = run_command(["fit", "--data", "c.csv", "--no-intercept"], tmp_path)
    assert "column 'b' is constant (1); with an intercept, its coefficient" in run.stderr


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda X, y: stream_of(0), "chunk_rows must be a whole number of at least 1, got 0"),
        (lambda X, y: fit(mse, Linear.zeros(1), [0.0, 1.0, 2.0], y), "is a list of numbers"),
        (
            lambda X, y: fit(mse, Linear.zeros(1), X.at[2].set(jnp.nan), y),
            r"data argument 1 holds NaN or infinity \(first at index \(2,\)\)",
        ),
        (
            lambda X, y: fit(mse, Linear.zeros(1), X, y, learning_rate=np.array([0.1])),
            "learning_rate must be a number",
        ),
        (
            lambda X, y: jax.jit(lambda X: fit(mse, Linear.zeros(1), X, y).params)(X),
            "fit was called inside jax.jit",
        ),
        (
            lambda X, y: steepest.RunSpec(mse, "gd", learning_rate=float("nan"), max_steps=9).init(
                Linear.zeros(1), X, y
            ),
            "learning_rate must be a positive number, got nan",
        ),
    ],
    ids=["chunk_rows 0", "a list", "NaN data", "an array rate", "inside jit", "a NaN rate"],
)
def test_the_library_names_a_bad_argument_in_one_line(tmp_path, call, words):
    X = jnp.arange(3.0)
    with pytest.raises(ValueError, match=words):
        call(X, 2 * X + 1)


def stream_of(chunk_rows):
    path = Path(tempfile.mkdtemp()) / "t.npy"
    np.save(path, np.zeros((4, 2)))
    return stream(path, chunk_rows=chunk_rows)


def test_float16_data_warn_nothing_on_the_way_to_their_error():
    X = jnp.arange(5.0, dtype=jnp.float16) * 300
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="the cost at the initial params is inf in float16"):
            fit(mse, Linear.zeros(1, jnp.float16), X, 2 * X)


@pytest.mark.parametrize("rows", [2, 50])
def test_one_verdict_and_one_range_whichever_path_reads_the_file(tmp_path, rows):
    """Features of 1e300 were refused streamed ("too large to standardize") and fitted in
    memory; two rows of three features converged silently when streamed."""
    rng = np.random.default_rng(rows)
    if rows == 2:
        table = rng.standard_normal((2, 4))
    else:
        x = rng.standard_normal(rows) * 1e300
        table = np.column_stack([x, 2e-300 * x + 1 + 0.01 * rng.standard_normal(rows)])
    path = tmp_path / "t.npy"
    np.save(path, table)
    streamed = steepest.linear(str(path), stream=True, progress=False)
    memory = steepest.linear(str(path), progress=False)
    assert streamed.status == memory.status
    assert streamed.status == ("imprecise" if rows == 2 else "converged"), streamed.message
    np.testing.assert_allclose(flat(streamed.params), flat(memory.params), rtol=1e-6)


def test_bad_input_with_stderr_closed_still_exits_2(tmp_path, monkeypatch):
    cli = importlib.import_module("steepest.cli.main")

    def leave(code):
        raise SystemExit(code)

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["steepest", "fit", "--data", "missing.csv"])
    monkeypatch.setattr(sys, "stderr", None)
    monkeypatch.setattr(cli.os, "_exit", leave)
    with pytest.raises(SystemExit) as stopped:
        cli.console()
    assert stopped.value.code == 2
    assert sys.stderr.name == os.devnull  # where console sent the words no one reads
    sys.stderr.close()


def test_a_loss_that_returns_text_is_named(tmp_path):
    (tmp_path / "own.py").write_text("def loss(p, x, y):\n    return 'hello'\n")
    np.savez(tmp_path / "d.npz", x=np.arange(3.0), y=np.ones(3))
    argv = ["fit", "--loss", "own.py:loss", "--params", "w=scalar", "--data", "d.npz"]
    stderr = refused_in_one_line(tmp_path, argv)
    assert "the loss must return a scalar, one number: loss returned a str" in stderr


def test_a_file_changed_mid_stream_keeps_what_was_reached_and_names_the_file(tmp_path):
    """Truncated while streamed: the steps done were thrown away, and the message did not
    name the file. Now the run stops as a Ctrl-C stops it, with the params reached."""
    path = tmp_path / "t.npy"
    x = np.linspace(-1.0, 1.0, 1000)
    np.save(path, np.column_stack([x, 3 * x + 1]))
    chunks_seen = []

    def truncate_after_the_second_chunk(progress):
        chunks_seen.append(progress.step)
        if len(chunks_seen) == 2:
            path.write_bytes(path.read_bytes()[:8000])

    found = fit_stream(
        mse, Linear.zeros(1), stream(path, chunk_rows=300), learning_rate=0.01, tol=0.0,
        max_steps=100_000, on_chunk=truncate_after_the_second_chunk,
    )  # fmt: skip
    assert found.status is Status.INTERRUPTED and found.num_steps >= chunks_seen[1] - 1
    assert f"{path} changed while it was read" in found.message
    assert 0 < float(found.params.w[0]) < 3  # on its way from 0 to 3, kept


def test_a_file_changed_after_the_last_step_keeps_the_steps_and_certifies_nothing(tmp_path):
    path = tmp_path / "t.npy"
    x = np.linspace(-1.0, 1.0, 1000)
    np.save(path, np.column_stack([x, 3 * x + 1]))

    def truncate_at_the_end(progress):
        if progress.step >= 5:
            path.write_bytes(path.read_bytes()[:8000])

    found = fit_stream(
        mse, Linear.zeros(1), stream(path, chunk_rows=300), learning_rate=0.01, tol=0.0,
        max_steps=5, on_chunk=truncate_at_the_end,
    )  # fmt: skip
    assert found.status is Status.MAX_STEPS and found.num_steps == 5
    assert f"{path} changed before the result could be checked" in found.message
    assert found.certificate is None


def test_a_file_rewritten_in_place_is_noticed(tmp_path):
    """The same size, other numbers: read silently before (NaN included)."""
    path = tmp_path / "t.npy"
    x = np.linspace(-1.0, 1.0, 1000)
    np.save(path, np.column_stack([x, 3 * x + 1]))
    rewritten = []

    def rewrite(progress):
        if not rewritten:
            np.save(path, np.column_stack([x, np.full_like(x, np.nan)]))
            rewritten.append(progress.step)

    found = fit_stream(
        mse, Linear.zeros(1), stream(path, chunk_rows=300), learning_rate=0.01, tol=0.0,
        max_steps=1000, on_chunk=rewrite,
    )  # fmt: skip
    assert found.status is Status.INTERRUPTED and "was modified since the run began" in (
        found.message
    )
    assert np.all(np.isfinite(flat(found.params)))


def test_a_float32_file_far_from_zero_streams_to_the_in_memory_verdict(tmp_path):
    """Standardized on the device in float32 by a float32-rounded mean, the descent
    minimized other data than its float64 certificate read: 3 digits against 7."""
    rng = np.random.default_rng(0)
    x = (1e4 + rng.standard_normal(5000)).astype(np.float32)
    y = (3 * (x - 1e4) + 0.1 * rng.standard_normal(5000) + 7).astype(np.float32)
    path = tmp_path / "t.npy"
    np.save(path, np.column_stack([x, y]))
    streamed = steepest.linear(str(path), stream=True, progress=False)
    memory = steepest.linear(str(path), progress=False)
    assert streamed.status == memory.status == "converged", streamed.message
    np.testing.assert_allclose(flat(streamed.params), flat(memory.params), rtol=1e-5)


def test_a_busy_port_is_named_before_any_process_starts(tmp_path):
    """gRPC's own log line, then a message that blamed the processes' settings."""
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        argv = ["launch", "--processes", "2", "--port", str(port), "--", "fit"]
        stderr = refused_in_one_line(tmp_path, argv)
    assert f"port {port} is in use" in stderr
