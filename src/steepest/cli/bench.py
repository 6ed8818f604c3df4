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
from rich.table import Table

from .options import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    Outputs,
    add_output_arguments,
    draw,
    finish,
    positive_int,
)

NOT_MEASURED = "not measured"
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
        help="small: a quick run on small data; scaling: fit, NumPy and the floor from "
        "N=1e2 to 1e7 at d=1 and 1e3 to 1e6 at d=64, and from N=1e5 a gradient-only step "
        "(--plot draws the curves)",
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
    import jax

    from steepest._src.bench import measure, peers
    from steepest._src.io import records

    from .options import emit

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)  # unwritable: an OSError now, not after
    if not os.access(out.parent, os.W_OK):
        raise ValueError(f"--out {args.out}: cannot write to {out.parent}")
    markdown = markdown_path(args.out)
    try:
        device = jax.devices(args.device)[0]
    except RuntimeError:
        platforms = sorted({d.platform for d in jax.devices()})
        raise ValueError(
            f"--device {args.device}: JAX sees no such device, only {platforms}"
        ) from None
    # With --json, stdout is the record alone: the tables go to stderr.
    console = Console(stderr=args.json)
    measured, interrupted = [], False
    with jax.default_device(device), console.status("") as status:
        for problem in measure.problems(args.size, args.device):
            try:
                measured.append(measure.measure(problem, device, status.update, args.rounds))
            except KeyboardInterrupt:  # the problems measured so far are kept and written
                interrupted = True
                break
    if interrupted and not measured:
        raise KeyboardInterrupt
    for result in measured:
        console.print(_agreement_line(result))
        for name, why in result["skipped"].items():
            console.print(f"  skipped {name}: {why}")
        if result["plan"] is not None:
            console.print(_plan_line(result["plan"]))
    console.print(_table(measured))
    console.print(_bars_table(measured))
    info = records.environment()
    info["versions"] |= peers.versions()
    console.print(
        f"{info['machine']['processor']}, {info['machine']['cpu_count']} CPUs; "
        f"jax {info['versions']['jax']} on {device.device_kind} ({device.platform})"
    )
    record = {
        "size": args.size,
        "device": {"platform": device.platform, "kind": device.device_kind},
        "rounds": args.rounds,
        "problems": measured,
        "interrupted": interrupted,
        **info,
    }
    outputs = Outputs()
    emit(args, record, argv, outputs)
    text = MARKDOWN_MARK + markdown_tables(record)
    outputs.attempt(
        "the tables", markdown,
        lambda: records.write_atomically(markdown, lambda temporary: temporary.write_text(text)),
    )  # fmt: skip
    if args.plot and args.size == "scaling":
        from steepest import plots  # matplotlib only for a run that draws

        title = f"time per step against N, float32, {device.device_kind}"
        curves = scaling_curves(measured)
        draw(args, lambda: plots.scaling_curves(curves, title=title), outputs)
    elif args.plot:
        from steepest import plots  # matplotlib only for a run that draws

        times = {
            result["problem"]: {
                row["method"]: row["seconds_shown"]
                for row in result["rows"]
                if row["method"] != measure.QUADRATIC  # a whole run, not a step
            }
            for result in measured
        }
        title = f"time per step, float32, {device.device_kind}"
        draw(args, lambda: plots.bench_times(times, title=title), outputs)
    agree = all(result["agreement"]["agree"] for result in measured)
    if interrupted:
        kept = f"{len(measured)} problem(s) measured, the rest not; those are reported"
        return finish(EXIT_INTERRUPTED, outputs, kept=kept)
    return finish(EXIT_OK if agree else EXIT_FAILED, outputs)


def scaling_curves(measured: list[dict]) -> dict:
    """features d -> method -> {N: seconds per step}, from a scaling run's problems.

    Example:
        >>> row = {"method": "numpy", "seconds_per_step": 2e-3}
        >>> scaling_curves([{"problem": "N=1e3, d=64", "rows": [row]}])
        {64: {'numpy': {1000: 0.002}}}
    """
    curves: dict = {}
    for result in measured:
        rows_text, features_text = result["problem"].split(", ")
        rows = int(float(rows_text.removeprefix("N=")))
        features = int(features_text.removeprefix("d="))
        for row in result["rows"]:
            curve = curves.setdefault(features, {}).setdefault(row["method"], {})
            curve[rows] = row["seconds_per_step"]
    return curves


MARKDOWN_MARK = "<!-- written by steepest bench, with the record of the same name -->\n"


def markdown_path(out: str) -> Path:
    """``X.md`` beside the record ``X.json``: where bench writes its tables.

    Refused (a ``ValueError``, exit 2 before anything runs) when a file of that name
    exists that bench did not write: a user's notes are never overwritten.
    """
    markdown = Path(out).with_suffix(".md")
    if markdown.is_dir():
        raise ValueError(f"--out {out}: bench writes its tables to {markdown}, a folder")
    if markdown.exists() and not _written_by_bench(markdown):
        raise ValueError(
            f"--out {out}: bench writes its tables to {markdown}, which exists and was not "
            "written by bench; move it or choose another --out"
        )
    return markdown


def _written_by_bench(markdown: Path) -> bool:
    """Whether ``markdown`` is bench's tables: with its mark, or (older runs) their header."""
    try:
        with markdown.open(encoding="utf-8", errors="replace") as file:
            head = [file.readline() for _ in range(3)]
    except OSError:
        return False
    header = "| " + " | ".join(TIME_COLUMNS) + " |\n"
    return head[0] == MARKDOWN_MARK or head[2] == header


def _time(seconds: float) -> str:
    """Three significant digits in a unit that keeps them whole: 0.571 us, 12.3 ms."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale or unit == "us":
            value = seconds / scale
            return f"{value:,.0f} {unit}" if value >= 100 else f"{value:.3g} {unit}"
    raise AssertionError


TIME_COLUMNS = ("problem", "method", "steps", "per step", "vs NumPy", "x floor")
BAR_COLUMNS = ("problem", "bar", "measured", "met")


def _time_cells(result: dict) -> list[tuple[str, ...]]:
    """One problem's rows of the time table, as text cells in ``TIME_COLUMNS`` order."""
    return [
        (
            row["problem"],
            row["method"],
            f"{row['steps']:,}",
            _time(row["seconds_shown"]),
            f"{row['speedup_vs_numpy']:.3g}",
            "-" if row["times_floor"] is None else f"{row['times_floor']:.3g}",
        )
        for row in result["rows"]
    ]


def _bar_cells(result: dict, met: dict) -> list[tuple[str, ...]]:
    """One problem's rows of the bars table; ``met`` words True, False and None."""
    return [
        (result["problem"], bar["bar"], bar["shown"], met[bar["met"]]) for bar in result["bars"]
    ]


def _table(measured: list[dict]) -> Table:
    table = Table(
        title="Full-batch gradient descent, float32: time per step (median)",
        caption="quadratic: the whole run (Hessian, gradient, every step) per row; "
        "sweep: one step of every run together",
    )
    for column in TIME_COLUMNS:
        table.add_column(column, justify="left" if column in ("problem", "method") else "right")
    for result in measured:
        for cells in _time_cells(result):
            table.add_row(*cells)
        table.add_section()
    return table


def _bars_table(measured: list[dict]) -> Table:
    table = Table(title="The speed bars, judged on this run")
    for column in BAR_COLUMNS:
        table.add_column(column)
    met = {True: "[green]yes[/]", False: "[red]no[/]", None: NOT_MEASURED}
    for result in measured:
        for cells in _bar_cells(result, met):
            table.add_row(*cells)
    return table


def markdown_tables(record: dict) -> str:
    """The run's tables in Markdown, for docs/benchmarks.md."""

    def markdown(cells) -> str:
        return "| " + " | ".join(cells) + " |"

    lines = [
        f"{record['machine']['processor']}, {record['machine']['cpu_count']} CPUs, "
        f"{record['device']['kind']} ({record['device']['platform']}); "
        + ", ".join(f"{name} {version}" for name, version in record["versions"].items())
        + f"; medians of {record['rounds']} rounds after a warm-up, each round timing every "
        "method once; ratios taken within each round.",
        "",
        markdown(TIME_COLUMNS),
        "|" + "---|" * len(TIME_COLUMNS),
    ]
    for result in record["problems"]:
        lines += map(markdown, _time_cells(result))
    lines += ["", markdown(BAR_COLUMNS), "|" + "---|" * len(BAR_COLUMNS)]
    met = {True: "yes", False: "**no**", None: NOT_MEASURED}
    for result in record["problems"]:
        lines += map(markdown, _bar_cells(result, met))
    return "\n".join(lines) + "\n"


def _plan_line(plan: dict) -> str:
    """What XLA made of fit: who reads X in a step, and the memory."""
    memory = plan["memory_bytes"]
    blocks = "one pass" if plan["block_rows"] is None else f"blocks of {plan['block_rows']:,} rows"
    return (
        f"  fit: {blocks}; instructions reading X per step: {len(plan['reads_of_X']['fit'])} "
        f"(without blocks: {len(plan['reads_of_X']['one pass'])}); memory: X and y "
        f"{memory['data'] / 2**20:,.1f} MB, loop state {memory['state'] / 2**20:,.2f} MB, "
        f"XLA scratch {memory['temporary'] / 2**20:,.2f} MB"
    )


def _agreement_line(result: dict) -> str:
    agreement = result["agreement"]
    differences = ", ".join(
        f"{name} {difference:.1e}"
        for name, difference in agreement["max_relative_difference_to_numpy"].items()
    )
    verdict = "agree" if agreement["agree"] else "[bold red]DISAGREE[/]"
    return (
        f"{result['problem']}: after {agreement['steps']} steps the methods {verdict} "
        f"(|params - NumPy's| / max|NumPy's|: {differences})"
    )
