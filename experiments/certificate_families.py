"""Issue 21's families, against the exact answer: does any certificate lie, does any run
say converged when it is not?

    .venv/bin/python experiments/certificate_families.py [--out docs/certificate_families.md]

Every run is, by turns, ``fit(mse, ...)`` of a linear model on raw (not standardized)
data, and ``steepest.linear`` (standardized descent, bounds mapped back to the original
units, the fit's cost checked against the closed form's); its reference the exact
least-squares minimizer of the very floats fitted, in rational arithmetic
(tests/exact.py). Two invariants, counted over every run:

- a bound lie: a coefficient off by more than twice its certified bound;
- a false converged: ``converged`` with ``||p - p*|| > 2 rtol ||p*||``, in the coordinates
  of the descent (``linear``'s: standardized features, as its message says).

The families: hidden collinearity (x2 = x1 + delta z, delta 1e-3 to 1e-17), large
offsets (x about 1e3 to 1e6 with a small spread, y about 1e8), polynomial designs (degree
2 to 10, x in [0, 1] and [-9, -3]), the same polynomials fitted exactly (cost 0 at the
minimizer), and well-conditioned random designs; float32 and float64, gd and L-BFGS,
with an intercept and through the origin.
"""

import argparse
import sys
import time
from collections import Counter
from fractions import Fraction
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from exact import exact_fractions

import steepest
from steepest import Linear, Status, fit, mse
from steepest._src.io.standardizer import Standardizer


def hidden_collinearity():
    rng = np.random.default_rng(21)
    x1, z, noise = rng.standard_normal((3, 200))
    for delta in 10.0 ** -np.arange(3, 18, 1.5):
        yield (
            f"collinear delta={delta:.0e}",
            np.column_stack([x1, x1 + delta * z]),
            (1.0 + 2.0 * x1 + 3.0 * z + 0.1 * noise),
        )


def offsets():
    rng = np.random.default_rng(22)
    for center in (1e3, 1e6):
        for spread in (1e-3, 1.0):
            X = center + spread * rng.standard_normal((60, 2))
            yield f"offset {center:.0e}+-{spread:g}", X, 1e8 + rng.standard_normal(60)


def polynomials(exact_fit: bool):
    for low, high in ((0.0, 1.0), (-9.0, -3.0)):
        x = np.linspace(low, high, 82)
        for degree in (2, 4, 6, 8, 10):
            X = np.column_stack([x**k for k in range(1, degree + 1)])
            coefficients = np.linspace(1.0, -1.0, degree)
            y = X @ coefficients + 0.5
            if not exact_fit:
                y = np.sin(x) + 0.01 * np.random.default_rng(degree).standard_normal(82)
            kind = "exact fit" if exact_fit else "polynomial"
            yield f"{kind} degree {degree} on [{low:g}, {high:g}]", X, y


def random_designs():
    rng = np.random.default_rng(23)
    for seed in range(5):
        X = rng.standard_normal((100, 3)) * [1.0, 10.0, 0.1]
        yield f"random {seed}", X, X @ [1.0, -0.5, 4.0] + 2.0 + rng.standard_normal(100)


FAMILIES = {
    "hidden collinearity": hidden_collinearity,
    "offsets": offsets,
    "polynomials": lambda: polynomials(exact_fit=False),
    "exact fits": lambda: polynomials(exact_fit=True),
    "random": random_designs,
}


def flat(params) -> np.ndarray:
    """``[w..., b]`` (``[w...]`` without an intercept) in float64, as the exact answer is."""
    return np.concatenate(
        [np.ravel(np.asarray(leaf, np.float64)) for leaf in jax.tree.leaves(params)]
    )


def fit_run(X, y, dtype, optimizer, intercept):
    """``fit(mse, ...)`` on the data rounded to ``dtype``: (those data, params, bounds,
    status, the coordinates ``converged`` speaks of: the params', ``J = I``)."""
    X, y = np.asarray(X, dtype), np.asarray(y, dtype)
    with jax.enable_x64(dtype == np.float64):
        start = Linear.zeros(X.shape[1], dtype, intercept=intercept)
        result = fit(mse, start, jnp.asarray(X), jnp.asarray(y), optimizer=optimizer,
                     max_steps=20_000)  # fmt: skip
    bounds = None if result.certificate is None else result.certificate.bounds
    return X, y, result.params, bounds, result.status, None


def linear_run(X, y, dtype, optimizer, intercept):
    """``steepest.linear`` on the float64 data, descending in ``dtype``: (the data, params
    and bounds in original units, status, the standardizer's ``J``: ``converged`` speaks
    of the descent's coordinates, ``J^-1`` of the original ones, plus a constant)."""
    X, y = np.asarray(X, np.float64), np.asarray(y, np.float64)
    found = steepest.linear(X, y, intercept=intercept, optimizer=optimizer,
                            x64=dtype == np.float64, max_steps=20_000, progress=False)  # fmt: skip
    standardizer = Standardizer.of(X, y, center=intercept)
    return X, y, found.params, found.bounds, found.status, (standardizer, found.result.params)


def in_descent_coordinates(exact: list[Fraction], standardizer: Standardizer) -> np.ndarray:
    """The exact minimizer in the standardized coordinates of ``linear``'s descent,
    ``v = w scale`` and ``c = b + mean . w - target_mean``, mapped exactly, rounded once."""
    scale = [Fraction(float(s)) for s in standardizer.scale]
    w = exact[: len(scale)]
    mapped = [wj * sj for wj, sj in zip(w, scale, strict=True)]
    if len(exact) > len(scale):  # an intercept
        mean = [Fraction(float(m)) for m in standardizer.mean]
        shift = sum((mj * wj for mj, wj in zip(mean, w, strict=True)), Fraction(0))
        mapped.append(exact[-1] + shift - Fraction(standardizer.target_mean))
    return np.array([float(value) for value in mapped])


WORKFLOWS = {"fit": fit_run, "linear": linear_run}


def one_run(run, X, y, dtype, optimizer, intercept):
    """(outcome, status) of one run: 'singular' where the floats have no unique minimizer."""
    X, y, params, bounds, status, coordinates = run(X, y, dtype, optimizer, intercept)
    try:
        fractions = exact_fractions(X, y, fit_intercept=intercept)
        exact = np.array([float(value) for value in fractions])
    except (StopIteration, ZeroDivisionError):  # singular: the floats fix no minimizer
        certain = bounds is not None or status == Status.CONVERGED
        return ("false certainty" if certain else "ok (singular)"), status
    error = np.abs(flat(params) - exact)
    if bounds is not None and np.any(error > 2 * flat(bounds)):
        return "bound lie", status
    rtol = steepest.default_rtol(dtype)
    if coordinates is None:
        off, size = np.linalg.norm(error), np.linalg.norm(exact)
    else:  # in the descent's coordinates, where its message speaks
        standardizer, descent = coordinates
        exact_descent = in_descent_coordinates(fractions, standardizer)
        off = np.linalg.norm(flat(descent) - exact_descent)
        size = np.linalg.norm(exact_descent)
    if status == Status.CONVERGED and off > 2 * rtol * size:
        return "false converged", status
    return "ok", status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="also write the table as Markdown to this file")
    args = parser.parse_args()
    started = time.perf_counter()
    lines = [
        "| workflow | family | runs | bound lies | false converged | statuses |",
        "|---|---|---|---|---|---|",
    ]
    totals: Counter = Counter()
    for workflow, run in WORKFLOWS.items():
        for family, cases in FAMILIES.items():
            outcomes: Counter = Counter()
            statuses: Counter = Counter()
            for name, X, y in cases():
                for dtype in (np.float32, np.float64):
                    for optimizer in ("gd", "lbfgs"):
                        for intercept in (True, False):
                            outcome, status = one_run(run, X, y, dtype, optimizer, intercept)
                            outcomes[outcome] += 1
                            statuses[status.value] += 1
                            if not outcome.startswith("ok"):
                                where = f"{np.dtype(dtype).name} {optimizer} {intercept=}"
                                print(f"{outcome}: {workflow} {name}, {where}, {status.value}")
            runs = sum(outcomes.values())
            lies = outcomes["bound lie"]
            false = outcomes["false converged"] + outcomes["false certainty"]
            totals.update(runs=runs, lies=lies, false=false)
            shown = ", ".join(f"{status} {count}" for status, count in statuses.most_common())
            lines.append(f"| {workflow} | {family} | {runs} | {lies} | {false} | {shown} |")
            print(lines[-1], flush=True)
    lines.append(f"| all | | {totals['runs']} | {totals['lies']} | {totals['false']} | |")
    table = "\n".join(lines)
    print(table)
    print(f"{time.perf_counter() - started:.0f} s")
    if args.out:
        Path(args.out).write_text(
            "# Issue 21: the certificate against the exact answer\n\n"
            "`.venv/bin/python experiments/certificate_families.py --out "
            "docs/certificate_families.md` (what each family is: the script's docstring). "
            "A bound lie: a coefficient off by more than twice its bound. A false converged: "
            "`converged` more than 2 rtol off, or a certificate or `converged` where the "
            "floats have no unique minimizer.\n\n" + table + "\n"
        )


if __name__ == "__main__":
    main()
