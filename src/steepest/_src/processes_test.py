"""The host reductions over processes (``Processes``), with K processes played by K
threads in this one: the closed form, the standardizer and the float64 cost of rows
split over them equal those of the rows together.

Each thread holds a ``Processes`` whose ``gather`` passes arrays through a shared
board (a barrier on each side), as ``process_allgather`` does between processes; so
the combinations run here as they do in ``steepest launch`` (tests/test_distributed.py
checks one real launch), in milliseconds, on designs a real launch would take seconds
for. References: the same functions on all the rows in one process, and the exact
rational least-squares answer (tests/exact.py's method, here by fractions).
"""

import dataclasses
import pickle
import threading
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from .io.standardizer import Standardizer
from .least_squares import closed_form_cost, least_squares
from .model import Linear
from .processes import ONE, Processes, StoppedElsewhere


@dataclasses.dataclass(frozen=True)
class ThreadProcesses(Processes):
    """One of ``count`` threads playing processes; ``board`` is shared among them."""

    board: list = dataclasses.field(default_factory=list, compare=False)
    barrier: threading.Barrier | None = dataclasses.field(default=None, compare=False)

    def gather(self, values) -> np.ndarray:
        assert self.barrier is not None, "a ThreadProcesses is made with its barrier"
        self.board[self.index] = np.array(values, np.float64)
        self.barrier.wait()
        stacked = np.stack(self.board)
        self.barrier.wait()  # all have read before anyone writes again
        return stacked


def in_threads(play, count: int) -> list:
    """``play(processes)`` in one thread per process of ``count``, each given its own
    ``ThreadProcesses``: what each returned, or the exception it raised. Should one raise
    before a gather the others make, their wait times out (breaking the barrier as one
    raises would break the waits of those just released from it)."""
    board, barrier = [None] * count, threading.Barrier(count, timeout=60)
    outcomes: list = [None] * count

    def run(index):
        try:
            outcomes[index] = play(ThreadProcesses(index, count, board, barrier))
        except Exception as error:
            outcomes[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def across_threads(function, parts: list[tuple], monkeypatch) -> list:
    """``function(*part)`` in one thread per part, each seeing itself as process i of K."""
    local = threading.local()
    monkeypatch.setattr(Processes, "current", classmethod(lambda cls: local.processes))

    def play(processes):
        local.processes = processes
        return function(*parts[processes.index])

    outcomes = in_threads(play, len(parts))
    # The error a thread raised, rather than the others' waits that timed out after it.
    errors = sorted(
        (o for o in outcomes if isinstance(o, Exception)),
        key=lambda error: isinstance(error, threading.BrokenBarrierError),
    )
    if errors:  # pragma: no cover - a failing test's cause
        raise errors[0]
    return outcomes


def split(arrays, counts):
    """Each array cut into consecutive parts of ``counts`` rows."""
    edges = np.cumsum([0, *counts])
    return [tuple(a[edges[i] : edges[i + 1]] for a in arrays) for i in range(len(counts))]


def exact_solution(X, y) -> np.ndarray:
    """``[w..., b]`` of least squares with an intercept, in exact rational arithmetic."""
    A = [[Fraction(float(v)) for v in row] + [Fraction(1)] for row in X]
    t = [Fraction(float(v)) for v in y]
    n = len(A[0])
    M = [[sum((r[i] * r[j] for r in A), Fraction(0)) for j in range(n)] for i in range(n)]
    v = [sum((r[i] * ti for r, ti in zip(A, t, strict=True)), Fraction(0)) for i in range(n)]
    for col in range(n):  # Gauss-Jordan on the normal equations, exactly
        pivot = next(r for r in range(col, n) if M[r][col] != 0)
        M[col], M[pivot], v[col], v[pivot] = M[pivot], M[col], v[pivot], v[col]
        for r in range(n):
            if r != col and M[r][col] != 0:
                f = M[r][col] / M[col][col]
                M[r] = [a - f * b for a, b in zip(M[r], M[col], strict=True)]
                v[r] -= f * v[col]
    return np.array([float(v[i] / M[i][i]) for i in range(n)])


def flat(params: Linear) -> np.ndarray:
    assert params.b is not None, "the fits here have an intercept"
    return np.append(params.w, params.b)


def test_one_process_sends_nothing_and_changes_nothing():
    assert ONE.gather(np.float64(2.5)).tolist() == [2.5]
    assert ONE.sum(np.array([1e300, -1e300])).tolist() == [1e300, -1e300]


def test_an_ill_conditioned_closed_form_over_three_processes_is_the_exact_answer(monkeypatch):
    """Degree-4 powers of x on [1000, 1001) (condition number 2e12 unscaled): each of
    three processes holds a third of the rows, a different number each."""
    x = 1000 + np.linspace(0.0, 1.0, 61)
    X = np.column_stack([x**k for k in range(1, 4)])
    y = 1 + (x - 1000) ** 2 + np.sin(7 * x) * 1e-3
    exact = exact_solution(X, y)
    alone = least_squares(X, y)
    parts = split((X, y), [20, 30, 11])
    together = across_threads(
        lambda X, y: least_squares(X, y, across_processes=True), parts, monkeypatch
    )
    for solution in together:  # every process holds the same answer
        np.testing.assert_array_equal(flat(solution.params), flat(together[0].params))
        assert solution.condition_number == pytest.approx(alone.condition_number, rel=1e-6)
    error = np.linalg.norm(flat(together[0].params) - exact) / np.linalg.norm(exact)
    assert error <= max(together[0].relative_error, 1e-15) * 10
    assert together[0].correct_digits >= alone.correct_digits - 1
    costs = across_threads(
        lambda X, y: closed_form_cost(alone.params, X, y, across_processes=True), parts, monkeypatch
    )
    assert costs == [pytest.approx(float(closed_form_cost(alone.params, X, y)), rel=1e-13)] * 3


@given(st.lists(st.integers(1, 40), min_size=2, max_size=4), st.integers(0, 2**16))
def test_rows_split_any_way_give_the_statistics_of_the_rows_together(counts, seed):
    rng = np.random.default_rng(seed)
    rows = sum(counts)
    X = rng.normal(size=(rows, 3)) * [1.0, 1e3, 1e-3] + [5.0, -2e4, 0.0]
    y = X @ [1.0, 2e-3, 300.0] + rng.normal(size=rows)
    parts = split((X, y), counts)
    with pytest.MonkeyPatch.context() as monkeypatch:  # NumPy only: nothing compiles
        standardizers = across_threads(
            lambda X, y: Standardizer.of(X, y, across_processes=True), parts, monkeypatch
        )
    whole = Standardizer.of(X, y)
    for standardizer in standardizers:
        np.testing.assert_allclose(standardizer.mean, whole.mean, rtol=1e-13, atol=1e-12)
        np.testing.assert_allclose(standardizer.scale, whole.scale, rtol=1e-13)
        assert standardizer.target_mean == pytest.approx(whole.target_mean, rel=1e-13, abs=1e-12)


def together_across_threads(checks) -> list:
    """What ``together(check)`` returned or raised in each of one thread per check."""
    return in_threads(lambda processes: processes.together(checks[processes.index]), len(checks))


def test_an_error_in_one_process_stops_every_process_together_with_its_words():
    def fails(words):
        def check():
            raise ValueError(words)

        return check

    assert together_across_threads([lambda: 5, lambda: 6]) == [5, 6]
    first, second, third = together_across_threads(
        [lambda: 5, fails("column 'é' holds NaN \udcff"), fails("row 7 holds NaN")]
    )
    said = "column 'é' holds NaN ?"  # a lone surrogate cannot be sent: replaced
    assert isinstance(first, StoppedElsewhere)
    assert (first.process, first.words) == (1, said)
    assert str(first) == f"process 1 stopped on an error of its own: {said}"
    assert pickle.loads(pickle.dumps(first)).words == said
    assert type(second) is ValueError and str(second) == "column 'é' holds NaN \udcff"
    assert type(third) is ValueError and str(third) == "row 7 holds NaN"
    own, other = together_across_threads([fails(""), lambda: 1])  # an error without words
    assert str(own) == "" and (other.process, other.words) == (0, "")
