"""The jobs screen, polished (issue 24, item 10): the log wraps and can be focused, scrolled
and maximised; run names whole; a whole sentence where no validation came; an ETA that
counts the validations left; a run trained by another process stopped from the app (verified,
confirmed, SIGINT, resumable); the launch command copied."""

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest

import cnnexplorer.app.screens.jobs as jobs_screen
from cnnexplorer.app import make_app
from cnnexplorer.runs.events import read_events
from cnnexplorer.runs.jobs import Job
from cnnexplorer.runs.rundir import lock_run_dir
from cnnexplorer.train.request import LaunchRequest
from tests.conftest import settle
from tests.test_jobs import RUNS, read_back, recorded, resumed_run_events, write_run
from tests.test_jobs_app import CLOCK, _cell, _rows, fixed_clock  # noqa: F401  (autouse: the same stopped clock)
from tests.train_shapes import TRAIN_ARGS, popen_cli

RECORDED = read_events(RUNS / "finished-resnet20" / "events.jsonl")
FINISHED, LIVE = "20261126-012309-resnet20", "20261126-013000-resnet20"
LONG_LINE = "warning: " + " ".join(f"word{index:03d}" for index in range(24)) + " END-OF-LINE"


async def _until(condition, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert condition()


def _job_with_log(lines: list[str]) -> Job:
    """A job of the app replaying the recorded run's first 14 events, with ``lines`` in its log."""
    job = Job(LaunchRequest("train", "resnet20", dataset="fake"))
    for event in RECORDED[:14]:
        job.state.apply(read_back(event | ({"run_dir": None} if event["event"] == "start" else {})))
    job.log.extend(lines)
    return job


async def test_the_log_wraps_its_long_lines_and_focuses_scrolls_and_maximises(shared_cache):
    lines = [f"epoch 1/4 step {step}/8 loss 2.{step:04d}" for step in range(60)] + [LONG_LINE]
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False, runs_dir=Path("/nonexistent"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.add_job(_job_with_log(lines))
        await pilot.pause(0.4)
        log = app.screen.query_one("#job-log")
        shown = [strip.text for strip in log.lines]
        assert all(len(line) <= log.scrollable_content_region.width for line in shown), shown[-3:]
        assert "END-OF-LINE" in shown[-1] and " ".join(part.strip() for part in shown[-3:]).count("word023") == 1
        assert log.show_vertical_scrollbar and log.styles.scrollbar_size_vertical == 1

        await pilot.press("tab")
        assert app.screen.focused is log
        bottom = log.scroll_y
        await pilot.press("home")
        assert log.scroll_y == 0 < bottom
        await pilot.press("f")
        assert app.screen.maximized is log and log.size.height > 30
        await pilot.press("f")
        assert app.screen.maximized is None

        await pilot.resize_terminal(80, 24)  # too short for the log beside the charts: f shows it
        await pilot.pause(0.4)
        assert not log.display
        await pilot.press("f")
        await pilot.pause()
        assert app.screen.maximized is log and log.display and log.size.height > 15
        await pilot.press("f")
        assert app.screen.maximized is None and not log.display


def _runs(root: Path) -> Path:
    """runs/ with a finished run and one cancelled at step 20 (its status, 'cancelled,
    resumable', the longest there is), the second run started in its second (-2)."""
    runs = root / "runs"
    write_run(runs / FINISHED, RECORDED)
    write_run(runs / "20261125-012309-resnet20-2", resumed_run_events(resumed=False))
    return runs


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
async def test_run_names_are_whole_and_the_sparkline_takes_what_is_left(shared_cache, tmp_path, size):
    runs = _runs(tmp_path)
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False, runs_dir=runs)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("J")
        table = await _rows(pilot, 2)
        await pilot.pause(0.4)
        for folder in runs.iterdir():
            assert _cell(table, f"run:{folder}", "name").strip() == folder.name
        columns = [column.key.value for column in table.columns.values()]
        assert ("loss" in columns) == (size[0] >= 120), columns  # the sparkline goes first, before a name is cut


async def test_a_run_that_stopped_before_its_first_validation_says_so_in_a_whole_sentence(shared_cache, tmp_path):
    runs = tmp_path / "runs"
    write_run(runs / "20261126-012404-resnet20", read_events(RUNS / "failed-resnet20" / "events.jsonl"))
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False, runs_dir=runs)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("J")
        await _rows(pilot, 1)
        await pilot.pause(0.4)
        note = app.screen.query_one("#val-chart .chart-note")
        assert note.content.plain == "none: the run stopped before epoch 1 ended"
        assert "…" not in "".join(strip.text for strip in note.render_lines(note.region.reset_offset))

        evaluation = Job(LaunchRequest("eval", "resnet20"))  # an evaluation has no epochs
        evaluation.state.apply(recorded("start", command="eval", config={}, run_dir=None, start_epoch=0))
        evaluation.state.apply(recorded("done", status="failed", summary={}))
        app.add_job(evaluation)
        await pilot.pause(0.4)
        assert note.content.plain == "none: the evaluation stopped before its result"


def _eight_epochs_to_step_70() -> list:
    """8 epochs of 10 steps, a step event at each epoch's end: 5 s of start-up, then each
    epoch 10 s of training, a 2 s validation and a checkpoint written in 0.5 s; stopped
    just after the step-70 event (t = 90 s), before epoch 7's validation."""
    events = [recorded("start", time=0.0, config={"epochs": 8}, steps_per_epoch=10, start_step=0, start_epoch=1)]
    for epoch in range(1, 8):
        end = 15.0 + (epoch - 1) * 12.5
        events.append(recorded("step", time=end, epoch=epoch, step=10 * epoch, epoch_step=10, steps_per_epoch=10))
        if epoch < 7:
            events.append(recorded("val", time=end + 2.0, epoch=epoch, step=10 * epoch))
            events.append(recorded("checkpoint", time=end + 2.5, epoch=epoch, step=10 * epoch, kind="last"))
    return events


async def test_the_eta_counts_the_validations_left_and_never_says_0s_while_steps_remain(shared_cache, monkeypatch):
    """By hand: 1 s a step (10 steps in 10 s between step events), 2.5 s a validation with
    its checkpoint; at step 70 of 80, 10 steps and 2 validations (epochs 7 and 8) are left:
    15 s from t = 90. The old pace (90 s / 70 steps, start-up and six validations spread
    over the steps) said 12.9 s, so 'ETA 0s' from t = 102.9 while epoch 8 still trained."""
    clock = [91.0]
    monkeypatch.setattr(jobs_screen, "_now", lambda: clock[0])
    job = Job(LaunchRequest("train", "resnet20"))
    for event in _eight_epochs_to_step_70():
        job.state.apply(event)
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False, runs_dir=Path("/nonexistent"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.add_job(job)
        await pilot.pause(0.4)
        header = app.screen.query_one("#job-header")
        await _until(lambda: "step 70/80 (88%)  ETA 14s" in header.content.plain, seconds=5)
        clock[0] = 103.0
        await _until(lambda: "ETA 2s" in header.content.plain, seconds=5)
        clock[0] = 110.0  # slower than its pace: unknown until the next event, not 0 s
        await _until(lambda: "ETA -" in header.content.plain, seconds=5)
        assert "ETA 0s" not in header.content.plain


def _held_by(folder: Path, pid: int):
    """``folder``'s lock held (flock) by this process, the file naming ``pid``."""
    lock = lock_run_dir(folder)
    (folder / ".lock").write_text(f"{pid}\n")
    return lock


async def test_a_lock_naming_a_process_that_is_not_this_runs_trainer_is_refused(shared_cache, tmp_path):
    runs = tmp_path / "runs"
    folder = write_run(runs / LIVE, RECORDED[:14])
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with _held_by(folder, sleeper.pid):
            app = make_app("resnet20", cache=shared_cache, zoo_stats=False, runs_dir=runs)
            async with app.run_test(size=(120, 40)) as pilot:
                await settle(pilot)
                await pilot.press("J")
                table = await _rows(pilot, 1)
                assert _cell(table, f"run:{folder}", "status") == "running"
                await pilot.press("c")
                await pilot.pause()
                assert type(app.screen).__name__ != "ConfirmStop"
                (notice,) = [notification.message for notification in app._notifications]
                assert f"process {sleeper.pid} (" in notice
                assert "is not a cnnexplorer train of this run folder: not stopped" in notice
                assert len(notice.splitlines()) == 1
        assert sleeper.poll() is None  # not signalled
    finally:
        sleeper.kill()
        sleeper.wait()


async def test_a_headless_run_is_stopped_from_the_app_resumably(shared_cache, shapes_dir, tmp_path, monkeypatch):
    """A real `cnnexplorer train` started from a shell, seen by an app opened later: c, y
    sends it SIGINT; it writes last.pt and exits 130; `train --resume` takes that last.pt."""
    monkeypatch.chdir(tmp_path)
    argv = ["train", "resnet20", "--data", str(shapes_dir), "--epochs", "40", "--output", "runs", *TRAIN_ARGS]
    trainer = popen_cli(argv, cwd=tmp_path, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        events = []
        while time.monotonic() < deadline and trainer.poll() is None:
            events = list(tmp_path.glob("runs/*/events.jsonl"))
            if events and any(event["event"] == "step" for event in read_events(events[0])):
                break
            time.sleep(0.2)
        assert events and trainer.poll() is None, trainer.communicate()
        folder = events[0].parent
        app = make_app("resnet20", cache=shared_cache, zoo_stats=False, runs_dir=Path("runs"))
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await pilot.press("J")
            table = await _rows(pilot, 1)
            await pilot.pause(0.4)
            assert _cell(table, f"run:{folder}", "status") == "running"
            await pilot.press("c")
            await pilot.pause()
            assert type(app.screen).__name__ == "ConfirmStop" and app.screen.pid == trainer.pid
            await pilot.press("y")
            await pilot.pause()
            assert f"Asked process {trainer.pid} to stop" in list(app._notifications)[-1].message
        assert trainer.wait(timeout=120) == 130
    finally:
        if trainer.poll() is None:
            trainer.kill()
        trainer.communicate()
    import torch

    from cnnexplorer.cli import main

    saved = torch.load(folder / "last.pt", weights_only=True)
    assert saved["step"] >= 1
    resume = ["train", "resnet20", "--resume", str(folder / "last.pt"), "--max-steps", str(saved["step"] + 1)]
    assert main([*resume, "--workers", "0"]) == 0
    starts = [event for event in read_events(folder / "events.jsonl") if event["event"] == "start"]
    assert len(starts) == 2 and starts[1]["start_step"] == saved["step"]


async def test_y_copies_the_launch_command(shared_cache, tmp_path, monkeypatch):
    """A job of the app: its command line; a past run: the command its config.json records."""
    runs = tmp_path / "runs"
    write_run(runs / FINISHED, RECORDED)
    monkeypatch.chdir(tmp_path)
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False, runs_dir=Path("runs"))
    copied = []
    monkeypatch.setattr(type(app), "copy_to_clipboard", lambda self, text: copied.append(text))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("J")
        await _rows(pilot, 1)
        await pilot.pause(0.4)
        await pilot.press("y")
        await pilot.pause()
        assert copied[-1] == (  # config.json's settings, as flags (a run's own folder is the command's to name)
            "cnnexplorer train resnet20 --workers 0 --dataset fake --batch-size 32 --no-channels-last --epochs 4 "
            "--optimizer sgd --seed 1 --output runs --lr 0.1 --image-size 32 --fake-size 256 --momentum 0.9 "
            "--no-nesterov --weight-decay 0.0001 --schedule step --milestones 2,3 --gamma 0.1 --plateau-patience 2 "
            "--warmup-epochs 0.0 --label-smoothing 0.0 --log-every 2"
        )
        assert list(app._notifications)[-1].message == f"Copied: {copied[-1]}"
        job = _job_with_log([])
        app.add_job(job)
        await pilot.pause(0.4)
        await pilot.press("y")
        await pilot.pause()
        assert copied[-1] == job.command_line == "cnnexplorer train resnet20 --dataset fake"
        notice = list(app._notifications)[-1].message
        assert notice == f"Copied: {job.command_line}"


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)], ids=["80x24", "120x40", "200x60"])
def test_a_finished_and_a_live_run(snap_compare, shared_cache, tmp_path, monkeypatch, size):
    """A finished run, one trained by another process (its folder locked by this test, whose
    clock stands still) and a job of the app whose log has a line longer than the pane."""
    runs = tmp_path / "runs"
    write_run(runs / FINISHED, RECORDED)
    live = write_run(runs / LIVE, RECORDED[:14])
    monkeypatch.chdir(tmp_path)  # the header shows runs/<name>
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False, runs_dir=Path("runs"))

    async def run_before(pilot):
        await settle(pilot)
        pilot.app.add_job(_job_with_log(["resuming nothing: a new run", LONG_LINE, "epoch 1/4 step 4/8 loss 2.3312"]))
        await _rows(pilot, 3)
        await pilot.pause(0.4)

    with lock_run_dir(live):
        assert snap_compare(app, terminal_size=size, run_before=run_before)
