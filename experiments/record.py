"""Run one ``steepest`` command and keep what it printed as JSON, with what made it.

Shared by the figure scripts beside it: each runs its command with ``--json``
and writes the record (the command, its result, package versions, machine,
device, date) next to the figure.
"""

import contextlib
import io
import json
import sys
from pathlib import Path

from steepest import cli, records

FIGURES = Path(__file__).resolve().parent.parent / "docs" / "figures"


def run_and_record(arguments: list[str], record_path: Path) -> dict:
    """``steepest ARGUMENTS --json``; the result and its provenance written to ``record_path``."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = cli.main([*arguments, "--json"])
    if code != 0:
        sys.exit(f"steepest {' '.join(arguments)} exited {code}")
    record = {
        "command": ["steepest", *arguments],
        "result": json.loads(printed.getvalue()),
        **records.environment(),
    }
    records.write_json(record_path, record)
    print(f"wrote {record_path}")
    return record
