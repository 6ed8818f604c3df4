"""Issue 11's interrupts: Ctrl-C and SIGTERM at every phase of a command.

Each exits 130 (143 for SIGTERM) with one line saying what was interrupted, and
what had finished is printed. In-process, the signal raised where a phase would
see it; experiments/interrupts.py sends real signals to real processes across a
run's whole length.
"""

import contextlib
import importlib
import signal
import subprocess
import sys

import pytest
from cli_runs import run_command

import steepest

main_module = importlib.import_module("steepest.cli.main")  # steepest.cli.main: the function


def test_ctrl_c_while_jax_loads_waits_for_the_import_then_exits_130(tmp_path, monkeypatch):
    """An interrupt raised inside JAX's extension start-up left it half-built (SIGSEGV
    a moment later): while the command starts it is only noted, and acted on after."""
    real_build_parser = main_module.build_parser
    finished = []

    def interrupted_while_building(command=None):
        signal.raise_signal(signal.SIGINT)
        finished.append(True)  # not cut short
        return real_build_parser(command)

    monkeypatch.setattr(main_module, "build_parser", interrupted_while_building)
    run = run_command(["fit"], tmp_path)
    assert run.returncode == 130, run.describe()
    assert run.stderr == "steepest: interrupted while starting; nothing was run\n"
    assert run.stdout == "" and finished == [True]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back


def _handled(name: str) -> bool:
    """Whether this system has the signal and it is not ignored (under nohup, SIGHUP is:
    ``Interrupts`` leaves an ignored signal as it is)."""
    number = getattr(signal, name, None)
    return number is not None and signal.getsignal(number) is not signal.SIG_IGN


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("SIGTERM", 143),
        # A closed terminal (issue 22) ended `fit` with no result and no word.
        pytest.param(
            "SIGHUP", 129, marks=pytest.mark.skipif(not _handled("SIGHUP"), reason="no SIGHUP")
        ),
    ],
)
def test_sigterm_and_sighup_are_handled_as_ctrl_c(tmp_path, monkeypatch, name, code):
    number = getattr(signal, name)

    def terminated(*args, **kwargs):
        signal.raise_signal(number)

    monkeypatch.setattr(steepest.data, "builtin", terminated)  # while the data load
    run = run_command(["fit"], tmp_path)
    assert run.returncode == code, run.describe()
    assert run.stderr == "steepest: interrupted\n"
    assert signal.getsignal(number) is signal.SIG_DFL  # put back


def _swallowed_ctrl_c():
    with contextlib.suppress(KeyboardInterrupt):  # as "Exception ignored in ..." does
        signal.raise_signal(signal.SIGINT)


def test_a_ctrl_c_swallowed_during_the_load_still_stops_the_command(tmp_path, monkeypatch):
    """A KeyboardInterrupt raised inside a callback that ignores it (JAX's garbage
    collection callback, while a big CSV loads) is noted, and raised after the load."""
    real_load = steepest.data.builtin

    def load_and_swallow(*args, **kwargs):
        _swallowed_ctrl_c()
        return real_load(*args, **kwargs)

    monkeypatch.setattr(steepest.data, "builtin", load_and_swallow)
    run = run_command(["fit"], tmp_path)
    assert run.returncode == 130, run.describe()
    assert run.stderr == "steepest: interrupted\n" and run.stdout == ""


def test_a_ctrl_c_swallowed_after_the_last_check_keeps_the_output_and_exits_130(
    tmp_path, monkeypatch
):
    """The command finished (its table is printed), but the user did press Ctrl-C."""
    from steepest.cli import output

    real_emit = output.emit

    def emit_and_swallow(*args, **kwargs):
        _swallowed_ctrl_c()
        return real_emit(*args, **kwargs)

    monkeypatch.setattr(output, "emit", emit_and_swallow)  # as a command hands its result out
    run = run_command(["fit"], tmp_path)
    assert run.returncode == 130, run.describe()
    assert "converged" in run.stdout
    assert run.stderr == "steepest: interrupted after the command had finished\n"


class _RaisesOnCollection:
    def __init__(self, error: BaseException):
        self.error = error

    def __del__(self):
        raise self.error  # Python cannot raise here: it reports "Exception ignored in"


def test_a_swallowed_ctrl_c_is_not_reported_as_ignored(monkeypatch):
    reported = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: reported.append(type(u.exc_value)))
    with main_module.Interrupts():
        _RaisesOnCollection(KeyboardInterrupt())
        _RaisesOnCollection(ValueError("other errors are still reported"))
    assert reported == [ValueError]
    _RaisesOnCollection(KeyboardInterrupt())
    assert reported == [ValueError, KeyboardInterrupt]  # the hook is put back


def test_held_notes_an_interrupt_and_raises_it_when_the_block_ends():
    with main_module.Interrupts() as interrupts:
        with pytest.raises(KeyboardInterrupt), interrupts.held():
            signal.raise_signal(signal.SIGINT)
            reached = True  # the block went on
        assert reached and interrupts.received


def test_the_console_script_exits_with_mains_code_once_output_is_flushed(monkeypatch):
    """``console`` leaves by ``os._exit``: no interpreter teardown for a Ctrl-C to land in,
    or for an XLA interrupted mid-compile to crash in."""
    exits = []
    monkeypatch.setattr(main_module, "main", lambda: 3)
    monkeypatch.setattr(main_module.os, "_exit", exits.append)
    main_module.console()
    assert exits == [3]


def test_the_console_script_after_an_interrupt_past_main_exits_130(monkeypatch):
    def interrupted():
        raise KeyboardInterrupt

    exits = []
    monkeypatch.setattr(main_module, "main", interrupted)
    monkeypatch.setattr(main_module.os, "_exit", exits.append)
    main_module.console()
    assert exits == [130]


@pytest.mark.e2e
def test_importing_steepest_and_its_command_line_loads_no_jax():
    """So that the command holds Ctrl-C before JAX starts loading (about half a second)."""
    check = "import sys, steepest, steepest.cli; print('jax' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert loaded.stdout.strip() == "False", loaded.stderr
