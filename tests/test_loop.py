"""The compiled loop: least squares, stopping rules, divergence, no recompilation, Ctrl-C."""

import os
import signal

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from problems import regression_problem

import steepest
from steepest import Linear, Status, fit, mse


def zeros(features, dtype=jnp.float32):
    return steepest.Linear.zeros(features, dtype)


def assert_result_is_consistent(result, *data):
    """What every FitResult promises: finite, and the history ends at the params returned."""
    assert len(result.losses) == len(result.loss_steps)
    assert result.loss_steps[0] == 0 and result.loss_steps[-1] == result.num_steps
    assert np.all(np.isfinite(result.losses))
    assert all(np.all(np.isfinite(leaf)) for leaf in jax.tree.leaves(result.params))
    in_run_dtype = 1e-5 if result.losses.dtype == np.float32 else 1e-12
    assert result.loss == pytest.approx(float(result.losses[-1]), rel=in_run_dtype)
    # The reported cost is the loss at the params, in float64 whatever the run's dtype.
    X, y = (np.asarray(a, np.float64) for a in data)
    w, b = (np.asarray(leaf, np.float64) for leaf in result.params)
    residual = (X @ w if X.ndim == 2 else X * w[0]) + b - y
    assert result.loss == pytest.approx(np.mean(residual**2), rel=1e-12)


# A few fixed shapes, the smallest and largest of the range among them, so that each
# compiles once; hypothesis draws the problem (its seed) for each.
@pytest.mark.parametrize(("rows", "features"), [(20, 1), (20, 5), (57, 3), (200, 5)])
@given(seed=st.integers(0, 2**32 - 1))
def test_fit_reaches_lstsq_on_well_conditioned_problems(rows, features, seed):
    X, y = regression_problem(seed, rows, features)
    design = np.column_stack([X, np.ones(rows)])
    assume(np.linalg.cond(design) < 10)
    solution = np.linalg.lstsq(design, y, rcond=None)[0]
    with jax.enable_x64(True):
        X, y = jnp.asarray(X), jnp.asarray(y)
        result = fit(mse, zeros(features, jnp.float64), X, y, max_steps=100_000, tol=1e-12)
        assert_result_is_consistent(result, X, y)
    assert result.status is Status.CONVERGED, result.message
    fitted = np.append(np.asarray(result.params.w), float(result.params.b))
    np.testing.assert_allclose(fitted, solution, rtol=1e-8, atol=1e-8 * np.abs(solution).max())


def test_default_learning_rate_is_one_over_L(x64):
    X, y = (jnp.asarray(a) for a in regression_problem(0, 50, 3))
    L = steepest.theory.largest_eigenvalue(mse, zeros(3, jnp.float64), X, y)
    result = fit(mse, zeros(3, jnp.float64), X, y, max_steps=10)
    assert result.learning_rate == pytest.approx(1 / L, rel=1e-12)


def test_learning_rate_far_above_critical_diverges_without_nan(x64):
    X, y = (jnp.asarray(a) for a in regression_problem(1, 100, 2))
    critical = steepest.theory.critical_learning_rate(mse, zeros(2, jnp.float64), X, y)
    result = fit(mse, zeros(2, jnp.float64), X, y, learning_rate=10 * critical)
    assert result.status is Status.DIVERGED
    assert "diverged at step" in result.message
    assert result.num_steps > 0
    assert_result_is_consistent(result, X, y)
    # The params returned are the iterate of that step, as a run stopped there gives them.
    same = fit(mse, zeros(2, jnp.float64), X, y, learning_rate=10 * critical,
               max_steps=result.num_steps, tol=0.0)  # fmt: skip
    np.testing.assert_array_equal(result.params.w, same.params.w)
    np.testing.assert_array_equal(result.losses, same.losses)


def test_divergence_to_infinity_in_float32_returns_last_finite_params():
    X, y = (jnp.asarray(a, jnp.float32) for a in regression_problem(2, 100, 2))
    result = fit(mse, zeros(2), X, y, learning_rate=1e3, divergence_factor=np.inf)
    assert result.status is Status.DIVERGED
    assert_result_is_consistent(result, X, y)


def test_max_steps_and_zero_steps():
    X, y = (jnp.asarray(a, jnp.float32) for a in regression_problem(3, 30, 1))
    result = fit(mse, zeros(1), X, y, learning_rate=0.01, max_steps=5, tol=0.0)
    assert (result.status, result.num_steps) == (Status.MAX_STEPS, 5)
    assert "max_steps=5" in result.message
    assert_result_is_consistent(result, X, y)
    assert np.all(np.diff(result.losses) < 0)

    nothing = fit(mse, zeros(1), X, y, learning_rate=0.01, max_steps=0)
    assert (nothing.status, nothing.num_steps) == (Status.MAX_STEPS, 0)
    assert float(nothing.params.b) == 0.0
    assert nothing.loss == pytest.approx(float(mse(zeros(1), X, y)))


def test_a_run_stalls_at_the_first_update_that_changes_nothing():
    """On the raw built-in data, float32 steps for b fall below the spacing of numbers near 5:
    the run stops there, says so, and points to float64; it does not spin to max_steps."""
    dataset = steepest.data.builtin()
    X, y = steepest.data.to_device(dataset.X, dataset.y)
    stuck = fit(mse, zeros(1), X, y, max_steps=300_000)
    assert stuck.status is Status.STALLED, stuck.message
    assert stuck.num_steps < 300_000
    assert "the last update changed no parameter" in stuck.message
    assert "float64" in stuck.message
    assert_result_is_consistent(stuck, X, y)
    # The last update changed nothing: one more step from there gives the same params.
    again = fit(mse, stuck.params, X, y, learning_rate=stuck.learning_rate, max_steps=1)
    np.testing.assert_array_equal(again.params.w, stuck.params.w)
    moving = fit(mse, zeros(1), X, y, max_steps=1000)
    assert moving.status is Status.MAX_STEPS
    assert "changed no parameter" not in moving.message


def test_converged_means_gradient_norm_at_most_tol():
    X, y = (jnp.asarray(a, jnp.float32) for a in regression_problem(4, 80, 2))
    result = fit(mse, zeros(2), X, y, tol=1e-3, max_steps=100_000)
    assert result.status is Status.CONVERGED
    grad = jax.grad(mse)(result.params, X, y)
    norm = float(jnp.sqrt(jnp.sum(grad.w**2) + grad.b**2))
    assert norm == pytest.approx(result.grad_norm, rel=1e-5)
    assert norm <= 1e-3
    assert_result_is_consistent(result, X, y)


def test_history_is_thinned_on_long_runs_not_grown():
    X, y = (jnp.asarray(a, jnp.float32) for a in regression_problem(12, 20, 1))
    start = zeros(1)
    # A rate small enough that every update moves the params: no stall, all steps run.
    full = fit(mse, start, X, y, learning_rate=1e-6, max_steps=steepest.MAX_HISTORY, tol=0)
    np.testing.assert_array_equal(full.loss_steps, np.arange(steepest.MAX_HISTORY + 1))
    steps = 2 * steepest.MAX_HISTORY + 5  # a stride of 3
    thinned = fit(mse, start, X, y, learning_rate=1e-6, max_steps=steps, tol=0)
    assert thinned.num_steps == steps
    np.testing.assert_array_equal(thinned.loss_steps, [*range(0, steps, 3), steps])
    shared = thinned.loss_steps[thinned.loss_steps <= full.num_steps]
    np.testing.assert_array_equal(thinned.losses[: len(shared)], full.losses[shared])
    assert thinned.loss == pytest.approx(float(mse(thinned.params, X, y)), rel=1e-5)
    # A huge budget costs no memory: the default data converges at once.
    quick = fit(mse, start, X, y, learning_rate=0.1, max_steps=steepest.MAX_STEPS_LIMIT)
    assert quick.status is Status.CONVERGED and len(quick.losses) < 1000
    with pytest.raises(ValueError, match="max_steps must be between 0 and 2147483646"):
        fit(mse, start, X, y, learning_rate=0.1, max_steps=2**31)


def test_costs_near_zero_or_negative_are_not_divergence(x64):
    X, y = (jnp.asarray(a) for a in regression_problem(13, 50, 2, noise=0.0))
    exact = steepest.theory.closed_form(np.asarray(X), np.asarray(y))
    warm = Linear(jnp.asarray(exact.w) + 1e-6, jnp.asarray(exact.b))
    result = fit(mse, warm, X, y, optimizer="adam", learning_rate=0.05, max_steps=20_000,
                 tol=1e-7)  # fmt: skip
    assert result.status is Status.CONVERGED, result.message

    def shifted_bowl(p):
        return jnp.sum((p - 1.0) ** 2) - 10.0  # negative everywhere near its minimum

    result = fit(shifted_bowl, jnp.zeros(2), learning_rate=0.1)
    assert result.status is Status.CONVERGED, result.message
    assert result.loss == pytest.approx(-10.0)


def test_mixed_dtypes_follow_the_loss(x64):
    """float32 params with float64 data: the history is float64, as the cost is."""
    X, y = (jnp.asarray(a) for a in regression_problem(14, 30, 2))
    result = fit(mse, zeros(2, jnp.float32), X, y, learning_rate=0.1, max_steps=100)
    assert result.losses.dtype == np.float64
    assert result.params.w.dtype == jnp.float32


def test_no_default_learning_rate_without_positive_curvature():
    with pytest.raises(ValueError, match=r"no default learning rate: .* is 0, not a positive"):
        fit(lambda p: jnp.sum(p), jnp.zeros(2))
    with pytest.raises(ValueError, match="the loss must return a scalar"):
        fit(lambda p: p**2, jnp.zeros(2), learning_rate=0.1)


def test_stopping_rules():
    absolute = dict(params_norm=1.0, initial_grad_norm=1.0, tol=1e-6, rtol=0.0, mu=0.0)
    assert steepest.has_converged(jnp.float32(1e-6), **absolute)
    assert not steepest.has_converged(jnp.float32(2e-6), **absolute)
    assert not steepest.has_converged(jnp.float32(jnp.nan), **absolute)
    relative = dict(params_norm=2.0, initial_grad_norm=10.0, tol=0.0, rtol=1e-3, mu=0.0)
    assert steepest.has_converged(jnp.float32(0.01), **relative)  # 1e-3 x ||g_0||
    assert not steepest.has_converged(jnp.float32(0.011), **relative)
    certified = relative | dict(mu=0.5)  # ||g|| / mu <= rtol ||p|| / 2: ||g|| <= 5e-4
    assert steepest.has_converged(jnp.float32(4.9e-4), **certified)
    assert not steepest.has_converged(jnp.float32(5.1e-4), **certified)
    assert not steepest.has_converged(jnp.float32(jnp.nan), **certified)
    assert steepest.has_diverged(jnp.float32(jnp.inf), jnp.float32(1.0), 1e8)
    assert steepest.has_diverged(jnp.float32(jnp.nan), jnp.float32(1.0), 1e8)
    assert steepest.has_diverged(jnp.float32(2.5e8), jnp.float32(1.0), 1e8)
    assert not steepest.has_diverged(jnp.float32(0.9e8), jnp.float32(1.0), 1e8)
    assert not steepest.has_diverged(jnp.float32(1.0), jnp.float32(1e-12), 1e8)
    assert steepest.has_diverged(jnp.float32(2e8), jnp.float32(1e-12), 1e8)
    assert not steepest.has_diverged(jnp.float32(-5.0), jnp.float32(-10.0), 1e8)


def test_no_recompilation_for_new_values_of_the_same_shape(uncached):
    """A new learning rate, new data, a new max_steps or tol, the default 1/L: no compile."""
    compiles = []

    def count(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            compiles.append(event)

    first = [jnp.asarray(a, jnp.float32) for a in regression_problem(5, 64, 3)]
    second = [jnp.asarray(a, jnp.float32) for a in regression_problem(6, 64, 3)]
    fit(mse, zeros(3), *first, learning_rate=0.1, max_steps=50)
    fit(mse, zeros(3), *first, max_steps=50)
    jax.monitoring.register_event_duration_secs_listener(count)
    try:
        fit(mse, zeros(3), *first, learning_rate=0.05, max_steps=50)
        result = fit(mse, zeros(3), *second, learning_rate=0.2, max_steps=70, tol=1e-4)
        default = fit(mse, zeros(3), *second, max_steps=500_000)
        assert compiles == []
        # Data of another shape does compile: the counter can see compilation.
        fit(mse, zeros(3), first[0][:10], first[1][:10], learning_rate=0.1, max_steps=50)
        assert compiles
    finally:
        jax.monitoring.unregister_event_duration_listener(count)
    assert result.learning_rate == 0.2
    assert default.status is Status.CONVERGED


def test_ctrl_c_returns_what_was_reached():
    X, y = (jnp.asarray(a, jnp.float32) for a in regression_problem(7, 50, 2))
    chunks = []

    def interrupt(progress):
        chunks.append(progress)
        os.kill(os.getpid(), signal.SIGINT)

    result = fit(mse, zeros(2), X, y, learning_rate=1e-4, max_steps=10**9, tol=0.0,
                 on_chunk=interrupt)  # fmt: skip
    assert result.status is Status.INTERRUPTED
    assert len(chunks) == 1 and chunks[0].step > 0
    assert result.num_steps == chunks[0].step - 1
    assert_result_is_consistent(result, X, y)
    # The handler is restored: Ctrl-C raises KeyboardInterrupt again afterwards.
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)


def test_a_second_ctrl_c_stops_at_once():
    X, y = (jnp.asarray(a, jnp.float32) for a in regression_problem(7, 50, 2))

    def interrupt_twice(progress):
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        fit(mse, zeros(2), X, y, learning_rate=1e-4, max_steps=10**9, tol=0.0,
            on_chunk=interrupt_twice)  # fmt: skip
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_progress_reports_each_chunk():
    X, y = (jnp.asarray(a, jnp.float32) for a in regression_problem(8, 50, 2))

    def own_mse(params, X, y):  # a loop no other test ran: its first chunk is one step
        return mse(params, X, y)

    reports = []
    result = fit(own_mse, zeros(2), X, y, learning_rate=1e-4, max_steps=20_000, tol=0.0,
                 on_chunk=reports.append)  # fmt: skip
    steps = [r.step for r in reports]
    assert len(reports) >= 2 and steps == sorted(steps)
    assert steps[-1] == result.num_steps == 20_000
    assert reports[-1].loss == pytest.approx(result.loss)


def test_a_loop_run_before_starts_from_its_measured_step_time():
    """The first run of a loop times one step first; a repeat (the same loss, data of the
    same shapes) sizes its first chunk from the step time measured then: one call."""
    X, y = (jnp.asarray(a, jnp.float32) for a in regression_problem(8, 50, 2))

    def own_mse(params, X, y):  # a loss of this test's own: no other test ran its loop
        return mse(params, X, y)

    def chunk_ends(X, y):
        reports = []
        fit(own_mse, zeros(X.shape[1]), X, y, learning_rate=1e-4, max_steps=100, tol=0.0,
            on_chunk=reports.append)  # fmt: skip
        return [report.step for report in reports]

    assert chunk_ends(X, y) == [1, 100]
    assert chunk_ends(X, y) == [100]
    assert chunk_ends(X[:, :1], y)[0] == 1  # other shapes: another loop


def test_callers_arrays_survive_the_donated_loop():
    X, y = (jnp.asarray(a, jnp.float32) for a in regression_problem(9, 30, 2))
    start = zeros(2)
    fit(mse, start, X, y, learning_rate=0.1, max_steps=10)
    assert float(start.b) == 0.0 and float(mse(start, X, y)) > 0


def test_generic_pytree_loss():
    """fit is not tied to the linear model: any differentiable loss of any pytree."""

    def bowl(params, center):
        return jnp.sum((params["a"] - center) ** 2) + 3 * (params["b"] + 1.0) ** 2

    start = {"a": jnp.zeros(4), "b": jnp.array(2.0)}
    center = jnp.arange(4.0)
    result = fit(bowl, start, center, tol=1e-5, max_steps=10_000)
    assert result.status is Status.CONVERGED
    np.testing.assert_allclose(result.params["a"], center, atol=1e-5)
    assert float(result.params["b"]) == pytest.approx(-1.0, abs=1e-5)


def test_float32_stays_float32_with_x64_on(x64):
    X, y = (jnp.asarray(a, jnp.float32) for a in regression_problem(10, 30, 2))
    for name in steepest.optimizers.names():
        engine = steepest.Engine(mse, name)
        state = engine.init(zeros(2), X, y, learning_rate=0.01, max_steps=20)
        # Traced, not compiled: the loop's dtypes are settled when it is traced.
        stepped = jax.eval_shape(engine.run, state, 20, X, y)
        assert stepped.params.w.dtype == jnp.float32, name
        assert stepped.history.dtype == stepped.loss.dtype == jnp.float32, name
    # One run compiled whole. The loop alone: the certificate's float64 evaluation is
    # another test's.
    result = fit(mse, zeros(2), X, y, optimizer="adam", learning_rate=0.01, max_steps=20,
                 certificate=False)  # fmt: skip
    assert result.params.w.dtype == jnp.float32
    assert result.losses.dtype == np.float32


def test_bad_arguments_raise_clear_errors():
    X, y = (jnp.asarray(a, jnp.float32) for a in regression_problem(11, 30, 1))
    with pytest.raises(ValueError, match="max_steps must be between 0 and"):
        fit(mse, zeros(1), X, y, learning_rate=0.1, max_steps=-1)
    with pytest.raises(ValueError, match="tol must be >= 0"):
        fit(mse, zeros(1), X, y, learning_rate=0.1, tol=float("nan"))
    with pytest.raises(ValueError, match="learning_rate must be a positive number"):
        fit(mse, zeros(1), X, y, learning_rate=0.0)
    with pytest.raises(ValueError, match="unknown optimizer 'sdg'; known: gd, momentum"):
        fit(mse, zeros(1), X, y, optimizer="sdg", learning_rate=0.1)
    with pytest.raises(ValueError, match="carries its own"):
        import optax

        fit(mse, zeros(1), X, y, optimizer=optax.sgd(0.1), learning_rate=0.1)
    nan_start = Linear(jnp.array([jnp.nan]), jnp.array(0.0))
    with pytest.raises(ValueError, match="the cost at the initial params is nan"):
        fit(mse, nan_start, X, y, learning_rate=0.1)
