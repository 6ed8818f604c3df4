"""The fast paths give the iterates of the plain loop: row blocks and unrolled steps.

Row blocks (``steepest._src.blocks``) evaluate a row-mean loss as the weighted sum over
blocks of rows; unrolling runs ``engine.UNROLL`` steps per trip of the compiled loop. Each
is compared, in float64, with the plain path it stands in for. The shapes are shared
between tests (60 rows, 3 features) so that compiled loops are reused.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from compiles import CompileCounter
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.flatten_util import ravel_pytree
from problems import regression_problem

import steepest
from steepest import Linear, Status, fit, mse, row_mean_tag, sweep
from steepest._src import blocks, certificate, engine, theory

ROWS, FEATURES = 60, 3  # 12 divides 60 (equal blocks), 7 does not (a last, shorter block)
DIVIDES, LEAVES_A_REST = 12, 7


def problem(seed: int, rows: int = ROWS, features: int = FEATURES):
    """float64 data on the device (call under x64)."""
    X, y = regression_problem(seed, rows, features)
    return jnp.asarray(X), jnp.asarray(y)


def start(features: int = FEATURES, seed: int = 100) -> Linear:
    """A start of plain (not weakly typed) arrays, as a run's state is: no second compile."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(features)
    b = np.float64(rng.standard_normal())  # a Python float would make b weakly typed
    return Linear(jnp.asarray(w), jnp.asarray(b))


def assert_close(actual, expected, rtol):
    """Two pytrees equal to ``rtol``, relative to the largest entry of ``expected``."""
    actual, expected = np.asarray(ravel_pytree(actual)[0]), np.asarray(ravel_pytree(expected)[0])
    scale = np.abs(expected).max() if expected.size else 0.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


def assert_same_run(result, reference, rtol):
    """The same run: status, steps, loss history and final params."""
    assert (result.status, result.num_steps) == (reference.status, reference.num_steps), (
        result.message,
        reference.message,
    )
    np.testing.assert_array_equal(result.loss_steps, reference.loss_steps)
    np.testing.assert_allclose(result.losses, reference.losses, rtol=rtol)
    assert_close(result.params, reference.params, rtol)


# --- blocks.value_and_grad ------------------------------------------------------------------


# (rows, features, X 1-D, block_rows): every path at fixed shapes, so that each compiles
# once: equal blocks, a shorter last block, one block (k >= N, and k == N), blocks of
# one row, a single row; X 2-D and 1-D. Hypothesis draws the values (the seed).
BLOCKED_MSE_CASES = [
    (60, 3, False, 12),
    (61, 3, False, 7),
    (60, 1, True, 15),
    (59, 1, True, 8),
    (5, 2, False, 8),
    (9, 5, False, 9),
    (23, 4, False, 1),
    (300, 2, False, 64),
    (1, 1, True, 1),
]


@functools.cache
def jitted_value_and_grad(block_rows: int | None):
    """One jitted function per block size, shared by the examples: compiled once per shape."""
    if block_rows is None:
        return jax.jit(jax.value_and_grad(mse))
    return jax.jit(blocks.value_and_grad(mse, block_rows))


@pytest.mark.parametrize(("rows", "features", "flat", "block_rows"), BLOCKED_MSE_CASES)
@settings(max_examples=20)
@given(seed=st.integers(0, 2**16))
def test_blocked_value_and_grad_of_mse_equals_jax_value_and_grad(
    rows, features, flat, block_rows, seed
):
    X, y = regression_problem(seed, rows, features)
    if flat:
        X = X[:, 0]
    with jax.enable_x64(True):
        params = start(features, seed)
        X, y = jnp.asarray(X), jnp.asarray(y)
        plain = jitted_value_and_grad(None)(params, X, y)
        blocked = jitted_value_and_grad(block_rows)(params, X, y)
        assert blocked[0].dtype == jnp.float64
        assert_close(blocked, plain, 1e-12)


@pytest.mark.parametrize("block_rows", [1, 3, 4, 5, 12, 13])
def test_blocks_are_the_weighted_sum_over_blocks_of_rows(block_rows, x64):
    """With a loss that is not a row mean, the blocks show: each block's cost, weighted by
    its share of the rows (so mse above cannot pass by never splitting)."""

    # (a row mean falsely: the square of the mean is not a mean over rows)
    def squared_mean(c, x):
        return c * jnp.mean(x) ** 2

    x = jnp.arange(12.0) ** 2
    value, grad = jax.jit(blocks.value_and_grad(squared_mean, block_rows))(jnp.array(2.0), x)
    chunks = [np.asarray(x)[i : i + block_rows] for i in range(0, 12, block_rows)]
    expected = sum(len(chunk) / 12 * chunk.mean() ** 2 for chunk in chunks)
    assert float(grad) == pytest.approx(expected, rel=1e-12)
    assert float(value) == pytest.approx(2 * expected, rel=1e-12)
    if block_rows < 12:
        assert float(grad) != pytest.approx(float(jnp.mean(x)) ** 2, rel=1e-3)


def test_no_blocks_is_jax_value_and_grad():
    X, y = (jnp.asarray(a, jnp.float32) for a in regression_problem(0, 10, 2))
    plain = jax.value_and_grad(mse)(start(2), X, y)
    np.testing.assert_array_equal(
        ravel_pytree(blocks.value_and_grad(mse, None)(start(2), X, y))[0], ravel_pytree(plain)[0]
    )


# --- fit and sweep with blocks --------------------------------------------------------------


@pytest.mark.parametrize("block_rows", [DIVIDES, LEAVES_A_REST])
@pytest.mark.parametrize(("optimizer", "learning_rate"), [("gd", 0.1), ("momentum", 0.02)])
def test_fit_with_blocks_follows_the_plain_loop(block_rows, optimizer, learning_rate, x64):
    X, y = problem(0)
    settings_ = dict(optimizer=optimizer, learning_rate=learning_rate, max_steps=3000, tol=1e-8)
    plain = fit(mse, start(), X, y, block_rows=None, **settings_)
    blocked = fit(mse, start(), X, y, block_rows=block_rows, **settings_)
    assert plain.status is Status.CONVERGED, plain.message
    assert plain.num_steps > 20
    assert blocked.losses.dtype == np.float64
    assert_same_run(blocked, plain, 1e-10)


@pytest.mark.parametrize("block_rows", [DIVIDES, LEAVES_A_REST])
def test_fit_with_blocks_diverges_at_the_same_step(block_rows, x64):
    X, y = problem(0)
    critical = steepest.theory.critical_learning_rate(mse, start(), X, y)
    settings_ = dict(learning_rate=1.5 * critical, max_steps=3000, tol=1e-8)
    plain = fit(mse, start(), X, y, block_rows=None, **settings_)
    blocked = fit(mse, start(), X, y, block_rows=block_rows, **settings_)
    assert plain.status is Status.DIVERGED and plain.num_steps > 10, plain.message
    assert blocked.message.startswith(f"diverged at step {plain.num_steps + 1}:"), blocked.message
    assert_same_run(blocked, plain, 1e-10)


def squared_mean_error(params, X, y):  # falsely tagged row_mean below
    return jnp.mean(y - steepest.predict(params, X)) ** 2


def test_fit_and_sweep_pass_block_rows_to_the_loop(monkeypatch, x64):
    """A loss falsely tagged row_mean runs differently in blocks: the setting reaches the
    loop (else the comparisons with the plain loop would pass with blocks never used)."""
    X, y = problem(0)
    fit_settings = dict(learning_rate=0.1, max_steps=5, tol=0.0, tags={row_mean_tag})
    plain = fit(squared_mean_error, start(), X, y, block_rows=None, **fit_settings)
    blocked = fit(squared_mean_error, start(), X, y, block_rows=LEAVES_A_REST, **fit_settings)
    assert np.all(np.abs(blocked.losses - plain.losses) > 1e-9 * np.abs(plain.losses))
    sweep_settings = dict(learning_rates=[0.1, 0.2], max_steps=5, tol=0.0, tags={row_mean_tag})
    plain = sweep(squared_mean_error, start(), X, y, block_rows=None, **sweep_settings)
    blocked = sweep(squared_mean_error, start(), X, y, block_rows=DIVIDES, **sweep_settings)
    assert np.all(np.abs(blocked.final_losses - plain.final_losses) > 1e-9)


@pytest.mark.parametrize("block_rows", [DIVIDES, LEAVES_A_REST])
def test_sweep_with_blocks_follows_the_plain_sweep(block_rows, x64):
    X, y = problem(0)
    critical = steepest.theory.critical_learning_rate(mse, start(), X, y)
    rates = np.geomspace(1e-3, 1.5, 8) * critical
    settings_ = dict(learning_rates=rates, max_steps=400, tol=1e-8)
    plain = sweep(mse, start(), X, y, block_rows=None, **settings_)
    blocked = sweep(mse, start(), X, y, block_rows=block_rows, **settings_)
    assert set(plain.statuses) == {Status.CONVERGED, Status.MAX_STEPS, Status.DIVERGED}
    for run, reference in zip(blocked.results, plain.results, strict=True):
        assert_same_run(run, reference, 1e-10)


LAMBDA = 0.3


def ridge(params, X, y):
    """A user's loss: a row mean plus a penalty of the params alone."""
    return mse(params, X, y) + LAMBDA * jnp.sum(params.w**2)


def test_a_users_ridge_loss_tagged_row_mean_blocks_correctly(x64):
    X, y = problem(1)
    tags = {row_mean_tag}
    assert blocks.is_row_mean(ridge, tags) and not blocks.is_row_mean(lambda p, X, y: 0.0)
    assert not blocks.is_row_mean(ridge)  # a tag is declared where it is passed, never stored
    plain_value = jax.value_and_grad(ridge)(start(), X, y)
    for block_rows in (DIVIDES, LEAVES_A_REST):
        blocked_value = jax.jit(blocks.value_and_grad(ridge, block_rows))(start(), X, y)
        assert_close(blocked_value, plain_value, 1e-12)

    settings_ = dict(learning_rate=0.1, max_steps=3000, tol=1e-8, tags=tags)
    plain = fit(ridge, start(), X, y, block_rows=None, **settings_)
    blocked = fit(ridge, start(), X, y, block_rows=LEAVES_A_REST, **settings_)
    assert plain.status is Status.CONVERGED, plain.message
    assert_same_run(blocked, plain, 1e-10)
    # The penalty is counted once, not once per block: the answer is ridge's closed form.
    design = np.column_stack([np.asarray(X), np.ones(ROWS)])
    penalty = np.diag([LAMBDA] * FEATURES + [0.0]) * ROWS
    solution = np.linalg.solve(design.T @ design + penalty, design.T @ np.asarray(y))
    fitted = np.append(np.asarray(blocked.params.w), float(blocked.params.b))
    np.testing.assert_allclose(fitted, solution, rtol=1e-6, atol=1e-7)


# --- where the loop keeps the automatic blocks ---------------------------------------------


def network(params, X, y):
    """A row-mean loss whose one pass holds 256 activations a row (1.1 KB a row of 68 bytes)."""
    hidden = jnp.tanh(X @ params["inner"])
    return jnp.mean((hidden @ params["outer"] - y) ** 2)


@pytest.mark.parametrize("one_core", [True, False], ids=["one core", "several cores"])
def test_the_loop_keeps_automatic_blocks_only_where_they_pay(one_core, monkeypatch):
    """On several cores, one pass for mse at d = 64 (its residual: 1/65 of the data); blocks
    at d = 1 (1/2) and for a network's activations (16x the data); blocks on one core.
    Shapes alone: NumPy's zeros are not touched, and tracing computes nothing."""
    monkeypatch.setattr(blocks, "runs_on_one_core", lambda: one_core)
    rows = 10**6
    wide = np.zeros((rows, 64), np.float32), np.zeros(rows, np.float32)
    narrow = np.zeros((10 * rows, 1), np.float32), np.zeros(10 * rows, np.float32)
    inputs = np.zeros((rows, 16), np.float32), np.zeros(rows, np.float32)
    weights = {"inner": jnp.zeros((16, 256)), "outer": jnp.zeros(256)}
    with jax.default_device(jax.devices("cpu")[0]):
        automatic = blocks.resolve_block_rows("auto", mse, wide)
        assert automatic == 15625
        in_the_loop = engine.step_block_rows("auto", mse, Linear.zeros(64), wide)
        assert in_the_loop == (automatic if one_core else None)
        assert engine.step_block_rows("auto", mse, Linear.zeros(1), narrow) == 500_000
        tags = {row_mean_tag}
        assert engine.step_block_rows("auto", network, weights, inputs, tags) == 62_500
        assert engine.step_block_rows(1000, mse, Linear.zeros(64), wide) == 1000


def test_the_hessian_behind_the_learning_rate_keeps_its_blocks(monkeypatch):
    """On several cores the loop of a d = 64 fit runs in one pass, and 1/L still comes from
    the Hessian in blocks (``certificate=False``: no certificate's Hessian to take L from)."""
    monkeypatch.setattr(blocks, "runs_on_one_core", lambda: False)
    passed = {}

    def largest_eigenvalue(loss, params, *data, block_rows=None):
        passed["block_rows"] = block_rows
        raise RuntimeError("seen")

    monkeypatch.setattr(theory, "largest_eigenvalue", largest_eigenvalue)
    X, y = np.zeros((10**5, 64), np.float32), np.zeros(10**5, np.float32)
    with jax.default_device(jax.devices("cpu")[0]), pytest.raises(RuntimeError, match="seen"):
        fit(mse, Linear.zeros(64), X, y, certificate=False, max_steps=1)
    assert passed["block_rows"] == blocks.resolve_block_rows("auto", mse, (X, y)) is not None


def test_a_loss_drawing_random_numbers_is_traced():
    """A typed PRNG key's dtype is JAX's own: the widest value is counted in its bytes."""

    def noisy(params, X, y):
        keys = jax.random.split(jax.random.key(0), 4)
        return mse(params, X, y) + 0.0 * jax.random.normal(keys[0])

    X, y = problem(0)
    assert engine.trace_of(noisy, start(), X, y).widest[4] == 4 * jax.random.key(0).dtype.itemsize


# --- bad settings ---------------------------------------------------------------------------


def test_block_rows_needs_a_loss_tagged_row_mean():
    X, y = (jnp.asarray(a, jnp.float32) for a in regression_problem(2, 20, 1))

    def unmarked(params, X, y):
        return mse(params, X, y)

    for run in (
        lambda: fit(unmarked, start(1), X, y, learning_rate=0.1, block_rows=4),
        lambda: sweep(unmarked, start(1), X, y, learning_rates=[0.1], block_rows=4),
    ):
        with pytest.raises(ValueError, match=r"block_rows needs a row-mean loss: pass tags="):
            run()
    # Without blocks, or with the automatic choice, an unmarked loss is fine.
    assert blocks.resolve_block_rows(None, unmarked, (X, y)) is None
    assert blocks.resolve_block_rows("auto", unmarked, (X, y)) is None
    assert blocks.resolve_block_rows(4, mse, (X, y)) == 4


@pytest.mark.parametrize("setting", [0, -1, True, False, 2.5, "x", "4"])
def test_block_rows_must_be_auto_none_or_a_positive_int(setting):
    X, y = (jnp.asarray(a, jnp.float32) for a in regression_problem(2, 20, 1))
    message = rf"block_rows must be 'auto', None or a positive int, got {setting!r}"
    with pytest.raises(ValueError, match=message):
        fit(mse, start(1), X, y, learning_rate=0.1, block_rows=setting)
    with pytest.raises(ValueError, match=message):
        sweep(mse, start(1), X, y, learning_rates=[0.1], block_rows=setting)


def test_block_rows_takes_any_integer_type_and_not_the_quadratic_method():
    X, y = (jnp.asarray(a, jnp.float32) for a in regression_problem(2, 20, 1))
    assert blocks.resolve_block_rows(np.int64(4), mse, (X, y)) == 4
    with pytest.raises(ValueError, match=r"block_rows applies to method='loop'"):
        fit(mse, start(1), X, y, learning_rate=0.1, method="quadratic", block_rows=4)


def test_block_rows_needs_data_with_one_number_of_rows():
    def two_means(c, a, b):
        return jnp.mean((a - c) ** 2) + jnp.mean((b - c) ** 2)

    tags = {row_mean_tag}

    message = "block_rows needs data arrays that all have the same number of rows"
    with pytest.raises(ValueError, match=message):
        fit(two_means, jnp.array(0.0), jnp.ones(10), jnp.ones(11), learning_rate=0.1,
            block_rows=4, tags=tags)  # fmt: skip
    with pytest.raises(ValueError, match=message):  # a scalar has no rows
        fit(two_means, jnp.array(0.0), jnp.ones(10), jnp.array(1.0), learning_rate=0.1,
            block_rows=4, tags=tags)  # fmt: skip
    with pytest.raises(ValueError, match=message):
        sweep(two_means, jnp.array(0.0), jnp.ones(10), jnp.ones(11), learning_rates=[0.1],
              block_rows=4, tags=tags)  # fmt: skip
    # Data with equal rows is accepted.
    assert blocks.resolve_block_rows(4, two_means, (jnp.ones(10), jnp.ones((10, 2))), tags) == 4


# --- the automatic choice -------------------------------------------------------------------


def wide(rows: int, features: int, dtype=np.float32):
    """Data of that shape without the memory: size_in_bytes reads shapes only."""
    X = np.broadcast_to(np.zeros(1, dtype), (rows, features))
    y = np.broadcast_to(np.zeros(1, dtype), (rows,))
    return X, y


def test_automatic_block_rows_is_none_where_blocks_do_not_pay_off():
    large = wide(10**6, 64)
    assert blocks.automatic_block_rows(lambda p, X, y: mse(p, X, y), large) is None  # unmarked
    assert blocks.automatic_block_rows(mse, wide(1000, 64)) is None  # small data
    assert blocks.automatic_block_rows(mse, wide(10**6, 1)) is None  # 8 MB: small
    assert blocks.automatic_block_rows(mse, wide(10**5, 64)) is not None  # 25 MB: large
    flat = np.broadcast_to(np.zeros(1, np.float32), (10**6,))
    assert blocks.automatic_block_rows(mse, (flat, flat)) is None
    assert blocks.resolve_block_rows("auto", mse, wide(1000, 64)) is None
    assert blocks.resolve_block_rows(None, mse, large) is None


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="blocks are for the CPU only")
def test_automatic_block_rows_starts_at_min_data_bytes_whatever_the_width():
    rows = blocks.MIN_DATA_BYTES // 8  # X (rows, 1) and y: 8 bytes a row in float32
    assert blocks.automatic_block_rows(mse, wide(rows - 1, 1)) is None
    assert blocks.automatic_block_rows(mse, wide(rows, 1)) is not None
    block_rows = blocks.automatic_block_rows(mse, wide(10**7, 1))  # narrow and tall
    assert 10**7 % block_rows == 0
    assert blocks.BLOCK_BYTES / 2 <= block_rows * 8 <= 2 * blocks.BLOCK_BYTES


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="blocks are for the CPU only")
def test_automatic_block_rows_on_wide_large_data_divides_the_rows():
    data = wide(10**6, 64)
    assert blocks.size_in_bytes(data) == 10**6 * 65 * 4
    block_rows = blocks.automatic_block_rows(mse, data)
    assert isinstance(block_rows, int) and block_rows > 0
    assert 10**6 % block_rows == 0
    block_bytes = block_rows * 65 * 4
    assert blocks.BLOCK_BYTES / 2 <= block_bytes <= 2 * blocks.BLOCK_BYTES
    assert blocks.resolve_block_rows("auto", mse, data) == block_rows


# --- unrolled steps -------------------------------------------------------------------------


def test_unroll_for():
    X, y = wide(ROWS, FEATURES)
    long = dict(max_steps=engine.UNROLL_MIN_STEPS)
    assert engine.unroll_for("gd", (X, y), **long) == engine.UNROLL == 8
    assert engine.unroll_for("adam", (X, y), **long) == 8
    assert engine.unroll_for("lbfgs", (X, y), **long) == 1
    assert engine.unroll_for(optax.sgd(0.1), (X, y), **long) == 1
    assert engine.unroll_for("gd", (X, y), max_steps=engine.UNROLL_MIN_STEPS - 1) == 1
    at_limit = np.broadcast_to(np.zeros(1, np.float32), (engine.UNROLL_MAX_DATA_BYTES // 4,))
    above = np.broadcast_to(np.zeros(1, np.float32), (engine.UNROLL_MAX_DATA_BYTES // 4 + 1,))
    assert engine.unroll_for("gd", (at_limit,), **long) == 8
    assert engine.unroll_for("gd", (above,), **long) == 1
    assert engine.unroll_for("gd", wide(10**6, 64), **long) == 1


# Unrolling changes no arithmetic on the CPU: the iterates are equal bit for bit.
UNROLL_RTOL = 0.0 if jax.default_backend() == "cpu" else 1e-12


def unrolled_and_not(monkeypatch, run):
    """``run()`` unrolled whatever its budget, then with one step per trip."""
    with monkeypatch.context() as patch:
        patch.setattr(engine, "UNROLL_MIN_STEPS", 0)
        unrolled = run()
    single = run()
    return unrolled, single


@pytest.mark.parametrize("outcome", ["converged", "max_steps", "diverged"])
def test_unrolled_loop_stops_where_the_plain_loop_stops(outcome, monkeypatch, x64):
    X, y = problem(0)
    assert engine.unroll_for("gd", (X, y), max_steps=engine.UNROLL_MIN_STEPS) == 8
    critical = steepest.theory.critical_learning_rate(mse, start(), X, y)
    settings_ = {
        "converged": dict(learning_rate=0.1, max_steps=3000, tol=1e-6),
        "max_steps": dict(learning_rate=0.1, max_steps=13, tol=0.0),
        "diverged": dict(learning_rate=1.5 * critical, max_steps=3000, tol=1e-6),
    }[outcome]
    unrolled, single = unrolled_and_not(monkeypatch, lambda: fit(mse, start(), X, y, **settings_))
    assert unrolled.status.value == outcome, unrolled.message
    assert unrolled.num_steps % 8 != 0 and (unrolled.num_steps + 1) % 8 != 0
    assert_same_run(unrolled, single, UNROLL_RTOL)
    np.testing.assert_allclose(unrolled.grad_norm, single.grad_norm, rtol=UNROLL_RTOL)


def test_unrolled_sweep_holds_stopped_runs(monkeypatch, x64):
    X, y = problem(0)
    critical = steepest.theory.critical_learning_rate(mse, start(), X, y)
    rates = np.geomspace(1e-3, 1.5, 8) * critical
    unrolled, single = unrolled_and_not(
        monkeypatch,
        lambda: sweep(mse, start(), X, y, learning_rates=rates, max_steps=400, tol=1e-8),
    )
    assert set(unrolled.statuses) == {Status.CONVERGED, Status.MAX_STEPS, Status.DIVERGED}
    assert any(run.num_steps % 8 for run in unrolled.results)
    for run, reference in zip(unrolled.results, single.results, strict=True):
        assert_same_run(run, reference, UNROLL_RTOL)


# --- no recompilation -----------------------------------------------------------------------


def test_a_second_fit_with_blocks_compiles_nothing(x64, uncached):
    """Other data of the same shape, another start, learning rate, max_steps, tol: no compile."""
    first, second = problem(0), problem(5)
    fit(mse, start(), *first, learning_rate=0.1, max_steps=50, block_rows=LEAVES_A_REST)
    sweep(mse, start(), *first, learning_rates=[0.1, 0.2], max_steps=50, block_rows=LEAVES_A_REST)
    with CompileCounter() as counter:
        result = fit(mse, start(seed=7), *second, learning_rate=0.05, max_steps=70, tol=1e-4,
                     block_rows=LEAVES_A_REST)  # fmt: skip
        swept = sweep(mse, start(seed=7), *second, learning_rates=[0.05, 0.3], max_steps=50,
                      block_rows=LEAVES_A_REST)  # fmt: skip
    assert counter.names == []
    assert result.learning_rate == 0.05 and result.num_steps > 0
    assert swept.learning_rates.tolist() == [0.05, 0.3]
    # The counter does see compilations.
    with CompileCounter() as counter:
        jax.jit(lambda x: x - 1)(second[0])
    assert counter.names


def test_size_in_bytes_reads_shapes():
    assert blocks.size_in_bytes(wide(10**6, 64)) == 260 * 10**6
    assert blocks.size_in_bytes((np.zeros(3, np.float32), {"a": np.zeros((2, 2), np.int8)})) == 16
    assert blocks.size_in_bytes(()) == 0
    assert blocks.size_in_bytes(wide(2, 2)) == 24


# --- the Hessian and the quadratic model in blocks ------------------------------------------


@pytest.fixture
def blocks_everywhere(monkeypatch):
    """The automatic rule picks blocks of 7 rows (of 60: a rest) even for the tests' small data."""
    row_bytes = (FEATURES + 1) * 8  # float64 X row and y
    monkeypatch.setattr(blocks, "MIN_DATA_BYTES", 0)
    monkeypatch.setattr(blocks, "BLOCK_BYTES", LEAVES_A_REST * row_bytes)
    X, y = problem(0)
    assert blocks.automatic_block_rows(mse, (X, y)) in (6, 7, 10, 12)  # a divisor near 7, or 7


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="blocks are for the CPU only")
def test_hessian_and_quadratic_model_in_blocks_equal_one_pass(x64, monkeypatch):
    X, y = problem(0)
    params = start()
    one_pass = steepest.theory.hessian(mse, params, X, y)
    model = steepest.theory.quadratic_model(mse, params, X, y)
    false_promise = steepest.theory.hessian(squared_mean_error, params, X, y, tags={row_mean_tag})
    row_bytes = (FEATURES + 1) * 8
    monkeypatch.setattr(blocks, "MIN_DATA_BYTES", 0)
    for block_rows in (LEAVES_A_REST, DIVIDES):  # a shorter last block; equal blocks
        monkeypatch.setattr(blocks, "BLOCK_BYTES", block_rows * row_bytes)
        assert blocks.automatic_block_rows(mse, (X, y)) is not None
        np.testing.assert_allclose(
            steepest.theory.hessian(mse, params, X, y), one_pass, rtol=1e-12, atol=1e-12
        )
        # The blocks are really used: a loss falsely tagged row_mean comes out otherwise.
        blocked = steepest.theory.hessian(squared_mean_error, params, X, y, tags={row_mean_tag})
        assert not np.allclose(blocked, false_promise, rtol=1e-6)
        for blocked, plain in zip(
            steepest.theory.quadratic_model(mse, params, X, y), model, strict=True
        ):
            np.testing.assert_allclose(blocked, plain, rtol=1e-12, atol=1e-12)


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="blocks are for the CPU only")
def test_quadratic_method_in_blocks_gives_the_loops_iterates(x64, blocks_everywhere):
    X, y = problem(1)
    plain = fit(mse, start(), X, y, learning_rate=0.1, max_steps=150, tol=0, block_rows=None)
    quick = fit(mse, start(), X, y, learning_rate=0.1, max_steps=150, tol=0, method="quadratic")
    assert_same_run(quick, plain, rtol=1e-10)


def test_float32_fit_with_blocks_follows_the_plain_loop():
    X, y = (jnp.asarray(a, jnp.float32) for a in regression_problem(3, 1000, 4))
    start32 = steepest.Linear.zeros(4)
    plain = fit(mse, start32, X, y, learning_rate=0.1, max_steps=200, tol=0, block_rows=None)
    blocked = fit(mse, start32, X, y, learning_rate=0.1, max_steps=200, tol=0, block_rows=96)
    assert (blocked.status, blocked.num_steps) == (plain.status, plain.num_steps)
    # Summing by blocks rounds differently: float32 agreement, not bit for bit.
    np.testing.assert_allclose(blocked.losses, plain.losses, rtol=1e-5)
    assert_close(blocked.params, plain.params, rtol=1e-5)


def test_memory_plan_of_blocks_is_a_blocks_worth():
    X, y = (jnp.asarray(a, jnp.float32) for a in regression_problem(4, 400_000, 1))
    start32 = steepest.Linear.zeros(1)
    one_pass = steepest.memory(mse, start32, X, y, learning_rate=0.1, block_rows=None)
    blocked = steepest.memory(mse, start32, X, y, learning_rate=0.1, block_rows=20_000)
    assert one_pass["data"] == blocked["data"] == 400_000 * 2 * 4
    # One pass keeps the residual of every row (half of X and y); blocks, a block's.
    assert one_pass["temporary"] >= one_pass["data"] / 2
    assert blocked["temporary"] <= blocked["data"] / 10
    # The quadratic method's plan still reports the user's data; on_chunk is accepted.
    quadratic = steepest.memory(
        mse, start32, X, y, learning_rate=0.1, method="quadratic", on_chunk=print
    )
    assert quadratic["data"] == one_pass["data"] and quadratic["temporary"] < 2**16


def test_unrolling_is_for_small_costs_only():
    X, y = (jnp.asarray(a, jnp.float32) for a in regression_problem(5, 100, 1))
    limit, long = engine.UNROLL_MAX_EQUATIONS, engine.UNROLL_MIN_STEPS
    assert engine.unroll_for("gd", (X, y), equations=limit, max_steps=long) == engine.UNROLL
    assert engine.unroll_for("gd", (X, y), equations=limit + 1, max_steps=long) == 1
    assert engine.equations_of(mse, steepest.Linear.zeros(1), X, y) <= limit

    def deep_net(layers, X, y):  # 12 tanh layers: a cost far larger than mse's
        hidden = X
        for weights in layers:
            hidden = jnp.tanh(hidden @ weights)
        return jnp.mean((hidden[:, 0] - y) ** 2)

    layers = [jnp.ones((1, 8))] + [jnp.ones((8, 8))] * 10 + [jnp.ones((8, 1))]
    assert engine.equations_of(deep_net, layers, X, y) > limit
    # A jitted loss counts the operations inside it, not one call.
    assert engine.equations_of(jax.jit(deep_net), layers, X, y) > limit


@pytest.mark.parametrize(("at_once_rows", "block_rows"), [(2**20, None), (80, None), (30, 16)])
def test_values64_is_value_and_grad64_run_by_run(monkeypatch, at_once_rows, block_rows):
    """All runs' float64 costs in one call, batched (80 rows: two runs at a time, the
    last alone) or in blocks of rows, equal each run's own."""
    monkeypatch.setattr(certificate, "VALUES_AT_ONCE", at_once_rows)
    X, y = (jnp.asarray(a, jnp.float32) for a in regression_problem(5, 40, 2))
    rng = np.random.default_rng(5)
    runs = [
        Linear(*(jnp.asarray(rng.standard_normal(s), jnp.float32) for s in (2, ())))
        for _ in range(5)
    ]
    stacked = jax.tree.map(lambda *leaves: np.stack(leaves), *runs)
    values = certificate.values64(mse, stacked, X, y, block_rows=block_rows)
    assert values.dtype == np.float64
    for value, params in zip(values, runs, strict=True):
        alone, _ = certificate.value_and_grad64(mse, params, X, y)
        assert value == pytest.approx(alone, rel=1e-14)
