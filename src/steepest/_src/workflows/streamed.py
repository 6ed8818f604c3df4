"""``linear(..., stream=True)``: the file read a chunk of rows at a time (``fit_stream``),
the features standardized by a streamed pass, the answer in original units, certified
as in memory (the float64 Hessian and gradient summed over the chunks); no closed form
yet."""

import os

import numpy as np

from ..fit import budget_of, cuts_epochs, scheduled
from ..io.dataset import DataError, check_spread
from ..io.remote import RemotePath
from ..io.standardizer import Standardizer
from ..io.stream import stream
from ..losses import mse
from ..model import Linear
from ..processes import Processes
from ..progress import ProgressBar
from ..streamed import ChunkPlacement, fit_stream
from .report import LinearFit, learning_rate_source, optimizer_name, original_bounds


def linear_streamed(
    data, y, *, x, intercept, standardize, optimizer, learning_rate, max_steps, tol, rtol,
    method, x64, devices, batch_size, epochs, seed, schedule, progress, processes,
):  # fmt: skip
    """``linear``'s report for a ``.npy`` or ``.parquet`` file streamed by ``fit_stream``."""
    if not isinstance(data, str | os.PathLike | RemotePath):
        raise DataError("--stream needs --data FILE.npy or FILE.parquet")
    unsupported = [flag for flag, given in (
        ("--no-intercept", not intercept), ("--method quadratic", method != "loop"),
        ("--optimizer lbfgs", optimizer == "lbfgs"),
        ("--devices with --batch-size", devices is not None and batch_size is not None),
    ) if given]  # fmt: skip
    if unsupported:
        raise DataError(f"--stream does not take {', '.join(unsupported)} yet")
    try:  # the devices checked before the file is read, named as the flag is
        placement = ChunkPlacement.of(devices)
    except DataError as error:
        raise DataError(f"--devices {devices}: {error}") from None
    dtype = np.float64 if x64 else np.float32
    chunks = stream(data, y=y, x=x, dtype=dtype)
    if processes.many:  # each process streams its own range of rows
        chunks = chunks.part(part_of(chunks.rows, processes))
    chunks = chunks.decoded()  # a Parquet file: decoded once, for every pass after
    decoded = chunks
    try:
        columns = list(chunks.x_columns)
        if standardize:
            standardizer = Standardizer.of_stream(chunks, processes)
            check_spread(
                chunks.x_names,
                standardizer.scale,
                chunks.source,
                "has a standard deviation of only",
            )
            chunks = standardizer.applied_to(chunks)
        else:
            standardizer = Standardizer.identity(len(columns))
        source = learning_rate_source(optimizer, learning_rate, len(columns))
        budget = budget_of(max_steps, batch_size, epochs)
        per_epoch = (  # each update a share of each process's chunk
            chunks.updates_per_epoch(batch_size // processes.count)
            if cuts_epochs(batch_size)
            else None
        )
        schedule = scheduled(schedule, budget, per_epoch)
        with ProgressBar(budget, enabled=progress) as bar:
            result = fit_stream(
                mse, Linear.zeros(len(columns), dtype), chunks, optimizer=optimizer,
                learning_rate=learning_rate, max_steps=max_steps, tol=tol, rtol=rtol,
                on_chunk=bar.update, batch_size=batch_size, epochs=epochs, seed=seed,
                schedule=schedule, across_processes=processes.many, devices=devices,
            )  # fmt: skip
    finally:  # the decoded rows of a Parquet file: read by no one any more
        decoded.discard_decoded()
    fitted = standardizer.to_original(result.params)
    return LinearFit(
        params=fitted,
        bounds=original_bounds(result, standardizer, fitted, intercept=True),
        closed_form=None,
        closed_form_loss=None,
        result=result,
        status=result.status,
        message=result.message,
        learning_rate=result.learning_rate,
        learning_rate_source=source,
        optimizer=optimizer_name(optimizer),
        method=method,
        dtype=np.dtype(dtype).name,
        intercept=True,
        standardized=standardize,
        devices=processes.count * placement.devices,
        processes=processes.count,
        batch_size=batch_size,
        schedule=schedule,
        source=chunks.source,
        rows=chunks.file_rows,
        x_names=chunks.x_names,
        y_name=chunks.y_name,
        streamed={
            "chunks": int(processes.sum(chunks.num_chunks)),  # every process's
            "chunk_rows": max(chunks.chunk_rows_each()),
            "decoded_once": decoded.decoded_rows is not None,
        },
    )


def part_of(rows: int, processes: Processes) -> slice:
    """This process's rows of a file streamed by every process: a contiguous range, the
    ranges in process order and within one row of each other in length.

    Example:
        >>> part_of(10, Processes(index=1, count=3))
        slice(3, 6, None)
    """
    if rows < processes.count:
        raise DataError(f"{rows:,} rows cannot be streamed by {processes.count} processes")
    return slice(rows * processes.index // processes.count,
                 rows * (processes.index + 1) // processes.count)  # fmt: skip
