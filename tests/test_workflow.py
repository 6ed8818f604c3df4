"""Issue 20: what ``steepest fit`` prints is one call in Python, ``steepest.linear``.

The same data give the same numbers and the same words by every route (the command,
arrays, a CSV file, a DataFrame, a mapping of columns), and every result is data:
``to_dict`` (the command's record, key for key), ``to_frame``, a text and an HTML table.
"""

import json
import re
from html import escape

import jax
import numpy as np
import pandas as pd
import pytest
from cli_runs import run_command
from compiles import CompileCounter
from matplotlib.figure import Figure

import steepest
from steepest import LinearFit, Status, plots, records

# What changes from run to run: the clock, and the figures printed from it.
TIMING = ("seconds", "compile_seconds")


@pytest.fixture(scope="module")
def builtin_fit() -> LinearFit:
    return steepest.linear()


@pytest.fixture(scope="module")
def three_features() -> steepest.data.Dataset:
    return steepest.data.builtin(x=None)


def without_timing(record: dict) -> dict:
    return {key: value for key, value in record.items() if key not in TIMING}


def printed_words(text: str) -> str:
    """A table's text without the wall-time line (the clock) and without layout: its
    words and numbers in order."""
    kept = text.split("wall time")[0]
    return " ".join(re.sub(r"[│┃┏┓┗┛┡┩└┘┌┐━─╇╋┳┻┼]", " ", kept).split())


def test_the_report_is_the_command_record_key_for_key(tmp_path, builtin_fit):
    run = run_command(["fit", "--json"], tmp_path)
    assert run.returncode == 0, run.describe()
    record = run.record()
    mine = json.loads(records.dumps(builtin_fit))
    assert list(mine) == list(record)
    assert without_timing(mine) == without_timing(record)


def test_the_report_prints_the_commands_words(tmp_path, builtin_fit):
    run = run_command(["fit"], tmp_path)
    assert run.returncode == 0, run.describe()
    assert printed_words(repr(builtin_fit)) == printed_words(run.stdout)
    html = builtin_fit._repr_html_()
    for words in (builtin_fit.message, builtin_fit.closed_form.message, "certain to ±"):
        assert escape(words) in html, words
    coefficients = html.split("</table>")[0]
    assert coefficients.count("<tr>") == 1 + 2  # the header and one row per coefficient


def test_status_compares_equal_to_its_name(builtin_fit):
    assert builtin_fit.status == "converged" and builtin_fit.status is Status.CONVERGED
    assert f"{builtin_fit.status}" == "converged" and builtin_fit.status != "diverged"
    assert json.dumps({"status": builtin_fit.status}) == '{"status": "converged"}'


def test_arrays_a_csv_a_dataframe_and_columns_give_the_same_fit(tmp_path, three_features):
    data = three_features
    columns = {name: data.X[:, j] for j, name in enumerate(data.x_names)}
    frame = pd.DataFrame({**columns, "sales": data.y})
    frame.to_csv(tmp_path / "ads.csv", index=False)
    fits = {
        "arrays": steepest.linear(data.X, data.y, x=list(data.x_names)),
        "csv": steepest.linear(tmp_path / "ads.csv", "sales"),
        "frame": steepest.linear(frame, y="sales", x=list(data.x_names)),
        "columns": steepest.linear({**columns, "sales": data.y}),
        "dataset": steepest.linear(data),
    }
    reference = fits["dataset"]
    assert reference.status == "converged" and reference.x_names == ("TV", "radio", "newspaper")
    for route, fit in fits.items():
        assert fit.x_names == reference.x_names, route
        np.testing.assert_array_equal(fit.params.w, reference.params.w, err_msg=route)
        assert fit.params.b == reference.params.b and fit.message == reference.message, route
    # A CSV of the built-in data through the command: the same numbers.
    run = run_command(["fit", "--data", "ads.csv", "--y", "sales", "--json"], tmp_path)
    assert run.record()["params"] == records.params_to_dict(fits["csv"].params)


def test_a_dataframe_index_is_not_a_feature_and_bad_columns_are_named():
    frame = pd.DataFrame({"width": [1.0, 2.0, 3.0, 4.0], "loss": [3.0, 5.0, 7.2, 9.0]})
    frame.index = [10, 20, 30, 40]
    fit = steepest.linear(frame, y="loss")
    assert fit.x_names == ("width",) and fit.source == "DataFrame (4 rows)"
    assert fit.predict(np.array([5.0])).shape == (1,)
    with pytest.raises(steepest.DataError, match="unknown column 'depth'; available: width, loss"):
        steepest.linear(frame, y="loss", x=["depth"])
    words = pd.DataFrame({"width": ["a", "b", "c"], "loss": [1.0, 2.0, 3.0]})
    with pytest.raises(steepest.DataError, match="column 'width' holds dtype object"):
        steepest.linear(words, y="loss")
    gap = pd.DataFrame({"width": [1.0, np.nan, 3.0], "loss": [1.0, 2.0, 3.0]}, index=[5, 6, 7])
    with pytest.raises(steepest.DataError, match=r"row 1 \(index 6\): column 'width' is nan"):
        steepest.linear(gap, y="loss")
    with pytest.raises(steepest.DataError, match="needs its targets as an array"):
        steepest.linear(np.zeros((3, 1)), "loss")


def test_history_and_coefficients_are_frames(builtin_fit):
    history = builtin_fit.history.to_frame()
    assert list(history.columns) == ["step", "cost"]
    np.testing.assert_array_equal(history["cost"], builtin_fit.result.losses)
    coefficients = builtin_fit.to_frame()
    assert list(coefficients["parameter"]) == ["m (radio)", "b (intercept)"]
    assert coefficients["fitted"].tolist() == [
        float(builtin_fit.params.w[0]),
        builtin_fit.intercept_,
    ]


def test_a_mini_batch_fit_counts_epochs_and_its_schedule_is_resolved():
    schedule = steepest.optimizers.Schedule("cosine")
    fit = steepest.linear(batch_size=50, epochs=3, learning_rate=0.1, schedule=schedule)
    assert fit.history.unit == "epoch"
    assert list(fit.history.to_frame().columns) == ["epoch", "cost"]
    assert fit.to_dict()["schedule"]["steps"] == 3 * 4  # 3 epochs of 4 batches
    figure = plots.loss_curve(fit)
    [axes] = figure.axes
    assert axes.get_xlabel() == "epoch" and "batches of 50, cosine schedule" in axes.get_title()


def test_figures_are_returned_and_drawn_into_the_callers_axes(builtin_fit):
    figure = plots.loss_curve(builtin_fit)
    assert isinstance(figure, Figure) and figure.axes[0].get_ylabel() == (
        "cost - least-squares cost"
    )
    mine = Figure()
    left, right = mine.subplots(1, 2)
    assert plots.loss_curve(builtin_fit, ax=right) is mine
    assert len(right.get_lines()) == 1 and not left.get_lines()
    # A run of a loss with no least-squares cost: the cost itself.
    result = builtin_fit.result
    assert plots.loss_curve(result).axes[0].get_ylabel() == "cost"


def test_a_one_step_run_has_whole_step_ticks(builtin_fit):
    figure = plots.loss_curve(builtin_fit)
    figure.canvas.draw()
    ticks = [tick for tick in figure.axes[0].get_xticks() if 0 <= tick <= 1]
    assert ticks and all(float(tick).is_integer() for tick in ticks)


def test_a_dataset_prints_its_shape_not_its_rows(three_features):
    text = repr(three_features)
    assert len(text) < 200 and "200 rows" in text and "TV" in text


def test_predict_and_score_are_scikit_learns_on_the_original_units(three_features):
    fit = steepest.linear(three_features)
    X, y = three_features.X, three_features.y
    design = np.column_stack([X, np.ones(len(y))])
    exact = np.linalg.lstsq(design, y, rcond=None)[0]
    np.testing.assert_allclose(fit.predict(X), design @ exact, rtol=1e-4)
    r2 = 1 - np.sum((y - design @ exact) ** 2) / np.sum((y - y.mean()) ** 2)
    assert fit.score(X, y) == pytest.approx(r2, rel=1e-6)
    assert fit.coef_.shape == (3,) and fit.intercept_ == pytest.approx(exact[-1], rel=1e-4)


def test_a_polars_dataframe_is_read_by_its_column_names():
    polars = pytest.importorskip("polars")  # optional: CI runs it where polars is installed
    rows = np.arange(10.0)
    frame = polars.DataFrame({"width": rows, "depth": rows**2, "loss": 3 * rows + 1})
    fit = steepest.linear(frame, y="loss", x=["width"])
    assert fit.x_names == ("width",) and fit.source == "DataFrame (10 rows)"
    assert fit.params.w[0] == pytest.approx(3.0, rel=1e-5)


def test_an_optax_transformation_that_diverges_is_reported_not_raised():
    import optax

    fit = steepest.linear(optimizer=optax.sgd(50.0), max_steps=200)
    assert fit.status == "diverged" and fit.learning_rate is None
    assert fit.message.endswith("(its learning rate is the optax transformation's own)")
    assert fit.to_dict()["learning_rate"] is None
    assert "learning rate       the optax transformation's own" in repr(fit)


def test_the_command_and_the_call_agree_to_the_last_bit_with_features_picked(tmp_path):
    flags = ["--x", "TV", "radio", "--no-intercept", "--optimizer", "adam", "--json"]
    run = run_command(["fit", *flags], tmp_path)
    fit = steepest.linear(x=["TV", "radio"], intercept=False, optimizer="adam")
    assert without_timing(run.record()) == without_timing(json.loads(records.dumps(fit)))


@pytest.mark.parametrize("intercept", [True, False])
def test_the_libraries_bounds_hold_against_the_exact_answer(three_features, intercept):
    """The bounds in original units that linear reports (not only the command's) contain
    the exact least-squares answer, solved in rational arithmetic on the float64 data."""
    from exact import exact_least_squares

    fit = steepest.linear(three_features, intercept=intercept, x64=True)
    assert fit.status == "converged", fit.message
    exact = exact_least_squares(three_features.X, three_features.y, intercept=intercept)
    found = np.append(fit.params.w, [] if fit.params.b is None else [fit.params.b])
    bounds = np.append(fit.bounds.w, [] if fit.bounds.b is None else [fit.bounds.b])
    assert np.all(np.abs(found - exact) <= bounds), (found - exact, bounds)


def test_the_closed_form_can_be_skipped_and_the_certificate_stays(tmp_path):
    """On big data the float64 closed form takes most of a fit's time (issue 23)."""
    fit = steepest.linear(closed_form=False)
    assert fit.closed_form is None and fit.closed_form_loss is None
    assert fit.status == "converged" and fit.bounds is not None
    record = fit.to_dict()
    assert record["closed_form"] is None and record["certificate"]["digits"] >= 6
    assert "closed form" not in str(fit)


def test_a_fit_compiles_five_programs(uncached):
    """A command's latency is mostly tracing and loading programs: ``linear`` needs five
    (the float64 evaluation, shared by the closed form's cost and the certificate; the
    Hessian; the cost and gradient beside it; the loop's start; the loop), no compiled
    operation one by one."""
    X = np.random.default_rng(7).normal(size=(211, 2))
    y = X @ np.array([1.5, -2.0]) + 0.25
    jax.clear_caches()  # what other tests compiled in this process is compiled again
    with CompileCounter() as counter:
        fit = steepest.linear(X, y)
    assert fit.status == Status.CONVERGED
    assert len(counter.names) == 5, counter.names
