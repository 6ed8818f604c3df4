"""Cluster environments, faked (issue 23): which process count, index and local devices
a process of a run takes, one process per GPU or one per host with all its GPUs."""

import pytest

from steepest._src.distributed import local_devices_of

SLURM = {
    "SLURM_JOB_ID": "1234",
    "SLURM_STEP_NODELIST": "node[001-004]",
    "SLURM_NTASKS": "32",
    "SLURM_PROCID": "13",
    "SLURM_LOCALID": "5",
}


def jax_detects(environ, monkeypatch, local_device_ids=None):
    """What JAX's own cluster detection makes of ``environ`` (``jax.distributed``'s
    defaults): (coordinator, process count, process id, local device ids)."""
    clusters = pytest.importorskip("jax._src.clusters")
    for name in [*SLURM, "SLURM_GPUS_ON_NODE", "JAX_COORDINATOR_PORT"]:
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    try:
        return clusters.ClusterEnv.auto_detect_unset_distributed_params(
            None, None, None, local_device_ids, None, None
        )
    except TypeError:  # JAX's private signature moved on
        pytest.skip("this JAX's cluster detection takes other arguments")


def test_one_process_per_gpu_takes_the_gpu_of_its_local_rank(monkeypatch):
    """`srun --ntasks-per-node 8`: JAX pins each process to GPU $SLURM_LOCALID."""
    coordinator, count, index, local = jax_detects(SLURM, monkeypatch)
    assert (coordinator.split(":")[0], count, index, list(local)) == ("node001", 32, 13, [5])


def test_one_process_per_host_takes_every_gpu_when_told_so(monkeypatch):
    """`srun --ntasks-per-node 1`: left to JAX, each host's process would take GPU 0 only
    (its local rank); `--local-devices all` gives it the host's 8."""
    environ = {**SLURM, "SLURM_NTASKS": "4", "SLURM_PROCID": "2", "SLURM_LOCALID": "0"}
    assert list(jax_detects(environ, monkeypatch)[3]) == [0]  # the trap
    environ["SLURM_GPUS_ON_NODE"] = "8"
    every = local_devices_of("all", environ)
    _, count, index, local = jax_detects(environ, monkeypatch, every)
    assert (count, index, list(local)) == (4, 2, list(range(8)))


@pytest.mark.parametrize(
    ("text", "environ", "words"),
    [
        ("all", {}, "neither CUDA_VISIBLE_DEVICES nor SLURM_GPUS_ON_NODE"),
        ("0,x", {}, "expected ids such as 0,1,2"),
        ("1,1", {}, "distinct"),
    ],
)
def test_local_devices_that_cannot_be_told_are_named(text, environ, words):
    with pytest.raises(ValueError, match=words):
        local_devices_of(text, environ)
