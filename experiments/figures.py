"""Regenerate docs/figures and the README's outputs from the README's own commands.

Every README line ``steepest ... --out docs/figures/NAME.json`` is run as written,
from the repository's root: it writes its figure (``--plot``) and its record
(``--out``: the command, its result, versions, machine, date). The README's
tables drawn from a record (between ``<!-- table: RECORD -->`` and ``<!-- end
table -->``) are rewritten from it, and its printed outputs (between ``<!--
output: COMMAND -->`` and ``<!-- end output -->``) from a run of the command.
``tests/test_readme.py`` checks that the README, its commands and the records agree.

Usage:
    .venv/bin/python experiments/figures.py           # run them all, rewrite the tables
    .venv/bin/python experiments/figures.py --list    # only print the commands
"""

import argparse
import contextlib
import io
import json
import os
import re
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
FIGURES = "docs/figures/"
TABLE = re.compile(r"(<!-- table: (\S+) -->\n)(.*?)(<!-- end table -->)", re.DOTALL)
OUTPUT = re.compile(r"(<!-- output: steepest (.+?) -->\n)(.*?)(<!-- end output -->)", re.DOTALL)
WIDTH = 88  # columns of the terminal the outputs are printed for


def figure_commands(readme: str) -> list[list[str]]:
    """The README's commands that write a record under docs/figures, as argument lists.

    Example:
        >>> figure_commands("    steepest sweep --out docs/figures/s.json  # note\\n")
        [['sweep', '--out', 'docs/figures/s.json']]
    """
    commands = []
    for line in readme.splitlines():
        line = line.split("  #", 1)[0].strip()
        if line.startswith("steepest ") and f"--out {FIGURES}" in line:
            commands.append(shlex.split(line)[1:])
    return commands


def compare_table(record: dict) -> str:
    """The Markdown table of a ``steepest compare`` record: one row per optimizer."""
    lines = [
        "| optimizer | learning rate | steps | status | certain digits | distance to lstsq "
        "| seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in record["runs"]:
        lines.append(
            f"| {run['optimizer']} | {run['learning_rate']:.4g} | {run['steps']:,} | "
            f"{run['status']} | {run['digits']} | {run['distance_to_closed_form']:.1e} | "
            f"{run['seconds']:.4f} |"
        )
    return "\n".join(lines) + "\n"


def tables_rewritten(readme: str) -> str:
    """The README with each table drawn from a record replaced by the record's table now."""

    def rewrite(match: re.Match) -> str:
        record = json.loads((ROOT / match.group(2)).read_text())
        return match.group(1) + compare_table(record) + match.group(4)

    return TABLE.sub(rewrite, readme)


def outputs_rewritten(readme: str) -> str:
    """The README with each printed output replaced by a run of its command now."""
    from steepest.cli import main as steepest

    def rewrite(match: re.Match) -> str:
        command = shlex.split(match.group(2))
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            code = steepest(command)
        if code != 0:
            raise SystemExit(f"steepest {match.group(2)} exited {code}")
        lines = [f"$ steepest {match.group(2)}", *printed.getvalue().rstrip().splitlines()]
        block = "".join(f"    {line}".rstrip() + "\n" for line in lines)
        return match.group(1) + block + match.group(4)

    return OUTPUT.sub(rewrite, readme)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="print the commands, run nothing")
    args = parser.parse_args(argv)
    commands = figure_commands(README.read_text())
    if args.list:
        for command in commands:
            print(shlex.join(["steepest", *command]))
        return 0

    from steepest.cli import main as steepest

    os.chdir(ROOT)  # the README's paths are relative to the repository's root
    os.environ["COLUMNS"] = str(WIDTH)
    README.write_text(outputs_rewritten(README.read_text()))
    print(f"rewrote the outputs of {README.name}")
    for command in commands:
        print(f"$ {shlex.join(['steepest', *command])}", flush=True)
        code = steepest(command)
        if code != 0:
            print(f"exited {code}", file=sys.stderr)
            return code
    README.write_text(tables_rewritten(README.read_text()))
    print(f"rewrote the tables of {README.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
