"""What ``steepest launch`` shows once its processes have ended (``report``), on the
stderr that real runs left: which process's words, and which exit code."""

import contextlib
import tempfile
import types

import pytest

from .launch import report

OWN = "steepest: error: holed.npy, row 3,001: column 'x1' is nan\n"
# What process 1 logged, before its own error, once process 0 (the coordinator) had gone.
COORDINATOR_GONE = [
    "E1207 09:32:29.448730    5058 coordination_service_agent.cc:289] Polled an error from "
    "coordination service (this can be an error from this or another task).\n",
    "F1207 09:32:29.448767    5058 client.h:80] Terminating process because the JAX "
    "distributed service detected fatal errors.\n",
]
GLOO = "steepest: error: Gloo all-gather failed: Connection closed by peer\n"


def outcome(codes: list[int], texts: list[list[str]], capsys, stopped=(), ended=None):
    """``report``'s exit code and stderr for processes that ended with ``codes`` (in the
    order ``ended``: by default, theirs), having written ``texts``, in process order."""
    children = [types.SimpleNamespace(returncode=code) for code in codes]
    with contextlib.ExitStack() as stack:
        logs = [stack.enter_context(tempfile.TemporaryFile()) for _ in codes]
        for log, lines in zip(logs, texts, strict=True):
            log.write("".join(lines).encode())
        order = list(range(len(codes))) if ended is None else ended
        code = report(children, logs, order, set(stopped))
    return code, capsys.readouterr().err


def test_the_first_process_naming_another_s_error_is_shown_as_it_is(capsys):
    said = "steepest: process 1: error: holed.npy, row 3,001: column 'x1' is nan\n"
    assert outcome([2, 2], [[said], [OWN]], capsys) == (2, said)


@pytest.mark.parametrize("code", [2, -6], ids=["exit 2", "aborted after"])
def test_an_own_error_is_found_among_the_coordinator_s_going(code, capsys):
    """Process 0 lost its peer; process 1 said its own error among JAX's lines."""
    code, said = outcome([2, code], [[GLOO], [*COORDINATOR_GONE, OWN]], capsys)
    assert code == 2
    assert said.endswith("steepest: process 1: error: holed.npy, row 3,001: column 'x1' is nan\n")


def test_a_process_stopped_here_after_its_own_error_exits_as_bad_input(capsys):
    code, said = outcome([2, -9], [[GLOO], [OWN]], capsys, stopped={1})
    assert (code, said) == (2, "steepest: process 1: error: " + OWN.split("error: ", 1)[1])


def test_processes_lost_without_a_word_of_their_own_say_so(capsys):
    code, said = outcome([-9, -9], [[], []], capsys, stopped={0, 1})
    assert code == 2
    assert said == "steepest: error: the processes stopped without a result\n"


def test_a_line_naming_another_s_error_is_shown_as_it_is_by_a_third_process(capsys):
    """Of three, process 0 lost its peers; process 2, stopped by process 1's bad rows, ended
    first and is shown: its line already says whose error it is."""
    theirs = "steepest: process 1: error: holed.npy, row 3,001: column 'x1' is nan\n"
    texts = [[GLOO], [*COORDINATOR_GONE], [theirs]]
    assert outcome([2, -6, 2], texts, capsys, ended=[0, 2, 1]) == (2, theirs)


def test_the_first_process_stopped_here_after_naming_another_s_error_exits_as_bad_input(capsys):
    said = "steepest: process 1: error: holed.npy, row 3,001: column 'x1' is nan\n"
    code, shown = outcome([-9, -9], [[said, *COORDINATOR_GONE], []], capsys, stopped={0, 1})
    assert (code, shown) == (2, said + "".join(COORDINATOR_GONE))
