"""The README is true: its Python runs, its figures, tables and outputs come from its commands."""

import contextlib
import importlib.util
import io
import json
import re
import shlex
from pathlib import Path

import pytest

from steepest.cli import main

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
spec = importlib.util.spec_from_file_location("readme_figures", ROOT / "experiments" / "figures.py")
figures = importlib.util.module_from_spec(spec)
spec.loader.exec_module(figures)


def test_readme_python_blocks_run_and_print_what_is_shown():
    """Every Python block runs; one followed by an indented block prints exactly that."""
    blocks = re.findall(r"```python\n(.*?)```\n(?:\n((?:    [^\n]*\n)+))?", README, flags=re.DOTALL)
    assert len(blocks) >= 4, "the README's Python examples are missing"
    for block, shown in blocks:
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(block, "README.md", "exec"), {})
        if shown:
            expected = "".join(line[4:] + "\n" for line in shown.splitlines())
            assert printed.getvalue() == expected, block


def test_every_figure_is_made_by_the_readme_command_recorded_beside_it():
    commands = figures.figure_commands(README)
    shown = re.findall(r"!\[[^\]]*\]\((docs/figures/\S+\.png)\)", README)
    assert shown and len(commands) == len(shown)
    for command in commands:
        plot, out = command[command.index("--plot") + 1], command[command.index("--out") + 1]
        assert plot in shown, f"{plot} is made but not shown"
        assert (ROOT / plot).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
        record = json.loads((ROOT / out).read_text())
        assert record["command"] == ["steepest", *command], out


def test_tables_are_those_of_their_records():
    tables = figures.TABLE.findall(README)
    assert tables
    for _, record_path, table, _ in tables:
        assert table == figures.compare_table(json.loads((ROOT / record_path).read_text()))


def test_the_printed_fit_is_what_the_command_prints_now(capsys):
    [(_, command, block, _)] = figures.OUTPUT.findall(README)
    assert main([*shlex.split(command), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    shown = {
        label: [float(cell) for cell in cells]
        for label, *cells in re.findall(r"│ (m|b) \S+\s+│\s+(\S+) │\s+(\S+) │\s+(\S+) │", block)
    }
    bounds = record["certificate"]["bounds"]
    for label, fitted, bound, exact in (
        ("m", record["params"]["w"][0], bounds["w"][0], record["closed_form"]["w"][0]),
        ("b", record["params"]["b"], bounds["b"], record["closed_form"]["b"]),
    ):
        assert shown[label][0::2] == pytest.approx([fitted, exact])
        assert shown[label][1] == pytest.approx(bound, rel=0.06)  # printed to 2 digits
    status = re.search(r"status\s+(.*)", block).group(1)
    assert record["message"].startswith(status)


def test_figures_script_lists_without_running():
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert figures.main(["--list"]) == 0
    assert printed.getvalue().count("steepest ") == len(figures.figure_commands(README))
