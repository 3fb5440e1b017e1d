"""Jobs in the app: snapshots driven by recorded event files, and a real tiny CPU job
launched, watched and cancelled from the app."""

import asyncio
import sys
import time
from pathlib import Path

from cnnexplorer.app import make_app
from cnnexplorer.app.screens.jobs import JobsScreen
from cnnexplorer.events import read_events
from cnnexplorer.jobs import Job
from tests.conftest import settle

RUNS = Path(__file__).parent / "data" / "runs"
SIZE = (150, 44)


def _replayed_job(lines: int) -> Job:
    """A job whose first ``lines`` events come from a recorded run (no process started)."""
    job = Job([sys.executable, "-m", "cnnexplorer", "train", "resnet20", "--events", "-", "--dataset", "fake"])
    for event in read_events(RUNS / "finished-resnet20" / "events.jsonl")[:lines]:
        job.state.apply(event)
    job.log.extend(["epoch 1/4 step 2/8 loss 2.4040", "epoch 1/4 step 4/8 loss 2.3312"])
    return job


def _jobs_app(shared_cache, job_lines: int | None = 14):
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False, runs_dir=RUNS)

    async def run_before(pilot):
        await settle(pilot)
        if job_lines is None:
            pilot.app.show_jobs()
        else:
            pilot.app.add_job(_replayed_job(job_lines))
        await pilot.pause()
        await pilot.pause(0.4)  # one throttled redraw

    return app, run_before


def test_running_job_with_curves_midway(snap_compare, shared_cache):
    app, run_before = _jobs_app(shared_cache)
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_finished_job_with_val_top1_top5(snap_compare, shared_cache):
    app, setup = _jobs_app(shared_cache, job_lines=None)

    async def run_before(pilot):
        await setup(pilot)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_failed_job(snap_compare, shared_cache):
    app, setup = _jobs_app(shared_cache, job_lines=None)

    async def run_before(pilot):
        await setup(pilot)
        await pilot.press("down")
        await pilot.pause(0.3)  # the detail follows the cursor once it rests

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_jobs_list(snap_compare, shared_cache):
    app, setup = _jobs_app(shared_cache, job_lines=29)

    async def run_before(pilot):
        await setup(pilot)
        pilot.app.add_job(_replayed_job(9))
        await pilot.pause(0.4)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_launch_form_with_validation_errors(snap_compare, shared_cache):
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False, runs_dir=RUNS)

    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("t")
        await pilot.pause()
        pilot.app.screen.query_one("#field-data").value = "/no/such/folder"
        pilot.app.screen.query_one("#field-epochs").value = "0"
        pilot.app.screen.query_one("#field-lr").value = "fast"
        await pilot.press("ctrl+s")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


async def test_a_real_job_streams_into_the_chart_and_cancels_resumably(shared_cache, tmp_path):
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False, runs_dir=tmp_path / "runs")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("t")
        await pilot.pause()
        form = app.screen
        for field, value in (("epochs", "20"), ("batch_size", "16"), ("seed", "3"), ("output", str(tmp_path / "runs"))):
            form.query_one(f"#field-{field}").value = value
        form.query_one("#field-lr").value = "0.05"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, JobsScreen)
        job = app.jobs[0]
        assert job.command_line.startswith("cnnexplorer train resnet20 --events - --workers 0 --dataset fake")

        deadline = time.monotonic() + 240
        while len(job.state.losses) < 2 and job.returncode is None and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        assert len(job.state.losses) >= 2, list(job.log)
        await pilot.pause(0.5)  # one throttled redraw
        drawn_status, drawn_step = app.screen._drawn["job-0"][:2]
        assert drawn_status == "running" and drawn_step >= job.state.losses[1][0]

        await pilot.press("c")
        while job.returncode is None and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        assert job.returncode == 130, list(job.log)
        assert job.state.status == "cancelled" and job.state.label == "cancelled, resumable"
        last = job.state.run_dir / "last.pt"
        assert last.exists()
        import torch

        checkpoint = torch.load(last, weights_only=True)
        assert checkpoint["step"] >= job.state.losses[1][0]


STOPPABLE_CHILD = """
import json, signal, sys, time
def stop(signum, frame):
    print(json.dumps({"schema": 1, "event": "done", "time": 0, "status": "interrupted", "summary": {}}), flush=True)
    sys.exit(130)
signal.signal(signal.SIGINT, stop)
print(json.dumps({"schema": 1, "event": "start", "time": 0, "command": "train", "model": "resnet20",
                  "config": {"epochs": 1}, "steps_per_epoch": 100}), flush=True)
while True:
    time.sleep(0.05)
"""


async def test_quitting_with_a_running_job_asks_and_stops_it(shared_cache, tmp_path):
    from cnnexplorer.app.screens.confirm_quit import ConfirmQuit

    app = make_app("resnet20", cache=shared_cache, zoo_stats=False, runs_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        job = app.launch([sys.executable, "-c", STOPPABLE_CHILD, "train", "resnet20"])
        for _ in range(100):
            await asyncio.sleep(0.05)
            if job.state.status == "running":
                break
        await pilot.press("escape")  # back to the explorer
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmQuit)
        await pilot.press("n")
        await pilot.pause()
        assert job.running and not isinstance(app.screen, ConfirmQuit)
        await pilot.press("q")
        await pilot.pause()
        await pilot.press("y")
        for _ in range(200):
            await asyncio.sleep(0.05)
            if job.returncode is not None:
                break
    assert job.returncode == 130 and job.state.status == "cancelled"
