"""Reading compiled HLO: which instructions of a step read X, that is, how many passes over it."""

import re

import jax
import jax.numpy as jnp

from .. import blocks
from ..losses import mse
from ..model import Linear

DEFINITION_LINE = re.compile(r"^\s*(?:ROOT )?%([\w.\-]+) = (\S+?)(?:\{[\d,]*\})? ([\w\-]+)\((.*)$")
# Instructions that pass an array on without reading its elements.
PASS_THROUGH = {"bitcast", "tuple", "get-tuple-element", "parameter", "while", "call"}


def reads_of(hlo_text: str, shapes: set[str]) -> list[str]:
    """The instructions of compiled HLO that read an array of one of ``shapes`` (e.g.
    ``"f32[1000000,64]"``): each is a pass over it, in whole or in blocks.

    Example:
        >>> step = jax.jit(lambda X, w: X.T @ (X @ w))
        >>> text = step.lower(jnp.zeros((1000, 8)), jnp.zeros(8)).compile().as_text()
        >>> len(reads_of(text, {"f32[1000,8]"}))  # X @ w, then X.T @ r: two passes
        2
    """
    fused = set(re.findall(r"calls=%([\w.\-]+)", hlo_text))  # counted once, as the fusion
    shape_of, instructions, computation = {}, [], None
    for line in hlo_text.splitlines():
        header = re.match(r"^(?:ENTRY )?%([\w.\-]+) \(.*\{$", line)
        if header:
            computation = header.group(1)
        elif match := DEFINITION_LINE.match(line):
            name, shape, opcode, rest = match.groups()
            shape_of[name] = shape
            if computation not in fused and opcode not in PASS_THROUGH:
                instructions.append((name, opcode, re.findall(r"%([\w.\-]+)", rest)))
    return [
        f"{opcode} {name}"
        for name, opcode, operands in instructions
        if any(shape_of.get(operand) in shapes for operand in operands)
    ]


def passes_over_X(rows: int, features: int, block_rows: int | None) -> list[str]:
    """The instructions that read X in one compiled cost-and-gradient step of ``mse``
    (float32, on JAX's default device), in blocks of ``block_rows`` rows or in one pass.

    Inside the loop over blocks an instruction reads one block per trip: with blocks,
    each instruction is one pass over X in all.

    Example:
        >>> [read.split()[0] for read in passes_over_X(10_000, 64, None)]  # X @ w; X.T @ r
        ['dot', 'dot']
    """
    X = jax.ShapeDtypeStruct((rows, features), jnp.float32)
    y = jax.ShapeDtypeStruct((rows,), jnp.float32)
    step = jax.jit(blocks.value_and_grad(mse, block_rows))
    text = step.lower(Linear.zeros(features), X, y).compile().as_text()
    if text is None:  # the backend gives no text of what it compiled
        raise RuntimeError("passes_over_X: no HLO text of the compiled step on this backend")
    return reads_of(text, {f"f32[{rows},{features}]"})
