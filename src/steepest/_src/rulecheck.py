"""Checking a custom differentiation rule (``jax.custom_jvp``, ``jax.custom_vjp``), and the
consistency of any function's forward and reverse derivatives.

``check_rule(f, *primals)`` forms the Jacobian that ``f``'s rule gives (reverse mode,
``jax.jacrev``: a ``custom_vjp`` rule has no forward mode), and compares it, in float64,
with central differences of ``f`` itself and, where the rule can be stripped (``f.fun``:
the function the rule was attached to), with autodiff of that function. Where they part,
it names the output and the input, and what the difference is: the sign, a factor, a
value that is not finite. For any function it also checks that forward and reverse mode
agree, ``<u, J v>`` both ways, where both modes exist.
"""

import dataclasses
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from .diagnose import name_factor
from .gradcheck import NOT_TRACEABLE, upcast
from .hesscheck import CheckReport, central_differences, common_factor


@dataclasses.dataclass(frozen=True)
class RuleReport(CheckReport):
    """What ``check_rule`` found.

    Attributes:
        ok: the rule's Jacobian agrees with every reference at hand.
        compared: what the rule was compared with, in words.
        largest_error: the largest difference of a Jacobian entry from the reference.
        tolerance: the largest difference allowed.
        diagnosis: what is wrong, in one sentence, or None when ok.
        checked: what was checked: ``"rule"``, ``"JVP"`` or ``"VJP"``.
    """

    ok: bool
    compared: str
    largest_error: float
    tolerance: float
    diagnosis: str | None
    checked: str = "rule"

    @property
    def headline(self) -> str:
        verdict = f"{self.checked} check {'passed' if self.ok else 'failed'}"
        return (
            f"{verdict}: compared with {self.compared}; largest difference "
            f"{self.largest_error:.3g} (tolerance {self.tolerance:.3g})"
        )


# Central differences of a smooth function, step eps^(1/3): about eps^(2/3) = 4e-11 of
# the derivative's size; allowed 1e-6, so that a wrong rule is told from their error.
FD_RTOL = 1e-6
# The rule against autodiff of the function it was attached to: both exact to rounding.
AUTODIFF_RTOL = 1e-9


def check_rule(f: Callable, *primals, seed: int = 0) -> RuleReport:
    """Check the derivatives of ``f(*primals)`` (any arrays in, any arrays out) that its
    custom rule gives, against central differences and against autodiff of the function
    the rule was attached to (``f.fun``, where ``f`` is a ``jax.custom_jvp`` or
    ``jax.custom_vjp``), in float64; and, where ``f`` has both, forward mode against
    reverse mode.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> @jax.custom_vjp
        ... def logsumexp(x):
        ...     return jnp.max(x) + jnp.log(jnp.sum(jnp.exp(x - jnp.max(x))))
        >>> logsumexp.defvjp(lambda x: (logsumexp(x), x),
        ...                  lambda x, g: (-g * jax.nn.softmax(x),))  # the sign is wrong
        >>> print(check_rule(logsumexp, jnp.array([1.0, 2.0, 3.0])).diagnosis)
        the rule's derivatives have the wrong sign: they are -1 times those of the function
    """
    with jax.enable_x64(True):
        inputs = jax.tree.map(lambda leaf: jnp.asarray(leaf, jnp.float64), primals)
        flat, unravel = ravel_pytree(inputs)
        input_names = _names(inputs, "input")
        output_names = _names(f(*inputs), "output")

        def flat_f(function):
            return lambda vector: ravel_pytree(function(*unravel(vector)))[0]

        rule = np.asarray(jax.jacrev(flat_f(f))(flat))
        differences = central_differences(flat_f(f), np.asarray(flat))
        stripped = getattr(f, "fun", None)
        autodiff = np.asarray(jax.jacrev(flat_f(stripped))(flat)) if stripped else None
        modes = _modes_disagree(flat_f(f), flat, seed)
    return _judge(
        rule, differences, autodiff, output_names, input_names, "the rule",
        "autodiff of f with its rule stripped (f.fun)", modes,
    )  # fmt: skip


def check_jvp(f: Callable, jvp: Callable, params, *data) -> RuleReport:
    """Check a hand-derived Jacobian-vector product of ``f(params, *data)`` (any arrays
    out): ``jvp(params, tangent, *data)``, with ``tangent`` a pytree like ``params``,
    returns ``J tangent``, a pytree like ``f``'s output. Its Jacobian, one basis tangent
    at a time, is compared in float64 with ``jax.jacfwd`` of ``f`` (where JAX can
    differentiate it) and with central differences; the report names the output and the
    param where they part, the sign or the factor.

    Example:
        >>> import jax.numpy as jnp
        >>> f = lambda p, x: jnp.sin(p * x)
        >>> right = lambda p, t, x: jnp.cos(p * x) * x * t
        >>> check_jvp(f, right, jnp.array([0.5, 1.0]), jnp.array([2.0, 3.0])).ok
        True
        >>> wrong = lambda p, t, x: jnp.cos(p * x) * t  # the chain rule's x left out
        >>> print(check_jvp(f, wrong, jnp.array([0.5, 1.0]), jnp.array([2.0, 3.0])).diagnosis)
        ... # doctest: +NORMALIZE_WHITESPACE
        the hand JVP's derivative of output[1] with respect to params[1] is -0.989992,
        not -2.96998 (autodiff of f) (wrong in 2 of 2 outputs)
    """
    with jax.enable_x64(True):
        flat, unravel, function, outputs, data64 = _flattened(f, params, data)
        size = ravel_pytree(outputs)[0].size
        columns = []
        for tangent in np.eye(flat.size):
            product = jvp(unravel(flat), unravel(jnp.asarray(tangent)), *data64)
            columns.append(_flat_like(product, size, "the hand JVP", "f's output"))
        rule = np.stack(columns, axis=1).reshape(size, flat.size)
    return _compare_hand(rule, function, flat, params, outputs, "the hand JVP", jax.jacfwd)


def check_vjp(f: Callable, vjp: Callable, params, *data) -> RuleReport:
    """Check a hand-derived vector-Jacobian product of ``f(params, *data)`` (any arrays
    out): ``vjp(params, cotangent, *data)``, with ``cotangent`` a pytree like ``f``'s
    output, returns ``J^T cotangent``, a pytree like ``params``. Its Jacobian, one basis
    cotangent at a time, is compared in float64 with ``jax.jacrev`` of ``f`` (where JAX
    can differentiate it) and with central differences, as ``check_jvp`` does.

    Example:
        >>> import jax.numpy as jnp
        >>> f = lambda p, x: jnp.sin(p * x)
        >>> right = lambda p, u, x: jnp.cos(p * x) * x * u
        >>> check_vjp(f, right, jnp.array([0.5, 1.0]), jnp.array([2.0, 3.0])).ok
        True
    """
    with jax.enable_x64(True):
        flat, unravel, function, outputs, data64 = _flattened(f, params, data)
        raveled, unravel_output = ravel_pytree(outputs)
        rows = []
        for cotangent in np.eye(raveled.size):
            product = vjp(unravel(flat), unravel_output(jnp.asarray(cotangent)), *data64)
            rows.append(_flat_like(product, flat.size, "the hand VJP", "params"))
        rule = np.stack(rows, axis=0).reshape(raveled.size, flat.size)
    return _compare_hand(rule, function, flat, params, outputs, "the hand VJP", jax.jacrev)


def _flattened(f: Callable, params, data):
    """The params in float64 flattened and their unravel; ``f`` of flat params, its
    output flattened; ``f``'s output at params (a pytree); the data in float64."""
    params64, data64 = upcast(params), upcast(data)
    flat, unravel = ravel_pytree(params64)

    def output(vector):
        return jax.tree.map(jnp.asarray, f(unravel(vector), *data64))

    def function(vector):
        return ravel_pytree(output(vector))[0]

    return flat, unravel, function, output(flat), data64


def _flat_like(product, size: int, what: str, expected: str) -> np.ndarray:
    """``product`` (a pytree) flattened; a ValueError when it holds not ``size`` numbers."""
    flat = np.concatenate(
        [np.ravel(np.asarray(leaf, np.float64)) for leaf in jax.tree.leaves(product)]
        or [np.zeros(0)]
    )
    if flat.size != size:
        raise ValueError(
            f"{what} returns {flat.size} numbers, but {expected} has {size}: it should "
            f"return a pytree like {expected}"
        )
    return flat


def _compare_hand(rule, function, flat, params, outputs, what: str, mode) -> RuleReport:
    """A hand product's Jacobian ``rule`` against autodiff of ``function`` (``mode``:
    ``jax.jacfwd`` or ``jax.jacrev``; skipped where JAX cannot differentiate it) and
    central differences."""
    with jax.enable_x64(True):
        differences = central_differences(function, np.asarray(flat))
        try:
            autodiff = np.asarray(mode(function)(flat))
        except NOT_TRACEABLE:  # f written in NumPy: central differences alone
            autodiff = None
    return _judge(
        rule, differences, autodiff, _names(outputs, "output"), _names(params, "params"),
        what, "autodiff of f", None, what.split()[-1],
    )  # fmt: skip


def _judge(
    rule, differences, autodiff, output_names, input_names, what, autodiff_label, modes,
    checked="rule",
):  # fmt: skip
    """The report: ``rule`` (a Jacobian, outputs by inputs) against autodiff's (where
    there is one: ``autodiff_label`` names it) and central differences, with the first
    difference named (``what`` names the rule); ``modes`` a disagreement of forward and
    reverse mode already found; ``checked`` what the headline calls the check."""
    scale = max(float(np.max(np.abs(differences), initial=0.0)), 1e-300)
    references = [("central differences of f", differences, FD_RTOL * scale)]
    if autodiff is not None:
        references.insert(0, (autodiff_label, autodiff, AUTODIFF_RTOL * scale))
    compared = " and ".join(name for name, _, _ in references)
    if not np.all(np.isfinite(rule)):
        o, i = np.argwhere(~np.isfinite(rule))[0]
        said = (
            f"{what}'s derivative of {output_names[o]} with respect to {input_names[i]} is "
            f"{rule[o, i]}, where central differences give {differences[o, i]:.6g}: "
            f"{what} overflows (a max-shift left out?)"
        )
        return RuleReport(False, compared, math.inf, references[0][2], said, checked)
    largest, tolerance, diagnosis = 0.0, references[0][2], None
    for name, reference, allowed in references:
        gap = float(np.max(np.abs(rule - reference), initial=0.0))
        if gap > allowed and diagnosis is None:
            largest, tolerance = gap, allowed
            diagnosis = _describe(rule, reference, allowed, name, output_names, input_names, what)
        elif diagnosis is None:
            largest, tolerance = max(largest, gap), allowed
    if diagnosis is None and modes is not None:
        diagnosis = modes
    return RuleReport(diagnosis is None, compared, largest, tolerance, diagnosis, checked)


def _names(tree, kind: str) -> list[str]:
    """Each flat entry's name: ``input 0[2]`` for entry 2 of the first argument."""
    names = []
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        where = jax.tree_util.keystr(path)
        label = f"{kind}{where}" if where else kind
        shape = np.shape(leaf)
        names += [label] if not shape else [f"{label}{list(i)}" for i in np.ndindex(shape)]
    return names


def _modes_disagree(function, point, seed: int) -> str | None:
    """``<u, J v>`` by forward mode against ``<J^T u, v>`` by reverse mode, for random
    ``u`` and ``v``: a sentence when they differ; None when they agree or when ``f`` has
    no forward mode (a ``custom_vjp`` rule)."""
    rng = np.random.default_rng(seed)
    v = jnp.asarray(rng.normal(size=point.shape))
    try:
        output, forward = jax.jvp(function, (point,), (v,))
    except (TypeError, NotImplementedError):  # custom_vjp: reverse mode only
        return None
    u = jnp.asarray(rng.normal(size=np.shape(output)))
    (backward,) = jax.vjp(function, point)[1](u)
    one, other = float(jnp.dot(u, forward)), float(jnp.dot(backward, v))
    if abs(one - other) <= 1e-9 * max(abs(one), abs(other), 1e-300):
        return None
    return (
        f"forward and reverse mode disagree: <u, J v> is {one:.6g} by the JVP rule and "
        f"{other:.6g} by the VJP (the transposed rule is not that rule's transpose)"
    )


def _describe(rule, reference, allowed, name, output_names, input_names, what) -> str:
    factor = common_factor([rule], [reference], allowed, near_one=1e-6)
    if factor is not None:
        if abs(factor + 1) <= 1e-6:
            return (
                f"{what}'s derivatives have the wrong sign: they are -1 times those of the function"
            )
        named = name_factor(factor, None)
        return f"{what}'s derivatives are off by a factor of {named} ({name})"
    wrong = np.abs(rule - reference) > allowed
    outputs = sorted({output_names[o] for o, _ in np.argwhere(wrong)})
    o, i = np.unravel_index(int(np.argmax(np.abs(rule - reference))), rule.shape)
    where = f"in {len(outputs)} of {len(output_names)} outputs" if len(outputs) > 1 else ""
    return (
        f"{what}'s derivative of {output_names[o]} with respect to {input_names[i]} is "
        f"{rule[o, i]:.6g}, not {reference[o, i]:.6g} ({name})"
        + (f" (wrong {where})" if where else "")
    )
