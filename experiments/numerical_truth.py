"""Issue 10's cases, as the issue states them: what steepest now says on each.

    .venv/bin/python experiments/numerical_truth.py

Each line: the case, the status and steps, the actual error against the exact
rational answer (tests/exact.py), and the message.
"""

import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from exact import exact_least_squares

import steepest
from steepest import Linear, fit, mse


def standardized(X):
    return (X - X.mean(0)) / X.std(0)


def flat(params):
    return np.append(np.asarray(params.w, np.float64), float(params.b))


def relative_error(result, X, y):
    exact = exact_least_squares(X, y)
    return np.linalg.norm(flat(result.params) - exact) / np.linalg.norm(exact)


def main():
    x = np.linspace(0, 1, 50)
    X = standardized(np.column_stack([x**k for k in range(1, 11)]))
    y = np.sin(3 * x) + 0.01 * np.random.default_rng(0).standard_normal(50)
    with jax.enable_x64(True):
        for optimizer, steps in (("lbfgs", 3000), ("gd", 20_000)):
            started = time.perf_counter()
            result = fit(mse, Linear.zeros(10, jnp.float64), jnp.asarray(X), jnp.asarray(y),
                         optimizer=optimizer, max_steps=steps)  # fmt: skip
            seconds = time.perf_counter() - started
            print(f"degree-10 powers, --x64, {optimizer}: {result.status.value} after "
                  f"{result.num_steps} steps ({seconds:.1f} s); actual relative error "
                  f"{relative_error(result, X, y):.2g}; {result.message}")  # fmt: skip

    rng = np.random.default_rng(2)
    raw = 1e6 + rng.uniform(0, 1e3, (200, 1))
    target = 0.1 + 1e-5 * (raw[:, 0] - 1e6) + 1e-3 * rng.standard_normal(200)
    Z, t = standardized(raw).astype(np.float32), target.astype(np.float32)
    result = fit(mse, Linear.zeros(1), jnp.asarray(Z), jnp.asarray(t))
    print(f"tiny target (y ~ 0.1, x ~ 1e6), float32: {result.status.value} after "
          f"{result.num_steps} steps; actual relative error {relative_error(result, Z, t):.2g}; "
          f"{result.message}")  # fmt: skip

    data = steepest.data.builtin()
    X, y = steepest.data.to_device(data.X, data.y)
    for optimizer, steps, tol in (("lbfgs", 20_000, 0.0), ("gd", 2_000_000, None)):
        started = time.perf_counter()
        result = fit(mse, Linear.zeros(1), X, y, optimizer=optimizer, max_steps=steps, tol=tol)
        print(f"raw radio, float32, {optimizer}, max_steps {steps:g}: {result.status.value} "
              f"after {result.num_steps} steps ({time.perf_counter() - started:.2f} s, "
              f"compile included)")  # fmt: skip

    rng = np.random.default_rng(5)
    Xq = standardized(rng.standard_normal((500, 3))).astype(np.float32)
    noise = 2.5e-4 * np.random.default_rng(6).standard_normal(500)
    yq = (Xq @ [1.0, 2.0, 3.0] + 0.5 + noise).astype(np.float32)
    for method in ("quadratic", "loop"):
        result = fit(mse, Linear.zeros(3), jnp.asarray(Xq), jnp.asarray(yq), method=method)
        w, b = np.asarray(result.params.w, np.float64), float(result.params.b)
        reference = np.mean((Xq.astype(np.float64) @ w + b - yq) ** 2)
        print(f"--method {method}: reported cost {result.loss:.9g}, the loss at its params "
              f"in float64 {reference:.9g}")  # fmt: skip


if __name__ == "__main__":
    main()
