"""The app never crashes on what it reads or is given (issue 13): any file under runs/, any
input size or batch; it refuses to resume a run another process holds; and quitting with
jobs offers to leave them running or stops them, saying what it waits for."""

import asyncio
import os
import time
from pathlib import Path

import pytest

from cnnexplorer.app import make_app
from cnnexplorer.app.screens.confirm_quit import ConfirmQuit, StoppingJobs
from cnnexplorer.app.screens.input_dialog import InputDialog
from cnnexplorer.app.screens.jobs import JobsScreen
from cnnexplorer.runs import rundir
from tests.conftest import settle
from tests.test_events import HOSTILE_LINES
from tests.test_jobs import resumed_run_events, start_script_job, write_run

RUNS = Path(__file__).parent / "data" / "runs"
SIZE = (120, 40)


async def _until(condition, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert condition()


def _hostile_runs(root: Path) -> Path:
    """runs/ with one good run and, each in a folder of its own, every kind of file that once
    crashed the app or made it drop a run."""
    runs = root / "runs"
    good = (RUNS / "finished-resnet20" / "events.jsonl").read_bytes()
    (runs / "a-good-run").mkdir(parents=True)
    (runs / "a-good-run" / "events.jsonl").write_bytes(good)
    for number, line in enumerate(HOSTILE_LINES.values()):
        folder = runs / f"hostile-{number:02d}"
        folder.mkdir()
        (folder / "events.jsonl").write_bytes(good[: good.index(b"\n") + 1] + line)  # a start, then the line
    (runs / "torn-then-resumed").mkdir()
    (runs / "torn-then-resumed" / "events.jsonl").write_bytes(good[:-30] + b"\n" + good)
    (runs / "a-pipe").mkdir()
    os.mkfifo(runs / "a-pipe" / "events.jsonl")
    (runs / "a-folder" / "events.jsonl").mkdir(parents=True)
    start = good[: good.index(b"\n") + 1]
    val = b'{"schema":1,"event":"val","time":1,"epoch":1,"step":8,"loss":null,"top1":null,"top5":null,"images":0,'
    val += b'"best_top1":null}\n'
    for count in (1, 2):  # non-finite figures are written as null: a single result, and a chart
        (runs / f"null-figures-{count}").mkdir()
        (runs / f"null-figures-{count}" / "events.jsonl").write_bytes(start + val * count)
    return runs


async def test_the_app_survives_every_hostile_file_under_runs(shared_cache, tmp_path):
    runs = _hostile_runs(tmp_path)
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False, runs_dir=runs)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("J")
        await pilot.pause()
        table = app.screen.query_one("#jobs-table")
        await _until(lambda: table.row_count >= len(HOSTILE_LINES) + 4)
        for _ in range(table.row_count):
            await pilot.press("down")
            await pilot.pause(0.2)  # the detail of each row drawn
            await pilot.press("o")
            await pilot.pause()
        assert isinstance(app.screen, JobsScreen) and app.is_running
    assert app.return_code in (None, 0)


@pytest.mark.parametrize(
    ("size", "batch"),
    [
        ("3x2000000000x2000000000", "1"),
        ("", "99999999999999999999"),
        ("", "²"),
        ("", "9" * 5000),
        ("1" * 5000, "1"),
        ("3x224x" + "2" * 200, "1"),
    ],
    ids=["2e9-squared", "batch-1e20", "superscript-two", "5000-digit-batch", "5000-digit-size", "200-digit-width"],
)
async def test_the_input_dialog_takes_any_text_without_a_crash(shared_cache, size, batch):
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        before = app.explorer.request
        await pilot.press("i")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, InputDialog)
        dialog.query_one("#input-size").value = size
        dialog.query_one("#input-batch").value = batch
        dialog.query_one("#input-batch").focus()
        await pilot.press("enter")
        await settle(pilot)
        if isinstance(app.screen, InputDialog):  # refused in the dialog, in words
            assert str(app.screen.query_one("#input-error").render()).strip()
            await pilot.press("escape")
        else:  # taken, then refused by the engine: the explorer says why and keeps its view
            assert any("too large for a tensor" in n.message for n in app._notifications)
        await pilot.pause()
        assert app.is_running and app.explorer.request == before


async def test_r_on_a_run_another_process_holds_is_refused_naming_it(shared_cache, tmp_path):
    runs = tmp_path / "runs"
    folder = write_run(runs / "20261125-012309-resnet20", resumed_run_events(resumed=False))
    (folder / "last.pt").write_bytes(b"")
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False, runs_dir=runs)
    with rundir.lock_run_dir(folder):  # a headless run of this folder, still going
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("J")
            table = app.screen.query_one("#jobs-table")
            await _until(lambda: table.row_count == 1)
            await pilot.pause(0.3)
            await pilot.press("r")
            await pilot.pause()
            assert app.jobs == []
            assert any(f"still running in process {os.getpid()}" in n.message for n in app._notifications)


SLEEPER = "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\ntime.sleep(120)\n"


async def _quit_with_a_running_job(pilot, child: str):
    job = start_script_job(pilot.app, child)
    await pilot.pause()
    await pilot.press("escape")  # back to the explorer
    await pilot.press("q")
    await pilot.pause()
    assert isinstance(pilot.app.screen, ConfirmQuit)
    return job


async def test_quitting_can_leave_the_jobs_running(shared_cache):
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        job = await _quit_with_a_running_job(pilot, "import time; time.sleep(120)")
        text = " ".join(str(label.render()) for label in app.screen.query("Label"))
        assert "leave them running and quit" in text and "headless" in text
        await pilot.press("l")
        await pilot.pause()
    try:
        assert job.running and job.wait(timeout=0.5) is None  # not signalled: it goes on
    finally:
        job.kill()


async def test_stopping_says_what_it_waits_for_and_k_kills_what_is_left(shared_cache):
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        job = await _quit_with_a_running_job(pilot, SLEEPER)  # it ignores SIGINT: a step that takes long
        await pilot.press("y")
        await pilot.pause(0.7)
        assert isinstance(app.screen, StoppingJobs) and job.running
        why = str(app.screen.query_one("#stopping-why").render())
        waiting = str(app.screen.query_one("#stopping-jobs").render())
        assert "finishes its current step, then writes last.pt" in why
        assert "waiting" in waiting and "finishing its step" in waiting
        await pilot.press("k")
        await pilot.pause()
    assert job.wait(timeout=10) is not None
