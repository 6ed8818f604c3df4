"""Many processes: ``python -m steepest.distributed [--coordinator HOST:PORT]
[--num-processes K] [--process-id I] fit ...`` runs one process of a fit over several,
each reading its own rows (``steepest launch --processes K -- fit ...`` starts them all
on this machine). ``join`` joins a process of your own program to the others."""

from .cli.distributed import join, main

__all__ = ["join", "main"]

if __name__ == "__main__":
    from .cli.distributed import console

    console()
