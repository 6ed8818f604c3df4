"""Results as JSON records: strictly valid JSON, written atomically, with what made them.

Every result (``LinearFit``, ``FitResult``, ``SweepResult``, ``GradientReport``) is
accepted where a record is: ``dumps(fit)``, ``write("run.json", fit, config=...)``.
"""

from ._src.io.records import (
    as_record,
    dumps,
    environment,
    params_to_dict,
    write,
    write_atomically,
    write_json,
)

__all__ = [
    "as_record",
    "dumps",
    "environment",
    "params_to_dict",
    "write",
    "write_atomically",
    "write_json",
]
