"""``compare``'s own tests: a Ctrl-C between optimizers, where only the module's names reach."""

from cli_runs import run_command

from steepest._src.workflows import compare


def test_ctrl_c_while_an_optimizer_compiles_keeps_the_runs_finished(tmp_path, monkeypatch):
    """Ctrl-C while the third optimizer compiles: the first two are kept (and printed by
    the command, which exits 130)."""
    calls = []
    real_fit = compare.fit

    def interrupted_third(*args, **kwargs):
        calls.append(kwargs["optimizer"])
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(compare, "fit", interrupted_third)
    runs = compare.compare(optimizers=["gd", "momentum", "adam", "lbfgs"])
    assert runs.interrupted and list(runs.fits) == ["gd", "momentum"]
    calls.clear()
    run = run_command(["compare", "--json"], tmp_path)
    assert run.returncode == 130, run.describe()
    assert [row["optimizer"] for row in run.record()["runs"]] == ["gd", "momentum"]
    assert run.stderr == ("steepest: interrupted; 2 of 5 optimizers ran; their runs are reported\n")


def test_a_comparison_stopped_before_any_run_keeps_its_closed_form(monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(compare, "fit", interrupted)
    runs = compare.compare(optimizers=["gd"])
    assert runs.interrupted and runs.fits == {}
    record = runs.to_dict()
    assert record["runs"] == [] and len(record["closed_form"]["w"]) == 3
