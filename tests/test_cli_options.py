"""One flag vocabulary on every command: help text, an example, list flags, output paths.

Parsing only: nothing here runs a command, so nothing compiles.
"""

import argparse

import pytest

from steepest.cli import build_parser

COMMANDS = ["fit", "check", "compare", "sweep", "plot-surface", "bench"]
STARTERS = ["launch"]  # start other processes, which print the record (--json, --out)
REQUIRED = {  # what a command cannot parse without
    "check": ["m.py:f", "--params", "w=3"],
    "plot-surface": ["--plot", "surface.png"],
    "launch": ["--processes", "2", "fit"],
}


def subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    [action] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_every_command_is_there_with_help_on_every_flag_and_an_example():
    commands = subparsers()
    assert sorted(commands) == sorted(COMMANDS + STARTERS)
    for name, command in commands.items():
        for action in command._actions:
            assert action.help, f"steepest {name} {action.option_strings or action.dest}"
        help_text = command.format_help()
        assert help_text.rstrip().splitlines()[-1].strip().startswith(f"steepest {name}"), name
        assert "example:" in help_text, name


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_json_and_out(name):
    options = {option for action in subparsers()[name]._actions for option in action.option_strings}
    assert {"--json", "--out"} <= options
    if name != "check":  # a gradient check has no figure
        assert "--plot" in options


@pytest.mark.parametrize("name", COMMANDS + STARTERS)
def test_a_command_alone_parses_as_among_all(name):
    """``steepest NAME ...`` builds NAME's parser only: its help and its defaults are
    those of the whole parser's NAME."""
    alone = build_parser(name)
    [action] = [a for a in alone._actions if isinstance(a, argparse._SubParsersAction)]
    assert list(action.choices) == [name]
    assert action.choices[name].format_help() == subparsers()[name].format_help()
    argv = [name, *REQUIRED.get(name, [])]
    assert alone.parse_args(argv) == build_parser().parse_args(argv)


def parse(*argv):
    return build_parser().parse_args(list(argv))


def test_lists_are_space_separated_accept_commas_and_a_repeat_extends():
    assert parse("fit", "--x", "a", "b").x == ["a", "b"]
    assert parse("fit", "--x", "a,b").x == ["a", "b"]
    assert parse("fit", "--x", "a", "--x", "b,c").x == ["a", "b", "c"]
    assert parse("compare").optimizers == ["gd", "momentum", "nesterov", "adam", "lbfgs"]
    assert parse("compare", "--optimizers", "gd", "adam").optimizers == ["gd", "adam"]
    assert parse("compare", "--optimizers", "gd", "--optimizers", "adam").optimizers == [
        "gd",
        "adam",
    ]
    assert parse("check", "m.py:f", "--params", "w=3", "--params", "b=scalar").params == [
        "w=3",
        "b=scalar",
    ]
    # A shape's commas are its own: --params does not split on them.
    assert parse("check", "m.py:f", "--params", "W=4,2", "b=scalar").params == ["W=4,2", "b=scalar"]
    # The default is not shared between parses: a list flag never grows a default.
    assert parse("compare").optimizers == ["gd", "momentum", "nesterov", "adam", "lbfgs"]


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["fit", "--out", "result.png"], "the record is JSON; name it *.json"),
        (["fit", "--plot", "curve.json"], "the figure is PNG; name it *.png"),
        (["plot-surface", "--out", "surface.png"], "the figure goes to --plot FILE.png"),
        (["compare", "--optimizers", ","], "expected at least one name"),
        (["sweep", "--optimizer", "nope"], "invalid choice"),
    ],
)
def test_bad_flags_are_one_line_and_exit_2(argv, fragment, capsys):
    with pytest.raises(SystemExit) as stopped:
        parse(*argv)
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("steepest: error:") and fragment in error


def test_out_writes_the_record_with_its_context_and_keeps_the_records_own_keys(tmp_path):
    import json

    from steepest.cli.output import emit

    out = tmp_path / "run.json"
    record = {"loss": 1.5, "versions": {"torch": "2.0"}}
    emit(argparse.Namespace(json=False, out=str(out)), record, ["bench", "--out", str(out)])
    written = json.loads(out.read_text())
    assert written["command"] == ["steepest", "bench", "--out", str(out)]
    assert written["loss"] == 1.5 and written["versions"] == {"torch": "2.0"}
    assert {"machine", "date", "jax_device"} <= set(written)
