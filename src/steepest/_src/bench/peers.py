"""What ``steepest bench`` times steepest against: the tutorial, NumPy, PyTorch, optimistix.

Every peer runs the same computation: ``steps`` steps of full-batch gradient
descent, ``w <- w - lr * grad_w``, ``b <- b - lr * grad_b``, on the mean squared
error of a linear model, from ``w = 0, b = 0``, in float32 (the tutorial in
Python floats). ``prepare(X, y, learning_rate, device)`` puts the data where the
peer computes, outside the timing, and returns ``run(steps)``, which gives the
final params ``[w..., b]`` as float64 NumPy and the seconds of the steps alone.

PyTorch and optimistix are optional: when one is not installed, ``prepare``
raises ``PeerMissing`` with the line to install it; the benchmark skips that
peer and says so, it never fakes a number.
"""

import contextlib
import importlib
import importlib.metadata
import time
from collections.abc import Callable

import jax
import numpy as np

from .. import tutorial
from ..losses import mse
from ..model import Linear, flat

Run = Callable[[int], tuple[np.ndarray, float]]


class PeerMissing(Exception):
    """A peer's package is not installed."""


def _require(module: str, install: str):
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise PeerMissing(f"{module} is not installed ({install})") from error


def prepare_tutorial(X: np.ndarray, y: np.ndarray, learning_rate: float, device) -> Run:
    """``tutorial.update_weights``: pure Python, one feature, a loop over the rows."""
    xs, ys = X[:, 0].tolist(), y.tolist()

    def run(steps: int):
        m, b = 0.0, 0.0
        started = time.perf_counter()
        for _ in range(steps):
            m, b = tutorial.update_weights(m, b, xs, ys, learning_rate)
        return np.array([m, b]), time.perf_counter() - started

    return run


def numpy_gd(w, b, X, y, learning_rate, steps):
    """The tutorial's rule vectorized in NumPy, in the dtype of its inputs.

    ``r = y - (X w + b)``, ``grad_w = -2/N X^T r``, ``grad_b = -2/N sum(r)``.

    Example:
        >>> X = np.array([[1.0], [2.0]], np.float32); y = np.array([2.0, 4.0], np.float32)
        >>> w, b = numpy_gd(np.zeros(1, np.float32), np.float32(0), X, y, 0.1, 1)
        >>> w.tolist(), float(b)  # grad_w = -(2*1 + 4*2), grad_b = -(2 + 4)
        ([1.0], 0.6000000238418579)
    """
    scale = np.asarray(-2.0 / X.shape[0], X.dtype)
    learning_rate = np.asarray(learning_rate, X.dtype)
    for _ in range(steps):
        residual = y - (X @ w + b)
        w = w - learning_rate * (scale * (X.T @ residual))
        b = b - learning_rate * (scale * residual.sum())
    return w, b


def prepare_numpy(X: np.ndarray, y: np.ndarray, learning_rate: float, device) -> Run:
    """``numpy_gd`` on the host, float32."""

    def run(steps: int):
        w, b = np.zeros(X.shape[1], X.dtype), X.dtype.type(0)
        started = time.perf_counter()
        w, b = numpy_gd(w, b, X, y, learning_rate, steps)
        return np.append(w, b).astype(np.float64), time.perf_counter() - started

    return run


def prepare_numpy_one_thread(X: np.ndarray, y: np.ndarray, learning_rate: float, device) -> Run:
    """``numpy_gd`` with its BLAS held to one thread (``threadpoolctl``): on a busy
    machine or a small problem, more threads can be slower, erratically."""
    from threadpoolctl import threadpool_limits

    run_all_threads = prepare_numpy(X, y, learning_rate, device)

    def run(steps: int):
        with threadpool_limits(limits=1, user_api="blas"):
            return run_all_threads(steps)

    return run


def prepare_torch(X: np.ndarray, y: np.ndarray, learning_rate: float, device) -> Run:
    """PyTorch autograd with ``torch.optim.SGD``, on the CPU or the first CUDA device."""
    torch = _require("torch", "pip install torch")
    target = torch.device("cuda" if device.platform == "gpu" else "cpu")
    if target.type == "cuda" and not torch.cuda.is_available():
        raise PeerMissing("torch has no CUDA device here")
    features, targets = torch.from_numpy(X).to(target), torch.from_numpy(y).to(target)

    def synchronize():
        if target.type == "cuda":
            torch.cuda.synchronize()

    def run(steps: int):
        w = torch.zeros(X.shape[1], device=target, requires_grad=True)
        b = torch.zeros((), device=target, requires_grad=True)
        optimizer = torch.optim.SGD([w, b], lr=learning_rate)
        synchronize()
        started = time.perf_counter()
        for _ in range(steps):
            optimizer.zero_grad()
            loss = torch.mean((targets - (features @ w + b)) ** 2)
            loss.backward()
            optimizer.step()
        synchronize()
        seconds = time.perf_counter() - started
        params = torch.cat([w.detach(), b.detach()[None]]).cpu().numpy()
        return params.astype(np.float64), seconds

    return run


def prepare_optimistix(X: np.ndarray, y: np.ndarray, learning_rate: float, device) -> Run:
    """``optimistix.minimise`` with ``GradientDescent`` on ``steepest.mse``, run to max_steps."""
    optx = _require("optimistix", "pip install optimistix")
    features, targets = jax.device_put((X, y), device)
    # rtol = atol = 0: no early stop, every run takes max_steps steps.
    solver = optx.GradientDescent(learning_rate=learning_rate, rtol=0.0, atol=0.0)

    def cost(params, data):
        return mse(params, *data)

    def run(steps: int):
        start = jax.device_put(Linear.zeros(X.shape[1]), device)
        started = time.perf_counter()
        # Its first step only evaluates the start: n + 1 of its steps make n updates.
        solution = optx.minimise(
            cost, solver, start, args=(features, targets), max_steps=steps + 1, throw=False
        )
        params = jax.block_until_ready(solution.value)
        seconds = time.perf_counter() - started
        if int(solution.stats["num_steps"]) != steps + 1:
            raise RuntimeError(f"optimistix took {solution.stats['num_steps']} of {steps + 1}")
        return flat(params), seconds

    return run


def versions() -> dict[str, str]:
    """The installed versions of the optional peers (none when neither is installed).

    Example:
        >>> set(versions()) <= {"torch", "optimistix"}
        True
    """
    found = {}
    for name in ("torch", "optimistix"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[name] = importlib.metadata.version(name)
    return found


PEERS: dict[str, Callable[..., Run]] = {
    "tutorial": prepare_tutorial,
    "numpy": prepare_numpy,
    "numpy (1 thread)": prepare_numpy_one_thread,
    "torch": prepare_torch,
    "optimistix": prepare_optimistix,
}
