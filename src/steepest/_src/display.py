"""How results show in a notebook and a terminal: small HTML tables and plain data.

Each result type (``FitResult``, ``SweepResult``, ``GradientReport``, ``LinearFit``)
builds its rows; these turn rows into HTML and pytrees into plain JSON-ready data.
"""

import html
from collections.abc import Sequence
from typing import Any

import numpy as np


def html_table(rows: Sequence[Sequence[Any]], *, header: Sequence[str] = (), caption=None) -> str:
    """Rows of cells as an HTML table, every cell escaped.

    Example:
        >>> html_table([["a", 1]], header=["key", "value"])
        '<table><thead><tr><th>key</th><th>value</th></tr></thead><tbody><tr><td>a</td><td>1</td></tr></tbody></table>'
    """
    escape = html.escape
    head = "".join(f"<th>{escape(str(cell))}</th>" for cell in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(cell))}</td>" for cell in row) + "</tr>" for row in rows
    )
    titled = f"<caption style='text-align:left'>{escape(caption)}</caption>" if caption else ""
    return (
        f"<table>{titled}{f'<thead><tr>{head}</tr></thead>' if head else ''}"
        f"<tbody>{body}</tbody></table>"
    )


def preformatted(text: str) -> str:
    """Text shown as it is printed (a fixed-width table), for a notebook."""
    return f"<pre>{html.escape(text)}</pre>"


def plain(tree: Any) -> Any:
    """A pytree as JSON-ready data: a NamedTuple or a dict as a dict of its fields, a
    list or tuple as a list, an array as (nested) lists of Python numbers, None as None.

    Example:
        >>> from steepest import Linear
        >>> plain(Linear(np.array([1.5]), np.float32(2.0)))
        {'w': [1.5], 'b': 2.0}
        >>> plain({"a": (np.zeros(2), None)})
        {'a': [[0.0, 0.0], None]}
    """
    if tree is None or isinstance(tree, str | bool | int | float):
        return tree
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):
        return {field: plain(value) for field, value in zip(tree._fields, tree, strict=True)}
    if isinstance(tree, dict):
        return {str(key): plain(value) for key, value in tree.items()}
    if isinstance(tree, list | tuple):
        return [plain(value) for value in tree]
    return np.asarray(tree).tolist()


def compact(number: float) -> str:
    """Two significant digits, ``3.2e6`` rather than ``3.2e+06``.

    Example:
        >>> compact(3.21e6), compact(1e10), compact(1.732), compact(float("inf"))
        ('3.2e6', '1e10', '1.7', 'inf')
    """
    mantissa, _, exponent = f"{number:.2g}".partition("e")
    return f"{mantissa}e{int(exponent)}" if exponent else mantissa
