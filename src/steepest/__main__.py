"""``python -m steepest``: the same as the ``steepest`` command."""

from steepest.cli import console

console()
