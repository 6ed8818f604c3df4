"""Checkpoints and resume (issue 23): a run cut short and resumed takes the steps of the
unbroken run, bit for bit on a CPU.

The runs are mini-batch Adam under a schedule, so that every part of the loop state
counts: the params, Adam's moments, the schedule's count, the step that draws each
epoch's order. Cut short by Ctrl-C in this process; by SIGKILL in a real one (the
checkpoint being written may be cut too: the last complete one stands).
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from cli_runs import run_command
from problems import regression_problem

import steepest
from steepest import Checkpoint, DataError, Linear, Status, fit, mse
from steepest.optimizers import Schedule

pytest.importorskip("orbax.checkpoint")

ROWS, FEATURES, EPOCHS = 48, 3, 30
SETTINGS = dict(
    optimizer="adam", learning_rate=0.05, batch_size=8, epochs=EPOCHS, tol=0.0,
    schedule=Schedule("cosine", steps=EPOCHS * 6), stall_patience=None, certificate=False,
)  # fmt: skip


@pytest.fixture(scope="module")
def data():
    return regression_problem(5, ROWS, FEATURES)  # float64, NumPy


def run(data, **settings):
    X, y = (jnp.asarray(values) for values in data)
    return fit(mse, Linear.zeros(FEATURES, jnp.float64), X, y, **{**SETTINGS, **settings})


def resumed_from(folder) -> int:
    return max(int(entry.name) for entry in folder.iterdir() if entry.name.isdigit())


def leaves(result) -> list[np.ndarray]:
    return [np.asarray(leaf) for leaf in jax.tree.leaves(result.params)]


def interrupt_after_ten_steps(progress):
    if progress.step >= 10:
        signal.raise_signal(signal.SIGINT)  # as Ctrl-C: the run stops after this chunk


def test_a_run_interrupted_and_resumed_is_the_unbroken_run_bit_for_bit(x64, data, tmp_path):
    unbroken = run(data)
    cut = run(
        data, checkpoint=Checkpoint(tmp_path, every_steps=7), on_chunk=interrupt_after_ten_steps
    )
    assert resumed_from(tmp_path) == 14  # the chunk ends at each save: 7, then 14
    assert cut.status is Status.INTERRUPTED and 0 < cut.num_steps < EPOCHS, cut.message
    steps_seen = []
    resumed = run(data, resume=tmp_path, on_chunk=lambda progress: steps_seen.append(progress.step))
    assert min(steps_seen) > 14 and "(resumed at step 14 from " in resumed.message
    assert resumed.status is unbroken.status and resumed.num_steps == unbroken.num_steps
    for mine, theirs in zip(leaves(resumed), leaves(unbroken), strict=True):
        assert np.array_equal(mine, theirs)  # bit for bit, not close
    np.testing.assert_array_equal(resumed.losses, unbroken.losses)  # the history too


@pytest.mark.skipif(jax.device_count() < 4, reason="needs 4 devices (conftest.py)")
@pytest.mark.parametrize("batches", [{}, {"batch_size": 8}], ids=["full batch", "mini-batches"])
def test_a_run_on_data_split_over_devices_resumes_bit_for_bit(x64, data, tmp_path, batches):
    """The restored state is placed as a fresh one is, beside data on four devices."""
    X, y = steepest.shard(*data, mesh=steepest.data.row_mesh(4), dtype=jnp.float64)
    settings = {**SETTINGS, "optimizer": "gd", "schedule": None, **batches}
    if not batches:
        settings = {**settings, "batch_size": None, "epochs": None, "max_steps": EPOCHS}

    def split_run(**more):
        return fit(mse, Linear.zeros(FEATURES, jnp.float64), X, y, **{**settings, **more})

    unbroken = split_run()
    split_run(checkpoint=Checkpoint(tmp_path, every_steps=7), on_chunk=interrupt_after_ten_steps)
    resumed = split_run(resume=tmp_path)
    assert "(resumed at step 14 from " in resumed.message
    for mine, theirs in zip(leaves(resumed), leaves(unbroken), strict=True):
        assert np.array_equal(mine, theirs)


def test_checkpoints_fall_on_every_kth_step_and_the_folder_keeps_the_last(x64, data, tmp_path):
    run(data, checkpoint=Checkpoint(tmp_path, every_steps=4))
    kept = [entry.name for entry in tmp_path.iterdir() if not entry.name.startswith(".")]
    assert kept == [str(EPOCHS)]  # the final state, whole; the others replaced


def test_a_resume_with_other_settings_or_data_is_refused_naming_what_differs(x64, data, tmp_path):
    run(data, checkpoint=Checkpoint(tmp_path, every_steps=10), epochs=10)
    with pytest.raises(DataError, match=r"of another run \(learning_rate 0.05 there, 0.1 here\)"):
        run(data, resume=tmp_path, learning_rate=0.1, epochs=10)
    X, y = data
    with pytest.raises(DataError, match=r"of another run \(other data\)"):
        run((X, y + 1.0), resume=tmp_path, epochs=10)
    with pytest.raises(DataError, match="holds a checkpoint already \\(step 10\\)"):
        run(data, checkpoint=tmp_path, epochs=10)
    with pytest.raises(DataError, match="holds no complete checkpoint"):
        run(data, resume=tmp_path / "..", epochs=10)
    with pytest.raises(ValueError, match="every_steps must be a positive number"):
        Checkpoint(tmp_path, every_steps=0)
    with pytest.raises(ValueError, match="written to a local folder"):
        Checkpoint("gs://bucket/saved")
    with pytest.raises(ValueError, match="written to a local folder"):
        Checkpoint(Path("gs://bucket/saved"))  # gs:/bucket/saved, a URL all the same


def test_a_schedule_is_part_of_the_run_a_checkpoint_is_of(x64, data, tmp_path):
    run(data, checkpoint=Checkpoint(tmp_path, every_steps=10), epochs=10)
    other = Schedule("exponential", steps=10, rate=0.01)
    with pytest.raises(DataError, match=r"of another run \(schedule Schedule\(kind='cosine'"):
        run(data, resume=tmp_path, epochs=10, schedule=other)


FLAGS = ["--x64", "--optimizer", "adam", "--lr", "0.01", "--batch-size", "8", "--json"]


@pytest.mark.e2e
def test_a_command_killed_mid_run_resumes_to_the_unbroken_result(tmp_path):
    """SIGKILL at whatever moment it lands (a checkpoint may be half-written): the resumed
    run ends where the unbroken one does, to the last bit of every coefficient."""
    folder = tmp_path / "saved"
    long_run = ["fit", *FLAGS, "--epochs", "2000"]
    command = [sys.executable, "-m", "steepest", *long_run, "--checkpoint", str(folder)]
    process = subprocess.Popen(
        [*command, "--checkpoint-steps", "3"], cwd=tmp_path, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not _steps_saved(folder) or max(_steps_saved(folder)) < 6:
        if process.poll() is not None:
            pytest.fail(f"the run ended before it was killed: {process.communicate()[1]!r}")
        assert time.monotonic() < deadline, "no checkpoint in 120 s"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    reached = max(_steps_saved(folder))
    assert reached < 2000  # killed mid-way
    resumed = run_command([*long_run, "--resume", str(folder)], tmp_path)
    unbroken = run_command(long_run, tmp_path)
    assert resumed.returncode == unbroken.returncode == 3, resumed.describe()  # max_steps
    assert resumed.record()["params"] == unbroken.record()["params"]  # JSON floats: exact
    assert resumed.record()["steps"] == unbroken.record()["steps"] == 2000
    assert f"resumed at step {reached:,} from" in resumed.record()["message"]


def _steps_saved(folder) -> list[int]:
    """The complete checkpoints in ``folder``: Orbax names one by its step once written."""
    if not folder.is_dir():
        return []
    return [int(entry.name) for entry in folder.iterdir() if entry.name.isdigit()]


def test_checkpoint_flags_are_checked_in_one_line(tmp_path):
    lone = run_command(["fit", "--checkpoint-steps", "5"], tmp_path)
    assert lone.returncode == 2
    assert lone.stderr == (
        "steepest: error: --checkpoint-steps and --checkpoint-seconds apply with --checkpoint\n"
    )
    missing = run_command(["fit", "--resume", "nowhere"], tmp_path)
    assert missing.returncode == 2 and missing.stderr == (
        "steepest: error: --resume nowhere: no such folder\n"
    )
    assert os.listdir(tmp_path) == []  # nothing made
