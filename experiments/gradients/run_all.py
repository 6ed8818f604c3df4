"""Check every example's correct and buggy gradient; print the verdicts and write JSON.

It also writes each example's data as ``results/gradients/NAME.npz``, for
``steepest check FILE.py:loss --grad FILE.py:grad --params ... --data NAME.npz``.

Each module here defines ``loss``, ``grad`` (right), ``grad_buggy`` (one
planted mistake), ``PARAMS`` (shapes), ``make_data(seed)`` and ``BUG`` (what
the diagnosis must say). Params are drawn from a fixed seed.

Usage:
    .venv/bin/python experiments/gradients/run_all.py [--out results/gradients.json]
"""

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np

import steepest
from steepest import records

HERE = Path(__file__).resolve().parent
EXAMPLES = ["mse", "ridge", "logistic", "huber", "softmax", "polynomial"]


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"gradient_example_{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check(module, which: str, seed: int = 0) -> steepest.GradientReport:
    rng = np.random.default_rng(seed)
    params = {name: rng.standard_normal(shape) for name, shape in module.PARAMS.items()}
    data = module.make_data(seed)
    return steepest.check_gradient(module.loss, getattr(module, which), params, *data.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/gradients.json")
    parser.add_argument("--data-dir", default="results/gradients")
    args = parser.parse_args(argv)
    Path(args.data_dir).mkdir(parents=True, exist_ok=True)
    results, all_as_expected = {}, True
    for name in EXAMPLES:
        module = load(name)
        np.savez(Path(args.data_dir) / f"{name}.npz", **module.make_data(0))
        right, buggy = check(module, "grad"), check(module, "grad_buggy")
        as_expected = right.ok and not buggy.ok and module.BUG in (buggy.diagnosis or "")
        all_as_expected &= as_expected
        print(f"{name}: correct {'PASS' if right.ok else 'FAIL'}; buggy "
              f"{'PASS' if buggy.ok else 'FAIL'}: {buggy.diagnosis}")  # fmt: skip
        results[name] = {
            "correct": right.to_dict(),
            "buggy": buggy.to_dict(),
            "expected_diagnosis": module.BUG,
            "as_expected": as_expected,
        }
    records.write_json(args.out, results)
    print(f"wrote {args.out}")
    return 0 if all_as_expected else 1


if __name__ == "__main__":
    sys.exit(main())
