"""``steepest bench --size small`` runs, its methods agree, it judges its bars and writes JSON."""

import json
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from steepest import cli
from steepest._src.bench import hlo
from steepest._src.bench import measure as bench

REPOSITORY = Path(__file__).resolve().parents[4]
SCRIPT = REPOSITORY / "experiments" / "benchmark.py"


@pytest.mark.e2e  # the experiments script, as a process of its own: timings and peers apart
def test_small_benchmark_runs_and_records(tmp_path):
    out = tmp_path / "bench.json"
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--size", "small", "--rounds", "2", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    record = json.loads(out.read_text())
    problems = {result["problem"]: result for result in record["problems"]}
    assert list(problems) == ["N=200, d=1", "N=1e5, d=1", "N=1e4, d=64"]
    methods = {row["method"] for row in problems["N=1e4, d=64"]["rows"]}
    assert {
        "numpy",
        "numpy (1 thread)",
        "steepest.fit",
        "steepest.sweep (8 rates)",
        "steepest.fit quadratic",
    } <= methods
    assert "floor (one read)" in methods
    assert record["rounds"] == 2
    for result in record["problems"]:
        assert result["agreement"]["agree"], result["agreement"]
        assert all(row["seconds_per_step"] > 0 for row in result["rows"])
        assert all(len(row["seconds_per_step_each_round"]) == 2 for row in result["rows"])
        # A peer is either timed or skipped with its reason, never both, never silently absent.
        timed = {row["method"] for row in result["rows"]}
        for peer in ("torch", "optimistix"):
            assert (peer in timed) != (peer in result["skipped"])
    plan = problems["N=1e4, d=64"]["plan"]
    assert plan["memory_bytes"]["data"] == 10_000 * 65 * 4
    assert plan["reads_of_X"]["one pass"] and problems["N=200, d=1"]["plan"] is None
    [bar] = problems["N=200, d=1"]["bars"]
    assert bar["met"] in (True, False) and bar["measured"] > 0
    assert record["versions"]["jax"] and record["device"]["platform"] == "cpu"


def test_a_missing_device_is_one_line_and_exit_2(capsys):
    if any(device.platform == "gpu" for device in jax.devices()):
        pytest.skip("a GPU is present")
    assert cli.main(["bench", "--device", "gpu"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "--device gpu" in error


def test_bars_are_judged_from_the_medians():
    problem = bench.Problem(
        rows=10,
        features=2,
        steps={},
        sweep_rates=4,
        quadratic_steps=100,
        bars=(
            bench.Bar("floor", "floor", 2.0),
            bench.Bar("numpy", "numpy", 20),
            bench.Bar("torch", "faster", "torch"),
            bench.Bar("optimistix", "faster", "optimistix"),
            bench.Bar("seconds", "seconds", 1e-3),
            bench.Bar("sweep", "sweep", 3),
            bench.Bar("quadratic", "quadratic", 3),
            bench.COST_BAR,
            bench.MEMORY_BAR,
        ),
    )
    step = {
        "steepest.fit": 1e-3,
        bench.FLOOR: 0.4e-3,  # fit is 2.5x the floor: missed
        "numpy": 25e-3,  # 25x faster than NumPy: met
        "torch": 2e-3,  # 2x faster: met
        "steepest.sweep (4 rates)": 2e-3,  # 2x one run: met
        bench.QUADRATIC: 5e-5,  # 100 steps of it = 5 ordinary steps: missed
        bench.GRADIENT_ONLY: 0.8e-3,  # the cost adds 25%: missed
    }
    plan = {"memory_bytes": {"data": 1000, "state": 10, "temporary": 250}}  # 1.25x: missed
    judged = {bar["bar"]: (bar["measured"], bar["met"]) for bar in bench.judge(problem, step, plan)}
    assert judged == {
        "floor": (pytest.approx(2.5), False),
        "numpy": (pytest.approx(25), True),
        "torch": (pytest.approx(2), True),
        "optimistix": (None, None),
        "seconds": (pytest.approx(1e-3), True),
        "sweep": (pytest.approx(2), True),
        "quadratic": (pytest.approx(5), False),
        bench.COST_BAR.label: (pytest.approx(1.25), False),
        bench.MEMORY_BAR.label: (pytest.approx(1.25), False),
    }


def test_the_gradient_only_loop_makes_fit_s_updates():
    X, y = bench.problem_data(bench.Problem(rows=64, features=3, steps={}))
    device = jax.devices()[0]
    fitted = bench.prepare_fit(X, y, 0.1, device)(12)[0]
    np.testing.assert_allclose(bench.prepare_gradient_only(X, y, 0.1, device)(12)[0], fitted,
                               rtol=1e-5)  # fmt: skip


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="blocks are for the CPU only")
def test_blocks_read_X_once_per_step_where_one_pass_reads_it_twice():
    # One pass: X @ w forward and X.T @ r backward, each over all of X.
    assert [read.split()[0] for read in hlo.passes_over_X(100_000, 64, None)] == ["dot", "dot"]
    # Blocks: one slice of each block per step; the two products then read the slice (cached).
    assert len(hlo.passes_over_X(100_000, 64, 10_000)) == 1


def fake_measure(problem, device, status, rounds=1):
    row = {
        "problem": problem.name,
        "method": "numpy",
        "steps": 1,
        "seconds_per_step": 1e-3,
        "seconds_shown": 1e-3,
        "speedup_vs_numpy": 1.0,
        "times_floor": None,
    }
    agreement = {"steps": 1, "max_relative_difference_to_numpy": {}, "agree": True}
    return {
        "problem": problem.name,
        "rows": [row],
        "skipped": {},
        "plan": None,
        "agreement": agreement,
        "bars": [],
    }


def test_methods_that_disagree_exit_1_and_the_record_says_so(monkeypatch, tmp_path):
    def disagreeing(problem, device, status, rounds):
        result = fake_measure(problem, device, status)
        result["agreement"] = {
            "steps": 1,
            "max_relative_difference_to_numpy": {"steepest.fit": 0.5},
            "agree": False,
        }
        return result

    monkeypatch.setattr(bench, "measure", disagreeing)
    out = tmp_path / "bench.json"
    assert cli.main(["bench", "--size", "small", "--out", str(out)]) == 1
    record = json.loads(out.read_text())
    assert not any(result["agreement"]["agree"] for result in record["problems"])
    assert "| N=200, d=1 | numpy |" in out.with_suffix(".md").read_text()


def test_bars_are_judged_on_the_median_of_the_ratios_within_each_round():
    """A load that slows every method in one round moves no ratio; NumPy is the better
    of its two runs in each round."""
    problem = bench.Problem(
        rows=10, features=2, steps={},
        bars=(bench.Bar("floor", "floor", 2.0), bench.Bar("numpy", "numpy", 2)),
    )  # fmt: skip
    times = {  # round 2 is 10x slower for everyone
        "steepest.fit": [1.0, 10.0, 1.0],
        bench.FLOOR: [0.6, 6.0, 0.4],
        "numpy": [3.0, 30.0, 9.0],
        "numpy (1 thread)": [4.0, 20.0, 2.5],
    }
    floor, numpy = bench.judge_rounds(problem, times, None)
    assert floor["measured"] == pytest.approx(10 / 6) and floor["met"]  # 1.67, 1.67, 2.5
    assert floor["shown"] == "1.67x the floor (1.67 to 2.5)"
    assert numpy["rounds"] == pytest.approx([3.0, 2.0, 2.5]) and numpy["met"]


# Issue 11, item 5: bench --out X.json never overwrites a user's X.md.


def test_bench_refuses_before_running_when_a_sibling_md_is_not_its_own(
    monkeypatch, tmp_path, capsys
):
    ran = []
    monkeypatch.setattr(bench, "measure", lambda *a: ran.append(a) or fake_measure(*a))
    monkeypatch.chdir(tmp_path)
    notes = tmp_path / "X.md"
    notes.write_text("my own notes\n")
    assert cli.main(["bench", "--size", "small", "--out", "X.json"]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "--out X.json" in line and "X.md" in line and "not written by bench" in line
    assert notes.read_text() == "my own notes\n" and not ran
    assert not (tmp_path / "X.json").exists()


def test_bench_replaces_its_own_md_on_a_rerun(monkeypatch, tmp_path):
    monkeypatch.setattr(bench, "measure", fake_measure)
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        assert cli.main(["bench", "--size", "small", "--out", "X.json"]) == 0
    assert "| N=200, d=1 | numpy |" in (tmp_path / "X.md").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["X.json", "X.md"]


def test_ctrl_c_keeps_the_problems_measured_so_far(monkeypatch, tmp_path):
    """Issue 11, item 13: Ctrl-C during the second problem writes the first, exit 130."""
    calls = []

    def interrupted_second(problem, device, status, rounds):
        calls.append(problem.name)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return fake_measure(problem, device, status)

    monkeypatch.setattr(bench, "measure", interrupted_second)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["bench", "--size", "all", "--out", "X.json"]) == 130
    record = json.loads((tmp_path / "X.json").read_text())
    assert record["interrupted"] is True
    assert [problem["problem"] for problem in record["problems"]] == [calls[0]]


def test_the_scaling_run_times_every_size_and_draws_its_curves(monkeypatch, tmp_path):
    monkeypatch.setattr(bench, "measure", fake_measure)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["bench", "--size", "scaling", "--out", "S.json", "--plot", "S.png"]) == 0
    record = json.loads((tmp_path / "S.json").read_text())
    names = [problem["problem"] for problem in record["problems"]]
    assert names[0] == "N=100, d=1" and names[-1] == "N=1e6, d=256" and len(names) == 18
    assert (tmp_path / "S.png").read_bytes().startswith(b"\x89PNG")
    # Every size is judged against the better NumPy and the bare loop; over short runs too
    # where the long ones are longer; from 1e5 rows against the floor.
    problems = {problem.name: problem for problem in bench.problems("scaling", "cpu")}
    bars = {name: [bar.kind for bar in problem.bars] for name, problem in problems.items()}
    assert bars["N=1e4, d=16"] == ["faster", "faster", "short", "bare"]
    assert bars["N=1e6, d=64"] == ["faster", "bare", "floor"]  # long runs of 100 steps
    assert problems["N=1e4, d=16"].steps["steepest.fit"] == bench.LONG_STEPS
    methods = bench._methods(problems["N=1e4, d=16"])
    assert methods[bench.short("numpy (1 thread)")][1] == bench.SHORT_STEPS
    assert bench.BARE in methods and bench.GRADIENT_ONLY not in methods


def test_bars_on_short_runs_take_each_methods_short_run():
    problem = next(p for p in bench.problems("scaling", "cpu") if p.name == "N=1e3, d=16")
    step = {"steepest.fit": 1.0, "numpy": 3.0, "numpy (1 thread)": 2.0, bench.BARE: 0.9}
    step |= {bench.short("steepest.fit"): 1.5, bench.short("numpy"): 1.2,
             bench.short("numpy (1 thread)"): 1.4}  # fmt: skip
    measured = {bar["bar"]: bar["measured"] for bar in bench.judge(problem, step)}
    long_numpy, short_numpy, short_run, bare = (bar.label for bar in problem.bars)
    assert measured[long_numpy] == 2.0  # the better NumPy, 2.0, over fit's 1.0
    assert measured[short_numpy] == 1.2 / 1.5  # the same, over the short runs
    assert measured[short_run] == 1.5 and measured[bare] == 1.0 / 0.9
