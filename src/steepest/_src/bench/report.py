"""What ``steepest bench`` found, as a report: its record, its tables (rich, Markdown),
the curves and times its figures draw. ``run`` measures every problem of a size in turn.

Example:
    >>> report = BenchReport(record={"problems": [], "interrupted": False})
    >>> report.agree, report.to_dict()["problems"]
    (True, [])
"""

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.table import Table

from . import measure, peers

NOT_MEASURED = "not measured"
MARKDOWN_MARK = "<!-- written by steepest bench, with the record of the same name -->\n"


@dataclasses.dataclass(frozen=True, repr=False)
class BenchReport:
    """A bench run: ``record`` is ``steepest bench --json``'s (its problems, the device,
    the rounds, the machine and versions)."""

    record: dict[str, Any]

    @property
    def problems(self) -> list[dict]:
        return self.record["problems"]

    @property
    def agree(self) -> bool:
        """Whether every method reached the same params as NumPy, on every problem."""
        return all(result["agreement"]["agree"] for result in self.problems)

    def to_dict(self) -> dict[str, Any]:
        return self.record

    def markdown(self) -> str:
        """The tables in Markdown (for docs/benchmarks.md), marked as bench's."""
        return MARKDOWN_MARK + markdown_tables(self.record)

    def times(self) -> dict:
        """problem -> {method: seconds per step}, for ``plots.bench_times`` (the quadratic
        method's whole run left out: it is not a step)."""
        return {
            result["problem"]: {
                row["method"]: row["seconds_shown"]
                for row in result["rows"]
                if row["method"] != measure.QUADRATIC
            }
            for result in self.problems
        }

    def curves(self) -> dict:
        """features d -> method -> {N: seconds per step}, for ``plots.scaling_curves``."""
        return scaling_curves(self.problems)

    def __rich__(self):
        lines: list[Any] = []
        for result in self.problems:
            lines.append(_agreement_line(result))
            lines += [f"  skipped {name}: {why}" for name, why in result["skipped"].items()]
            if result["plan"] is not None:
                lines.append(_plan_line(result["plan"]))
        machine, versions, device = (
            self.record["machine"], self.record["versions"], self.record["device"],
        )  # fmt: skip
        return Group(
            *lines,
            _table(self.problems),
            _bars_table(self.problems),
            f"{machine['processor']}, {machine['cpu_count']} CPUs; jax {versions['jax']} on "
            f"{device['kind']} ({device['platform']})",
        )


def run(
    size: str, device, rounds: int, on_status: Callable[[str], Any] = lambda status: None
) -> BenchReport:
    """Measure every problem of ``size`` on ``device`` (a JAX device), ``rounds`` rounds
    each; ``on_status`` hears what is being timed. A Ctrl-C keeps the problems measured so
    far (``record["interrupted"]``); one before any is measured is raised."""
    import jax

    from ..io import records

    measured, interrupted = [], False
    with jax.default_device(device):
        for problem in measure.problems(size, device.platform):
            try:
                measured.append(measure.measure(problem, device, on_status, rounds))
            except KeyboardInterrupt:  # the problems measured so far are kept and written
                interrupted = True
                break
    if interrupted and not measured:
        raise KeyboardInterrupt
    info = records.environment()
    info["versions"] |= peers.versions()
    return BenchReport(
        {
            "size": size,
            "device": {"platform": device.platform, "kind": device.device_kind},
            "rounds": rounds,
            "problems": measured,
            "interrupted": interrupted,
            **info,
        }
    )


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


def written_by_bench(markdown: Path) -> bool:
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
