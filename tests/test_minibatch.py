"""Mini-batch SGD and learning-rate schedules (issue 12, item 4), against NumPy loops.

The references are written from the documented rule alone: the rows of epoch ``e``
in the order ``keyed_permutation(fold_in(key(seed), e), N)`` (``problems.shuffled``,
written in NumPy from its docstring), batches of
``batch_size`` rows (the rest last), one update per batch with the gradient of the
mean squared error on that batch (the tutorial's partials, in float64), the rate
times the schedule's multiplier of the update count.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from cli_runs import run_command
from problems import regression_problem, shuffled

import steepest
from steepest import Linear, Status, fit, mse, sweep
from steepest.optimizers import Schedule

ROWS, FEATURES = 50, 3


@pytest.fixture(scope="module")
def problem():
    return regression_problem(8, ROWS, FEATURES)


def numpy_sgd(X, y, learning_rate, batch_size, epochs, seed=0, multiplier=lambda k: 1.0, shards=1):
    """Mini-batch gradient descent on the mean squared error, in float64. With ``shards``,
    each batch is ``batch_size / shards`` rows of each of ``shards`` equal ranges, range
    ``s`` in the order of ``fold_in(key, s)``."""
    w, b, update = np.zeros(X.shape[1]), 0.0, 0
    share, length = batch_size // shards, len(X) // shards
    for epoch in range(epochs):
        key = jax.random.fold_in(jax.random.key(seed), epoch)
        if shards == 1:
            orders = [shuffled(key, len(X))]
        else:
            orders = [s * length + shuffled(jax.random.fold_in(key, s), length)
                      for s in range(shards)]  # fmt: skip
        for start in range(0, length, share):
            rows = np.concatenate([order[start : start + share] for order in orders])
            residual = X[rows] @ w + b - y[rows]
            rate = learning_rate * multiplier(update)
            w = w - rate * 2 * X[rows].T @ residual / len(rows)
            b = b - rate * 2 * residual.mean()
            update += 1
    return np.append(w, b)


def flat(result):
    return np.append(np.asarray(result.params.w, np.float64), float(result.params.b))


def run(X, y, **settings):
    return fit(mse, Linear.zeros(FEATURES, jnp.float64), jnp.asarray(X), jnp.asarray(y),
               tol=0.0, certificate=False, stall_patience=None, **settings)  # fmt: skip


@pytest.mark.parametrize("batch_size", [10, 7, 1], ids=["divides", "leaves a rest", "one row"])
def test_mini_batch_gd_is_the_numpy_loop_batch_for_batch(x64, problem, batch_size):
    X, y = problem
    result = run(X, y, learning_rate=0.05, batch_size=batch_size, epochs=3, seed=4)
    assert result.num_steps == 3  # epochs
    full_batches, rest = divmod(ROWS, batch_size)
    if rest:
        assert (
            f"{full_batches + 1} updates, on batches of {batch_size} rows (the last of {rest})"
            in result.message
        )
    expected = numpy_sgd(X, y, 0.05, batch_size, epochs=3, seed=4)
    np.testing.assert_allclose(flat(result), expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("batch_size", [8, 12], ids=["divides", "leaves a rest"])
def test_batches_drawn_in_shares_are_the_numpy_loop_batch_for_batch(x64, batch_size):
    """``batch_shards=4``: each batch a quarter from each quarter of the rows, as on four
    devices (tests/test_sharding.py runs it split over four)."""
    X, y = regression_problem(8, 48, FEATURES)
    result = run(X, y, learning_rate=0.05, batch_size=batch_size, epochs=3, batch_shards=4)
    expected = numpy_sgd(X, y, 0.05, batch_size, epochs=3, shards=4)
    np.testing.assert_allclose(flat(result), expected, rtol=1e-12, atol=1e-14)
    plain = numpy_sgd(X, y, 0.05, batch_size, epochs=3)
    assert np.max(np.abs(flat(result) - plain)) > 1e-6  # another order: other steps


def test_a_schedule_multiplies_the_rate_update_by_update(x64, problem):
    X, y = problem
    schedule = Schedule("warmup-cosine", steps=40, warmup=5, end=0.1)
    result = run(X, y, learning_rate=0.2, batch_size=8, epochs=5, schedule=schedule)
    reference = optax.warmup_cosine_decay_schedule(0.0, 1.0, 5, 40, 0.1)
    expected = numpy_sgd(X, y, 0.2, 8, epochs=5, multiplier=lambda k: float(reference(k)))
    np.testing.assert_allclose(flat(result), expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kind", ["cosine", "exponential"])
def test_a_full_batch_schedule_is_the_numpy_loop_with_the_decayed_rate(x64, problem, kind):
    X, y = problem
    schedule = Schedule(kind, steps=20, end=0.2, rate=0.3)
    result = run(X, y, learning_rate=0.1, max_steps=30, schedule=schedule)
    reference = schedule.multiplier()
    expected = numpy_sgd(X, y, 0.1, ROWS, epochs=30, multiplier=lambda k: float(reference(k)))
    np.testing.assert_allclose(flat(result), expected, rtol=1e-11)


def test_the_same_seed_reproduces_a_run_and_another_seed_does_not(problem):
    X, y = (jnp.asarray(a, jnp.float32) for a in problem)
    runs = [fit(mse, Linear.zeros(FEATURES), X, y, batch_size=8, epochs=4, seed=seed)
            for seed in (1, 1, 2)]  # fmt: skip
    assert np.array_equal(flat(runs[0]), flat(runs[1]))
    assert not np.array_equal(flat(runs[0]), flat(runs[2]))


def test_the_stop_rules_are_checked_on_the_whole_data_between_epochs(problem):
    """One batch of every row is full-batch descent: same verdict, same number of steps."""
    X, y = (jnp.asarray(a, jnp.float32) for a in problem)
    full = fit(mse, Linear.zeros(FEATURES), X, y, learning_rate=0.2)
    epochs = fit(mse, Linear.zeros(FEATURES), X, y, learning_rate=0.2, batch_size=ROWS)
    assert full.status is epochs.status is Status.CONVERGED
    assert epochs.num_steps == full.num_steps
    np.testing.assert_allclose(flat(epochs), flat(full), rtol=1e-5)
    assert "a step is an epoch: 1 updates, on batches of 50 rows" in epochs.message


def test_sgd_without_a_decaying_rate_says_it_did_not_converge(problem):
    X, y = (jnp.asarray(a, jnp.float32) for a in problem)  # noisy: batch gradients differ
    result = fit(mse, Linear.zeros(FEATURES), X, y, learning_rate=0.1, batch_size=5, epochs=20)
    assert result.status is Status.MAX_STEPS and result.num_steps == 20, result.message
    assert result.certificate.digits < 5  # certified against the whole data


def test_a_sweep_of_mini_batch_runs_equals_each_fit(x64, problem):
    X, y = (jnp.asarray(a) for a in problem)
    rates = [0.01, 0.1]
    swept = sweep(mse, Linear.zeros(FEATURES, jnp.float64), X, y, learning_rates=rates,
                  batch_size=6, epochs=5, seed=3, tol=0.0, stall_patience=None)  # fmt: skip
    for rate, result in zip(rates, swept.results, strict=True):
        expected = numpy_sgd(np.asarray(X), np.asarray(y), rate, 6, epochs=5, seed=3)
        np.testing.assert_allclose(flat(result), expected, rtol=1e-12, atol=1e-14)


BAD = [
    (dict(batch_size=0), "batch_size must be a whole number from 1 to 50"),
    (dict(batch_size=51), "batch_size must be a whole number from 1 to 50"),
    (dict(epochs=5), "epochs applies with batch_size"),
    (dict(batch_size=5, max_steps=10), "the budget is epochs, not max_steps"),
    (dict(batch_size=5, method="quadratic"), "batch_size applies to method='loop'"),
    (dict(batch_size=5, epochs=-1), "epochs must be a whole number"),
    (dict(schedule=Schedule("linear", 10)), "schedule: unknown kind 'linear'"),
    (dict(schedule=Schedule("cosine", 0)), "schedule: steps must be a whole number of at least 1"),
    (dict(batch_size=np.int64(5), seed=-1), "seed must be a whole number from 0 to 4,294,967,295"),
    (dict(schedule=Schedule("warmup-cosine", 10, warmup=10)), "warmup must be from 0 to"),
    (dict(schedule=Schedule("cosine", 9), optimizer=optax.sgd(0.1)), "applies to a named"),
    (dict(batch_shards=2), "batch_shards applies with batch_size"),
    (dict(batch_size=10, batch_shards=3), "batch_shards 3 does not split the 50 rows evenly"),
    (dict(batch_size=8, batch_shards=5), "batch_size 8 does not split evenly over 5 shares"),
    (dict(batch_size=10, batch_shards=0), "batch_shards must be a whole number of at least 1"),
]


@pytest.mark.parametrize(("settings", "words"), BAD, ids=[words for _, words in BAD])
def test_bad_mini_batch_settings_are_named(problem, settings, words):
    X, y = (jnp.asarray(a, jnp.float32) for a in problem)
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        fit(mse, Linear.zeros(FEATURES), X, y, **settings)


def test_a_loss_not_declared_a_row_mean_is_refused_for_mini_batches(problem):
    X, y = (jnp.asarray(a, jnp.float32) for a in problem)

    def total_squared_error(params, X, y):  # a sum: its batches are not the whole
        return jnp.sum((steepest.predict(params, X) - y) ** 2)

    with pytest.raises(ValueError, match="batch_size needs a row-mean loss"):
        fit(total_squared_error, Linear.zeros(FEATURES), X, y, batch_size=5)


def test_the_command_line_runs_mini_batches_and_records_them(tmp_path):
    one_batch = run_command(["fit", "--batch-size", "200", "--json"], tmp_path)
    full = run_command(["fit", "--json"], tmp_path)
    assert (one_batch.returncode, full.returncode) == (0, 0), one_batch.describe()
    record = one_batch.record()
    assert record["batch_size"] == 200 and record["steps"] == full.record()["steps"]
    np.testing.assert_allclose(record["params"]["w"], full.record()["params"]["w"], rtol=1e-5)
    scheduled = run_command(
        ["sweep", "--batch-size", "40", "--epochs", "3", "--schedule", "cosine", "--num", "4",
         "--json"], tmp_path,
    )  # fmt: skip
    assert scheduled.returncode == 0, scheduled.describe()
    assert {run["steps"] for run in scheduled.record()["runs"]} <= {0, 1, 2, 3}


CLI_BAD = [
    (["--epochs", "3"], "--epochs applies with --batch-size (full batch: --steps)"),
    (
        ["--batch-size", "8", "--steps", "50"],
        "with --batch-size the budget is --epochs, not --steps",
    ),
    # Checked by the library once the data are read, in its words (the argument's name).
    (["--batch-size", "500"], "batch_size must be a whole number from 1 to 200, got 500"),
    (
        ["--schedule", "warmup-cosine", "--warmup-steps", "20000"],
        "schedule: warmup must be from 0 to steps - 1 (9999), got 20000",
    ),
    (["--shuffle-seed", "3"], "--shuffle-seed applies with --batch-size"),
    (["--schedule", "cosine", "--warmup-steps", "5"], "--warmup-steps applies with --schedule"),
    (["--schedule-rate", "0.1"], "--schedule-rate applies with --schedule exponential"),
]


@pytest.mark.parametrize(("flags", "words"), CLI_BAD, ids=[words for _, words in CLI_BAD])
def test_bad_mini_batch_flags_exit_2_in_one_line(tmp_path, flags, words):
    run = run_command(["fit", *flags], tmp_path)
    assert run.returncode == 2 and run.stderr.startswith(f"steepest: error: {words}"), (
        run.describe()
    )
