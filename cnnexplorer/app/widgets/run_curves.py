"""Several runs' curves of one metric overlaid in one chart (the jobs screen's chart panel),
each run in its own colour: colours on the xterm 256-colour cube, so that a 256-colour
terminal draws them as they are, and distinct there."""

from __future__ import annotations

from rich.color import Color
from rich.text import Text

from cnnexplorer.app.charts import RGB, ChartPanel, Series
from cnnexplorer.render.runs import COLOURS, METRIC_TITLES
from cnnexplorer.runs.catalog import RunSummary
from cnnexplorer.runs.compare import series

# The runs' colours of the terminal chart (render/runs.py), as RGB for the app's charts.
RUN_COLOURS: tuple[RGB, ...] = tuple(tuple(Color.from_ansi(number).get_truecolor()) for number in COLOURS)


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
