"""``steepest bench --size small`` runs, its methods agree, it judges its bars and writes JSON."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from steepest import bench, cli

SCRIPT = Path(__file__).resolve().parent.parent / "experiments" / "benchmark.py"


def test_small_benchmark_runs_and_records(tmp_path):
    out = tmp_path / "bench.json"
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--size", "small", "--out", str(out)],
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
        "steepest.fit",
        "steepest.sweep (8 rates)",
        "steepest.fit quadratic",
    } <= methods
    assert "floor (one read)" in methods
    for result in record["problems"]:
        assert result["agreement"]["agree"], result["agreement"]
        assert all(row["seconds_per_step"] > 0 for row in result["rows"])
        # A peer is either timed or skipped with its reason, never both, never silently absent.
        timed = {row["method"] for row in result["rows"]}
        for peer in ("torch", "optimistix"):
            assert (peer in timed) != (peer in result["skipped"])
    [bar] = problems["N=200, d=1"]["bars"]
    assert bar["met"] in (True, False) and bar["measured"] > 0
    assert record["versions"]["jax"] and record["device"]["platform"] == "cpu"


def test_a_missing_device_is_one_line_and_exit_2(capsys):
    if any(device.platform == "gpu" for device in __import__("jax").devices()):
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
        ),
    )
    step = {
        "steepest.fit": 1e-3,
        bench.FLOOR: 0.4e-3,  # fit is 2.5x the floor: missed
        "numpy": 25e-3,  # 25x faster than NumPy: met
        "torch": 2e-3,  # 2x faster: met
        "steepest.sweep (4 rates)": 2e-3,  # 2x one run: met
        bench.QUADRATIC: 5e-5,  # 100 steps of it = 5 ordinary steps: missed
    }
    judged = {bar["bar"]: (bar["measured"], bar["met"]) for bar in bench.judge(problem, step)}
    assert judged == {
        "floor": (pytest.approx(2.5), False),
        "numpy": (pytest.approx(25), True),
        "torch": (pytest.approx(2), True),
        "optimistix": (None, None),
        "seconds": (pytest.approx(1e-3), True),
        "sweep": (pytest.approx(2), True),
        "quadratic": (pytest.approx(5), False),
    }
