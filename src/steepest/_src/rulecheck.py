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
from .gradcheck import runs_without_jax, upcast
from .hesscheck import (
    CheckReport,
    central_differences_with_error,
    common_factor,
    nearby_points,
)


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
# Each entry is held to its own size plus this share of the Jacobian's largest entry (the
# rounding of the sums it comes from): a small entry is checked, not swamped.
SHARE = 1e-4


def check_rule(f: Callable, *primals, seed: int = 0) -> RuleReport:
    """Check the derivatives of ``f(*primals)`` (any arrays in, any arrays out) that its
    custom rule gives, against central differences and against autodiff of the function
    the rule was attached to (``f.fun``, where ``f`` is a ``jax.custom_jvp`` or
    ``jax.custom_vjp``), in float64; and, where ``f`` has both, forward mode against
    reverse mode.

    Entry ``(o, i)`` of the rule's Jacobian ``R`` passes against a reference ``J`` when
    ``|R_oi - J_oi| <= rtol (|J_oi| + 1e-4 max|J|)``, plus, against central differences,
    the bound on their error (``central_differences_with_error``: their truncation and
    their rounding); ``rtol`` is 1e-9 against autodiff and 1e-6 against central
    differences.

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
        differences = central_differences_with_error(flat_f(f), np.asarray(flat))
        stripped = getattr(f, "fun", None)
        autodiff = np.asarray(jax.jacrev(flat_f(stripped))(flat)) if stripped else None
        modes = _modes_disagree(flat_f(f), flat, seed)
    references = _references(differences, autodiff, "autodiff of f with its rule stripped (f.fun)")
    return _judge(rule, references, output_names, input_names, "the rule", modes)


def check_jvp(
    f: Callable, jvp: Callable, params, *data, num_points: int = 3, seed: int = 0
) -> RuleReport:
    """Check a hand-derived Jacobian-vector product of ``f(params, *data)`` (any arrays
    out): ``jvp(params, tangent, *data)``, with ``tangent`` a pytree like ``params``,
    returns ``J tangent``, a pytree like ``f``'s output. Its Jacobian, one basis tangent
    at a time, at ``params`` and ``num_points - 1`` points around them (from ``seed``), is
    compared in float64 with ``jax.jacfwd`` of ``f`` (where JAX can differentiate it: a
    NumPy ``f`` is held to central differences alone) and with central differences, entry
    by entry as ``check_rule`` does; the report names the output and the param where
    they part, the sign or the factor.

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
        not -2.96998 (autodiff of f) (wrong in 6 of the 6 outputs checked)
    """

    def jacobian(unravel, point, outputs, data64):
        basis = np.eye(point.size)
        columns = [
            _flat_like(jvp(unravel(point), unravel(jnp.asarray(e)), *data64), outputs, "JVP")
            for e in basis
        ]
        return np.stack(columns, axis=1).reshape(-1, point.size)

    return _check_product(f, jacobian, params, data, "JVP", jax.jacfwd, num_points, seed)


def check_vjp(
    f: Callable, vjp: Callable, params, *data, num_points: int = 3, seed: int = 0
) -> RuleReport:
    """Check a hand-derived vector-Jacobian product of ``f(params, *data)`` (any arrays
    out): ``vjp(params, cotangent, *data)``, with ``cotangent`` a pytree like ``f``'s
    output, returns ``J^T cotangent``, a pytree like ``params``. Its Jacobian, one basis
    cotangent at a time, is compared in float64 with ``jax.jacrev`` of ``f`` and with
    central differences at ``num_points`` points, as ``check_jvp`` does.

    Example:
        >>> import jax.numpy as jnp
        >>> f = lambda p, x: jnp.sin(p * x)
        >>> right = lambda p, u, x: jnp.cos(p * x) * x * u
        >>> check_vjp(f, right, jnp.array([0.5, 1.0]), jnp.array([2.0, 3.0])).ok
        True
    """

    def jacobian(unravel, point, outputs, data64):
        raveled, unravel_output = ravel_pytree(outputs)
        rows = [
            _flat_like(
                vjp(unravel(point), unravel_output(jnp.asarray(e)), *data64),
                unravel(point),
                "VJP",
            )
            for e in np.eye(raveled.size)
        ]
        return np.stack(rows, axis=0).reshape(raveled.size, -1)

    return _check_product(f, jacobian, params, data, "VJP", jax.jacrev, num_points, seed)


class _Unfit(ValueError):
    """A hand product that returns no Jacobian to compare: its sentence is the diagnosis."""


def _check_product(f, jacobian, params, data, kind: str, mode, num_points, seed) -> RuleReport:
    """A hand product's Jacobians (``jacobian(unravel, point, outputs, data)``) at the
    params and points around them, stacked, against autodiff of ``f`` by ``mode``
    (skipped for an ``f`` written in NumPy) and central differences."""
    with jax.enable_x64(True):
        params64, data64 = upcast(params), upcast(data)
        flat, unravel = ravel_pytree(params64)
    if not flat.size:
        raise ValueError("params hold no numbers: there is nothing to differentiate")

    def output(vector):
        return jax.tree.map(jnp.asarray, f(unravel(vector), *data64))

    def function(vector):
        return ravel_pytree(output(vector))[0]

    rules, differences, errors, autodiffs, output_names = [], [], [], [], []
    with jax.enable_x64(True):
        numpy_only = False
        for k, point in enumerate(nearby_points(np.asarray(flat), num_points, seed)):
            here = jnp.asarray(point)
            outputs = output(here)
            try:
                rules.append(jacobian(unravel, here, outputs, data64))
            except _Unfit as unfit:
                return RuleReport(False, "nothing", math.nan, math.nan, str(unfit), kind)
            found, error = central_differences_with_error(function, point)
            differences.append(found)
            errors.append(error)
            if not numpy_only:
                try:
                    autodiffs.append(np.asarray(mode(function)(here)))
                except Exception:
                    # An f written in NumPy: central differences alone. A JAX f that JAX
                    # cannot differentiate is an error to fix.
                    if not runs_without_jax(f, unravel(here), *data64):
                        raise
                    numpy_only = True
            where = "" if k == 0 else f" at point {k} (near params)"
            output_names += [f"{name}{where}" for name in _names(outputs, "output")]
    autodiff = np.concatenate(autodiffs) if autodiffs else None
    stacked = (np.concatenate(differences), np.concatenate(errors))
    references = _references(stacked, autodiff, "autodiff of f")
    return _judge(
        np.concatenate(rules), references, output_names, _names(params64, "params"),
        f"the hand {kind}", None, kind,
    )  # fmt: skip


def _flat_like(product, like, kind: str) -> np.ndarray:
    """``product`` (a pytree like ``like``) flattened to float64; ``_Unfit`` naming the
    mistake when its structure, size or values (complex) are not those of ``like``."""
    expected = "params" if kind == "VJP" else "f's output"
    structure, wanted = jax.tree.structure(product), jax.tree.structure(like)
    if structure != wanted:  # type: ignore[operator]  # PyTreeDef has no stubs
        raise _Unfit(
            f"the hand {kind} returns a pytree of structure {structure}, but {expected} "
            f"have {wanted}: it returns a pytree like {expected}"
        )
    leaves = [np.asarray(leaf) for leaf in jax.tree.leaves(product)]
    for got, like_leaf in zip(leaves, jax.tree.leaves(like), strict=True):
        if got.size != np.size(like_leaf):
            raise _Unfit(
                f"the hand {kind} returns {got.size} numbers where {expected} have "
                f"{np.size(like_leaf)} (shape {np.shape(got)} for {np.shape(like_leaf)})"
            )
        if np.iscomplexobj(got):
            raise _Unfit(
                f"the hand {kind} returns complex values (imaginary part up to "
                f"{float(np.max(np.abs(got.imag), initial=0.0)):g}): the derivatives of a "
                "real function are real"
            )
    return np.concatenate([np.ravel(leaf).astype(np.float64) for leaf in leaves])


def _references(differences, autodiff, autodiff_label: str) -> list:
    """(name, Jacobian, tolerance of each entry) of each reference: autodiff (where there
    is one) and central differences, ``differences`` their Jacobian and its error bound."""
    found, error = differences
    size = max(float(np.max(np.abs(found), initial=0.0)), 1e-300)
    references = [
        ("central differences of f", found,
         FD_RTOL * (np.abs(found) + SHARE * size) + error),
    ]  # fmt: skip
    if autodiff is not None:
        tolerance = AUTODIFF_RTOL * (np.abs(autodiff) + SHARE * size)
        references.insert(0, (autodiff_label, autodiff, tolerance))
    return references


def _judge(rule, references, output_names, input_names, what, modes, checked="rule"):
    """The report: ``rule`` (a Jacobian, outputs by inputs) against each reference
    ``(name, Jacobian, tolerance of each entry)``, the first difference named (``what``
    names the rule); ``modes`` a disagreement of forward and reverse mode already found;
    ``checked`` what the headline calls the check."""
    compared = " and ".join(name for name, _, _ in references)
    differences = references[-1][1]
    if not np.all(np.isfinite(rule)):
        o, i = np.argwhere(~np.isfinite(rule))[0]
        said = (
            f"{what}'s derivative of {output_names[o]} with respect to {input_names[i]} is "
            f"{rule[o, i]}, where central differences give {differences[o, i]:.6g}: "
            f"{what} overflows (a max-shift left out?)"
        )
        return RuleReport(False, compared, math.inf, float(references[0][2][o, i]), said, checked)
    largest, tolerance, diagnosis, worst = 0.0, 0.0, None, -1.0
    for name, reference, allowed in references:
        gap = np.abs(rule - reference)
        excess = gap / allowed
        index = np.unravel_index(int(np.argmax(excess)), excess.shape) if excess.size else None
        if index is None:
            continue
        if excess[index] > worst:
            largest, tolerance, worst = float(gap[index]), float(allowed[index]), excess[index]
        if excess[index] > 1:
            diagnosis = _describe(rule, reference, allowed, name, output_names, input_names, what)
            largest, tolerance = float(gap[index]), float(allowed[index])
            break
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
    o, i = np.unravel_index(int(np.argmax(np.abs(rule - reference) / allowed)), rule.shape)
    where = (
        f"in {len(outputs)} of the {len(output_names)} outputs checked" if len(outputs) > 1 else ""
    )
    return (
        f"{what}'s derivative of {output_names[o]} with respect to {input_names[i]} is "
        f"{rule[o, i]:.6g}, not {reference[o, i]:.6g} ({name})"
        + (f" (wrong {where})" if where else "")
    )
