"""JSON records: plain numbers, strictly valid JSON, atomic writes."""

import json

import numpy as np

from steepest import Linear, records


def test_params_to_dict_gives_plain_floats():
    record = records.params_to_dict(Linear(np.array([1.5, -2.0], np.float32), np.float32(3)))
    assert record == {"w": [1.5, -2.0], "b": 3.0}
    assert all(type(v) is float for v in [*record["w"], record["b"]])


def test_dumps_writes_null_for_non_finite_numbers():
    text = records.dumps({"a": float("nan"), "b": [1.0, float("inf")], "c": {"d": 2.0}})
    assert json.loads(text) == {"a": None, "b": [1.0, None], "c": {"d": 2.0}}


def test_write_json_replaces_atomically_and_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "deep" / "run.json"
    records.write_json(path, {"loss": 1.0})
    records.write_json(path, {"loss": 2.0})
    assert json.loads(path.read_text()) == {"loss": 2.0}
    assert [p.name for p in path.parent.iterdir()] == ["run.json"]
