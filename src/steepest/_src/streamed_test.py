"""``fit_stream``'s own names: every process's sums joined, a failure to read said to all."""

import jax.numpy as jnp
import numpy as np
import pytest

from steepest._src.processes import Processes
from steepest._src.streamed import FileChanged, joined, summed_over


class TwoProcesses(Processes):
    """Process 0 of two, the other's values given: what ``gather`` would bring back."""

    def __init__(self, others):
        super().__init__(index=0, count=2)
        object.__setattr__(self, "others", np.asarray(others, np.float64))

    def gather(self, values):
        return np.stack([np.asarray(values, np.float64), self.others])


def test_the_processes_sums_are_added_in_each_leafs_shape_and_dtype():
    total = (jnp.float32(1.5), {"w": jnp.array([1.0, 2.0], jnp.float32)})
    summed = joined(total, TwoProcesses([0.0, 0.25, 10.0, 20.0]), None)
    assert float(summed[0]) == 1.75 and summed[0].dtype == jnp.float32
    assert summed[1]["w"].tolist() == [11.0, 22.0] and summed[1]["w"].shape == (2,)


def test_a_process_that_could_not_read_stops_every_process():
    total = (jnp.float32(1.5), jnp.zeros(2, jnp.float32))
    with pytest.raises(FileChanged, match="process 1 could not read its rows of the file"):
        joined(total, TwoProcesses([1.0, 0.0, 0.0, 0.0]), None)  # the other's flag
    mine = FileChanged(OSError("gone"))
    with pytest.raises(FileChanged, match="gone"):
        joined(total, TwoProcesses([0.0, 0.0, 0.0, 0.0]), mine)


def test_the_float64_check_is_summed_in_float64_whatever_the_runs_dtype():
    """Not through JAX, which without x64 would round it to float32."""
    values = np.array([1.0000000123456789, 2.0])
    summed = summed_over(TwoProcesses([0.0, 1e-12, 0.0]), values, None)
    assert summed.dtype == np.float64 and summed[0] == 1.0000000123456789 + 1e-12
