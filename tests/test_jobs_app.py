"""Jobs in the app: snapshots driven by recorded event files, a resumed run continuing its
row, readable chart ticks, the ETA, and a real tiny CPU job launched, watched and cancelled
from the app."""

import asyncio
import json
import re
import time
from pathlib import Path

import pytest
from rich.text import Text

import cnnexplorer.app.screens.jobs as jobs_screen
from cnnexplorer.app import make_app
from cnnexplorer.app.screens.jobs import COLUMNS, JobsScreen, fit_columns
from cnnexplorer.runs.events import read_events
from cnnexplorer.runs.jobs import Job
from cnnexplorer.runs.state import load_run
from cnnexplorer.train.request import LaunchRequest
from tests.conftest import settle
from tests.test_jobs import (
    RESUMED_AT_STEP,
    ScriptJob,
    in_folder,
    read_back,
    recorded,
    resumed_run_events,
    start_script_job,
    write_run,
)

RUNS = Path(__file__).parent / "data" / "runs"
SIZE = (150, 44)
RECORDED = read_events(RUNS / "finished-resnet20" / "events.jsonl")
CLOCK = RECORDED[13]["time"] + 2.0  # the wall clock the snapshots see: just after the 14th event
FINISHED, FAILED, RESUMED = "20261126-012309-resnet20", "20261126-012404-resnet20", "20261125-012309-resnet20"


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch):
    """Start times in UTC and a wall clock that stands still, so that snapshots do not drift."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.setattr(jobs_screen, "_now", lambda: CLOCK)
    yield
    monkeypatch.undo()
    time.tzset()


def _replayed_job(lines: int, folder: str = FINISHED) -> Job:
    """A job whose first ``lines`` events come from a recorded run (no process started), as
    if written in runs/``folder``."""
    job = Job(LaunchRequest("train", "resnet20", dataset="fake"))
    for event in in_folder(RECORDED[:lines], Path("/tmp/rec/runs", folder)):
        job.state.apply(read_back(event))
    job.log.extend(["epoch 1/4 step 2/8 loss 2.4040", "epoch 1/4 step 4/8 loss 2.3312"])
    return job


def _jobs_app(shared_cache, job_lines: int | None = 14):
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False, runs_dir=RUNS)

    async def run_before(pilot):
        await settle(pilot)
        if job_lines is None:
            pilot.app.action_show_jobs()
        else:
            pilot.app.add_job(_replayed_job(job_lines))
        await pilot.pause()
        await pilot.pause(0.4)  # one throttled redraw

    return app, run_before


def _cell(table, key: str, column: str) -> str:
    cell = table.get_cell(key, column)
    return cell.plain if isinstance(cell, Text) else str(cell)


def _row_key(folder: Path) -> str:
    return f"run:{folder.absolute()}"


async def _rows(pilot, count: int):
    """The jobs table once it lists ``count`` rows (runs/ is read off the UI thread)."""
    await pilot.pause()
    table = pilot.app.screen.query_one("#jobs-table")
    for _ in range(100):
        if table.row_count >= count:
            break
        await pilot.pause(0.05)
    return table


def _runs_folder(root: Path) -> Path:
    """runs/ with a finished run, a failed one and one cancelled at step 20 (resumable)."""
    runs = root / "runs"
    write_run(runs / FINISHED, RECORDED)
    write_run(runs / FAILED, read_events(RUNS / "failed-resnet20" / "events.jsonl"))
    write_run(runs / RESUMED, resumed_run_events(resumed=False))
    (runs / FAILED / "last.pt").unlink()
    return runs


def _resumed_job(folder: Path, until_step: int) -> Job:
    """The app's job resuming the cancelled run, replayed up to ``until_step`` (no process)."""
    last = Path("runs", folder.name, "last.pt")  # as the app names it, under runs/
    job = Job(LaunchRequest("train", "resnet20", resume=str(last)), history=load_run(folder))
    second = resumed_run_events()[len(resumed_run_events(resumed=False)) :]
    for event in in_folder(second, folder):
        if event["event"] == "step" and event["step"] > until_step:
            break
        job.state.apply(read_back(event))
    job.log.extend(["resuming from last.pt: epoch 3, step 20", "epoch 3/4 step 22/8 loss 2.0712"])
    return job


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)], ids=["80x24", "120x40", "200x60"])
def test_a_resumed_run_midway(snap_compare, shared_cache, tmp_path, monkeypatch, size):
    """The cancelled run resumed by the app: one row, the whole run's curves, the ETA of the
    segment that runs."""
    runs = _runs_folder(tmp_path)
    monkeypatch.chdir(tmp_path)  # the header shows runs/<name>
    job = _resumed_job(runs / RESUMED, until_step=28)
    monkeypatch.setattr(jobs_screen, "_now", lambda: job.state.last_time + 3.0)
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False, runs_dir=Path("runs"))

    async def run_before(pilot):
        await settle(pilot)
        pilot.app.add_job(job)
        await _rows(pilot, 3)
        await pilot.pause(0.4)  # one throttled redraw

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_running_job_with_curves_midway(snap_compare, shared_cache):
    app, run_before = _jobs_app(shared_cache)
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_finished_job_with_val_top1_top5(snap_compare, shared_cache):
    app, setup = _jobs_app(shared_cache, job_lines=None)

    async def run_before(pilot):
        await setup(pilot)
        await pilot.press("down")  # newest first: the failed run, then this one
        await pilot.pause(0.3)  # the detail follows the cursor once it rests

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_failed_job(snap_compare, shared_cache):
    app, setup = _jobs_app(shared_cache, job_lines=None)

    async def run_before(pilot):
        await setup(pilot)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_jobs_list(snap_compare, shared_cache):
    app, setup = _jobs_app(shared_cache, job_lines=29)

    async def run_before(pilot):
        await setup(pilot)
        pilot.app.add_job(_replayed_job(9, folder="20261126-020000-resnet20"))
        await pilot.pause(0.4)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_launch_form_with_validation_errors(snap_compare, shared_cache):
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False, runs_dir=RUNS)

    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("t")
        await pilot.pause()
        pilot.app.screen.query_one("#field-dataset").value = "imagefolder"
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
        assert job.command_line.startswith("cnnexplorer train resnet20 --workers 0 --dataset fake")
        assert "--events" in job.argv and "--events" not in job.command_line  # the app's pipe, not the user's

        deadline = time.monotonic() + 240
        while len(job.state.losses) < 2 and job.returncode is None and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        assert len(job.state.losses) >= 2, list(job.log)
        await pilot.pause(0.5)  # one throttled redraw
        table = app.screen.query_one("#jobs-table")
        key = _row_key(job.state.run_dir)  # the job's row, keyed by the folder its start event named
        assert table.row_count == 1 and _cell(table, key, "status") == "running"
        assert _cell(table, key, "loss")  # the sparkline of the steps so far

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


RESUMED_CHILD = """
import json, signal, sys, time
run_dir = sys.argv[1]
def emit(**event):
    print(json.dumps({"schema": 1, "time": time.time(), **event}), flush=True)
def stop(signum, frame):
    emit(event="done", status="interrupted", summary={"epochs": 2, "steps": 22})
    sys.exit(130)
signal.signal(signal.SIGINT, stop)
emit(event="start", command="train", model="resnet20", family="ResNet", config={"epochs": 4}, params=None,
     macs=None, device="cpu", devices=["cpu"], world_size=1, dataset=None, steps_per_epoch=8, run_dir=run_dir,
     resumed_from=run_dir + "/last.pt", start_epoch=3, start_step=20)
emit(event="step", epoch=3, step=22, epoch_step=6, steps_per_epoch=8, loss=2.0, lr=0.01, img_per_s=50.0,
     data_time=0.0)
while True:
    time.sleep(0.05)
"""


async def _until(condition, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert condition()


async def test_resuming_a_cancelled_run_continues_its_row(shared_cache, tmp_path, monkeypatch):
    """After r on a cancelled run, its row (not a new one) shows the new job with the whole
    run's curve; while the job runs the run is not offered for resume again."""
    runs = _runs_folder(tmp_path)
    folder = runs / RESUMED

    def resumed_job(request, history):  # the resume request of the run, with a script as its child
        assert request.argv()[-2:] == ["--resume", str(folder / "last.pt")]
        return ScriptJob(RESUMED_CHILD, str(folder), request=request, history=history)

    monkeypatch.setattr(jobs_screen, "Job", resumed_job)
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False, runs_dir=runs)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.action_show_jobs()
        table = await _rows(pilot, 3)
        for _ in range(2):  # newest start first: the failed run, the finished one, then this
            await pilot.press("down")
        await pilot.pause(0.3)
        assert _cell(table, _row_key(folder), "status") == "cancelled, resumable"

        await pilot.press("r")
        (job,) = app.jobs
        await _until(lambda: job.state.step == 22)
        await pilot.pause(0.4)  # one throttled redraw
        assert table.row_count == 3
        assert table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value == _row_key(folder)
        assert (_cell(table, _row_key(folder), "status"), _cell(table, _row_key(folder), "epoch")) == ("running", "3/4")
        steps = [step for step, _ in job.state.losses]
        assert steps == list(range(2, RESUMED_AT_STEP + 1, 2)) + [22]  # the first segment's curve, then this one's

        await pilot.press("r")
        await pilot.pause()
        assert len(app.jobs) == 1 and table.row_count == 3  # refused: it runs

        await pilot.press("c")
        await _until(lambda: job.returncode is not None)
        assert job.returncode == 130 and job.state.label == "cancelled, resumable"
        await pilot.pause(0.4)
        assert _cell(table, _row_key(folder), "status") == "cancelled, resumable" and table.row_count == 3


async def test_the_eta_counts_down_from_the_current_segment(shared_cache, tmp_path, monkeypatch):
    """4 steps in 10 s since the resume: 8 steps left are 20 s, whatever the first segment's
    pace; between events it counts down with the wall clock."""
    folder = write_run(tmp_path / "runs" / RESUMED, resumed_run_events(resumed=False))
    job = Job(LaunchRequest("train", "resnet20"), history=load_run(folder))
    resumed_at = job.state.last_time + 600
    start = resumed_run_events()[len(resumed_run_events(resumed=False))]
    job.state.apply(read_back(start | {"time": resumed_at, "run_dir": str(folder)}))
    job.state.apply(recorded("step", time=resumed_at + 10, epoch=4, step=24, loss=2.0))
    clock = [resumed_at + 10]
    monkeypatch.setattr(jobs_screen, "_now", lambda: clock[0])
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False, runs_dir=tmp_path / "runs")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.add_job(job)
        await pilot.pause(0.4)
        header = app.screen.query_one("#job-header")
        await _until(lambda: "ETA 20s" in header.content.plain, seconds=5)  # a redraw, however loaded the machine
        clock[0] += 5
        await _until(lambda: "ETA 15s" in header.content.plain, seconds=5)  # no event came: a redraw counts down


async def test_a_first_step_gets_ticks_of_a_few_significant_digits(shared_cache):
    job = Job(LaunchRequest("train", "resnet20"))
    job.state.apply(read_back(RECORDED[0]))
    job.state.apply(read_back(RECORDED[1] | {"step": 1, "loss": 2.60192418098449751}))
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False, runs_dir=RUNS)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.add_job(job)
        await pilot.pause(0.4)
        chart = app.screen.query_one("#loss-chart").plot.render().plain
        labels = re.findall(r"^ *([-0-9.]+[KMGTPE]?) *┤", chart, re.MULTILINE)
        assert len(labels) >= 2, chart
        assert all(len(label.replace(".", "").lstrip("0")) <= 4 for label in labels), labels
        assert "2.6019241" not in chart


async def test_an_evaluation_shows_its_one_result_not_an_empty_axis(shared_cache):
    job = Job(LaunchRequest("eval", "resnet20"))
    job.state.apply(read_back(RECORDED[0] | {"command": "eval", "config": {}, "run_dir": None, "start_epoch": 0}))
    job.state.apply(recorded("val", time=1.0, epoch=0, step=0, loss=1.2345, top1=70.5, top5=89.9, images=10000,
                             best_top1=70.5))  # fmt: skip
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False, runs_dir=RUNS)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.add_job(job)
        await pilot.pause(0.4)
        panel = app.screen.query_one("#val-chart")
        assert not panel.plot.display
        assert panel.query_one(".chart-note").content.plain == "top-1 70.50%  top-5 89.90%  loss 1.234 on 10K images"
        table = app.screen.query_one("#jobs-table")
        assert _cell(table, "job:0", "epoch") == "eval" and _cell(table, "job:0", "top1") == "70.50%"
        loss_note = app.screen.query_one("#loss-chart").query_one(".chart-note").content.plain
        assert "training" in loss_note and "no training steps yet" not in loss_note  # it trains nothing


def test_narrow_tables_drop_columns_in_order_and_keep_name_model_status():
    natural = {column.key: 6 for column in COLUMNS} | {"name": 24, "model": 15, "status": 20, "start": 11, "loss": 16}
    assert list(fit_columns(natural, 200)) == [column.key for column in COLUMNS]
    assert fit_columns(natural, 200)["name"] == 24
    assert list(fit_columns(natural, 100)) == ["name", "model", "status", "epoch", "top1", "top5", "time"]
    assert list(fit_columns(natural, 60)) == ["name", "model", "status"]
    assert fit_columns(natural, 60)["name"] == 19  # cut (with an ellipsis) to keep the status whole
    tiny = fit_columns(natural, 40)
    assert list(tiny) == ["name", "model", "status"] and sum(width + 2 for width in tiny.values()) == 40


STOPPABLE_CHILD = """
import json, signal, sys, time
def stop(signum, frame):
    print(json.dumps({"schema": 1, "event": "done", "time": 0, "status": "interrupted", "summary": {}}), flush=True)
    sys.exit(130)
signal.signal(signal.SIGINT, stop)
print(json.dumps({"schema": 1, "event": "start", "time": 0, "command": "train", "model": "resnet20",
                  "family": "ResNet", "config": {"epochs": 1}, "params": None, "macs": None, "device": "cpu",
                  "devices": ["cpu"], "world_size": 1, "dataset": None, "steps_per_epoch": 100, "run_dir": None,
                  "resumed_from": None, "start_epoch": 1, "start_step": 0}), flush=True)
while True:
    time.sleep(0.05)
"""


async def test_quitting_with_a_running_job_asks_and_stops_it(shared_cache, tmp_path):
    from cnnexplorer.app.screens.confirm_quit import ConfirmQuit

    app = make_app("resnet20", cache=shared_cache, zoo_stats=False, runs_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        job = start_script_job(app, STOPPABLE_CHILD)
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


def _damaged_runs(root: Path) -> Path:
    """runs/ with the finished run, one whose last event lacks its fields, one of garbage."""
    runs = root / "runs"
    write_run(runs / FINISHED, RECORDED)
    lacking = write_run(runs / "20261126-020000-resnet20", RECORDED[:9])
    with open(lacking / "events.jsonl", "a") as stream:
        stream.write('{"event": "step", "loss": 1.0}\n')
    garbage = runs / "20261126-030000-resnet20"
    garbage.mkdir()
    (garbage / "events.jsonl").write_bytes(b"\x00 not events\n")
    return runs


async def test_runs_with_damaged_events_are_listed_and_marked_with_the_reason(shared_cache, tmp_path):
    runs = _damaged_runs(tmp_path)
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False, runs_dir=runs)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("J")
        table = await _rows(pilot, 3)
        assert table.row_count == 3
        statuses = {
            name: _cell(table, _row_key(runs / name), "status") for name in sorted(p.name for p in runs.iterdir())
        }
        assert statuses == {
            FINISHED: "done",
            "20261126-020000-resnet20": "unfinished, damaged",
            "20261126-030000-resnet20": "damaged",
        }
        for name, says in (
            ("20261126-020000-resnet20", "damaged: 1 line of events.jsonl not events (first: line 10: not an event"),
            ("20261126-030000-resnet20", "damaged: no start event; 1 line of events.jsonl not events"),
        ):
            while table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value != _row_key(runs / name):
                await pilot.press("down")
            await pilot.pause(0.4)  # the detail follows the cursor once it rests
            header = app.screen.query_one("#job-header").render()
            assert says in str(header), str(header)


async def test_a_run_whose_recorded_model_is_code_is_not_resumed_by_the_app(shared_cache, tmp_path, monkeypatch):
    """A planted run folder naming a model file: r imports nothing; one line says how to
    resume it from a shell, if the user trusts it."""
    runs = tmp_path / "runs"
    folder = write_run(runs / RESUMED, resumed_run_events(resumed=False))
    (folder / "config.json").write_text(json.dumps({"model": "evil.py:f", "epochs": 4}))
    (tmp_path / "evil.py").write_text(f"open({str(tmp_path / 'marker')!r}, 'w').close()\ndef f(): pass\n")
    monkeypatch.chdir(tmp_path)
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False, runs_dir=Path("runs"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("J")
        await _rows(pilot, 1)
        await pilot.pause(0.3)
        await pilot.press("r")
        await pilot.pause()
        assert app.jobs == []
        (notice,) = [notification.message for notification in app._notifications]
        assert "its recorded model 'evil.py:f' is code" in notice and len(notice.splitlines()) == 1
        assert f"cnnexplorer train evil.py:f --resume {Path('runs', RESUMED, 'last.pt')}" in notice
    assert not (tmp_path / "marker").exists()
