"""``steepest plot-surface``: the cost surface f(m, b) with descent paths drawn on it."""

from rich.console import Console

from .arguments import add_data_arguments, add_output_arguments, dataset_argument, positive_int
from .output import EXIT_OK, Outputs, draw, emit, finish


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


def run(args, argv=None) -> int:
    import steepest

    surface = steepest.cost_surface(
        dataset_argument(args), args.y, x=args.x, standardize=args.standardize, x64=args.x64,
        steps=args.steps,
    )  # fmt: skip
    outputs = Outputs()
    drawn = draw(args, lambda plots: plots.cost_surface(surface), outputs)
    emit(args, {"plot": args.plot if drawn else None, **surface.to_dict()}, argv, outputs)
    if not args.json and drawn:
        Console().print(f"drew {', '.join(surface.paths)}")
    return finish(EXIT_OK, outputs)
