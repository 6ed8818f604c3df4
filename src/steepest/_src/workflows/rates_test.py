"""``sweep_learning_rates``' own names: the random starts of ``--seeds``."""

import jax
import jax.numpy as jnp
import numpy as np

from steepest import Linear
from steepest._src.workflows.rates import random_starts


def test_random_starts_are_each_seeds_own_draws():
    """The starts, drawn for all seeds at once, are those drawn seed by seed."""
    drawn = random_starts(Linear.zeros(3), 5)
    for seed, got in enumerate(drawn):
        keys = jax.random.split(jax.random.key(seed))
        np.testing.assert_array_equal(got.w, jax.random.normal(keys[0], (3,), jnp.float32))
        np.testing.assert_array_equal(got.b, jax.random.normal(keys[1], (), jnp.float32))
    without_intercept = random_starts(Linear.zeros(3, intercept=False), 2)
    assert [start.b for start in without_intercept] == [None, None]
