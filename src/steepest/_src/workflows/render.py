"""A ``LinearFit`` as a table: rich (a terminal, ``steepest fit``), plain text (``repr``) and
HTML (a notebook), all from the same rows, so that every face says the same words."""

import html
import io
from typing import Any

import numpy as np


def title(fit) -> str:
    """``steepest fit: built-in (seed 0), 200 rows, sales ~ radio``."""
    return f"steepest fit: {fit.source}, {fit.rows} rows, {fit.y_name} ~ {' + '.join(fit.x_names)}"


def coefficient_rows(fit) -> list[dict[str, Any]]:
    """One row per coefficient: its label, the fitted value, its bound (None without a
    certificate), the closed form and the difference (None without a closed form).

    The label is ``m (name)`` for one feature (the tutorial's slope), ``w[j] (name)``
    for several, and ``b (intercept)``.
    """
    names = fit.x_names
    labels = [f"{'m' if len(names) == 1 else f'w[{j}]'} ({name})" for j, name in enumerate(names)]
    fitted = [float(value) for value in np.ravel(fit.params.w)]
    bounds: list[float | None] = (
        [None] * len(names) if fit.bounds is None else list(np.ravel(fit.bounds.w))
    )
    exact: list[float | None] = (
        [None] * len(names)
        if fit.closed_form is None
        else [float(value) for value in np.ravel(fit.closed_form.params.w)]
    )
    if fit.intercept:
        labels.append("b (intercept)")
        fitted.append(float(fit.params.b))
        bounds.append(None if fit.bounds is None else fit.bounds.b)
        exact.append(None if fit.closed_form is None else float(fit.closed_form.params.b))
    return [
        {
            "parameter": label,
            "fitted": value,
            "certain_to": None if bound is None else float(bound),
            "closed_form": closed,
            "difference": None if closed is None else value - closed,
        }
        for label, value, bound, closed in zip(labels, fitted, bounds, exact, strict=True)
    ]


COLUMNS = {  # heading: (key in a row, format)
    "parameter": ("parameter", "{}"),
    "fitted": ("fitted", "{:.8g}"),
    "certain to ±": ("certain_to", "{:.1e}"),
    "closed form": ("closed_form", "{:.8g}"),
    "difference": ("difference", "{:+.2e}"),
}


def _columns(fit) -> list[str]:
    columns = list(COLUMNS)
    if fit.bounds is None:
        columns.remove("certain to ±")
    if fit.closed_form is None:
        columns.remove("closed form")
        columns.remove("difference")
    return columns


def _cells(fit) -> list[list[str]]:
    return [
        [COLUMNS[column][1].format(row[COLUMNS[column][0]]) for column in _columns(fit)]
        for row in coefficient_rows(fit)
    ]


def summary_rows(fit) -> list[tuple[str, str]]:
    """The lines under the table: (what, the words)."""
    coordinates = "standardized features" if fit.standardized else "raw features"
    if fit.processes > 1:
        coordinates += f", rows split over {fit.devices} devices of {fit.processes} processes"
    elif fit.devices > 1:
        coordinates += f", rows split over {fit.devices} devices"
    if fit.batch_size is not None:
        coordinates += f", mini-batches of {fit.batch_size} rows (a step is an epoch)"
    if fit.schedule is not None:
        coordinates += f", {fit.schedule.kind} schedule"
    rows = [("final cost", f"{fit.loss:.8g}")]
    if fit.closed_form is not None:
        rows += [
            ("closed-form cost", f"{fit.closed_form_loss:.8g}"),
            ("closed form", fit.closed_form.message),
        ]
    rows += [
        ("steps", f"{fit.steps}"),
        ("status", fit.message),
        ("learning rate", _rate(fit.learning_rate, fit.learning_rate_source)),
        ("optimizer", f"{fit.optimizer}, {fit.dtype}, {coordinates}"),
    ]
    if fit.streamed is not None:
        per_step = fit.seconds / max(fit.steps - 1, 1)
        rows.append(
            (
                "streamed",
                f"{fit.streamed['chunks']} chunks of {fit.streamed['chunk_rows']:,} rows a "
                f"step, {per_step:.3g} s a step"
                f"{' (Parquet decoded once)' if fit.streamed.get('decoded_once') else ''}; "
                "no closed form when streaming",
            )
        )
    rows.append(
        (
            "wall time",
            f"{fit.seconds:.4f} s ({fit.result.steps_per_second:,.0f} steps/s), "
            f"plus {fit.compile_seconds:.2f} s to compile",
        )
    )
    rows += [("warning", warning) for warning in fit.warnings if warning not in fit.message]
    return rows


def _rate(learning_rate: float | None, source: str) -> str:
    """``0.5 (1/L)``; a transformation's own rate is not known here: its source alone."""
    return source if learning_rate is None else f"{learning_rate:.6g} ({source})"


def renderable(fit):
    """The table and the lines under it, for rich (``rich.console.Console().print``)."""
    from rich.console import Group
    from rich.table import Table

    params = Table(title=title(fit), title_justify="left")
    for column in _columns(fit):
        params.add_column(column, justify="left" if column == "parameter" else "right")
    for cells in _cells(fit):
        params.add_row(*cells)
    summary = Table(show_header=False, box=None, padding=(0, 2))
    summary.add_column(style="bold")
    summary.add_column()
    for what, words in summary_rows(fit):
        summary.add_row(what, words)
    return Group(params, summary)


class Printed:
    """A report whose ``repr`` is what ``rich`` prints of its ``__rich__``, as plain text:
    the command's table, word for word, in a terminal or a plain REPL."""

    def __rich__(self):
        raise NotImplementedError

    def __repr__(self) -> str:
        return plain_text(self.__rich__())


def plain_text(rich_renderable, width: int = 100) -> str:
    """What rich prints of a renderable on a terminal ``width`` wide, without colour or
    trailing spaces."""
    from rich.console import Console

    buffer = io.StringIO()
    Console(file=buffer, width=width, color_system=None, emoji=False).print(rich_renderable)
    return "\n".join(line.rstrip() for line in buffer.getvalue().rstrip("\n").splitlines())


def to_html(fit) -> str:
    """The table as HTML, for a notebook: the same rows and words."""
    escape = html.escape
    head = "".join(f"<th>{escape(column)}</th>" for column in _columns(fit))
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in cells) + "</tr>"
        for cells in _cells(fit)
    )
    summary = "".join(
        f"<tr><th style='text-align:left'>{escape(what)}</th>"
        f"<td style='text-align:left'>{escape(words)}</td></tr>"
        for what, words in summary_rows(fit)
    )
    return (
        f"<div><table><caption style='text-align:left'>{escape(title(fit))}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        f"<table><tbody>{summary}</tbody></table></div>"
    )
