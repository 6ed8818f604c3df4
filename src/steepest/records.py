"""Results as JSON records: strictly valid JSON, written atomically, with what made them."""

from ._src.io.records import dumps, environment, params_to_dict, write_atomically, write_json

__all__ = ["dumps", "environment", "params_to_dict", "write_atomically", "write_json"]
