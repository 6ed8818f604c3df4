"""Workflows: a whole problem as one call (``linear``), returning a report."""
