"""A live progress bar for long runs, on stderr."""

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # rich.progress is imported on the first update that shows the bar
    from rich.progress import Progress, TaskID

# The progress bar appears only for runs longer than this.
PROGRESS_AFTER_SECONDS = 1.0


class ProgressBar:
    """A rich progress bar on stderr that appears once a run has lasted a second.

    Its ``update`` is a ``fit``/``sweep`` ``on_chunk`` callback.
    """

    def __init__(self, total_steps: int, *, enabled: bool):
        from rich.console import Console

        self._console = Console(stderr=True)
        self._enabled = enabled and self._console.is_terminal
        self._total = total_steps
        self._started = time.perf_counter()
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self):
        return self

    def update(self, progress) -> None:
        if not self._enabled:
            return
        if self._progress is None:
            if time.perf_counter() - self._started < PROGRESS_AFTER_SECONDS:
                return
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

            self._progress = Progress(
                "fitting",
                BarColumn(),
                MofNCompleteColumn(),
                "cost {task.fields[loss]:.6g}",
                TimeElapsedColumn(),
                console=self._console,
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task("fit", total=self._total, loss=progress.loss)
        assert self._task is not None  # added with the bar, above
        self._progress.update(self._task, completed=progress.step, loss=progress.loss)

    def __exit__(self, *exc):
        if self._progress is not None:
            self._progress.stop()
