"""Runs compared in the app (issue 25): space marks runs in the jobs screen, d opens their
comparison: the curves of a metric overlaid (m: the next metric, x: by step or epoch), one
line per run however often it was resumed, in colours a 256-colour terminal keeps apart; the
summary of each run and the config fields that differ."""

import io
import json
import time
from pathlib import Path

import pytest
from rich.color import Color, ColorSystem
from rich.console import Console
from rich.text import Text

import cnnexplorer.app.screens.jobs as jobs_screen
from cnnexplorer.app import make_app
from cnnexplorer.app.screens.run_compare import RunCompareScreen
from cnnexplorer.app.widgets.run_curves import RUN_COLOURS
from cnnexplorer.runs.events import read_events
from tests.conftest import settle, wait_for_screen
from tests.test_jobs import RUNS, resumed_run_events, write_run

RECORDED = read_events(RUNS / "finished-resnet20" / "events.jsonl")
FINISHED, RESUMED = "20261126-012309-resnet20", "20261125-012309-resnet20"


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.setattr(jobs_screen, "_now", lambda: RECORDED[-1]["time"] + 60.0)
    yield
    monkeypatch.undo()
    time.tzset()


def _plain(renderable, width: int = 160) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(renderable)
    return console.file.getvalue()


def _name_cell(table, key: str) -> str:
    cell = table.get_cell(key, "name")
    return cell.plain if isinstance(cell, Text) else str(cell)


async def _jobs_rows(pilot, count: int):
    await pilot.press("J")
    table = pilot.app.screen.query_one("#jobs-table")
    for _ in range(100):
        if table.row_count >= count:
            break
        await pilot.pause(0.05)
    await pilot.pause(0.4)
    return table


def _config(folder: Path) -> dict:
    return json.loads((folder / "config.json").read_text())


async def test_space_marks_two_runs_and_d_compares_them(shared_cache, lr_runs):
    """The two runs that differ only in --lr (one stopped at step 3 and resumed)."""
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False, runs_dir=lr_runs)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = await _jobs_rows(pilot, 2)
        keys = [row.key.value for row in table.ordered_rows]
        await pilot.press("space", "down", "space")
        await pilot.pause(0.4)
        assert [_name_cell(table, key)[:2] for key in keys] == ["A ", "B "]  # the marks, in the legend's letters
        await pilot.press("d")
        await wait_for_screen(pilot, RunCompareScreen)
        await settle(pilot)
        screen = app.screen
        folders = screen.run_dirs
        assert [f"run:{folder}" for folder in folders] == keys

        first, second = (_config(folder) for folder in folders)
        differing = {name for name in first.keys() | second.keys() if first.get(name) != second.get(name)}
        assert differing - {"run_dir"} == {"lr"}
        diff = _plain(screen.query_one("#compare-diff").content).splitlines()
        titles = ("config", "field", "─")
        rows = [line.split() for line in diff if line.strip() and not line.lstrip().startswith(titles)]
        assert rows == [["lr", f"{first['lr']:g}", f"{second['lr']:g}"]]
        summary = _plain(screen.query_one("#compare-summary").content)
        assert all(folder.name in summary for folder in folders)

        def curves():
            return screen.query_one("#compare-curves")._shown[1]

        lines = curves()
        assert [line.label for line in lines] == [f"A {folders[0].name}", f"B {folders[1].name}"]
        for line in lines:  # each run one line, the resumed one too: steps 1 to 8, each once
            assert [step for step, _ in line.points] == list(range(1, 9))
        await pilot.press("x")
        assert [[epoch for epoch, _ in line.points] for line in curves()] == [[1, 2], [1, 2]]
        await pilot.press("m")
        assert screen.metric == "val_loss" and len(curves()) == 2
        assert "validation loss by epoch" in screen.query_one("#compare-header").content.plain

        await pilot.press("J")  # back to the jobs screen below, not a second one on top
        await pilot.pause()
        assert isinstance(app.screen, jobs_screen.JobsScreen)
        assert sum(isinstance(shown, jobs_screen.JobsScreen) for shown in app.screen_stack) == 1
        assert "J Jobs" not in app.screen.query_one("KeyFooter").render().plain
        await pilot.press("space")  # unmark the second: one run left, nothing to compare
        await pilot.press("d")
        await pilot.pause()
        assert not isinstance(app.screen, RunCompareScreen)
        assert list(app._notifications)[-1].message == "Mark two runs or more with space, then d compares them."


def test_the_run_colours_stay_apart_in_a_256_colour_terminal():
    """Each is one of the 256 colours exactly (none moves to a neighbour, none shared)."""
    numbers = [Color.from_rgb(*colour).downgrade(ColorSystem.EIGHT_BIT).number for colour in RUN_COLOURS]
    assert len(set(numbers)) == len(RUN_COLOURS)
    for number, colour in zip(numbers, RUN_COLOURS):
        assert tuple(Color.from_ansi(number).get_truecolor()) == colour


def _compared_runs(root: Path) -> Path:
    """runs/ with the recorded run and the same run cancelled at step 20 and resumed, with
    another learning rate and batch size."""
    runs = root / "runs"
    write_run(runs / FINISHED, RECORDED)
    events = resumed_run_events()  # its second segment's steps lose less (a made-up, lower loss)
    second = [index for index, event in enumerate(events) if event["event"] == "start"][1]
    lower = [event | {"loss": event["loss"] * 0.8} if "loss" in event else event for event in events[second:]]
    events = events[:second] + lower
    resumed = write_run(runs / RESUMED, events)
    config = _config(resumed) | {"lr": 0.05, "batch_size": 64}
    (resumed / "config.json").write_text(json.dumps(config))
    return runs


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)], ids=["80x24", "120x40", "200x60"])
def test_the_comparison(snap_compare, shared_cache, tmp_path, size):
    runs = _compared_runs(tmp_path)
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False, runs_dir=runs)

    async def run_before(pilot):
        await settle(pilot)
        await _jobs_rows(pilot, 2)
        await pilot.press("space", "down", "space", "d")
        await wait_for_screen(pilot, RunCompareScreen)
        await settle(pilot)
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
