"""Many processes: ``join`` joins a process of your own program to the others of a run
(``jax.distributed``), then ``steepest.shard`` of each process's own rows
(``steepest.data.process_rows``) and ``fit``; ``shutdown`` leaves together.

On the command line, ``python -m steepest.distributed [--coordinator HOST:PORT]
[--num-processes K] [--process-id I] fit ...`` runs one process of a fit over several
(``steepest launch --processes K -- fit ...`` starts them all on this machine).
"""

from .._src.distributed import JOIN_SECONDS, JoinError, agree, join, shutdown

__all__ = ["JOIN_SECONDS", "JoinError", "agree", "join", "shutdown"]
