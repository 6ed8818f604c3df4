"""A dataset made ready for descent: standardized, placed on the device(s), a zero start,
and the float64 evaluator that certifies against the data as read.

What ``linear`` runs on, and what the command line's ``compare``, ``sweep`` and
``plot-surface`` run on too: one setup, so that every command descends on the same
numbers.
"""

from collections.abc import Callable
from typing import NamedTuple

import jax
import numpy as np

from ..certificate import value_and_grad64
from ..io.dataset import BLOCK_ROWS, Dataset
from ..io.placement import placement
from ..io.standardizer import Standardizer
from ..losses import mse
from ..model import Linear
from ..processes import ONE, Processes


class Prepared(NamedTuple):
    """The descent's view of a dataset.

    Attributes:
        dataset: the data as read (float64, original units; this process's rows).
        standardizer: how the descent's coordinates map back to the original units
            (the identity without standardizing).
        X: the features, standardized, in the run's dtype, on the device(s).
        y: the targets, centered (with an intercept), likewise.
        start: zero params of the run's dtype, with or without an intercept.
        evaluate64: ``fit``'s ``evaluate64``: the cost and gradient in float64 on the
            data as read (``original_data_evaluator``).
    """

    dataset: Dataset
    standardizer: Standardizer
    X: jax.Array
    y: jax.Array
    start: Linear
    evaluate64: Callable


def prepare(
    dataset: Dataset,
    *,
    standardize: bool = True,
    intercept: bool = True,
    dtype=np.float32,
    devices: int | str | None = None,
    processes: Processes = ONE,
) -> Prepared:
    """``dataset`` standardized (or not) into ``dtype`` and placed (``io.placement``).

    Example:
        >>> from steepest import data
        >>> ready = prepare(data.builtin())
        >>> ready.X.dtype.name, ready.start.w.shape, float(ready.standardizer.scale[0]) > 1
        ('float32', (1,), True)
    """
    place = placement(devices, dtype, processes)
    standardizer = (
        Standardizer.of(dataset.X, dataset.y, center=intercept, across_processes=processes.many)
        if standardize
        else Standardizer.identity(dataset.X.shape[1])
    )
    # Standardized straight into the descent's dtype (no float64 copy of X on the way), and
    # placed one at a time, so that one host copy at most is alive at once.
    [X] = place(standardizer.transform(dataset.X, dtype))
    [y] = place(standardizer.transform_target(dataset.y, dtype))
    start = Linear.zeros(dataset.X.shape[1], dtype, intercept=intercept)
    evaluate64 = original_data_evaluator(dataset, standardizer, processes)
    return Prepared(dataset, standardizer, X, y, start, evaluate64)


def original_data_evaluator(
    dataset: Dataset, standardizer: Standardizer, processes: Processes = ONE
) -> Callable:
    """``evaluate64(params)`` for ``fit``: the mean squared error and its gradient in
    float64 on the data as read (standardized in float64, never rounded to float32),
    a block of rows at a time, so that the certificate bounds the distance to their
    minimizer, the one the closed form finds. Over several ``processes``, the dataset
    is this process's rows, and the sums are those of every process's.
    """
    rows = int(processes.sum(len(dataset.y)))

    def evaluate64(params):
        params = jax.tree.map(np.asarray, params)  # on the host: any process's own copy
        value, gradient = 0.0, 0.0
        for start in range(0, len(dataset.y), BLOCK_ROWS):  # this process's rows
            block = slice(start, start + BLOCK_ROWS)
            X = standardizer.transform(dataset.X[block], np.float64)
            y = standardizer.transform_target(dataset.y[block], np.float64)
            block_value, block_gradient = value_and_grad64(mse, params, X, y)
            value += block_value * len(y) / rows
            gradient += block_gradient * len(y) / rows
        if processes.many:
            value, gradient = processes.sum(value), processes.sum(gradient)
        return np.float64(value), np.asarray(gradient, np.float64)

    return evaluate64
