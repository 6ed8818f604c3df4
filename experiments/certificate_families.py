"""Issue 21's families, against the exact answer: does any certificate lie, does any run
say converged when it is not?

    .venv/bin/python experiments/certificate_families.py [--out docs/certificate_families.md]

Every run is ``fit(mse, ...)`` of a linear model on raw (not standardized) data, and its
reference the exact least-squares minimizer of the very floats fitted, in rational
arithmetic (tests/exact.py). Two invariants, counted over every run:

- a bound lie: a coefficient off by more than twice its certified bound;
- a false converged: ``converged`` with ``||p - p*|| > 2 rtol ||p*||``.

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
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from exact import exact_least_squares

import steepest
from steepest import Linear, Status, fit, mse


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


def one_run(X, y, dtype, optimizer, intercept):
    """(outcome, status) of one fit: 'singular' where the floats have no unique minimizer."""
    X, y = np.asarray(X, dtype), np.asarray(y, dtype)
    with jax.enable_x64(dtype == np.float64):
        start = Linear.zeros(X.shape[1], dtype, intercept=intercept)
        result = fit(mse, start, jnp.asarray(X), jnp.asarray(y), optimizer=optimizer,
                     max_steps=20_000)  # fmt: skip
    try:
        exact = exact_least_squares(X, y, intercept=intercept)
    except (StopIteration, ZeroDivisionError):  # singular: the floats fix no minimizer
        certain = result.certificate is not None or result.status is Status.CONVERGED
        return ("false certainty" if certain else "ok (singular)"), result.status
    error = np.abs(flat(result.params) - exact)
    if result.certificate is not None and np.any(error > 2 * flat(result.certificate.bounds)):
        return "bound lie", result.status
    rtol = steepest.default_rtol(dtype)
    if result.status is Status.CONVERGED and np.linalg.norm(error) > 2 * rtol * np.linalg.norm(
        exact
    ):
        return "false converged", result.status
    return "ok", result.status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="also write the table as Markdown to this file")
    args = parser.parse_args()
    started = time.perf_counter()
    lines = ["| family | runs | bound lies | false converged | statuses |", "|---|---|---|---|---|"]
    totals: Counter = Counter()
    for family, cases in FAMILIES.items():
        outcomes: Counter = Counter()
        statuses: Counter = Counter()
        for name, X, y in cases():
            for dtype in (np.float32, np.float64):
                for optimizer in ("gd", "lbfgs"):
                    for intercept in (True, False):
                        outcome, status = one_run(X, y, dtype, optimizer, intercept)
                        outcomes[outcome] += 1
                        statuses[status.value] += 1
                        if not outcome.startswith("ok"):
                            where = f"{np.dtype(dtype).name} {optimizer} intercept={intercept}"
                            print(f"{outcome}: {name}, {where}, {status.value}", flush=True)
        runs = sum(outcomes.values())
        lies = outcomes["bound lie"]
        false = outcomes["false converged"] + outcomes["false certainty"]
        totals.update(runs=runs, lies=lies, false=false)
        shown = ", ".join(f"{status} {count}" for status, count in statuses.most_common())
        lines.append(f"| {family} | {runs} | {lies} | {false} | {shown} |")
        print(lines[-1], flush=True)
    lines.append(f"| all | {totals['runs']} | {totals['lies']} | {totals['false']} | |")
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
