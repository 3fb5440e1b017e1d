"""The Textual-free job core: folding events, forms, command lines, sparklines."""

import subprocess
import sys
from pathlib import Path

import pytest

from cnnexplorer.app.charts import smooth, sparkline, thin
from cnnexplorer.events import make_event, read_events
from cnnexplorer.jobs import Job
from cnnexplorer.runs import RunState, discover_runs, fold, load_run
from cnnexplorer.train.launch import TrainForm, command, validate

RUNS = Path(__file__).parent / "data" / "runs"


def test_folding_a_finished_run():
    events = read_events(RUNS / "finished-resnet20" / "events.jsonl")
    state = fold(events)
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
    state.apply(make_event("checkpoint", path="x/last.pt", kind="last", epoch=1, step=4))
    state.apply(make_event("done", status="interrupted", summary={}))
    assert state.label == "cancelled, resumable"


def test_discover_runs_lists_newest_first_and_skips_broken(tmp_path):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "events.jsonl").write_text('{"not": "an event"}\n')
    import shutil

    shutil.copytree(RUNS / "finished-resnet20", tmp_path / "b-run")
    shutil.copytree(RUNS / "failed-resnet20", tmp_path / "a-run")
    assert [s.status for s in discover_runs(tmp_path)] == ["done", "failed"]
    assert discover_runs(tmp_path / "missing") == []


def test_eta_from_the_pace_so_far():
    state = RunState()
    state.apply({"event": "start", "time": 100.0, "config": {"epochs": 2}, "steps_per_epoch": 10, "model": "m"})
    state.apply({"event": "step", "time": 110.0, "epoch": 1, "step": 5, "loss": 1.0, "steps_per_epoch": 10})
    assert state.progress == 0.25
    assert state.eta_seconds == pytest.approx(30.0)


def test_smooth_is_a_debiased_moving_average():
    assert smooth([2.0, 2.0, 2.0]) == pytest.approx([2.0, 2.0, 2.0])
    assert smooth([0.0, 1.0], weight=0.5) == pytest.approx([0.0, 0.5 * 1.0 / 0.75])


def test_thin_keeps_the_ends_and_at_most_the_limit():
    points = [(i, float(i)) for i in range(10_000)]
    thinned = thin(points, most=600)
    assert len(thinned) == 600 and thinned[0] == points[0] and thinned[-1] == points[-1]
    assert thin(points[:5]) == points[:5]


def test_sparkline_scales_to_blocks():
    assert sparkline([1, 2, 3, 4, 5, 6, 7, 8]) == "▁▂▃▄▅▆▇█"
    assert sparkline([3.0, 3.0]) == "▁▁"
    assert sparkline([]) == ""
    assert len(sparkline(list(range(100)), width=10)) == 10


def test_form_validation_names_each_bad_field(tmp_path):
    missing = str(tmp_path / "missing")
    form = TrainForm("resnet20", dataset="imagefolder", data=missing, epochs="0", batch_size="x", lr="fast", seed="-1")
    errors = validate(form)
    assert set(errors) == {"data", "epochs", "batch_size", "lr", "seed"}
    (tmp_path / "train").mkdir()
    assert validate(TrainForm(model="resnet20", dataset="imagefolder", data=str(tmp_path))) == {}
    assert "checkpoint" in validate(TrainForm(model="resnet20", kind="eval", checkpoint=str(tmp_path / "nope.pt")))
    assert "device" in validate(TrainForm(model="resnet20", device="tpu"))


def test_the_command_is_the_headless_command_line():
    argv = command(
        TrainForm(model="vgg16", epochs="2", batch_size="8", device="cuda:1", amp="bf16", channels_last=True, lr="0.02")
    )
    assert argv[:5] == [sys.executable, "-m", "cnnexplorer", "train", "vgg16"]
    joined = " ".join(argv)
    for part in (
        "--events -",
        "--dataset fake",
        "--device cuda:1",
        "--amp bf16",
        "--channels-last",
        "--epochs 2",
        "--lr 0.02",
    ):
        assert part in joined
    ddp = command(TrainForm(model="resnet50", device="gpus:0,1"))
    assert "--gpus 0,1" in " ".join(ddp)
    evaluation = command(TrainForm(model="resnet20", kind="eval", checkpoint="best.pt"))
    assert evaluation[3] == "eval" and evaluation[-2:] == ["--checkpoint", "best.pt"]


def test_every_valid_form_is_a_command_line_the_cli_takes(tmp_path):
    from cnnexplorer.cli import build_parser

    (tmp_path / "train").mkdir()
    (tmp_path / "best.pt").write_bytes(b"")
    forms = [
        TrainForm(model="resnet20"),
        TrainForm(model="resnet20", kind="eval", checkpoint=str(tmp_path / "best.pt")),
        TrainForm(model="vgg16", dataset="imagefolder", data=str(tmp_path), lr="0.02", max_steps="5",
                  optimizer="adamw", device="gpus:0,1", amp="fp16", channels_last=True),
    ]  # fmt: skip
    for form in forms:
        assert validate(form) == {}
        args = build_parser().parse_args(command(form)[3:])
        assert args.model == form.model and args.events == "-"


def test_the_parser_judges_what_the_form_has_no_words_for():
    assert validate(TrainForm(model="resnet20", device="gpus:a")) == {"device": "cpu, cuda:N or gpus:0,1"}
    assert "invalid choice" in validate(TrainForm(model="resnet20", amp="fp8"))["amp"]


def test_device_choices_and_their_flags(monkeypatch):
    import torch

    from cnnexplorer.train.devices import device_flags, list_device_choices

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert list_device_choices() == ["cuda:0", "cuda:1", "gpus:0,1", "cpu"]
    assert [device_flags(choice) for choice in ("cuda:1", "gpus:0,1", "cpu")] == [
        ["--device", "cuda:1"],
        ["--gpus", "0,1"],
        ["--device", "cpu"],
    ]


def test_the_launch_contract_does_not_import_torch():
    code = "import sys; from cnnexplorer.train.launch import TrainForm, validate; validate(TrainForm('resnet20')); "
    code += "print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_resume_puts_the_run_back_on_its_devices(tmp_path):
    from cnnexplorer.train.launch import resume_command

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text('{"model": "resnet20"}')
    (run / "last.pt").write_bytes(b"")
    for devices, flags in ((["cpu"], ["--device", "cpu"]), (["cuda:0", "cuda:1"], ["--gpus", "0,1"]),
                           (["cpu", "cpu"], ["--nproc", "2", "--device", "cpu"])):  # fmt: skip
        state = RunState(run_dir=run, devices=devices)
        argv = resume_command(state)
        assert argv[3:5] == ["train", "resnet20"]
        assert " ".join(flags) in " ".join(argv) and argv[-2:] == ["--resume", str(run / "last.pt")]
    with pytest.raises(ValueError):
        resume_command(RunState(run_dir=tmp_path))


def test_a_reader_survives_lines_that_are_not_events(tmp_path):
    script = "import json,sys;print('not json');print(json.dumps([1]));print(json.dumps({'schema':1,'event':'step'}));"
    script += "print(json.dumps({'schema':1,'event':'done','status':'completed','summary':{}}));sys.exit(0)"
    job = Job([sys.executable, "-c", script])
    job.start()
    assert job.wait(timeout=30) == 0
    for _ in range(100):
        if job.returncode is not None:
            break
        __import__("time").sleep(0.05)
    assert job.state.status == "done"
    assert "not json" in job.log


def test_a_watcher_reads_growing_runs_incrementally(tmp_path):
    import json

    from cnnexplorer.runs import RunWatcher

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
