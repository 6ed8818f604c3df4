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
    """

    ok: bool
    compared: str
    largest_error: float
    tolerance: float
    diagnosis: str | None

    @property
    def headline(self) -> str:
        verdict = "rule check passed" if self.ok else "rule check failed"
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
    scale = max(float(np.max(np.abs(differences), initial=0.0)), 1e-300)
    references = [("central differences of f", differences, FD_RTOL * scale)]
    if autodiff is not None:
        references.insert(0, ("autodiff of f with its rule stripped (f.fun)", autodiff,
                              AUTODIFF_RTOL * scale))  # fmt: skip
    compared = " and ".join(name for name, _, _ in references)
    if not np.all(np.isfinite(rule)):
        o, i = np.argwhere(~np.isfinite(rule))[0]
        said = (
            f"the rule's derivative of {output_names[o]} with respect to {input_names[i]} is "
            f"{rule[o, i]}, where central differences give {differences[o, i]:.6g}: the rule "
            "overflows (a max-shift left out?)"
        )
        return RuleReport(False, compared, math.inf, references[0][2], said)
    largest, tolerance, diagnosis = 0.0, references[0][2], None
    for name, reference, allowed in references:
        gap = float(np.max(np.abs(rule - reference), initial=0.0))
        if gap > allowed and diagnosis is None:
            largest, tolerance = gap, allowed
            diagnosis = _describe(rule, reference, allowed, name, output_names, input_names)
        elif diagnosis is None:
            largest, tolerance = max(largest, gap), allowed
    if diagnosis is None and modes is not None:
        diagnosis = modes
    return RuleReport(diagnosis is None, compared, largest, tolerance, diagnosis)


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


def _describe(rule, reference, allowed, name, output_names, input_names) -> str:
    factor = common_factor([rule], [reference], allowed, near_one=1e-6)
    if factor is not None:
        if abs(factor + 1) <= 1e-6:
            return (
                "the rule's derivatives have the wrong sign: they are -1 times those of "
                "the function"
            )
        named = name_factor(factor, None)
        return f"the rule's derivatives are off by a factor of {named} ({name})"
    wrong = np.abs(rule - reference) > allowed
    outputs = sorted({output_names[o] for o, _ in np.argwhere(wrong)})
    o, i = np.unravel_index(int(np.argmax(np.abs(rule - reference))), rule.shape)
    where = f"in {len(outputs)} of {len(output_names)} outputs" if len(outputs) > 1 else ""
    return (
        f"the rule's derivative of {output_names[o]} with respect to {input_names[i]} is "
        f"{rule[o, i]:.6g}, where {name} give {reference[o, i]:.6g}"
        + (f" (wrong {where})" if where else "")
    )
