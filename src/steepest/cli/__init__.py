"""The command line: ``steepest fit | check | compare | sweep | plot-surface | bench``.

``main`` dispatches, ``options`` holds what the commands share, and each command
is a module of its own with ``add_parser`` and ``run``. Nothing outside this
package parses arguments or prints.
"""

from .main import build_parser, console, main

__all__ = ["build_parser", "console", "main"]
