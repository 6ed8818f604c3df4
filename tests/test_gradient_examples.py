"""Every shipped gradient example: the right gradient passes, the buggy one fails as documented."""

import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "experiments" / "gradients"
spec = importlib.util.spec_from_file_location("gradient_examples_runner", EXAMPLES / "run_all.py")
run_all = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run_all)


def test_every_example_module_is_listed():
    shipped = {path.stem for path in EXAMPLES.glob("*.py")} - {"run_all"}
    assert shipped == set(run_all.EXAMPLES)


@pytest.mark.parametrize("name", run_all.EXAMPLES)
def test_example(name):
    module = run_all.load(name)
    right = run_all.check(module, "grad")
    assert right.ok, str(right)
    buggy = run_all.check(module, "grad_buggy")
    assert not buggy.ok
    assert module.BUG in buggy.diagnosis, buggy.diagnosis


def test_run_all_writes_the_record_and_the_data(tmp_path):
    assert run_all.main(["--out", str(tmp_path / "g.json"), "--data-dir", str(tmp_path)]) == 0
    assert (tmp_path / "g.json").stat().st_size > 0
    assert {path.stem for path in tmp_path.glob("*.npz")} == set(run_all.EXAMPLES)
