"""A run's cost history as data, and tables as pandas DataFrames where pandas is installed."""

from typing import Any, NamedTuple

import numpy as np


class History(NamedTuple):
    """The cost at each recorded step of a run (every step up to 1e5, else every k-th).

    Attributes:
        steps: the step (the epoch, with mini-batches) of each recorded cost.
        costs: the costs, in the run's dtype.
        unit: ``"step"`` or ``"epoch"``: what ``steps`` count.

    Example:
        >>> history = History(np.array([0, 1]), np.array([4.0, 1.0]))
        >>> history
        History(2 costs recorded, step 0 to 1: 4 -> 1)
    """

    steps: np.ndarray
    costs: np.ndarray
    unit: str = "step"

    def __repr__(self) -> str:
        if len(self.steps) == 0:
            return "History(empty)"
        return (
            f"History({len(self.steps)} costs recorded, {self.unit} {self.steps[0]} to "
            f"{self.steps[-1]}: {float(self.costs[0]):.6g} -> {float(self.costs[-1]):.6g})"
        )

    def to_frame(self) -> Any:
        """A pandas DataFrame with columns ``step`` (or ``epoch``) and ``cost``."""
        return frame({self.unit: np.asarray(self.steps), "cost": np.asarray(self.costs)})


def frame(columns: dict[str, Any]) -> Any:
    """``pandas.DataFrame(columns)``; an ImportError saying how to install pandas without it.

    pandas is optional (``pip install 'steepest[pandas]'``): nothing else needs it.
    """
    try:
        import pandas
    except ImportError:
        raise ImportError(
            "to_frame needs pandas: pip install pandas (or 'steepest[pandas]')"
        ) from None
    return pandas.DataFrame(columns)
