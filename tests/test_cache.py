"""JAX's persistent compilation cache, on for the command line (issue 13, item 3): a
second ``steepest fit`` in a new process loads what the first compiled."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_runs import run_command


def fit_in_a_new_process(cache, *flags) -> dict:
    environment = {**os.environ, "STEEPEST_CACHE_DIR": str(cache)}
    completed = subprocess.run(
        [sys.executable, "-m", "steepest", "fit", "--json", *flags],
        env=environment, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


@pytest.mark.e2e
def test_a_second_fit_in_a_new_process_loads_the_first_ones_compilation(tmp_path):
    cache = tmp_path / "cache"
    first = fit_in_a_new_process(cache)
    entries = set(cache.iterdir())
    assert entries, "the first fit cached nothing"
    second = fit_in_a_new_process(cache)
    # Every compilation is cached (however quick), so nothing new means all was loaded.
    # How much quicker that is, the latency experiment measures (no test times anything).
    assert set(cache.iterdir()) == entries
    assert second["params"] == first["params"]


def test_no_cache_compiles_afresh_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("STEEPEST_CACHE_DIR", str(tmp_path / "cache"))
    run = run_command(["fit", "--no-cache", "--json", "--steps", "3"], tmp_path)
    assert run.returncode in (0, 3), run.describe()
    assert not (tmp_path / "cache").exists()


def test_a_cache_that_cannot_be_made_is_a_warning_and_the_fit_runs(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("not a directory")
    monkeypatch.setenv("STEEPEST_CACHE_DIR", str(tmp_path / "file" / "cache"))
    run = run_command(["fit", "--json", "--steps", "3"], tmp_path)
    assert run.returncode in (0, 3), run.describe()
    assert run.stderr.startswith("steepest: warning: no compilation cache: cannot write to ")
    assert run.stderr.count("\n") == 1


def test_a_cache_that_cannot_be_written_is_one_warning_and_the_fit_runs(tmp_path, monkeypatch):
    """A directory that exists but cannot be written (as root every directory can be:
    the check is made to fail here), not a warning from JAX at every compilation."""
    (tmp_path / "locked").mkdir()
    monkeypatch.setenv("STEEPEST_CACHE_DIR", str(tmp_path / "locked"))
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != tmp_path / "locked")
    run = run_command(["fit", "--json", "--steps", "3"], tmp_path)
    assert run.returncode in (0, 3), run.describe()
    assert run.stderr == (
        f"steepest: warning: no compilation cache: cannot write to {tmp_path / 'locked'} "
        "(not writable)\n"
    )
    assert not any((tmp_path / "locked").iterdir())


def test_the_cache_is_closed_when_the_command_ends(tmp_path, monkeypatch):
    """What runs in the same process afterwards (a library call, the next test) is not
    cached in the command's directory."""
    import jax
    import jax.numpy as jnp

    cache = tmp_path / "cache"
    monkeypatch.setenv("STEEPEST_CACHE_DIR", str(cache))
    run = run_command(["fit", "--json", "--steps", "3"], tmp_path)
    assert run.returncode in (0, 3), run.describe()
    entries = set(cache.iterdir())
    jax.jit(lambda x: jnp.sin(x) * 3.25 + 1.5)(jnp.arange(7.0)).block_until_ready()
    assert set(cache.iterdir()) == entries


def test_damaged_entries_are_one_line_and_removed(tmp_path, capsys):
    """JAX's warnings on entries it cannot read become one line, and those modules'
    entries are removed (JAX would fail on them again every run); others are kept."""
    import warnings

    from steepest.cli.cache import _damaged_entries_removed

    for name in ("jit_mse-1a-cache", "jit_mse-1a-atime", "jit_mse-2b-cache", "jit_other-3c-cache"):
        (tmp_path / name).write_bytes(b"\x00" * 8)
    with _damaged_entries_removed(tmp_path):
        for _ in range(3):
            warnings.warn(
                "Error reading persistent compilation cache entry for 'jit_mse': "
                "error: Error -5 while decompressing data: incomplete or truncated stream",
                stacklevel=1,
            )
    assert sorted(path.name for path in tmp_path.iterdir()) == ["jit_other-3c-cache"]
    stderr = capsys.readouterr().err
    assert stderr.count("\n") == 1 and "(jit_mse): 2 removed" in stderr, stderr


@pytest.mark.e2e
def test_a_truncated_cache_costs_one_line_once(tmp_path):
    """A write cut short (a killed process, a full disk) left entries that made every
    later run print 12 to 25 lines of JAX warnings, and cache nothing new. (JAX's own
    words, read here; that what is removed is compiled and cached afresh, the test
    above.)"""
    cache = tmp_path / "cache"
    fit_in_a_new_process(cache)
    truncated = sorted(cache.glob("*-cache"))
    for entry in truncated:
        entry.write_bytes(entry.read_bytes()[:100])
    environment = {**os.environ, "STEEPEST_CACHE_DIR": str(cache)}
    command = [sys.executable, "-m", "steepest", "fit", "--json"]
    run = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stderr.count("\n") == 1, run.stderr
    assert "could not be read" in run.stderr and "removed" in run.stderr
    assert not any(entry.exists() and entry.stat().st_size == 100 for entry in truncated)
