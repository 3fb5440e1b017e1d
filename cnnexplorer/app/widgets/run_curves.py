"""Several runs' curves of one metric overlaid in one chart (the jobs screen's chart panel),
each run in its own colour: colours on the xterm 256-colour cube, so that a 256-colour
terminal draws them as they are, and distinct there."""

from __future__ import annotations

from rich.text import Text

from cnnexplorer.app.charts import RGB, ChartPanel, Series
from cnnexplorer.runs.catalog import RunSummary
from cnnexplorer.runs.compare import series

# Each an exact xterm-256 colour (its channels among 0, 95, 135, 175, 215, 255), far apart in hue.
RUN_COLOURS: tuple[RGB, ...] = (
    (0, 175, 255),  # 39, blue
    (255, 135, 0),  # 208, orange
    (95, 215, 95),  # 77, green
    (255, 95, 175),  # 205, pink
    (215, 215, 0),  # 184, yellow
    (175, 135, 255),  # 141, purple
    (0, 215, 215),  # 44, cyan
    (215, 95, 95),  # 167, red
)

METRIC_TITLES = {
    "train_loss": "training loss",
    "val_loss": "validation loss",
    "val_top1": "validation top-1 %",
    "val_top5": "validation top-5 %",
    "lr": "learning rate",
}


def run_colour(index: int) -> RGB:
    """The colour of the ``index``-th run compared (they repeat after eight)."""
    return RUN_COLOURS[index % len(RUN_COLOURS)]


def run_letter(index: int) -> str:
    """The run's short name in a legend: A, B, ... Z, then AA, AB, ..."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def colour_style(colour: RGB) -> str:
    return f"rgb({colour[0]},{colour[1]},{colour[2]})"


def swatch(index: int) -> Text:
    """The run's line and letter as its legend draws them: ``━ A`` in its colour."""
    return Text(f"━ {run_letter(index)}", style=f"bold {colour_style(run_colour(index))}")


class RunCurves(ChartPanel):
    """One metric of several runs, one line each (a resumed run's segments joined), against
    their steps or epochs; the caption names the metric and each run's letter in its colour."""

    def show_runs(self, runs: list[RunSummary], metric: str, x: str) -> None:
        lines = [
            Series(f"{run_letter(index)} {run.name}", run_letter(index), run_colour(index), points)
            for index, run in enumerate(runs)
            if (points := series(run, metric, x))
        ]
        title = f"{METRIC_TITLES[metric]} by {x}"
        titles = (title, title)
        if not lines:
            self.show_note(titles, Text(f"none of these runs has a {METRIC_TITLES[metric]} yet", style="dim"))
            return
        self.show_series(titles, lines)
