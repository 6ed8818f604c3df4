"""Optimizers by name: each an ``optax.GradientTransformation`` with a traced learning rate.

``"gd"`` is the tutorial's rule, written here as a transformation of its own
(a test shows it equals ``optax.sgd`` step for step). The others come from
optax. Adding one is one line in ``REGISTRY``; the loop passes every optimizer
``value``, ``grad`` and ``value_fn`` as extra arguments, so line-search methods
such as L-BFGS run in it too.

Every optimizer is wrapped in ``optax.inject_hyperparams``, so the learning
rate lives in the optimizer state as an array: the compiled loop takes it as
data and a new learning rate never recompiles.
"""

import functools
import numbers
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .arguments import whole_number


def gradient_descent(learning_rate: float) -> optax.GradientTransformation:
    """The tutorial's update rule: ``params <- params - learning_rate * grad``.

    Example:
        >>> import jax.numpy as jnp
        >>> opt = gradient_descent(0.1)
        >>> updates, _ = opt.update(jnp.array([1.0, -2.0]), opt.init(jnp.zeros(2)))
        >>> updates.tolist()
        [-0.10000000149011612, 0.20000000298023224]
    """

    def init(params):
        del params
        return optax.EmptyState()

    def update(grads, state, params=None):
        del params
        return jax.tree.map(lambda g: -learning_rate * g, grads), state

    return optax.GradientTransformation(init, update)


REGISTRY: dict[str, Callable[[float], optax.GradientTransformation]] = {
    "gd": gradient_descent,
    "momentum": lambda learning_rate: optax.sgd(learning_rate, momentum=0.9),
    "nesterov": lambda learning_rate: optax.sgd(learning_rate, momentum=0.9, nesterov=True),
    "adam": lambda learning_rate: optax.adam(learning_rate),
    "rmsprop": lambda learning_rate: optax.rmsprop(learning_rate),
    "adagrad": lambda learning_rate: optax.adagrad(learning_rate),
    # Decoupled weight decay (optax's default 1e-4) pulls the answer slightly toward zero.
    "adamw": lambda learning_rate: optax.adamw(learning_rate),
    "adabelief": lambda learning_rate: optax.adabelief(learning_rate),
    "lion": lambda learning_rate: optax.lion(learning_rate),
    # L-BFGS with optax's zoom line search; the loop passes it the value and value_fn it needs.
    # The learning rate scales the direction before the line search.
    "lbfgs": lambda learning_rate: optax.lbfgs(learning_rate),
}


# Learning rates used when none is given, for optimizers where 1/L is the wrong default:
# a line search wants the undamped direction.
DEFAULT_LEARNING_RATES: dict[str, float] = {"lbfgs": 1.0}


class Schedule(NamedTuple):
    """A learning-rate schedule, from optax: the rate times a multiplier of the update count.

    - ``"cosine"``: from 1 down to ``end`` over ``steps`` updates, along a half cosine
      (``optax.cosine_decay_schedule``), then ``end``;
    - ``"exponential"``: ``rate ** (count / steps)`` (``optax.exponential_decay``);
    - ``"warmup-cosine"``: from 0 up to 1 over ``warmup`` updates, then the cosine down
      to ``end`` by update ``steps`` (``optax.warmup_cosine_decay_schedule``).

    ``steps`` None (the default): over every update of the run, as ``fit`` counts them
    (``over``).

    Example:
        >>> multiplier = Schedule("cosine", steps=10, end=0.1).multiplier()
        >>> [round(float(multiplier(k)), 3) for k in (0, 5, 10, 20)]
        [1.0, 0.55, 0.1, 0.1]
    """

    kind: str
    steps: int | None = None
    end: float = 0.0
    rate: float = 0.5
    warmup: int = 0

    def multiplier(self) -> optax.Schedule:
        """The multiplier of the learning rate at each update count."""
        if self.kind == "cosine":
            schedule = optax.cosine_decay_schedule(1.0, self.steps, alpha=self.end)
        elif self.kind == "exponential":
            schedule = optax.exponential_decay(1.0, self.steps, self.rate)
        else:
            schedule = optax.warmup_cosine_decay_schedule(
                0.0, 1.0, self.warmup, self.steps, self.end
            )
        # The count is an int32: as a float of JAX's default width (float64 under x64),
        # so that a float64 run's rate is not rounded to float32.
        return lambda count: schedule(jnp.asarray(count, float))

    def over(self, updates: int) -> "Schedule":
        """The schedule with ``steps`` set to a run's ``updates`` where it was None.

        Example:
            >>> Schedule("cosine").over(300).steps, Schedule("cosine", 50).over(300).steps
            (300, 50)
        """
        return self if self.steps is not None else self._replace(steps=max(int(updates), 1))

    def check(self) -> "Schedule":
        """The schedule itself, once its fields make sense; else a ValueError naming one."""
        if self.kind not in SCHEDULES:
            raise ValueError(f"schedule: unknown kind {self.kind!r}; known: {', '.join(SCHEDULES)}")
        steps = whole_number("schedule: steps", self.steps, 1)
        if not 0 <= self.end <= 1:
            raise ValueError(f"schedule: end must be from 0 to 1, got {self.end!r}")
        if not 0 < self.rate <= 1:
            raise ValueError(f"schedule: rate must be above 0 and at most 1, got {self.rate!r}")
        if not 0 <= self.warmup < steps:
            raise ValueError(
                f"schedule: warmup must be from 0 to steps - 1 ({steps - 1}), got {self.warmup!r}"
            )
        return self


SCHEDULES = ("cosine", "exponential", "warmup-cosine")


# What ``steepest.compare`` runs by default, one optimizer of each kind (here, so that the
# command line's help can name them without importing the comparison).
COMPARED = ("gd", "momentum", "nesterov", "adam", "lbfgs")


def names() -> list[str]:
    """The registered optimizer names, in registry order."""
    return list(REGISTRY)


@functools.cache
def get(name: str, schedule: Schedule | None = None) -> optax.GradientTransformation:
    """The named optimizer, its learning rate a hyperparameter held in its state, times
    the ``schedule``'s multiplier at each update when one is given.

    The same object is returned for the same name and schedule, so the compiled loop
    built for it is reused. Set the learning rate with ``with_learning_rate``.

    Raises:
        ValueError: for a name not in the registry (the message lists them).

    Example:
        >>> import jax.numpy as jnp
        >>> opt = get("gd")
        >>> state = with_learning_rate(opt.init(jnp.zeros(2)), 0.5)
        >>> updates, _ = opt.update(jnp.array([1.0, 2.0]), state)
        >>> updates.tolist()
        [-0.5, -1.0]
    """
    if name not in REGISTRY:
        raise ValueError(f"unknown optimizer {name!r}; known: {', '.join(REGISTRY)}")
    make = unscheduled = REGISTRY[name]
    if schedule is not None:
        multiplier = schedule.check().multiplier()

        # learning_rate alone in the signature: inject_hyperparams takes each argument
        # for a hyperparameter.
        def make(learning_rate):
            return optax.chain(unscheduled(learning_rate), optax.scale_by_schedule(multiplier))

    # The placeholder learning rate is replaced in the state by with_learning_rate.
    return optax.inject_hyperparams(make)(learning_rate=1.0)


def with_learning_rate(state: optax.InjectHyperparamsState, learning_rate) -> optax.OptState:
    """A copy of an ``inject_hyperparams`` state with its learning rate replaced (a number
    rounded to the state's dtype on the host: no compiled operation)."""
    old = state.hyperparams["learning_rate"]
    if isinstance(learning_rate, numbers.Real):
        learning_rate = np.asarray(learning_rate, old.dtype)
    hyperparams = {**state.hyperparams, "learning_rate": jnp.asarray(learning_rate, old.dtype)}
    return state._replace(hyperparams=hyperparams)
