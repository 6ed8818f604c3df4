"""The gallery of hand-derived Hessians (experiments/hessians/): each right Hessian passes
in float32 and float64, and each planted mistake is named for what it is."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location(
    "hessian_gallery", ROOT / "experiments" / "hessians" / "run_all.py"
)
gallery = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gallery)


@pytest.mark.parametrize("name", gallery.EXAMPLES)
def test_each_right_hessian_passes_and_each_planted_mistake_is_named(name):
    module = gallery.load(name)
    for dtype in (np.float32, np.float64):
        report = gallery.check(module, "hessian", dtype)
        assert report.ok, f"{name} in {np.dtype(dtype).name}: {report}"
    for which, words in module.MISTAKES.items():
        report = gallery.check(module, which)
        assert not report.ok and words in report.diagnosis, f"{name}.{which}: {report}"


def test_every_kind_of_mistake_is_planted_somewhere():
    said = " ".join(
        words for name in gallery.EXAMPLES for words in gallery.load(name).MISTAKES.values()
    )
    for kind in ("not symmetric", "off by a factor of 1/2", "off by a factor of N",
                 "missing the cross term", "a penalty", "it orders the params",
                 "lays out W column by column", "the Gauss-Newton approximation"):  # fmt: skip
        assert kind in said, kind
