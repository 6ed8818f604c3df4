"""Results are never lost or damaged (issue 11, items 6, 7, 9 and the unwritable --plot;
item 5, bench's sibling .md, is tested in ``_src/bench/bench_test.py``).

Each case was found by trying to break ``steepest``: a sibling file overwritten, a
truncated figure, a path that names no file, invalid JSON, a figure that cannot be
written after the run. All in-process, on small problems.
"""

import contextlib
import errno
import io
import json
import os

import numpy as np
import pytest
from cli_runs import run_command
from matplotlib.figure import Figure

from steepest import plots, records
from steepest.cli import build_parser
from steepest.cli.output import emit


def strict_json(text: str):
    def reject(constant):
        raise ValueError(f"{constant} is not valid JSON")

    return json.loads(text, parse_constant=reject)


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("steepest: error:"), stderr
    return lines[0]


# --- item 6: figures are written atomically -----------------------------------------------------


def test_a_figure_that_fails_mid_write_leaves_the_old_file_and_no_temporary(monkeypatch, tmp_path):
    path = tmp_path / "loss.png"
    curves = {"gd": (np.arange(5), np.linspace(2.0, 1.0, 5))}
    plots.save(plots.loss_curves(curves, 0.5, title="first"), path)
    old = path.read_bytes()

    def full_disk(self, target, **kwargs):
        with open(target, "wb") as file:
            file.write(b"\x89PNG truncated")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # no filename, as a full disk

    monkeypatch.setattr(Figure, "savefig", full_disk)
    with pytest.raises(OSError) as raised:
        plots.save(plots.loss_curves(curves, 0.5, title="second"), path)
    assert raised.value.filename == str(path)  # the path, never None or the temporary file
    assert path.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["loss.png"]


def test_write_atomically_is_shared_and_cleans_up_on_any_failure(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")

    def interrupted(temporary):
        temporary.write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        records.write_atomically(path, interrupted)
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    records.write_atomically(path, lambda temporary: temporary.write_text("new"))
    assert path.read_text() == "new" and oct(path.stat().st_mode & 0o777) == "0o644"


# --- item 7 and the unwritable paths: refused at parsing, before the run ------------------------

BAD_PATHS = [
    (["fit", "--out", ""], "--out", "''"),
    (["sweep", "--out", "folder.json"], "--out", "'folder.json'"),
    (["compare", "--out", "sub/"], "--out", "'sub/'"),
    (["fit", "--plot", ""], "--plot", "''"),
    (["sweep", "--plot", "folder.png"], "--plot", "'folder.png'"),
    (["plot-surface", "--plot", "notes.txt/x.png"], "--plot", "'notes.txt/x.png'"),
    (["check", "--out", "notes.txt/deeper/x.json"], "--out", "'notes.txt/deeper/x.json'"),
]


@pytest.mark.parametrize(("argv", "option", "path"), BAD_PATHS)
def test_a_path_that_names_no_writable_file_exits_2_naming_option_and_path(
    argv, option, path, tmp_path, monkeypatch, capsys
):
    (tmp_path / "folder.json").mkdir()
    (tmp_path / "folder.png").mkdir()
    (tmp_path / "sub").mkdir()
    (tmp_path / "notes.txt").write_text("")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args(argv)
    assert stopped.value.code == 2
    line = one_error_line(capsys.readouterr().err)
    assert f"argument {option}:" in line and f"cannot write {path}" in line
    assert "None" not in line
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "folder.json",
        "folder.png",
        "notes.txt",
        "sub",
    ]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes in any folder")
def test_a_folder_without_write_permission_is_refused(tmp_path, monkeypatch, capsys):
    (tmp_path / "locked").mkdir(mode=0o555)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["fit", "--out", "locked/x.json"])
    assert "is not writable" in capsys.readouterr().err


def test_a_folder_to_be_made_is_accepted(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert build_parser().parse_args(["fit", "--out", "new/deep/x.json"]).out == "new/deep/x.json"


# --- item 9: every JSON output is valid JSON ----------------------------------------------------


def test_numpy_nan_and_inf_of_any_dtype_become_null_in_print_and_file(tmp_path, capsys):
    import argparse

    record = {
        "f32": np.float32("nan"),
        "f16": np.float16("inf"),
        "array": np.array([1.0, np.nan, -np.inf], np.float32),
        "nested": (np.int32(3), np.bool_(True), [np.float64("nan")]),
    }
    out = tmp_path / "r.json"
    emit(argparse.Namespace(json=True, out=str(out)), record, ["fit"])
    expected = {"f32": None, "f16": None, "array": [1.0, None, None], "nested": [3, True, [None]]}
    printed = strict_json(capsys.readouterr().out)
    written = strict_json(out.read_text())
    assert printed == expected
    assert {key: written[key] for key in expected} == expected


def test_check_json_with_nan_in_the_report_is_valid_json(tmp_path):
    (tmp_path / "m.py").write_text(
        "import jax.numpy as jnp\n"
        "def loss(params):\n    return jnp.sum(params['w'] ** 2)\n"
        "def grad(params):\n    return {'w': params['w'] * jnp.nan}\n"
    )
    argv = ["check", "m.py:loss", "--grad", "m.py:grad", "--params", "w=2", "--points", "1"]
    run = run_command([*argv, "--json", "--out", "r.json"], tmp_path)
    assert run.returncode == 1, run.describe()
    printed, written = run.record(), strict_json((tmp_path / "r.json").read_text())
    assert printed["ok"] is False and written["ok"] is False
    assert "null" in json.dumps(printed)  # the NaN, as null


# --- a figure that cannot be written after the run: the result is printed anyway ---------------

SMALL_SWEEP = ["sweep", "--num", "4", "--steps", "50", "--seeds", "1"]


def no_space(self, target, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_figure_lost_after_the_run_still_prints_the_result_and_exits_2(monkeypatch, tmp_path):
    monkeypatch.setattr(Figure, "savefig", no_space)
    run = run_command([*SMALL_SWEEP, "--json", "--plot", "sweep.png", "--out", "r.json"], tmp_path)
    assert run.returncode == 2, run.describe()
    record = run.record()
    assert len(record["runs"]) == 4
    assert strict_json((tmp_path / "r.json").read_text())["runs"] == record["runs"]
    line = one_error_line(run.stderr)
    assert "not written: --plot sweep.png (No space left on device)" in line
    assert "None" not in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_a_table_is_printed_when_the_figure_is_lost(monkeypatch, tmp_path):
    monkeypatch.setattr(Figure, "savefig", no_space)
    run = run_command([*SMALL_SWEEP, "--plot", "sweep.png"], tmp_path)
    assert run.returncode == 2, run.describe()
    assert "steepest sweep" in run.stdout and "2/L" in run.stdout
    assert "--plot sweep.png" in one_error_line(run.stderr)


class _ClosedPipe(io.StringIO):
    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")


def test_a_reader_that_goes_away_ends_the_command_quietly_with_141(tmp_path, monkeypatch):
    """``steepest fit --json | true``: no "cannot write None", no traceback; exit 141 as a
    shell reports a process that SIGPIPE ended."""
    from steepest.cli import main

    monkeypatch.chdir(tmp_path)
    stderr = io.StringIO()
    with contextlib.redirect_stdout(_ClosedPipe()), contextlib.redirect_stderr(stderr):
        code = main(["fit", "--json"])
    assert (code, stderr.getvalue()) == (141, "")
