"""The command line: ``steepest fit | check | compare | sweep | plot-surface | bench``.

``main`` dispatches, ``arguments`` and ``output`` hold what the commands share (the
parsing, and what becomes of a result), and each command is a module of its own with
``add_parser`` and ``run``: parse, one call into the library, render. Nothing outside
this package parses arguments or prints, and nothing outside it imports it.
"""

from .main import build_parser, console, main

__all__ = ["build_parser", "console", "main"]
