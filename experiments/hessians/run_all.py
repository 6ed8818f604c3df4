"""Check every hand-derived Hessian here, right and with its planted mistakes; print
what the checker says of each and write it as JSON.

Each module defines ``loss``, ``hessian`` (right), one function per planted mistake,
``MISTAKES`` (each mistake's function name and what the diagnosis must say), ``PARAMS``
(shapes, in ravel_pytree's order) and ``make_data(seed)``. Params are drawn from a
fixed seed. From the command line, one of them::

    steepest check experiments/hessians/softmax.py:loss \\
        --hessian experiments/hessians/softmax.py:hessian_vec_by_column \\
        --params W=4x3 b=3 --data results/hessians/softmax.npz

Usage:
    .venv/bin/python experiments/hessians/run_all.py [--out results/hessians.json]
"""

import argparse
import importlib.util
import sys
from pathlib import Path

import jax
import numpy as np

import steepest
from steepest import records

HERE = Path(__file__).resolve().parent
EXAMPLES = ["least_squares", "ridge", "logistic", "softmax", "exponential"]


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"hessian_example_{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def inputs(module, dtype=np.float64, seed: int = 0):
    """The module's params (standard normal, from ``seed``; a decay rate kept positive)
    and data, in ``dtype``."""
    rng = np.random.default_rng(seed)
    params = {name: np.abs(rng.standard_normal(shape)) + 0.5 if name == "k"
              else rng.standard_normal(shape) for name, shape in module.PARAMS.items()}  # fmt: skip
    cast = {name: value.astype(dtype) for name, value in params.items()}
    return cast, [np.asarray(value, dtype) for value in module.make_data(seed).values()]


def check(module, which: str, dtype=np.float64) -> steepest.HessianReport:
    params, data = inputs(module, dtype)
    with jax.enable_x64(dtype == np.float64):
        return steepest.check_hessian(module.loss, getattr(module, which), params, *data)


def rows(dtypes=(np.float32, np.float64)):
    """One row per check: example, function, dtype, expected words (None for the right
    Hessian), ok, diagnosis."""
    found = []
    for name in EXAMPLES:
        module = load(name)
        for dtype in dtypes:
            report = check(module, "hessian", dtype)
            found.append((name, "hessian", np.dtype(dtype).name, None, report.ok, report.diagnosis))
        for which, words in module.MISTAKES.items():
            report = check(module, which)
            found.append((name, which, "float64", words, report.ok, report.diagnosis))
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/hessians.json")
    args = parser.parse_args(argv)
    results, wrong = [], 0
    data_dir = Path(args.out).with_suffix("")
    data_dir.mkdir(parents=True, exist_ok=True)
    for name in EXAMPLES:
        np.savez(data_dir / f"{name}.npz", **load(name).make_data())
    for name, which, dtype, words, ok, diagnosis in rows():
        expected = ok if words is None else (not ok and words in (diagnosis or ""))
        wrong += not expected
        verdict = "pass" if ok else "FAIL"
        print(f"{name:14} {which:28} {dtype:8} {verdict}  {diagnosis or ''}")
        results.append(
            {"example": name, "function": which, "dtype": dtype, "ok": ok,
             "diagnosis": diagnosis, "expected": words, "as_expected": expected}
        )  # fmt: skip
    records.write(args.out, {"checks": results}, command=[sys.executable, *sys.argv])
    print(f"{len(results) - wrong} of {len(results)} as expected; data in {data_dir}/")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
