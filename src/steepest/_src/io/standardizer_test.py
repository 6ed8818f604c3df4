"""The standardized data become the device's arrays without a copy (issue 23: the
in-memory path at most twice the file)."""

import jax
import numpy as np
import pytest

from steepest._src.io.placement import to_device
from steepest._src.io.standardizer import Standardizer

pytestmark = pytest.mark.skipif(jax.default_backend() != "cpu", reason="a CPU aliases host memory")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_standardized_features_and_targets_are_placed_without_a_copy(dtype):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(1000, 3)), rng.normal(size=1000)
    standardizer = Standardizer.of(X, y)
    with jax.enable_x64(dtype == np.float64):
        for host in (standardizer.transform(X, dtype), standardizer.transform_target(y, dtype)):
            [placed] = to_device(host, dtype=dtype)
            assert placed.unsafe_buffer_pointer() == host.ctypes.data  # the same memory
