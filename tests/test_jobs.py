"""The Textual-free job core: folding events, launch requests, command lines, sparklines, chart ticks."""

import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cnnexplorer import zoo
from cnnexplorer.app.charts import Series, axis, caption, smooth, sparkline, thin
from cnnexplorer.runs.events import AnyEvent, encode, make_event, parse_event, read_events
from cnnexplorer.runs.jobs import Job
from cnnexplorer.runs.state import RunState, RunWatcher, discover_runs, fold, load_run
from cnnexplorer.train.form import field_problems, new_request, read_fields
from cnnexplorer.train.recipes import recipe_for
from cnnexplorer.train.request import LaunchRequest

RUNS = Path(__file__).parent / "data" / "runs"
DAY, HOUR = 86400.0, 3600.0
RESUMED_AT_STEP = 20  # the recorded run, cancelled in epoch 3 and resumed an hour later
RECORDED_RUN = read_events(RUNS / "finished-resnet20" / "events.jsonl")


def read_back(event: dict) -> AnyEvent:
    """The typed event a reader gets for ``event`` (a record as ``read_events`` gives it)."""
    return parse_event(encode(event))


def recorded(event_type: str, /, **fields) -> AnyEvent:
    """The recorded run's first event of the type with ``fields`` in place of its own, as a reader gets it."""
    return read_back(next(event for event in RECORDED_RUN if event["event"] == event_type) | fields)


SCRIPT_REQUEST = LaunchRequest("train", "resnet20")


class ScriptJob(Job):
    """A job whose child is a Python script (with ``args``) in place of ``cnnexplorer``,
    for ``request``: its events are made up."""

    def __init__(self, script: str, *args: str, request=SCRIPT_REQUEST, history=None) -> None:
        super().__init__(request, history=history)
        self.script = [sys.executable, "-c", script, *args]

    @property
    def argv(self) -> list[str]:
        return self.script


def start_script_job(app, script: str) -> Job:
    """Start a script's job in ``app`` as its launch form would start one."""
    job = ScriptJob(script)
    job.start()
    app.add_job(job)
    return job


def form_request(model: str = "resnet20", kind: str = "train", **fields) -> LaunchRequest:
    """The request of a new launch form for ``model`` on the CPU with ``fields`` typed in."""
    return read_fields(new_request(kind, model, recipe_for(zoo.get(model)), "cpu", "runs"), fields)


def child_argv(request: LaunchRequest) -> list[str]:
    """The arguments after ``python -m cnnexplorer`` of the request's job."""
    return Job(request).argv[3:]


def resumed_run_events(resumed: bool = True) -> list[dict]:
    """The recorded 4-epoch run as if cancelled at step 20 (epoch 3) and, if ``resumed``,
    resumed an hour later with ``--resume last.pt``: the second ``start`` appended to the
    same events file, as `cnnexplorer train --resume` does. All a day before the recording."""
    recorded = read_events(RUNS / "finished-resnet20" / "events.jsonl")
    events = [event | {"time": event["time"] - DAY} for event in recorded]
    cut = next(i for i, e in enumerate(events) if e["event"] == "step" and e["step"] == RESUMED_AT_STEP) + 1
    first, rest = events[:cut], events[cut:]
    stopped = first[-1]["time"]
    message = f"SIGINT at step {RESUMED_AT_STEP} (epoch 3): wrote last.pt"
    summary = {"epochs": 2, "steps": RESUMED_AT_STEP}
    first += [
        make_event("checkpoint", path="last.pt", kind="last", epoch=2, step=RESUMED_AT_STEP) | {"time": stopped + 0.2},
        make_event("error", kind="interrupted", message=message) | {"time": stopped + 0.3},
        make_event("done", status="interrupted", summary=summary) | {"time": stopped + 0.4},
    ]
    if not resumed:
        return first
    resume = {"start_epoch": 3, "start_step": RESUMED_AT_STEP, "resumed_from": "last.pt", "time": stopped + HOUR}
    return first + [events[0] | resume] + [event | {"time": event["time"] + HOUR + 5} for event in rest]


def in_folder(events: list[dict], folder: Path) -> list[dict]:
    """The events as the trainer writes them in ``folder`` (its start events name it)."""
    return [event | {"run_dir": str(folder)} if event["event"] == "start" else event for event in events]


def write_run(folder: Path, events: list[dict]) -> Path:
    """A run folder as `cnnexplorer train` leaves it: events, config and a last.pt."""
    folder.mkdir(parents=True)
    (folder / "events.jsonl").write_text("".join(json.dumps(event) + "\n" for event in in_folder(events, folder)))
    shutil.copy(RUNS / "finished-resnet20" / "config.json", folder / "config.json")
    (folder / "last.pt").write_bytes(b"")
    return folder


def test_folding_a_finished_run():
    events = read_events(RUNS / "finished-resnet20" / "events.jsonl")
    state = fold(map(read_back, events))
    assert (state.model, state.command, state.status) == ("resnet20", "train", "done")
    assert state.epochs == 4 and state.epoch == 4
    vals = [e for e in events if e["event"] == "val"]
    assert len(state.val) == len(vals) == 4
    assert state.best_top1 == max(e["top1"] for e in vals)
    assert [loss for _, loss in state.losses] == [e["loss"] for e in events if e["event"] == "step"]
    assert state.progress == 1.0


def test_folding_a_failed_run_keeps_the_error():
    state = load_run(RUNS / "failed-resnet20")
    assert state.status == "failed"
    assert state.error.startswith("nonfinite_loss: the loss is nan at step 2")
    assert not state.resumable


def test_a_run_without_done_is_unfinished_and_a_cancel_is_resumable(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    events = read_events(RUNS / "finished-resnet20" / "events.jsonl")[:6]
    (run / "events.jsonl").write_text("".join(__import__("json").dumps(e) + "\n" for e in events))
    assert load_run(run).status == "unfinished"
    (run / "last.pt").write_bytes(b"")
    assert load_run(run).resumable
    state = RunState()
    state.apply(recorded("checkpoint", path="x/last.pt", kind="last", epoch=1, step=4))
    state.apply(recorded("done", status="interrupted", summary={}))
    assert state.label == "cancelled, resumable"


def test_discover_runs_lists_newest_first_and_marks_broken(tmp_path):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "events.jsonl").write_text('{"not": "an event"}\n')
    import shutil

    shutil.copytree(RUNS / "finished-resnet20", tmp_path / "b-run")
    shutil.copytree(RUNS / "failed-resnet20", tmp_path / "a-run")
    assert [s.status for s in discover_runs(tmp_path)] == ["damaged", "done", "failed"]
    assert discover_runs(tmp_path / "missing") == []


def _damage(run_dir, how):
    """The finished run's events file damaged ``how``."""
    events_file = run_dir / "events.jsonl"
    if how == "a step lacking its fields":
        with open(events_file, "a") as stream:
            stream.write('{"event": "step", "loss": 1.0}\n')
    elif how == "garbage":
        events_file.write_bytes(b"\x00\xff garbage\n{oops\n")
    elif how == "a folder":
        events_file.unlink()
        events_file.mkdir()
    elif how == "a named pipe":
        events_file.unlink()
        os.mkfifo(events_file)


@pytest.mark.parametrize(
    ("how", "status", "says"),
    [
        ("a step lacking its fields", "done", "1 line of events.jsonl not events (first: line 30: not an event"),
        ("garbage", "damaged", "no start event; 2 lines of events.jsonl not events (first: line 1: not UTF-8"),
        ("a folder", "damaged", "events.jsonl cannot be read"),
        ("a named pipe", "damaged", "events.jsonl cannot be read: not a regular file"),
    ],
)
def test_a_run_with_damaged_events_is_listed_and_marked_with_the_reason(tmp_path, how, status, says):
    import shutil

    run_dir = tmp_path / "b-run"
    shutil.copytree(RUNS / "finished-resnet20", run_dir)
    shutil.copytree(RUNS / "failed-resnet20", tmp_path / "a-run")
    _damage(run_dir, how)
    found = discover_runs(tmp_path)  # returns at once, a named pipe included
    assert [run.run_dir.name for run in found] == ["b-run", "a-run"]
    damaged, healthy = found
    assert damaged.status == status and says in damaged.damaged, damaged.damaged
    assert damaged.label.endswith("damaged") and healthy.damaged is None and healthy.label == "failed"


def test_eta_from_the_pace_so_far_counting_down_between_events():
    state = RunState()
    state.apply(recorded("start", time=100.0, config={"epochs": 2}, steps_per_epoch=10, model="m"))
    state.apply(recorded("step", time=110.0, epoch=1, step=5, loss=1.0, steps_per_epoch=10))
    assert state.progress == 0.25
    assert state.eta_seconds(now=110.0) == pytest.approx(30.0)
    assert state.eta_seconds(now=120.0) == pytest.approx(20.0)
    assert state.eta_seconds(now=200.0) is None  # past its estimate with steps left: unknown, not 0 s


def test_the_eta_counts_only_the_current_segment():
    """50 slow steps (1000 s) before the resume, then 10 steps in 10 s: 40 steps left at the
    new pace are 40 s, not the 200 s the whole run's average would say."""
    state = RunState()
    state.apply(recorded("start", time=0.0, config={"epochs": 1}, steps_per_epoch=100, start_step=0))
    state.apply(recorded("step", time=1000.0, epoch=1, step=50, loss=1.0, steps_per_epoch=100))
    state.apply(recorded("done", time=1001.0, status="interrupted", summary={}))
    assert state.eta_seconds(now=1001.0) is None
    state.apply(recorded("start", time=5000.0, config={"epochs": 1}, steps_per_epoch=100, start_step=50))
    assert state.eta_seconds(now=5000.0) is None  # no step of this segment yet
    state.apply(recorded("step", time=5010.0, epoch=1, step=60, loss=0.9, steps_per_epoch=100))
    assert state.eta_seconds(now=5010.0) == pytest.approx(40.0)
    assert state.eta_seconds(now=5015.0) == pytest.approx(35.0)
    assert state.duration_seconds(now=5015.0) == pytest.approx(1001.0 + 15.0)


def test_a_resumed_run_is_one_run_with_its_curves_joined():
    state = fold(map(read_back, resumed_run_events()))
    all_steps = [e for e in read_events(RUNS / "finished-resnet20" / "events.jsonl") if e["event"] == "step"]
    assert state.segments == 2 and state.status == "done" and state.label == "done"
    assert [step for step, _ in state.losses] == [e["step"] for e in all_steps]  # no gap, no repeat
    assert [val.epoch for val in state.val] == [1, 2, 3, 4]
    assert (state.epoch, state.epochs, state.step) == (4, 4, 32)
    assert (state.best_top1, state.best_top5) == (20.0, 68.0)
    assert state.segment_start_step == RESUMED_AT_STEP and state.error is None
    assert state.first_started_at < state.started_at - HOUR + 60


def test_a_resume_from_an_earlier_checkpoint_redoes_the_steps_after_it():
    """A run that failed after its last checkpoint: the steps it logged past the checkpoint
    are replaced by the resumed segment's."""
    state = RunState()
    state.apply(recorded("start", time=0.0, config={"epochs": 2}, steps_per_epoch=4))
    for step in range(1, 7):
        state.apply(recorded("step", time=float(step), epoch=1 + (step > 4), step=step, loss=9.0, steps_per_epoch=4))
    state.apply(recorded("done", time=7.0, status="failed", summary={}))
    state.apply(recorded("start", time=10.0, config={"epochs": 2}, steps_per_epoch=4, start_step=4, start_epoch=2))
    assert [step for step, _ in state.losses] == [1, 2, 3, 4] and state.epoch == 2 and state.status == "running"


def test_the_done_summary_fills_what_no_step_or_val_event_said():
    """A run shorter than --log-every: no step event, yet done with its epoch and best top-1."""
    state = RunState()
    state.apply(recorded("start", time=0.0, command="train", config={"epochs": 1}, start_epoch=1))
    summary = {"epochs": 1, "steps": 5, "best_top1": 12.5, "last_val": {"top1": 12.5, "top5": 50.0}}
    state.apply(recorded("done", time=9.0, status="completed", summary=summary))
    assert (state.epoch, state.step, state.best_top1, state.best_top5) == (1, 5, 12.5, 50.0)
    evaluation = RunState()
    evaluation.apply(recorded("start", time=0.0, command="eval", config={}, start_epoch=0))
    evaluation.apply(recorded("done", time=1.0, status="completed", summary={"top1": 70.0, "top5": 90.0}))
    assert (evaluation.best_top1, evaluation.best_top5) == (70.0, 90.0)


def test_smooth_is_a_debiased_moving_average():
    assert smooth([2.0, 2.0, 2.0]) == pytest.approx([2.0, 2.0, 2.0])
    assert smooth([0.0, 1.0], weight=0.5) == pytest.approx([0.0, 0.5 * 1.0 / 0.75])


def test_thin_keeps_the_ends_and_at_most_the_limit():
    points = [(i, float(i)) for i in range(10_000)]
    thinned = thin(points, most=600)
    assert len(thinned) == 600 and thinned[0] == points[0] and thinned[-1] == points[-1]
    assert thin(points[:5]) == points[:5]


def _significant_digits(label: str) -> int:
    return len(label.rstrip("KMGTPE").replace("-", "").replace(".", "").lstrip("0")) or 1


def test_ticks_of_a_first_step_have_a_few_significant_digits():
    ticks = axis([2.60192418098449751], most=5)
    assert len(ticks.labels) >= 2 and ticks.low < 2.60192418098449751 < ticks.high
    assert all(_significant_digits(label) <= 4 for label in ticks.labels), ticks.labels


def test_ticks_of_a_diverged_run_use_si_suffixes():
    ticks = axis([2.3, 5230706688.0], most=5)
    assert ticks.labels == ["0", "2G", "4G", "6G"]
    assert axis([0, 100_000], most=5, whole=True, tight=True).labels == ["0", "25K", "50K", "75K", "100K"]


def test_ticks_are_round_and_whole_where_asked():
    assert axis([1.96, 4.27], most=6).labels == ["1.5", "2.0", "2.5", "3.0", "3.5", "4.0", "4.5"]
    assert axis([2], most=5, whole=True).ticks == [1.0, 2.0, 3.0]  # one step: a band around it
    assert axis([1, 4], most=8, whole=True, tight=True).labels == ["1", "2", "3", "4"]  # no 2.5 on steps
    assert axis([float("nan"), 1.0, 3.0], most=3).labels == ["1", "2", "3"]
    assert all(math.isfinite(tick) for tick in axis([]).ticks)


def test_captions_shorten_to_fit_and_name_every_series():
    series = [Series("top-1 %", "top-1%", (1, 2, 3), []), Series("loss (right axis)", "loss→", (4, 5, 6), [], True)]
    wide = caption(("validation per epoch", "val/epoch"), series, 200).plain
    assert wide == "validation per epoch  ━ top-1 %  ━ loss (right axis)"
    narrow = caption(("validation per epoch", "val/epoch"), series, 30).plain
    assert narrow == "val/epoch ━top-1% ━loss→" and len(narrow) <= 30


def test_sparkline_scales_to_blocks():
    assert sparkline([1, 2, 3, 4, 5, 6, 7, 8]) == "▁▂▃▄▅▆▇█"
    assert sparkline([3.0, 3.0]) == "▁▁"
    assert sparkline([]) == ""
    assert len(sparkline(list(range(100)), width=10)) == 10


def test_form_validation_names_each_bad_field(tmp_path):
    missing = str(tmp_path / "missing")
    request = form_request(dataset="imagefolder", data=missing, epochs="0", batch_size="x", lr="fast", seed="-1")
    errors = field_problems(request)
    assert set(errors) == {"data", "epochs", "batch_size", "lr", "seed"}
    (tmp_path / "train").mkdir()
    assert field_problems(form_request(dataset="imagefolder", data=str(tmp_path))) == {}
    assert "checkpoint" in field_problems(form_request(kind="eval", checkpoint=str(tmp_path / "nope.pt")))
    assert "device" in field_problems(form_request(device="tpu"))


def test_the_command_is_the_headless_command_line():
    request = form_request(
        "vgg16", epochs="2", batch_size="8", device="cuda:1", precision="bf16", channels_last="on", lr="0.02"
    )
    argv = Job(request).argv
    assert argv[:5] == [sys.executable, "-m", "cnnexplorer", "train", "vgg16"]
    joined = " ".join(argv)
    for part in (
        "--events -",
        "--dataset fake",
        "--device cuda:1",
        "--precision bf16",
        "--channels-last",
        "--epochs 2",
        "--lr 0.02",
    ):
        assert part in joined
    assert "--gpus 0,1" in " ".join(child_argv(form_request("resnet50", device="gpus:0,1")))
    evaluation = child_argv(form_request(kind="eval", checkpoint="best.pt"))
    assert evaluation[0] == "eval" and "--checkpoint best.pt" in " ".join(evaluation)


def test_every_valid_form_is_a_command_line_the_cli_takes(tmp_path):
    from cnnexplorer.cli import build_parser

    (tmp_path / "train").mkdir()
    (tmp_path / "best.pt").write_bytes(b"")
    requests = [
        form_request(),
        form_request(kind="eval", checkpoint=str(tmp_path / "best.pt")),
        form_request("vgg16", dataset="imagefolder", data=str(tmp_path), lr="0.02", max_steps="5",
                     optimizer="adamw", device="gpus:0,1", precision="fp16", channels_last="on"),
    ]  # fmt: skip
    for request in requests:
        assert field_problems(request) == {}
        args = build_parser().parse_args(child_argv(request))
        assert args.model == request.model and args.events == "-"


def test_the_request_names_a_bad_device_and_a_bad_choice():
    assert field_problems(form_request(device="gpus:a")) == {"device": "cpu, cuda:N or gpus:0,1"}
    assert "invalid choice" in LaunchRequest("train", "resnet20", amp="fp8").problems()["amp"]


def test_device_choices_and_their_options(monkeypatch):
    import torch

    from cnnexplorer.train.devices import list_device_choices
    from cnnexplorer.train.form import device_options

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert list_device_choices() == ["cuda:0", "cuda:1", "gpus:0,1", "cpu"]
    assert [device_options(choice) for choice in ("cuda:1", "gpus:0,1", "cpu")] == [
        {"gpus": None, "device": "cuda:1"},
        {"gpus": (0, 1), "device": None},
        {"gpus": None, "device": "cpu"},
    ]


def test_the_launch_contract_does_not_import_torch():
    code = "import sys; from cnnexplorer import zoo; from cnnexplorer.train.form import field_problems, new_request, "
    code += "read_fields; from cnnexplorer.train.recipes import recipe_for; "
    code += "start = new_request('train', 'resnet20', recipe_for(zoo.get('resnet20')), 'cpu', 'runs'); "
    code += "field_problems(read_fields(start, {'epochs': '2'})); print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_resume_puts_the_run_back_on_its_devices(tmp_path):
    from cnnexplorer.train.request import resume_request

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text('{"model": "resnet20"}')
    (run / "last.pt").write_bytes(b"")
    for devices, flags in ((["cpu"], ["--device", "cpu"]), (["cuda:0", "cuda:1"], ["--gpus", "0,1"]),
                           (["cpu", "cpu"], ["--nproc", "2", "--device", "cpu"])):  # fmt: skip
        state = RunState(run_dir=run, devices=devices)
        argv = child_argv(resume_request(state))
        assert argv[:2] == ["train", "resnet20"]
        assert " ".join(flags) in " ".join(argv) and argv[-4:-2] == ["--resume", str(run / "last.pt")]
    with pytest.raises(ValueError):
        resume_request(RunState(run_dir=tmp_path))


def run_script_job(script: str) -> Job:
    """Run a script's job to its end, both reader threads included (up to 35 s)."""
    job = ScriptJob(script)
    job.start()
    assert job.wait(timeout=30) == 0
    for _ in range(100):  # the events reader sets returncode once it has read everything
        if job.returncode is not None:
            break
        time.sleep(0.05)
    return job


def test_a_reader_survives_lines_that_are_not_events(tmp_path):
    script = "import json,sys;print('not json');print(json.dumps([1]));print(json.dumps({'schema':1,'event':'step'}));"
    script += "print(json.dumps({'schema':1,'event':'done','time':0,'status':'completed','summary':{}}));sys.exit(0)"
    job = run_script_job(script)
    assert job.state.status == "done"
    assert "not json" in job.log


def test_bytes_that_are_not_utf8_on_the_pipes_do_not_stop_the_readers():
    done = {"schema": 1, "event": "done", "time": 0, "status": "completed", "summary": {}}
    script = "import json,sys;sys.stdout.buffer.write(b'\\xff\\xfe\\n');sys.stderr.buffer.write(b'\\xc3(\\n');"
    script += f"sys.stdout.flush();sys.stderr.flush();print(json.dumps({done!r}));print('after',file=sys.stderr)"
    job = run_script_job(script)
    assert job.state.status == "done"
    assert "\ufffd\ufffd" in job.log and "after" in job.log


def test_a_watcher_reads_growing_runs_incrementally(tmp_path):
    import json

    from cnnexplorer.runs.state import RunWatcher

    events = read_events(RUNS / "finished-resnet20" / "events.jsonl")
    run = tmp_path / "20260101-000000-resnet20"
    run.mkdir()
    watcher = RunWatcher(tmp_path)
    with open(run / "events.jsonl", "w") as stream:
        for event in events[:10]:
            stream.write(json.dumps(event) + "\n")
    (state,) = watcher.poll()
    assert state.status == "unfinished" and len(state.losses) == sum(e["event"] == "step" for e in events[:10])
    with open(run / "events.jsonl", "a") as stream:
        for event in events[10:]:
            stream.write(json.dumps(event) + "\n")
    (state,) = watcher.poll()
    assert state.status == "done" and len(state.val) == 4 and state.run_dir == run


def test_a_watcher_reads_a_forgotten_run_again_from_its_first_event(tmp_path):
    from cnnexplorer.runs.state import RunWatcher

    run = write_run(tmp_path / "run", resumed_run_events(resumed=False))
    watcher = RunWatcher(tmp_path)
    (state,) = watcher.poll()
    assert state.label == "cancelled, resumable"
    # The file rewritten (not appended to): a watcher reads on from its old offset, mid-line.
    (run / "events.jsonl").write_text("".join(json.dumps(event) + "\n" for event in in_folder(RECORDED_RUN, run)))
    watcher.forget(run)
    (state,) = watcher.poll()
    assert state.status == "done" and len(state.val) == 4


def test_a_run_folder_readable_again_is_read_again_from_its_start(tmp_path):
    import shutil

    run_dir = tmp_path / "b-run"
    shutil.copytree(RUNS / "finished-resnet20", run_dir)
    watcher = RunWatcher(tmp_path)
    (run_dir / "events.jsonl").rename(tmp_path / "kept")
    (run_dir / "events.jsonl").mkdir()
    assert [run.status for run in watcher.poll()] == ["damaged"]
    (run_dir / "events.jsonl").rmdir()
    (tmp_path / "kept").rename(run_dir / "events.jsonl")
    (run,) = watcher.poll()
    assert (run.status, run.damaged, run.step) == ("done", None, 32)


@pytest.mark.parametrize(
    ("config", "says"),
    [
        ("[" * 100_000 + "]" * 100_000, "its config.json is damaged: "),
        ('{"model": {"nested": "object"}}', "its config.json is damaged: "),
        ('{"model": "' + "x" * 5000 + '"}', "its config.json is damaged: "),
        (" " * (2 * 1024 * 1024), "its config.json cannot be read: larger than 1,048,576 bytes"),
        ('{"epochs": 4}', "its config.json does not name its model"),
        ('{"model": "./evil.py:f"}', "its recorded model './evil.py:f' is code"),
        ('{"model": "evil.module:f"}', "its recorded model 'evil.module:f' is code"),
    ],
    ids=["deep", "nested", "long", "large", "no-model", "file", "module"],
)
def test_resuming_from_the_app_reads_config_json_as_bounded_data(tmp_path, config, says):
    from cnnexplorer.runs.jobs import run_to_resume

    folder = write_run(tmp_path / "run", RECORDED_RUN[:5])
    (folder / "config.json").write_text(config)
    with pytest.raises(ValueError) as raised:
        run_to_resume(load_run(folder))
    assert str(raised.value).startswith(says) and len(str(raised.value).splitlines()) == 1, raised.value


@pytest.mark.parametrize("model", ["resnet20", "timm:resnet50d", "torchvision:resnet18", "vgg16_bn"])
def test_the_app_resumes_runs_of_named_models(tmp_path, model):
    from cnnexplorer.runs.jobs import run_to_resume

    folder = write_run(tmp_path / "run", RECORDED_RUN[:5])
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(config | {"model": model}))
    assert run_to_resume(load_run(folder)) == (model, folder / "last.pt")


def test_a_config_json_of_escaped_quotes_is_refused_in_linear_time(tmp_path):
    """A megabyte of ``\\"`` once made the depth check's string-skipping regex backtrack
    quadratically (hours); the reader must answer while the test waits."""
    import threading

    from cnnexplorer.runs.jobs import run_to_resume

    folder = write_run(tmp_path / "run", RECORDED_RUN[:5])
    (folder / "config.json").write_text('{"model": "' + '\\"' * 500_000)
    said = []

    def resume():
        try:
            run_to_resume(load_run(folder))
        except ValueError as error:
            said.append(str(error))

    reader = threading.Thread(target=resume, daemon=True)
    reader.start()
    reader.join(timeout=60)
    assert not reader.is_alive(), "the config.json reader is still scanning"
    assert len(said) == 1 and said[0].startswith("its config.json is damaged: "), said
