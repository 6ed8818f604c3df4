"""Data split by rows over devices (issue 12, item 1): the one-device run, on four.

conftest.py gives JAX four CPU devices (``--xla_force_host_platform_device_count``),
as JAX's own tests do; on a GPU host the same code splits over GPUs. Each case runs
the same fit twice, on one device and split over four, for a fixed number of steps
(no early stop, so that both take every step) and compares the params: 1e-5
relative in float32, 1e-12 in float64 (the issue's bars). The difference is the
order of the sums alone.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from cli_runs import run_command
from problems import regression_problem

import steepest
from steepest import DataError, Engine, Linear, fit, mse, sweep
from steepest.data import row_mesh, row_sharding, shard

ROWS, FEATURES, STEPS = 64, 3, 30
TOLERANCE = {jnp.float32: 1e-5, jnp.float64: 1e-12}

pytestmark = pytest.mark.skipif(
    jax.device_count() < 4, reason="needs 4 devices (conftest.py sets XLA_FLAGS)"
)


def placed(dtype, devices: int):
    X, y = regression_problem(11, ROWS, FEATURES)
    if devices == 1:
        return steepest.data.to_device(X, y, dtype=dtype)
    return shard(X, y, mesh=row_mesh(devices), dtype=dtype)


def fitted(X, y, dtype, optimizer, block_rows):
    result = fit(
        mse, Linear.zeros(FEATURES, dtype), X, y, optimizer=optimizer, max_steps=STEPS,
        tol=0.0, block_rows=block_rows, certificate=False, stall_patience=None,
    )  # fmt: skip
    assert result.num_steps == STEPS, result.message
    return np.append(np.asarray(result.params.w, np.float64), float(result.params.b))


# Each optimizer kind with and without blocks in all, each dtype (experiments/sharding.py:
# every optimizer, every combination).
FIT_CASES = [
    (jnp.float32, "gd", 5),
    (jnp.float32, "adam", None),
    (jnp.float32, "lbfgs", None),
    (jnp.float64, "lbfgs", 5),
]


@pytest.mark.parametrize(
    ("dtype", "optimizer", "block_rows"),
    FIT_CASES,
    ids=[f"{jnp.dtype(d).name}-{o}-{'blocks' if b else 'one pass'}" for d, o, b in FIT_CASES],
)
def test_a_fit_split_over_four_devices_is_the_one_device_fit(dtype, optimizer, block_rows):
    """A plain step, an adaptive one and L-BFGS's line search (a compile on four
    devices costs seconds)."""
    with jax.enable_x64(dtype == jnp.float64):
        alone = fitted(*placed(dtype, 1), dtype, optimizer, block_rows)
        split = fitted(*placed(dtype, 4), dtype, optimizer, block_rows)
    np.testing.assert_allclose(split, alone, rtol=TOLERANCE[dtype], atol=0)


def test_a_sweep_split_over_four_devices_is_the_one_device_sweep():
    rates = [0.05, 0.3, 1.2]  # the last diverges
    runs = {
        devices: sweep(mse, Linear.zeros(FEATURES), *placed(jnp.float32, devices),
                       learning_rates=rates, max_steps=STEPS, block_rows=8)
        for devices in (1, 4)
    }  # fmt: skip
    assert runs[1].statuses == runs[4].statuses
    for alone, split in zip(runs[1].results, runs[4].results, strict=True):
        np.testing.assert_allclose(split.params.w, alone.params.w, rtol=1e-5)
        assert split.loss == pytest.approx(alone.loss, rel=1e-5)  # at params 1e-5 apart


def test_a_default_fit_on_split_data_converges_with_its_certificate():
    result = fit(mse, Linear.zeros(FEATURES), *placed(jnp.float32, 4))
    assert result.status is steepest.Status.CONVERGED, result.message
    assert result.certificate is not None and result.certificate.meets(1e-5)


def test_blocks_of_split_data_stay_on_their_device():
    """Each device sums the blocks of its own rows: no device gathers the others' rows."""
    X, y = placed(jnp.float32, 4)
    layout = row_sharding((X, y))
    assert (layout.mesh.size, layout.axis, layout.shards) == (4, "rows", 4)
    engine = Engine(mse, "gd", block_rows=4, sharding=layout)
    state = engine.init(Linear.zeros(FEATURES), X, y, learning_rate=0.1)
    compiled = engine.compiled(state, X, y).as_text()
    assert "all-gather" not in compiled and "all-reduce" in compiled


@pytest.mark.parametrize("optimizer", ["gd", "adam", "lbfgs"])
def test_mini_batches_split_over_four_devices_take_the_one_device_steps(optimizer):
    """Data-parallel SGD: each device draws its share of every batch from its own rows;
    one device drawing the same shares (``batch_shards=4``) takes the same steps."""
    runs = []
    with jax.enable_x64(True):
        for devices, shares in ((1, 4), (4, None)):
            result = fit(
                mse, Linear.zeros(FEATURES, jnp.float64), *placed(jnp.float64, devices),
                optimizer=optimizer, batch_size=16, epochs=4, batch_shards=shares, tol=0.0,
                certificate=False, stall_patience=None,
            )  # fmt: skip
            assert result.num_steps == 4, result.message
            runs.append(np.append(np.asarray(result.params.w), float(result.params.b)))
    np.testing.assert_allclose(runs[1], runs[0], rtol=1e-10, atol=0)


def test_each_device_computes_the_gradient_of_its_share_of_a_batch_alone():
    """The loss is traced on the rows one device holds of a batch (16 / 4), never on a
    whole batch: a device's work per update is a quarter of the batch's."""
    traced_rows = set()

    def counted_mse(params, X, y):
        traced_rows.add(X.shape[0])
        return mse(params, X, y)

    X, y = placed(jnp.float32, 4)
    fit(counted_mse, Linear.zeros(FEATURES), X, y, tags={steepest.row_mean_tag},
        batch_size=16, epochs=2, certificate=False)  # fmt: skip
    assert 4 in traced_rows and 16 not in traced_rows, traced_rows
    traced_rows.clear()
    X, y = placed(jnp.float32, 1)  # the same shares on one device: whole batches
    fit(counted_mse, Linear.zeros(FEATURES), X, y, tags={steepest.row_mean_tag},
        batch_size=16, epochs=2, certificate=False, batch_shards=4)  # fmt: skip
    assert 16 in traced_rows and 4 not in traced_rows, traced_rows


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        (dict(batch_size=10), "batch_size 10 does not split evenly over 4 devices"),
        (dict(batch_size=8, batch_shards=2), "batch_shards is 2, but the data are split over 4"),
    ],
)
def test_batches_the_devices_cannot_share_are_refused_in_one_line(settings, words):
    with pytest.raises(ValueError, match=words):
        fit(mse, Linear.zeros(FEATURES), *placed(jnp.float32, 4), **settings)


def test_rows_the_devices_do_not_divide_are_refused_in_one_line():
    X, y = regression_problem(0, 10, 2)
    with pytest.raises(DataError, match=r"^10 rows do not split evenly over 4 devices: "
                                        r"drop the last 2 rows, or use 2 devices$"):  # fmt: skip
        shard(X, y, mesh=row_mesh(4))
    with pytest.raises(DataError, match="5 devices asked for, but JAX sees 4"):
        row_mesh(5)


def test_the_command_line_splits_over_devices_and_reports_the_same_fit(tmp_path):
    one = run_command(["fit", "--json"], tmp_path)
    four = run_command(["fit", "--devices", "4", "--json"], tmp_path)
    assert (one.returncode, four.returncode) == (0, 0), four.describe()
    assert (one.record()["devices"], four.record()["devices"]) == (1, 4)
    np.testing.assert_allclose(four.record()["params"]["w"], one.record()["params"]["w"], rtol=1e-5)
    uneven = run_command(["fit", "--devices", "3"], tmp_path)
    assert uneven.returncode == 2
    assert uneven.stderr == (
        "steepest: error: --devices 3: 200 rows do not split evenly over 3 devices: "
        "drop the last 2 rows, or use 4 devices\n"
    )
    too_many = run_command(["sweep", "--devices", "9"], tmp_path)
    assert too_many.returncode == 2 and "--devices 9: 9 devices asked for" in too_many.stderr


@pytest.mark.parametrize("devices", [4, 3])
def test_a_stream_split_over_devices_takes_the_one_device_steps(tmp_path, devices):
    """Each chunk split by rows over the devices (of 230 rows in chunks of 50: the rows
    3 devices do not divide go to every device alike); the sums, so the steps, are the
    one-device stream's up to the order of the sums."""
    X, y = regression_problem(13, 230, FEATURES)
    np.save(tmp_path / "t.npy", np.column_stack([X, y]))
    rule = dict(learning_rate=0.1, max_steps=25, tol=0.0, stall_patience=None)
    with jax.enable_x64(True):
        table = steepest.data.stream(tmp_path / "t.npy", chunk_rows=50, dtype=np.float64)
        alone = steepest.fit_stream(mse, Linear.zeros(FEATURES, jnp.float64), table, **rule)
        split = steepest.fit_stream(
            mse, Linear.zeros(FEATURES, jnp.float64), table, devices=devices, **rule
        )
    np.testing.assert_allclose(split.params.w, alone.params.w, rtol=1e-12, atol=0)
    assert split.num_steps == alone.num_steps == 25


def test_the_command_line_streams_over_devices(tmp_path):
    X, y = regression_problem(14, 400, FEATURES)
    np.save(tmp_path / "t.npy", np.column_stack([X, y]))
    flags = ["fit", "--data", "t.npy", "--stream", "--x64", "--json"]
    one, four = (run_command(flags + extra, tmp_path) for extra in ([], ["--devices", "4"]))
    assert (one.returncode, four.returncode) == (0, 0), four.describe()
    assert four.record()["devices"] == 4
    np.testing.assert_allclose(
        four.record()["params"]["w"], one.record()["params"]["w"], rtol=1e-12
    )
    refused = run_command([*flags, "--devices", "4", "--batch-size", "8"], tmp_path)
    assert refused.returncode == 2
    assert "--stream does not take --devices with --batch-size yet" in refused.stderr
