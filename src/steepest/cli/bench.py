"""``steepest bench``: time per step, steepest against its peers; tables, a record, a figure.

Exit codes: 0 when every method reached the same params as NumPy (bars met or
not: they are reported, not enforced), 1 when one disagrees, 2 (one line, as
every command) for ``--device gpu`` with no GPU, an unwritable ``--out``, or an
``X.md`` beside ``--out X.json`` that bench did not write (refused before the run);
2 also when the record, its tables or the figure could not be written after the
run (the result is printed anyway).
"""

import os
from pathlib import Path

from rich.console import Console

from .arguments import add_output_arguments, positive_int
from .output import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, Outputs, draw, emit, finish

DEFAULT_RECORD = "results/benchmark.json"


def add_parser(commands) -> None:
    from steepest._src.bench import ROUNDS

    bench = commands.add_parser(
        "bench",
        help="time gradient descent: steepest against NumPy, PyTorch, optimistix, the floor",
        description="Time per step of full-batch gradient descent (float32) on "
        "N=200 d=1, a tall narrow and a wide problem, for steepest and its installed peers, "
        "with one read of X and y as the floor and the speed bars judged. The record "
        f"(default {DEFAULT_RECORD}) gets a Markdown copy of the tables beside it.",
        example="steepest bench --size small --plot bench.png",
    )
    bench.add_argument(
        "--size",
        choices=["all", "small", "scaling"],
        default="all",
        help="small: a quick run on small data; scaling: fit, NumPy, a bare jitted loop "
        "and the floor from N=1e2 to 1e7 at d=1 and 1e3 to 1e6 at d=16, 64 and 256, in "
        "runs of 100 and of up to 10,000 steps (--plot draws the curves)",
    )
    bench.add_argument(
        "--device", choices=["cpu", "gpu"], default="cpu", help="where JAX runs (default cpu)"
    )
    bench.add_argument(
        "--rounds",
        type=positive_int,
        default=ROUNDS,
        help="rounds, each timing every method once in turn; ratios are taken within a "
        "round and reported as their median and spread (default %(default)s)",
    )
    add_output_arguments(bench, plot="write the time per step of every method, side by side")
    bench.set_defaults(run=run, out=DEFAULT_RECORD)


def run(args, argv=None) -> int:
    from steepest._src.bench.report import run as run_bench

    markdown, device = markdown_path(args.out), _device(args.device)
    console = Console(stderr=args.json)  # with --json, stdout is the record alone
    with console.status("") as status:
        report = run_bench(args.size, device, args.rounds, status.update)
    console.print(report)
    outputs = Outputs()
    emit(args, report, argv, outputs)
    outputs.attempt("the tables", markdown, lambda: _write_text(markdown, report.markdown()))
    draw(args, lambda plots: _figure(plots, report, args.size, device.device_kind), outputs)
    if report.record["interrupted"]:
        kept = f"{len(report.problems)} problem(s) measured, the rest not; those are reported"
        return finish(EXIT_INTERRUPTED, outputs, kept=kept)
    return finish(EXIT_OK if report.agree else EXIT_FAILED, outputs)


def _device(name: str):
    """The first JAX device of the platform ``--device`` names."""
    import jax

    try:
        return jax.devices(name)[0]
    except RuntimeError:
        platforms = sorted({device.platform for device in jax.devices()})
        raise ValueError(f"--device {name}: JAX sees no such device, only {platforms}") from None


def _write_text(path: Path, text: str) -> None:
    from steepest import records

    records.write_atomically(path, lambda temporary: temporary.write_text(text))


def _figure(plots, report, size: str, device_kind: str):
    if size == "scaling":
        title = f"time per step against N, float32, {device_kind}"
        return plots.scaling_curves(report.curves(), title=title)
    return plots.bench_times(report.times(), title=f"time per step, float32, {device_kind}")


def markdown_path(out: str) -> Path:
    """``X.md`` beside the record ``X.json``: where bench writes its tables (the folder
    made and checked for writing first).

    Refused (a ``ValueError``, exit 2 before anything runs) when a file of that name
    exists that bench did not write: a user's notes are never overwritten.
    """
    from steepest._src.bench.report import written_by_bench

    folder = Path(out).parent
    folder.mkdir(parents=True, exist_ok=True)  # unwritable: an OSError now, not after
    if not os.access(folder, os.W_OK):
        raise ValueError(f"--out {out}: cannot write to {folder}")
    markdown = Path(out).with_suffix(".md")
    if markdown.is_dir():
        raise ValueError(f"--out {out}: bench writes its tables to {markdown}, a folder")
    if markdown.exists() and not written_by_bench(markdown):
        raise ValueError(
            f"--out {out}: bench writes its tables to {markdown}, which exists and was not "
            "written by bench; move it or choose another --out"
        )
    return markdown
