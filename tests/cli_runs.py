"""Running ``steepest`` in-process: ``steepest.cli.main(argv)`` with its output captured.

A run in-process costs no interpreter start and no JAX import, and a compilation
another run already made is reused. float64 (``--x64``) is scoped to the run by
``main`` itself, so runs do not leak into each other or into the tests.

What needs a real process (a signal, the cost of a start, the installed console
script) is in the tests marked ``e2e``.
"""

import contextlib
import dataclasses
import io
import json
import traceback
from collections.abc import Mapping
from pathlib import Path

import pytest

from steepest.cli import main


@dataclasses.dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str

    def record(self) -> dict:
        """stdout as strictly valid JSON (NaN and Infinity are not JSON)."""

        def reject(constant):
            raise ValueError(f"stdout holds {constant}, which is not valid JSON")

        return json.loads(self.stdout, parse_constant=reject)

    def describe(self) -> str:
        return f"exit code {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def _exit_code(code) -> int:
    """The exit status a process would have had after ``SystemExit(code)``."""
    if code is None:
        return 0
    return code if isinstance(code, int) else 1


def run_command(argv: list[str], cwd: Path) -> Run:
    """``steepest ARGV`` run in ``cwd``, as the console script would, but in this process.

    argparse's errors, ``--help`` and ``--version`` raise ``SystemExit``: its code is
    the exit code. An exception that escapes ``main`` is what a process would print
    before exiting 1: a traceback on stderr, which fails the one test reading this run.
    """
    stdout, stderr = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(cwd)
        patch.setenv("COLUMNS", "200")  # rich wraps nothing in the table
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                code = main(list(argv))
            except SystemExit as stopped:
                code = _exit_code(stopped.code)
            except Exception:
                stderr.write(traceback.format_exc())
                code = 1
    return Run(code, stdout.getvalue(), stderr.getvalue())


class Runs(Mapping):
    """Commands by name, each run the first time a test asks for it, then kept."""

    def __init__(self, commands: dict[str, list[str]], cwd: Path | dict[str, Path]):
        self._commands = commands
        self._cwd = cwd
        self._runs: dict[str, Run] = {}

    def __getitem__(self, name: str) -> Run:
        if name not in self._runs:
            cwd = self._cwd[name] if isinstance(self._cwd, dict) else self._cwd
            self._runs[name] = run_command(self._commands[name], cwd)
        return self._runs[name]

    def __iter__(self):
        return iter(self._commands)

    def __len__(self) -> int:
        return len(self._commands)
