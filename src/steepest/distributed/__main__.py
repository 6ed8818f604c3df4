"""``python -m steepest.distributed``: one process of a fit over several (the command
line's ``steepest.cli.distributed``)."""

from steepest.cli.distributed import console

console()
