"""Shared by tests/ and the internals' own tests beside them (src/steepest/_src/*_test.py).

x64 is switched on per test (``x64`` fixture), never globally, so that the float32
default the users get is what most tests exercise."""

import os

# Four CPU devices, as JAX's own tests make them, for the tests of data split by rows
# over devices (tests/test_sharding.py). Everything else runs on the first device, as
# it would on a machine with one. Set before JAX starts.
os.environ["XLA_FLAGS"] = " ".join(
    [os.environ.get("XLA_FLAGS", ""), "--xla_force_host_platform_device_count=4"]
).strip()

# The command line caches compilations in the user's cache directory; the tests leave
# it alone (tests/test_cache.py gives the cache a directory of its own).
os.environ["STEEPEST_CACHE_DIR"] = ""

import jax
import pytest
from hypothesis import settings

settings.register_profile(
    "default", deadline=None, derandomize=True, max_examples=50, database=None
)
settings.load_profile("default")


@pytest.fixture
def x64():
    """Run the test with 64-bit JAX types enabled."""
    with jax.enable_x64(True):
        yield
