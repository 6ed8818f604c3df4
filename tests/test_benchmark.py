"""The benchmark script runs, its methods agree, and it writes its JSON record."""

import json
import subprocess
import sys
from pathlib import Path

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
    assert {row["method"] for row in record["rows"]} == {"tutorial", "numpy", "steepest.fit"}
    assert all(row["us_per_step"] > 0 for row in record["rows"])
    assert all(agreement["agree"] for agreement in record["agreement"].values())
    assert record["versions"]["jax"] and record["jax_device"]["platform"]
