"""The processes of one run: one (the default), or several joined by ``jax.distributed``
(``python -m steepest.distributed``, ``steepest launch``), each holding its own rows.

What JAX computes on arrays split over every process's devices needs nothing from
here: XLA adds the reductions. What is computed on the host from the rows each process
holds (the closed form, the standardizer, the certificate's float64 cost) is combined
here, from each process's partial sums: JAX's ``process_allgather`` moves them, and
every process adds them up in the same order, so that every process holds the same
answer, bit for bit. With one process, each combination is the value itself.
"""

import dataclasses
from collections.abc import Callable
from typing import TypeVar

import numpy as np

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Processes:
    """This process's place among the ``count`` processes of a run.

    Example:
        >>> one = Processes()
        >>> one.sum(np.array([1.5, 2.0])).tolist(), one.max(3.0).tolist()
        ([1.5, 2.0], 3.0)
        >>> one.gather([1.0, 2.0]).shape  # (count, *shape)
        (1, 2)
    """

    index: int = 0
    count: int = 1

    @classmethod
    def current(cls) -> "Processes":
        """The processes JAX was started with (one, unless ``jax.distributed.initialize``)."""
        import jax

        return cls(jax.process_index(), jax.process_count())

    @property
    def many(self) -> bool:
        return self.count > 1

    def gather(self, values) -> np.ndarray:
        """Every process's ``values`` (the same shape on each), stacked in process order:
        shape ``(count, *shape)``, in float64 (one process: as they are). Every process
        must call it."""
        if not self.many:
            return np.asarray(values)[None]
        values = np.array(values, np.float64)  # a copy, C-ordered, 0-d kept
        from jax.experimental import multihost_utils

        # As 32-bit words: where float64 is off, JAX would round float64 to float32.
        words = values.reshape(-1).view(np.uint32)
        gathered = np.asarray(multihost_utils.process_allgather(words))
        return gathered.view(np.float64).reshape(self.count, *values.shape)

    def sum(self, values) -> np.ndarray:
        """The sum of every process's ``values``, added in process order."""
        parts = self.gather(values)
        total = parts[0]
        for part in parts[1:]:
            total = total + part
        return total

    def max(self, values) -> np.ndarray:
        """The elementwise largest of every process's ``values``."""
        return self.gather(values).max(axis=0)

    def together(self, check: Callable[[], T]) -> T:
        """What ``check()`` returns, once every process's check has passed; if any raised a
        ValueError (bad rows of its own), every process raises: that one its own error,
        the others ``StoppedElsewhere`` with the first failed process's own words, so that
        none waits in a later gather for one that stopped, and the first process can say
        why on a cluster where no one reads the others' output. Every process must call it.

        Example:
            >>> Processes().together(lambda: 3)
            3
        """
        if not self.many:
            return check()
        error: ValueError | None = None
        try:
            result = check()
        except ValueError as raised:
            error = raised
        said = b"" if error is None else str(error).encode(errors="replace")
        words = np.frombuffer(said, np.uint8)
        failed, lengths = self.gather([error is not None, words.size]).T
        if not failed.any():
            return result
        first = int(np.flatnonzero(failed)[0])
        padded = np.zeros(max(int(lengths.max()), 1))
        if error is not None:
            padded[: words.size] = words
        theirs = self.gather(padded)[first, : int(lengths[first])].astype(np.uint8)
        if error is not None:
            raise error
        raise StoppedElsewhere(first, theirs.tobytes().decode(errors="replace"))


class StoppedElsewhere(ValueError):
    """Another process of the run, ``process``, stopped on an error of its own, whose
    message was ``words``.

    Example:
        >>> str(StoppedElsewhere(1, "row 7 holds NaN"))
        'process 1 stopped on an error of its own: row 7 holds NaN'
    """

    def __init__(self, process: int, words: str):
        super().__init__(process, words)  # the arguments, for pickle
        self.process, self.words = process, words

    def __str__(self) -> str:
        return f"process {self.process} stopped on an error of its own: {self.words}"


ONE = Processes()
"""A run of one process: every combination is the value itself, and nothing is sent."""


def spans_processes(tree) -> bool:
    """Whether an array of ``tree`` is split over the devices of several processes (a
    global array that this process holds only part of).

    Example:
        >>> spans_processes((np.zeros(3), 1.0))
        False
    """
    import jax

    return any(not getattr(leaf, "is_fully_addressable", True) for leaf in jax.tree.leaves(tree))
