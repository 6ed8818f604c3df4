"""Test problems with fixed seeds, shared by several test modules."""

import numpy as np


def regression_problem(seed: int, rows: int, features: int, noise: float = 0.1):
    """A well-conditioned linear regression: standard normal features, known w and b."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, features))
    w = rng.uniform(-3, 3, features)
    b = rng.uniform(-3, 3)
    y = X @ w + b + noise * rng.standard_normal(rows)
    return X, y


def shuffled(key, rows: int) -> np.ndarray:
    """The order of ``rows`` rows an epoch visits, written from steepest's documented rule
    alone (``minibatch.keyed_permutation``), in NumPy: a 4-round Feistel network on
    ``2h``-bit numbers (``4**h >= rows``), round keys ``jax.random.bits(key, (4,),
    uint32)``, round function lowbias32, cycle walking back into ``range(rows)``."""
    import jax
    import jax.numpy as jnp

    if rows <= 1:
        return np.arange(rows)
    half = max(1, -(-int(np.ceil(np.log2(rows))) // 2))
    mask = np.uint64((1 << half) - 1)
    keys = np.asarray(jax.random.bits(key, (4,), jnp.uint32)).astype(np.uint64)
    bits32 = np.uint64(0xFFFFFFFF)

    def mix(x):
        x = x ^ (x >> np.uint64(16))
        x = (x * np.uint64(0x7FEB352D)) & bits32
        x = x ^ (x >> np.uint64(15))
        x = (x * np.uint64(0x846CA68B)) & bits32
        return x ^ (x >> np.uint64(16))

    def feistel(x):
        left, right = x >> np.uint64(half), x & mask
        for k in keys:
            left, right = right, left ^ (mix(right ^ k) & mask)
        return (left << np.uint64(half)) | right

    order = []
    for i in range(rows):
        y = feistel(np.uint64(i))
        while y >= rows:
            y = feistel(y)
        order.append(int(y))
    return np.array(order)
