"""``steepest bench``: time per step of full-batch gradient descent, steepest against its peers.

What is timed: ``steps`` steps of ``w <- w - lr * grad_w``, ``b <- b - lr * grad_b``
on the mean squared error of a linear model, float32, from zero, by

- the peers (``peers.py``): the tutorial's pure-Python loop (N = 200 only), NumPy
  with all its BLAS threads and with one (the better of the two, round by round, is
  the peer the bars name "NumPy"), PyTorch autograd with ``torch.optim.SGD`` and
  optimistix ``GradientDescent`` (each when installed; otherwise skipped, with a note);
- ``steepest.fit`` (``optimizer="gd"``, ``tol=0``): ``FitResult.seconds``, the
  steps with compilation excluded;
- ``steepest.sweep`` over many learning rates at once: the time of a step of all runs;
- ``fit(method="quadratic")``: the whole call, forming the Hessian included;
- a gradient-only step: a jitted loop of the same updates that takes only the gradient,
  in the same row blocks as ``fit`` (the cost left unused, so that XLA drops it): what
  evaluating the cost at every step adds to a step;
- the floor: one read of X and y on the same device (a jitted ``sum(X) + sum(y)``).

How, so that a machine whose load changes cannot fool the verdict: each method runs
once first (compiling, warming caches) and that time is dropped. Then ``rounds``
rounds (default ``ROUNDS``), each timing one run of every method in turn, the floor
included, the first method of the round moving by one each round. Every ratio (to
NumPy, to the floor, each bar's) is taken within a round, and reported as its median
over the rounds with its spread (lowest, highest); a method's time per step is the
median of its rounds. Every timed run ends when its result is ready on the device.
Before timing, every method runs ``check_steps`` steps from zero and its params are
compared with NumPy's, so the times compare one computation.

The speed bars are judged on the medians of the per-round ratios (``Bar``,
``judge_rounds``); ``docs/benchmarks.md`` holds the tables.
"""

import dataclasses
import functools
import statistics
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from .. import blocks
from .. import fit as fit_module
from ..engine import step_block_rows
from ..fit import fit
from ..io import data
from ..io.standardizer import Standardizer
from ..losses import mse
from ..model import Linear, flat
from ..sweep import sweep
from . import ROUNDS, peers
from .hlo import passes_over_X

FLOOR = "floor (one read)"
BARE = "bare jit loop"
NUMPY = ("numpy", "numpy (1 thread)")  # the peer "NumPy" is the better of these, per round
QUADRATIC = "steepest.fit quadratic"
GRADIENT_ONLY = "gradient only"
AGREEMENT = 1e-4  # largest |params - NumPy's| / max|NumPy's| after check_steps steps


@dataclasses.dataclass(frozen=True)
class Bar:
    """A speed target, judged on the median over the rounds of its ratio within each round.

    ``kind``: ``"floor"`` (fit's step <= limit x the floor), ``"numpy"`` (fit's step
    <= NumPy's / limit), ``"faster"`` (fit's step < the step of the peer ``limit``
    names), ``"seconds"`` (fit's step <= limit seconds), ``"bare"`` (fit's step <=
    limit x a bare jitted loop's: what the history, the stop rules and the divergence
    guard add), ``"short"`` (a step of fit's short runs <= limit x a step of its long
    ones), ``"sweep"`` (a step of every run together <= limit x fit's step),
    ``"quadratic"`` (the quadratic path's whole run <= limit x fit's step), ``"cost"``
    (fit's step <= limit x a gradient-only step: what the cost at every step adds),
    ``"memory"`` (X and y plus XLA's scratch memory for fit <= limit x X and y; the
    loop state, O(d) and the loss history, aside).

    ``short``: fit and its peers are taken at their short runs. ``share``: the bar is
    met when it is met in at least this share of the rounds, not on the median ratio.
    """

    label: str
    kind: str
    limit: float | str
    short: bool = False  # judged on the short runs (``Problem.short_steps``)
    share: float | None = None  # met in at least this share of the rounds; None: the median


MEMORY_BAR = Bar("peak memory <= 1.2x X and y", "memory", 1.2)
COST_BAR = Bar("the cost adds <= 5% to a step", "cost", 1.05)


@dataclasses.dataclass(frozen=True)
class Problem:
    """A random regression problem (or the built-in one) and what runs on it."""

    rows: int
    features: int
    steps: dict[str, int]  # method -> steps per timed run
    learning_rate: float = 0.1
    builtin: bool = False
    check_steps: int = 20
    sweep_rates: int = 0  # learning rates of the sweep, 0: no sweep
    quadratic_steps: int = 0  # steps of the quadratic path, 0: not timed
    short_steps: int = 0  # steps of a short run of fit and NumPy, timed beside; 0: none
    bars: tuple[Bar, ...] = ()

    @property
    def name(self) -> str:
        return f"N={_count(self.rows)}, d={self.features}"


def _count(number: int) -> str:
    """1e7 for 10_000_000, 200 for 200."""
    exponent = len(str(number)) - 1
    return f"1e{exponent}" if number == 10**exponent and exponent >= 3 else str(number)


SCALING_ROWS = {
    1: (10**2, 10**3, 10**4, 10**5, 10**6, 10**7),
    **dict.fromkeys((16, 64, 256), (10**3, 10**4, 10**5, 10**6)),
}
SHORT_STEPS = 100
LONG_STEPS = 10_000
LONG_WORK = 2 * 10**9  # elements of X read over a long run: about 0.6 s of fit's steps
SHARE = 6 / 7  # of the rounds, for the bars against NumPy


def short(method: str) -> str:
    """The name of ``method``'s short runs (``Problem.short_steps``)."""
    return f"{method}, {SHORT_STEPS} steps"


def scaling_problems() -> list[Problem]:
    """The scaling curve: ``fit``, NumPy, a bare jitted loop and the floor at every N of
    ``SCALING_ROWS``, in runs of ``SHORT_STEPS`` and of up to ``LONG_STEPS`` steps (fewer
    where ``LONG_WORK`` reads of X would take long; at least ``SHORT_STEPS``), with the
    bars: fit faster than the better NumPy in at least 6 of 7 rounds, over long and short
    runs; a step of a short run at most 1.1x one of a long run; fit's step at most 1.2x
    the bare loop's; from N = 1e5, at most 3x the floor.

    Example:
        >>> [problem.name for problem in scaling_problems()][:3]
        ['N=100, d=1', 'N=1e3, d=1', 'N=1e4, d=1']
        >>> [problem.steps["steepest.fit"] for problem in scaling_problems()][-4:]
        [7812, 781, 100, 100]
    """
    found = []
    for features, all_rows in SCALING_ROWS.items():
        for rows in all_rows:
            steps = min(LONG_STEPS, max(SHORT_STEPS, LONG_WORK // (rows * features)))
            short_steps = SHORT_STEPS if steps > SHORT_STEPS else 0
            bars = [Bar("faster than NumPy, 6 of 7 rounds", "faster", "numpy", share=SHARE)]
            if short_steps:
                bars += [
                    Bar(f"faster than NumPy over {short_steps} steps, 6 of 7 rounds", "faster",
                        "numpy", short=True, share=SHARE),
                    Bar(f"a step of {short_steps} <= 1.1x a step of {steps:,}", "short", 1.1),
                ]  # fmt: skip
            bars.append(Bar("<= 1.2x the bare loop's step", "bare", 1.2))
            if rows >= 10**5:
                bars.append(Bar("<= 3x the floor", "floor", 3.0))
            counts = {"numpy": max(SHORT_STEPS, steps // 10), "steepest.fit": steps}
            found.append(
                Problem(rows=rows, features=features, steps=counts, short_steps=short_steps,
                        bars=tuple(bars))
            )  # fmt: skip
    return found


def problems(size: str, platform: str) -> list[Problem]:
    """The problems of a run: ``size`` is ``"all"``, ``"small"`` or ``"scaling"``
    (``scaling_problems``), ``platform`` cpu or gpu.

    Example:
        >>> [problem.name for problem in problems("all", "cpu")]
        ['N=200, d=1', 'N=1e7, d=1', 'N=1e6, d=64']
    """
    if size == "scaling":
        return scaling_problems()
    fast = ("numpy", "torch", "optimistix")
    builtin = Problem(
        rows=200,
        features=1,
        learning_rate=0.01,
        builtin=True,
        check_steps=200,
        steps={"tutorial": 300, "numpy": 20_000, "torch": 2_000, "optimistix": 200_000}
        | {"steepest.fit": 200_000},
        bars=(Bar("<= 1/20 of NumPy's step", "numpy", 20),)
        if platform == "cpu"
        else (Bar("under 1.5 us a step", "seconds", 1.5e-6),),
    )
    if size == "small":
        builtin = dataclasses.replace(
            builtin, steps={method: steps // 100 for method, steps in builtin.steps.items()}
        )
        return [
            builtin,
            Problem(rows=100_000, features=1, steps=dict.fromkeys((*fast, "steepest.fit"), 10)),
            Problem(
                rows=10_000,
                features=64,
                steps=dict.fromkeys((*fast, "steepest.fit"), 10),
                sweep_rates=8,
                quadratic_steps=100,
            ),
        ]
    if platform == "gpu":
        narrow_rows, wide_rows = 100_000_000, 10_000_000
        narrow_bars = (Bar("<= 1.15x the floor", "floor", 1.15), COST_BAR, MEMORY_BAR)
        wide_bars: tuple[Bar, ...] = (
            Bar("under 1.8 ms a step", "seconds", 1.8e-3),
            COST_BAR,
            MEMORY_BAR,
        )
        slow_steps = {"numpy": 3, "torch": 50, "optimistix": 100, "steepest.fit": 100}
    else:
        narrow_rows, wide_rows = 10_000_000, 1_000_000
        narrow_bars = (Bar("<= 1.3x the floor", "floor", 1.3), COST_BAR, MEMORY_BAR)
        wide_bars = (
            Bar("<= 2.2x the floor", "floor", 2.2),
            Bar("faster than NumPy", "faster", "numpy"),
            Bar("faster than PyTorch", "faster", "torch"),
            COST_BAR,
            MEMORY_BAR,
        )
        slow_steps = {"numpy": 5, "torch": 5, "optimistix": 30, "steepest.fit": 30}
    return [
        builtin,
        Problem(rows=narrow_rows, features=1, steps=slow_steps, bars=narrow_bars),
        Problem(
            rows=wide_rows,
            features=64,
            steps=slow_steps,
            sweep_rates=64,
            quadratic_steps=1000,
            bars=(
                *wide_bars,
                Bar("64 learning rates <= 3x one run", "sweep", 3),
                Bar("quadratic path, 1000 steps <= 3 steps", "quadratic", 3),
            ),
        ),
    ]


def problem_data(problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    """float32 X of shape (N, d) and y: the built-in data standardized, else seeded random.

    Example:
        >>> X, y = problem_data(Problem(rows=1000, features=3, steps={}))
        >>> X.shape, y.shape, X.dtype
        ((1000, 3), (1000,), dtype('float32'))
    """
    if problem.builtin:
        dataset = data.builtin()
        X = Standardizer.of(dataset.X).transform(dataset.X)
        return X.astype(np.float32), dataset.y.astype(np.float32)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((problem.rows, problem.features), dtype=np.float32)
    w = rng.standard_normal(problem.features, dtype=np.float32)
    noise = rng.standard_normal(problem.rows, dtype=np.float32)
    return X, X @ w + np.float32(0.5) + noise


# --- steepest's methods, shaped like the peers: prepare(...) -> run(steps) ---


def prepare_fit(X, y, learning_rate, device, method="loop"):
    """``steepest.fit`` with ``tol=0`` and no stall rule, so that it takes exactly ``steps``
    steps, as the peers do."""
    X, y = jax.device_put((X, y), device)

    def run(steps: int):
        started = time.perf_counter()
        result = fit(
            mse,
            Linear.zeros(X.shape[1]),
            X,
            y,
            learning_rate=learning_rate,
            max_steps=steps,
            tol=0.0,
            method=method,
            stall_patience=None,
            certificate=False,  # timed as the peers run: the iterations alone
        )
        params = jax.block_until_ready(result.params)
        wall = time.perf_counter() - started
        if result.num_steps != steps:
            raise RuntimeError(f"fit ran {result.num_steps} of {steps} steps: {result.message}")
        # The quadratic path is timed whole (it forms the Hessian first); the loop by its steps.
        return flat(params), wall if method == "quadratic" else result.seconds

    return run


def prepare_sweep(X, y, learning_rate, device, count):
    """``steepest.sweep`` over ``count`` learning rates up to ``learning_rate``; the params
    returned are those of the run at ``learning_rate``."""
    X, y = jax.device_put((X, y), device)
    rates = learning_rate * np.geomspace(1 / 8, 1, count)

    def run(steps: int):
        result = sweep(
            mse,
            Linear.zeros(X.shape[1]),
            X,
            y,
            learning_rates=rates,
            max_steps=steps,
            tol=0,
            stall_patience=None,
        )
        return flat(result.results[-1].params), result.seconds

    return run


def prepare_gradient_only(X, y, learning_rate, device, blocked=True):
    """``steps`` updates ``p <- p - lr * grad`` in a jitted loop, the gradient taken in the
    same row blocks as ``fit`` takes it (``blocks.value_and_grad``) and its cost unused:
    fit's step without the cost, the stop rules and the history. ``blocked=False``: the
    bare loop, the gradient in one pass in a ``fori_loop``, as a user would write it."""
    X, y = jax.device_put((X, y), device)
    block_rows = _fit_block_rows(X, y) if blocked else None
    value_and_grad = blocks.value_and_grad(mse, block_rows)

    @jax.jit
    def descend(params, steps, X, y):  # the data passed in: closed over, it was a constant
        def update(_, params):
            _, grad = value_and_grad(params, X, y)  # the cost unused: dropped by XLA
            return jax.tree.map(lambda p, g: p - learning_rate * g, params, grad)

        return jax.lax.fori_loop(0, steps, update, params)

    def run(steps: int):
        start = Linear.zeros(X.shape[1])
        started = time.perf_counter()
        params = jax.block_until_ready(descend(start, steps, X, y))
        return flat(params), time.perf_counter() - started

    return run


def prepare_floor(X, y, learning_rate, device):
    """One read of X and y: a jitted ``sum(X) + sum(y)`` per "step"; params: none."""
    X, y = jax.device_put((X, y), device)
    read = jax.jit(lambda X, y: jnp.sum(X) + jnp.sum(y))

    def run(steps: int):
        started = time.perf_counter()
        for _ in range(steps):
            total = read(X, y)
        jax.block_until_ready(total)
        return None, time.perf_counter() - started

    return run


# --- measuring ---


def _sweep_name(problem: Problem) -> str:
    return f"steepest.sweep ({problem.sweep_rates} rates)"


def _methods(problem: Problem) -> dict[str, tuple[Callable, int]]:
    """Every method of ``problem``: name -> (prepare, steps per timed run)."""
    fit_steps = problem.steps["steepest.fit"]
    methods = {
        name: (peers.PEERS[name], steps)
        for name, steps in problem.steps.items()
        if name in peers.PEERS
    }
    if "numpy" in methods:
        methods[NUMPY[1]] = (peers.PEERS[NUMPY[1]], problem.steps["numpy"])
    methods["steepest.fit"] = (prepare_fit, fit_steps)
    if problem.sweep_rates:
        count = problem.sweep_rates

        def prepare(X, y, learning_rate, device):
            return prepare_sweep(X, y, learning_rate, device, count)

        methods[_sweep_name(problem)] = (prepare, max(1, fit_steps // 3))
    if problem.quadratic_steps:

        def prepare(X, y, learning_rate, device):
            return prepare_fit(X, y, learning_rate, device, method="quadratic")

        methods[QUADRATIC] = (prepare, problem.quadratic_steps)
    if problem.short_steps:
        for name in ("steepest.fit", *NUMPY):
            methods[short(name)] = (methods[name][0], problem.short_steps)
    if any(bar.kind == "cost" for bar in problem.bars):
        methods[GRADIENT_ONLY] = (prepare_gradient_only, fit_steps)
    if any(bar.kind == "bare" for bar in problem.bars):
        methods[BARE] = (functools.partial(prepare_gradient_only, blocked=False), fit_steps)
    if not problem.builtin:
        methods[FLOOR] = (prepare_floor, max(100, min(fit_steps, 1000)))
    return methods


def measure(
    problem: Problem,
    device,
    status: Callable[[str], None] = lambda _: None,
    rounds: int = ROUNDS,
) -> dict:
    """Time every method on ``problem`` in ``rounds`` rounds: rows for the table, the
    agreement, skipped peers, the bars judged round by round."""
    X, y = problem_data(problem)
    runs, finals, skipped = {}, {}, {}
    for name, (prepare, steps) in _methods(problem).items():
        status(f"{problem.name}: {name}, first runs")
        try:
            run = prepare(X, y, problem.learning_rate, device)
        except peers.PeerMissing as missing:
            skipped[name] = str(missing)
            continue
        finals[name] = run(problem.check_steps)[0]
        run(steps)  # warm-up
        runs[name] = (run, steps)
    times: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for round_ in range(rounds):
        status(f"{problem.name}: round {round_ + 1} of {rounds}")
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            run, steps = runs[name]
            times[name].append(run(steps)[1] / steps)
    rows = [
        {
            "problem": problem.name,
            "method": name,
            "steps": runs[name][1],
            "seconds_per_step": statistics.median(times[name]),
            "seconds_per_step_each_round": times[name],
        }
        for name in names
    ]
    reference = finals["numpy"]
    scale = float(np.max(np.abs(reference)))
    differences = {
        name: float(np.max(np.abs(params - reference))) / scale
        for name, params in finals.items()
        if params is not None and name != "numpy"
    }
    _add_ratios(rows, times)
    plan = None if problem.builtin else compiled_plan(X, y, problem.learning_rate, device)
    return {
        "problem": problem.name,
        "rows": rows,
        "skipped": skipped,
        "plan": plan,
        "agreement": {
            "steps": problem.check_steps,
            "max_relative_difference_to_numpy": differences,
            "agree": all(difference <= AGREEMENT for difference in differences.values()),
        },
        "bars": judge_rounds(problem, times, plan),
    }


def compiled_plan(X, y, learning_rate, device) -> dict:
    """What XLA made of ``fit`` on this data: the rows per block of its loop (None: one
    pass), the instructions of a cost-and-gradient step that read X (fit's, and in one
    pass), and the memory."""
    X, y = jax.device_put((X, y), device)
    block_rows = _fit_block_rows(X, y)
    rows, features = X.shape
    memory = fit_module.memory(mse, Linear.zeros(features), X, y, learning_rate=learning_rate)
    return {
        "block_rows": block_rows,
        "reads_of_X": {
            "fit": passes_over_X(rows, features, block_rows),
            "one pass": passes_over_X(rows, features, None),
        },
        "memory_bytes": memory,
    }


def _fit_block_rows(X, y) -> int | None:
    """The rows per block of fit's loop on ``X`` and ``y`` (None: one pass)."""
    return step_block_rows("auto", mse, Linear.zeros(X.shape[1]), (X, y))


def _add_ratios(rows: list[dict], times: dict[str, list[float]]) -> None:
    """Each row's time as shown (a step; the whole run for quadratic), and the medians
    over the rounds of its speed-up over NumPy (the better of all threads and one) and
    of its multiple of the floor, each taken within a round."""
    numpy = [_step_of("numpy", step) for step in _each_round(times)]
    for row in rows:
        whole = row["steps"] if row["method"] == QUADRATIC else 1  # a run, set against a step
        seconds = [t * whole for t in times[row["method"]]]
        row["seconds_shown"] = row["seconds_per_step"] * whole
        row["speedup_vs_numpy"] = statistics.median(
            n / s for n, s in zip(numpy, seconds, strict=True)
        )
        floor = times.get(FLOOR)
        row["times_floor"] = (
            None
            if floor is None
            else statistics.median(s / f for s, f in zip(seconds, floor, strict=True))
        )


def judge_rounds(problem: Problem, times: dict[str, list[float]], plan: dict | None) -> list[dict]:
    """Each bar judged on the median of its ratio taken within each round (``judge`` on
    each round's times), with the spread of the rounds in ``shown``; a bar with a
    ``share`` on the rounds in which it is met.

    Example:
        >>> problem = Problem(rows=10, features=1, steps={}, bars=(Bar("x", "floor", 2.0),))
        >>> times = {"steepest.fit": [1.0, 3.0, 1.0], FLOOR: [1.0, 1.0, 0.4]}
        >>> [bar] = judge_rounds(problem, times, None)  # ratios 1, 3, 2.5: median 2.5
        >>> bar["measured"], bar["met"], bar["shown"]
        (2.5, False, '2.5x the floor (1 to 3)')
        >>> faster = Bar("y", "faster", "numpy", share=2 / 3)
        >>> problem = Problem(rows=10, features=1, steps={}, bars=(faster,))
        >>> times["numpy"] = [2.0, 4.0, 0.5]  # fit is faster in the first two rounds
        >>> [bar] = judge_rounds(problem, times, None)
        >>> bar["met"], bar["shown"]
        (True, '1.33x faster than numpy (0.5 to 2), met in 2 of 3 rounds')
    """
    each = [judge(problem, step, plan) for step in _each_round(times)]
    judged = []
    for position, bar in enumerate(problem.bars):
        values = [bars[position]["measured"] for bars in each]
        measured = [value for value in values if value is not None]
        if not measured:  # a peer not installed: not measured in any round
            judged.append(each[0][position] | {"rounds": values})
            continue
        median = statistics.median(measured)
        _, met, shown = _verdict(bar, median)
        low, high = min(measured), max(measured)
        if low != high:
            spread = (low, high) if bar.kind != "numpy" else (high, low)  # shown as 1/x
            shown += f" ({_compact(spread[0], bar)} to {_compact(spread[1], bar)})"
        if bar.share is not None:
            count = sum(bool(_verdict(bar, value)[1]) for value in measured)
            met = count >= bar.share * len(measured) - 1e-9
            shown += f", met in {count} of {len(measured)} rounds"
        judged.append(
            {"bar": bar.label, "limit": bar.limit, "measured": median, "shown": shown,
             "met": met, "rounds": values}
        )  # fmt: skip
    return judged


def _each_round(times: dict[str, list[float]]) -> list[dict[str, float]]:
    """``times`` (method -> one time per round) as one ``{method: time}`` per round."""
    rounds = len(next(iter(times.values())))
    return [{name: each[r] for name, each in times.items()} for r in range(rounds)]


def _compact(value: float, bar: Bar) -> str:
    if bar.kind == "seconds":
        return f"{value * 1e6:.3g} us"
    return f"1/{value:.3g}" if bar.kind == "numpy" else f"{value:.3g}"


def judge(problem: Problem, step: dict[str, float], plan: dict | None = None) -> list[dict]:
    """Each bar of ``problem``: what was measured (a number and a phrase), and whether it is met.

    ``measured`` is the ratio the bar names (seconds for a ``"seconds"`` bar); it
    and ``met`` are None for a bar on a peer that was skipped.
    """
    judged = []
    for bar in problem.bars:
        measured, met, shown = _judge(bar, problem, step, plan)
        judged.append(
            {"bar": bar.label, "limit": bar.limit, "measured": measured, "shown": shown, "met": met}
        )
    return judged


def _judge(bar: Bar, problem: Problem, step: dict[str, float], plan: dict | None):
    if bar.short:
        step = _short_runs(step)
    if bar.kind == "faster" and _peer_step(_peer(bar), step) is None:
        return None, None, f"{bar.limit} not installed"
    return _verdict(bar, _measured(bar, problem, step, plan))


def _short_runs(step: dict[str, float]) -> dict[str, float]:
    """``step`` with each method's short run in place of its long one, where it has one."""
    return {name: step.get(short(name), seconds) for name, seconds in step.items()}


def _peer_step(peer: str, step: dict[str, float]) -> float | None:
    """A peer's step; for ``"numpy"``, the better of all threads and one."""
    if peer == "numpy":
        return min((step[name] for name in NUMPY if name in step), default=None)
    return step.get(peer)


def _step_of(peer: str, step: dict[str, float]) -> float:
    """A peer's step (``_peer_step``) where it ran: every problem runs NumPy, and a bar on
    another peer is measured only once ``_judge`` has found its step."""
    found = _peer_step(peer, step)
    if found is None:
        raise ValueError(f"no step of {peer} was measured")
    return found


def _peer(bar: Bar) -> str:
    """The peer a ``"faster"`` bar names."""
    if not isinstance(bar.limit, str):
        raise TypeError(f"the bar {bar.label!r} names no peer: its limit is {bar.limit!r}")
    return bar.limit


def _limit(bar: Bar) -> float:
    """The number a bar of any other kind is judged against."""
    if isinstance(bar.limit, str):
        raise TypeError(f"the bar {bar.label!r} has no number for a limit: {bar.limit!r}")
    return bar.limit


def _measured(bar: Bar, problem: Problem, step: dict[str, float], plan: dict | None) -> float:
    """The number a bar is judged on, from one set of times (a round)."""
    if bar.kind == "memory":
        if plan is None:  # the built-in problem has no plan, and no memory bar
            raise ValueError(f"the bar {bar.label!r} needs the compiled plan")
        memory = plan["memory_bytes"]
        return (memory["data"] + memory["temporary"]) / memory["data"]
    fit_step = step["steepest.fit"]
    ratios = {
        "floor": lambda: fit_step / step[FLOOR],
        "numpy": lambda: _step_of("numpy", step) / fit_step,
        "faster": lambda: _step_of(_peer(bar), step) / fit_step,
        "seconds": lambda: fit_step,
        "sweep": lambda: step[_sweep_name(problem)] / fit_step,
        "quadratic": lambda: step[QUADRATIC] * problem.quadratic_steps / fit_step,
        "cost": lambda: fit_step / step[GRADIENT_ONLY],
        "bare": lambda: fit_step / step[BARE],
        "short": lambda: _short_runs(step)["steepest.fit"] / fit_step,
    }
    if bar.kind not in ratios:
        raise ValueError(f"unknown kind of bar {bar.kind!r}")
    return ratios[bar.kind]()


def _verdict(bar: Bar, ratio: float):
    """``(measured, met, shown)`` of a bar at the number it is judged on."""
    shown = {
        "memory": f"{ratio:.3g}x X and y (+ state)",
        "floor": f"{ratio:.3g}x the floor",
        "numpy": f"1/{ratio:.3g} of NumPy's",
        "faster": f"{ratio:.3g}x faster than {bar.limit}",
        "seconds": f"{ratio * 1e6:.3g} us",
        "sweep": f"{ratio:.3g}x one run",
        "quadratic": f"{ratio:.3g} steps",
        "cost": f"{ratio:.3g}x a gradient-only step",
        "bare": f"{ratio:.3g}x the bare loop's step",
        "short": f"{ratio:.3g}x a step of a long run",
    }[bar.kind]
    if bar.kind == "faster":
        return ratio, ratio > 1, shown
    if bar.kind == "numpy":
        return ratio, ratio >= _limit(bar), shown
    return ratio, ratio <= _limit(bar), shown
