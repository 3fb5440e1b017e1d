"""Runs marked in the jobs screen, compared: one metric's curves overlaid (m: the next
metric, x: by step or by epoch), each run's best and final validation, and the config fields
that differ. The runs are read (off the UI thread) by the Textual-free core,
:mod:`cnnexplorer.runs.catalog` and :mod:`cnnexplorer.runs.compare`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import ScrollableContainer
from textual.screen import Screen
from textual.widgets import Static

from cnnexplorer.app.widgets.key_footer import Key, KeyFooter
from cnnexplorer.app.widgets.run_curves import METRIC_TITLES, RunCurves, swatch
from cnnexplorer.runs.catalog import RunSummary, Validation, read_run
from cnnexplorer.runs.compare import METRICS, X_AXES, config_diff

WIDE = 160  # columns from which the two tables sit side by side


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}%"


def _value(value: Any) -> str:
    """A config value as the diff shows it."""
    if value is None:
        return "-"
    if isinstance(value, list):
        return ",".join(map(str, value))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def summary_table(runs: list[RunSummary]) -> Table:
    """Each run's letter in its colour, status, best validation (and its epoch) and final validation."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    table.add_column("", no_wrap=True)
    table.add_column("run", overflow="fold")
    table.add_column("status", overflow="fold")
    for header in ("best\ntop-1", "best\ntop-5", "best\nepoch", "final\ntop-1", "final\ntop-5"):
        table.add_column(header, justify="right", no_wrap=True)
    for index, run in enumerate(runs):
        best, final = run.best or Validation(None, None, None), run.final or Validation(None, None, None)
        table.add_row(
            swatch(index),
            run.name,
            Text(run.status, style="red" if run.problem else ""),
            _percent(best.val_top1),
            _percent(best.val_top5),
            "-" if best.epoch is None else str(best.epoch),
            _percent(final.val_top1),
            _percent(final.val_top5),
        )
    return table


def diff_table(runs: list[RunSummary]) -> Group:
    """The config fields whose values differ, one column per run, under a title."""
    differing = config_diff(runs)
    if not differing:
        return Group(Text("config: the same in every field", style="bold"))
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    table.add_column("field", no_wrap=True)
    for index in range(len(runs)):
        table.add_column(swatch(index), overflow="fold")
    for name, values in differing.items():
        table.add_row(name, *map(_value, values))
    return Group(Text("config: the fields that differ", style="bold"), table)


class RunCompareScreen(Screen[None]):
    """Compare runs (their folders, in the order marked: A, B, ...)."""

    DEFAULT_CSS = """
    #compare-header { height: 1; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    #compare-curves { height: 1fr; min-height: 8; background: $surface; }
    #compare-curves .chart-caption, #compare-curves .chart-note { height: auto; padding: 0 1; }
    #compare-curves .chart-caption { text-wrap: nowrap; text-overflow: ellipsis; }
    #compare-tables {
        height: auto; max-height: 60%; border-top: solid $primary-background; scrollbar-size-vertical: 1;
    }
    #compare-tables Static { height: auto; padding: 0 1; }
    RunCompareScreen.-wide #compare-tables { layout: horizontal; }
    RunCompareScreen.-wide #compare-tables Static { width: 1fr; }
    """

    BINDINGS = [
        Key("escape", "app.pop_screen", "Jobs", rank=0),
        Key("m", "next_metric", "Metric"),
        Key("x", "toggle_x", "Step/epoch"),
        Key("o", "reload", "Reload runs", rank=2),
    ]

    def __init__(self, run_dirs: list[Path]) -> None:
        super().__init__()
        self.run_dirs = run_dirs
        self.runs: list[RunSummary] = []
        self.metric = METRICS[0]
        self.x = X_AXES[0]

    def compose(self) -> ComposeResult:
        yield Static(id="compare-header")
        yield RunCurves(id="compare-curves")
        with ScrollableContainer(id="compare-tables"):
            yield Static(id="compare-summary")
            yield Static(id="compare-diff")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#compare-header", Static).update(Text(f"reading {len(self.run_dirs)} runs…", style="dim"))
        self.load()

    def on_resize(self) -> None:
        self.set_class(self.size.width >= WIDE, "-wide")

    @work(thread=True, exclusive=True)
    def load(self) -> None:
        """Read the runs off the UI thread (a long run's events take a while)."""
        runs = [read_run(run_dir) for run_dir in self.run_dirs]
        self.app.call_from_thread(self._show, runs)

    def _show(self, runs: list[RunSummary]) -> None:
        self.runs = runs
        problems = [Text(f"{run.name}: {run.problem}", style="red") for run in runs if run.problem]
        summary = Group(Text("summary", style="bold"), summary_table(runs), *problems)
        self.query_one("#compare-summary", Static).update(summary)
        self.query_one("#compare-diff", Static).update(diff_table(runs))
        self._draw_curves()

    def _draw_curves(self) -> None:
        header = Text(f"{len(self.runs)} runs compared · ")
        header.append(f"{METRIC_TITLES[self.metric]} by {self.x}", style="bold")
        header.append("  (m: next metric, x: by step or epoch)", style="dim")
        self.query_one("#compare-header", Static).update(header)
        self.query_one(RunCurves).show_runs(self.runs, self.metric, self.x)

    def action_reload(self) -> None:
        """Read the runs again (one still training has moved on)."""
        self.load()

    def action_next_metric(self) -> None:
        self.metric = METRICS[(METRICS.index(self.metric) + 1) % len(METRICS)]
        self._draw_curves()

    def action_toggle_x(self) -> None:
        self.x = X_AXES[(X_AXES.index(self.x) + 1) % len(X_AXES)]
        self._draw_curves()
