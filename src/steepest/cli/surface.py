"""``steepest plot-surface``: the cost surface f(m, b) with descent paths drawn on it."""

import numpy as np
from rich.console import Console

from .options import (
    EXIT_OK,
    Outputs,
    add_data_arguments,
    add_output_arguments,
    draw,
    emit,
    finish,
    positive_int,
    prepared,
)


def add_parser(commands) -> None:
    surface = commands.add_parser(
        "plot-surface",
        help="the cost surface f(m, b) with descent paths (one feature)",
        description="Draw the contours of the cost over (m, b), in the coordinates the "
        "descent sees, with the paths of gradient descent at a small learning rate "
        "(0.2/L), a good one (1/L) and a too-large one (2.1/L, above the critical 2/L).",
        example="steepest plot-surface --no-standardize --plot surface.png",
    )
    add_data_arguments(surface, builtin_x=["radio"])
    surface.add_argument("--steps", type=positive_int, default=30, help="steps drawn (30)")
    add_output_arguments(surface, plot="the PNG to write (required)", plot_required=True)
    surface.set_defaults(run=run)


def _axis(values, points: int = 121) -> np.ndarray:
    """A grid covering ``values`` with 25% to spare on each side (never of zero width)."""
    low, high = float(np.min(values)), float(np.max(values))
    spare = max(0.25 * (high - low), 1e-3 * max(abs(low), abs(high), 1.0))
    return np.linspace(low - spare, high + spare, points)


def run(args, argv=None) -> int:
    import jax
    import jax.numpy as jnp

    from steepest import DataError, Linear, mse, plots, theory, trajectory

    dataset, _, X, y, start, _ = prepared(args)
    if dataset.X.shape[1] != 1:
        raise DataError(f"plot-surface draws one feature (m, b); the data has {dataset.X.shape[1]}")
    curvature = theory.curvature(mse, start, X, y)
    exact = theory.closed_form(np.asarray(X, np.float64), np.asarray(y, np.float64))
    inverse_L = 1 / curvature.L
    rates = {
        f"small: 0.2/L = {0.2 * inverse_L:.3g}": 0.2 * inverse_L,
        f"good: 1/L = {inverse_L:.3g}": inverse_L,
        f"too large: 2.1/L = {2.1 * inverse_L:.3g}": 2.1 * inverse_L,
    }
    paths = {}
    for label, rate in rates.items():
        path = trajectory(mse, start, X, y, learning_rate=rate, steps=args.steps)
        paths[label] = (np.asarray(path.w[:, 0], np.float64), np.asarray(path.b, np.float64))
    m_star, b_star = float(exact.w[0]), float(exact.b)
    # The frame holds the optimum and the paths below 2/L (the last one diverges), padded.
    stable = list(paths.values())[:2]
    m_grid = _axis([m_star, *np.concatenate([ms for ms, _ in stable])])
    b_grid = _axis([b_star, *np.concatenate([bs for _, bs in stable])])
    for label, (ms, bs) in paths.items():  # a diverging path: drawn until it leaves the frame
        outside = (np.abs(ms - m_grid.mean()) > 3 * np.ptp(m_grid)) | (
            np.abs(bs - b_grid.mean()) > 3 * np.ptp(b_grid)
        )
        if outside.any():
            end = int(np.argmax(outside)) + 1
            paths[label] = (ms[:end], bs[:end])

    def cost_at(m, b):
        return mse(Linear(jnp.reshape(m, (1,)), b), X, y)

    costs = jax.vmap(jax.vmap(cost_at, in_axes=(0, None)), in_axes=(None, 0))(
        jnp.asarray(m_grid, X.dtype), jnp.asarray(b_grid, X.dtype)
    )
    if not np.all(np.isfinite(costs)):
        raise DataError(
            f"the cost overflows {X.dtype} on the plotted grid; try --x64 or standardized features"
        )
    coordinates = "standardized" if args.standardize else "raw"
    outputs = Outputs()
    drawn = draw(
        args,
        lambda: plots.cost_surface(
            m_grid, b_grid, np.asarray(costs, np.float64), paths, (m_star, b_star),
            title=f"cost over (m, b), {coordinates} {dataset.x_names[0]}: {dataset.source}",
            labels=(f"m ({coordinates} {dataset.x_names[0]})", "b"),
        ),
        outputs,
    )  # fmt: skip
    record = {
        "plot": args.plot if drawn else None,
        "critical_learning_rate": curvature.critical_learning_rate,
        "paths": {
            label: {"m": ms.tolist(), "b": bs.tolist(), "learning_rate": rates[label]}
            for label, (ms, bs) in paths.items()
        },
    }
    emit(args, record, argv, outputs)
    if not args.json and drawn:
        Console().print(f"drew {', '.join(rates)}")
    return finish(EXIT_OK, outputs)
