"""Shared by tests/ and the internals' own tests beside them (src/steepest/_src/*_test.py).

x64 is switched on per test (``x64`` fixture), never globally, so that the float32
default the users get is what most tests exercise."""

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile

# XLA's settings as the user's environment gives them (the console script's test runs a
# process with them: tests/test_cli.py), before the suite's own below.
USER_XLA_FLAGS = "STEEPEST_TEST_USER_XLA_FLAGS"
os.environ.setdefault(USER_XLA_FLAGS, os.environ.get("XLA_FLAGS", ""))

# XLA:CPU's older fusion emitters compile a fit's loop in half the time (0.36 -> 0.16 s
# for gd at N = 64), which makes the suite a third quicker, and compute the same numbers:
# the whole suite passes under either, and the console script's test, under XLA's
# default, prints the run the tests make in-process to the last bit. Their steps run
# slower at small N (1.45 against 1.15 us at N = 200), so steepest itself keeps XLA's
# default. An XLA that no longer knows the flag would abort at start: asked once.
QUICK_COMPILE = "--xla_cpu_use_fusion_emitters=false"


def _xla_knows(flag: str) -> bool:
    probe = "import jax; jax.devices()"
    environment = {**os.environ, "XLA_FLAGS": flag}
    try:
        completed = subprocess.run(
            [sys.executable, "-c", probe], env=environment, capture_output=True, timeout=120
        )
    except subprocess.TimeoutExpired:
        return False
    return completed.returncode == 0


if "STEEPEST_TEST_XLA_FLAGS" not in os.environ:  # the session's first process asks
    quick = QUICK_COMPILE if _xla_knows(QUICK_COMPILE) else ""
    # Four CPU devices, as JAX's own tests make them, for the tests of data split by rows
    # over devices (tests/test_sharding.py). Everything else runs on the first device, as
    # it would on a machine with one.
    os.environ["STEEPEST_TEST_XLA_FLAGS"] = " ".join(
        [os.environ[USER_XLA_FLAGS], "--xla_force_host_platform_device_count=4", quick]
    ).strip()
os.environ["XLA_FLAGS"] = os.environ["STEEPEST_TEST_XLA_FLAGS"]  # before JAX starts

# The command line caches compilations in the user's cache directory; the tests leave
# it alone (tests/test_cache.py gives the cache a directory of its own).
os.environ["STEEPEST_CACHE_DIR"] = ""

# One compilation cache for the session, shared by its workers (they inherit the
# directory the first process made): a program that another test, or the other worker,
# compiled already is loaded instead of compiled again (13% of the suite's time).
CACHE = "STEEPEST_TEST_JAX_CACHE"
OWNS_CACHE = CACHE not in os.environ
if OWNS_CACHE:
    os.environ[CACHE] = tempfile.mkdtemp(prefix="steepest-tests-jax-")

# After the environment above, which JAX reads when it starts.
import jax  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

jax.config.update("jax_compilation_cache_dir", os.environ[CACHE])
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)

# 25 examples a property (derandomized: the same ones every run): each runs a fit or a
# gradient check, so the suite's time grows with them.
settings.register_profile(
    "default", deadline=None, derandomize=True, max_examples=25, database=None
)
settings.load_profile("default")


def pytest_collection_modifyitems(items):
    """The tests that run real processes (``e2e``, 5 to 15 s each) first, the rest in
    their order: the workers then end on short tests, together, not one waiting on the
    other's last launch. The examples of the PyTorch bridge are skipped without torch
    (an optional extra, ``steepest[torch]``)."""
    items.sort(key=lambda item: item.get_closest_marker("e2e") is None)
    if importlib.util.find_spec("torch") is None:
        for item in items:
            if "torchbridge" in item.nodeid and type(item).__name__ == "DoctestItem":
                item.add_marker(pytest.mark.skip(reason="torch is not installed"))


def pytest_unconfigure(config):
    if OWNS_CACHE:  # the session's first process: the workers have finished with it
        shutil.rmtree(os.environ[CACHE], ignore_errors=True)


@pytest.fixture
def x64():
    """Run the test with 64-bit JAX types enabled."""
    with jax.enable_x64(True):
        yield


@pytest.fixture
def uncached():
    """No persistent compilation cache for the test: one that counts compilations sees
    each, not a load of what another test compiled."""
    from jax.experimental.compilation_cache import compilation_cache

    jax.config.update("jax_enable_compilation_cache", False)
    compilation_cache.reset_cache()
    try:
        yield
    finally:
        jax.config.update("jax_enable_compilation_cache", True)
        compilation_cache.reset_cache()
