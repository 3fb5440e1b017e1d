"""``cnnexplorer runs``: runs listed, one run shown, runs compared (a table with the runs side by
side, the config fields that differ, and their curves overlaid in a plotext chart)."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from cnnexplorer import units
from cnnexplorer.runs.catalog import RunSummary, Validation
from cnnexplorer.runs.compare import config_diff, series
from cnnexplorer.runs.metrics_csv import metrics_rows

# One marker and one colour per run, here and in the app's comparison: the markers tell the
# curves apart without colour (a pipe, a README); the colours are xterm 256-colour palette
# entries far apart in hue (blue, orange, green, pink, yellow, purple, cyan, red), drawn as
# they are by a 256-colour terminal.
MARKERS = ("•", "x", "+", "o", "*", "#", "@", "%")
COLOURS = (39, 208, 77, 205, 184, 141, 44, 167)
METRIC_TITLES = {
    "train_loss": "training loss",
    "val_loss": "validation loss",
    "val_top1": "val top-1 (%)",
    "val_top5": "val top-5 (%)",
    "lr": "learning rate",
}


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _validation(figures: Validation | None) -> tuple[str, str, str]:
    if figures is None:
        return "-", "-", "-"
    return _percent(figures.val_top1), _percent(figures.val_top5), str(figures.epoch)


def _epochs(run: RunSummary) -> str:
    return f"{run.epoch}/{run.epochs}" if run.epochs else str(run.epoch or "-")


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def render_list(runs: list[RunSummary]) -> RenderableType:
    """One row per run, newest first; a damaged run's reason on a line below the table. In a
    narrow terminal the names wrap; a figure is never cut."""
    rows = [_list_row(run) for run in runs]
    table = Table(box=box.SIMPLE_HEAD, padding=0, pad_edge=False, show_edge=False)
    for index, column in enumerate(("run", "model", "status", "epochs", "top-1", "top-5", "time", "img/s")):
        if index < 3:
            table.add_column(column, overflow="fold")
        else:
            widest = max([len(column)] + [len(row[index]) for row in rows])
            table.add_column(column, justify="right", no_wrap=True, min_width=widest)
    for row in rows:
        table.add_row(*row)
    notes = [Text(f"{run.name}: {run.problem}", style="yellow") for run in runs if run.problem]
    legend = Text("top-1/top-5 (%): the run's best validation (highest top-1); time: wall time", style="dim")
    return Group(table, legend, *notes)


def _list_row(run: RunSummary) -> tuple[str, ...]:
    top1, top5, _ = _validation(run.best)
    status = f"{run.status}, damaged" if run.problem and run.status != "damaged" else run.status
    figures = (_epochs(run), top1, top5, units.duration(run.seconds), _rate(run.img_per_s))
    return (run.name, run.model or "-", status, *figures)


def _figures_rows(runs: list[RunSummary]) -> list[tuple[str, list[str]]]:
    """(label, one cell per run) for the figures of each run."""
    best = [_validation(run.best) for run in runs]
    final = [_validation(run.final) for run in runs]
    return [
        ("model", [run.model or "-" for run in runs]),
        ("status", [run.status for run in runs]),
        ("epochs", [_epochs(run) for run in runs]),
        ("best top-1 %", [f"{top1} (epoch {epoch})" if epoch != "-" else "-" for top1, _, epoch in best]),
        ("best top-5 %", [top5 for _, top5, _ in best]),
        ("final top-1 %", [f"{top1} (epoch {epoch})" if epoch != "-" else "-" for top1, _, epoch in final]),
        ("final top-5 %", [top5 for _, top5, _ in final]),
        ("time", [units.duration(run.seconds) for run in runs]),
        ("img/s", [_rate(run.img_per_s) for run in runs]),
    ]


def setting(value: Any) -> str:
    """A config value as a person reads it."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return ",".join(map(str, value)) or "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _side_by_side(runs: list[RunSummary], config: dict[str, list[Any]], title: str) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, collapse_padding=True)
    table.add_column("")
    for index, run in enumerate(runs):
        table.add_column(f"{MARKERS[index % len(MARKERS)]}\u00a0{run.name}", overflow="fold")
    for label, cells in _figures_rows(runs):
        table.add_row(label, *cells)
    table.add_section()
    table.add_row(Text(title, style="bold"), *[""] * len(runs))
    for name, values in config.items():
        table.add_row(name, *[setting(value) for value in values])
    return table


def render_compare(runs: list[RunSummary], metric: str, x: str, width: int, colour: bool) -> RenderableType:
    """The runs side by side (figures, then the config fields that differ), the curves of
    ``metric`` overlaid, and each damaged run's reason."""
    differing = config_diff(runs)
    title = "config differs" if differing else "same config"
    parts: list[RenderableType] = [_side_by_side(runs, differing, title), Text("")]
    parts += [legend(runs), Text.from_ansi(chart(runs, metric, x, width, colour))]
    parts += [Text(f"{run.name}: {run.problem}", style="yellow") for run in runs if run.problem]
    return Group(*parts)


def render_show(run: RunSummary) -> RenderableType:
    """One run: its figures, its whole config and its metrics.csv rows."""
    table = _side_by_side([run], {name: [value] for name, value in run.config.items()}, "config")
    epochs = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, collapse_padding=True)
    columns = ("epoch", "step", "train_loss", "val_loss", "val_top1", "val_top5", "lr", "img_per_s")
    for column in columns:
        epochs.add_column(column.replace("_", " "), justify="right")
    rows = metrics_rows(run.history)
    for row in rows:
        epochs.add_row(*[_cell(row.get(column)) for column in columns])
    parts: list[RenderableType] = [Text(str(run.run_dir), style="bold"), table, Text("")]
    parts.append(epochs if rows else Text("no validated epoch yet"))
    if run.problem:
        parts.append(Text(f"damaged: {run.problem}", style="yellow"))
    return Group(*parts)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def chart(runs: list[RunSummary], metric: str, x: str, width: int, colour: bool, height: int = 16) -> str:
    """The runs' ``metric`` against ``x``, one line per run (its marker and colour), drawn by
    plotext as text (with ANSI colours where ``colour``)."""
    import plotext as plt

    plt.clear_figure()
    plt.plotsize(width, height)
    drawn: list[int] = []
    for index, run in enumerate(runs):
        points = series(run, metric, x)
        if not points:
            continue
        xs, ys = [point[0] for point in points], [point[1] for point in points]
        marker, tint = MARKERS[index % len(MARKERS)], COLOURS[index % len(COLOURS)]
        plt.plot(xs, ys, marker=marker, color=tint if colour else "default")
        drawn.extend(xs)
    if not drawn:
        return f"{METRIC_TITLES[metric]}: no points to draw (no run logged it)\n"
    ticks = whole_ticks(min(drawn), max(drawn), max(3, min(8, width // 10)))
    plt.xticks(ticks, [str(tick) for tick in ticks])
    plt.title(f"{METRIC_TITLES[metric]} by {x}")
    plt.xlabel(x)
    if colour:  # the lines in colour, on the terminal's own background
        plt.canvas_color("default")
        plt.axes_color("default")
        plt.ticks_color("default")
    else:
        plt.theme("clear")
    text = plt.build()
    plt.clear_figure()
    return text + "\n"


def whole_ticks(low: int, high: int, most: int) -> list[int]:
    """Ticks on whole numbers 1, 2 or 5 times a power of ten apart, at most ``most`` of them."""
    spacing = 1
    while (high - low) // spacing + 1 > most:
        spacing = next(s * 10**power for power in range(20) for s in (1, 2, 5) if s * 10**power > spacing)
    first = -(-low // spacing) * spacing
    return list(range(first, high + 1, spacing)) or [low]


def legend(runs: list[RunSummary]) -> Text:
    """Each run's marker, in its colour, and name."""
    text = Text()
    for index, run in enumerate(runs):
        text.append(
            f"{'  ' if index else ''}{MARKERS[index % len(MARKERS)]} ", style=f"color({COLOURS[index % len(COLOURS)]})"
        )
        text.append(run.name)
    return text
