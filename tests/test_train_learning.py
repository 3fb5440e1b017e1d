"""A CIFAR-scale ResNet learns the shapes; eval of its best.pt reproduces the logged figures."""

import csv
import json

import torch

from cnnexplorer.cli import main
from cnnexplorer.runs.events import EVENT_FIELDS, SCHEMA_VERSION, read_event_log, read_events
from cnnexplorer.train import checkpoints
from tests.train_shapes import CLASSES, VAL_PER_CLASS


def test_training_reaches_far_above_chance(trained_run):
    vals = [e for e in read_events(trained_run / "events.jsonl") if e["event"] == "val"]
    chance = 100.0 / len(CLASSES)
    assert len(vals) == 6
    assert max(v["top1"] for v in vals) >= 80.0 > 2 * chance
    assert all(v["images"] == sum(VAL_PER_CLASS) for v in vals)


def test_run_directory_holds_config_metrics_checkpoints_and_events(trained_run):
    assert sorted(p.name for p in trained_run.iterdir()) == [
        ".lock",
        "best.pt",
        "config.json",
        "events.jsonl",
        "last.pt",
        "metrics.csv",
    ]
    config = json.loads((trained_run / "config.json").read_text())
    assert (
        config["model"] == "resnet20"
        and config["lr"] == 0.05
        and config["num_classes"] == 4
        and config["image_size"] == 32
    )
    assert (
        config["momentum"] == 0.9 and config["weight_decay"] == 1e-4
    )  # the ResNet paper's recipe where not overridden
    rows = list(csv.DictReader(open(trained_run / "metrics.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4, 5, 6]
    lines = (trained_run / "events.jsonl").read_text(encoding="utf-8").splitlines()
    log = read_event_log(trained_run / "events.jsonl")
    assert log.damaged == [] and len(log.events) == len(lines)  # every line is an event
    for record in map(json.loads, lines):
        assert record["schema"] == SCHEMA_VERSION and set(EVENT_FIELDS[record["event"]]) <= set(record)
    events = read_events(trained_run / "events.jsonl")
    assert events[0]["event"] == "start" and events[-1]["event"] == "done" and events[-1]["status"] == "completed"
    start = events[0]
    assert start["dataset"] == {"kind": "imagefolder", "classes": 4, "train_images": 160, "val_images": 51}
    assert start["world_size"] == 1 and start["device"] == "cpu" and start["params"] > 0 and start["macs"] > 0
    steps = [e for e in events if e["event"] == "step"]
    assert steps[-1]["step"] == 60 and all(e["loss"] > 0 and e["lr"] > 0 for e in steps)
    # metrics.csv and the val events say the same
    vals = [e for e in events if e["event"] == "val"]
    assert [float(r["val_top1"]) for r in rows] == [v["top1"] for v in vals]


def test_checkpoints_hold_everything_a_resume_needs(trained_run):
    last = checkpoints.load_checkpoint(trained_run / "last.pt")
    assert {
        "model",
        "optimizer",
        "scheduler",
        "scaler",
        "epoch",
        "epoch_step",
        "step",
        "best_top1",
        "rng",
        "config",
    } <= set(last)
    assert last["epoch"] == 6 and last["step"] == 60 and last["epoch_step"] == 0
    assert not any(k.startswith("module.") for k in last["model"])
    best = checkpoints.load_checkpoint(trained_run / "best.pt")
    vals = [e for e in read_events(trained_run / "events.jsonl") if e["event"] == "val"]
    best_val = max(vals, key=lambda v: v["top1"])
    assert best["best_top1"] == best_val["top1"] and best["epoch"] == min(
        v["epoch"] for v in vals if v["top1"] == best_val["top1"]
    )
    saved = [e for e in read_events(trained_run / "events.jsonl") if e["event"] == "checkpoint" and e["kind"] == "best"]
    assert saved[-1]["epoch"] == best["epoch"]


def test_eval_of_best_reproduces_the_logged_val_figures(trained_run, shapes_dir, tmp_path, capsys):
    best = checkpoints.load_checkpoint(trained_run / "best.pt")
    logged = next(
        e for e in read_events(trained_run / "events.jsonl") if e["event"] == "val" and e["epoch"] == best["epoch"]
    )
    per_class = tmp_path / "per_class.csv"
    code = main(
        [
            "eval",
            "resnet20",
            "--data",
            str(shapes_dir),
            "--checkpoint",
            str(trained_run / "best.pt"),
            "--device",
            "cpu",
            "--workers",
            "0",
            "--batch-size",
            "7",
            "--format",
            "json",
            "--per-class",
            str(per_class),
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["images"] == logged["images"] == 51
    assert abs(result["top1"] - logged["top1"]) < 1e-9 and abs(result["top5"] - logged["top5"]) < 1e-9
    assert abs(result["loss"] - logged["loss"]) < 1e-4
    assert abs(result["top1_error"] - (100 - logged["top1"])) < 1e-9
    rows = list(csv.DictReader(open(per_class)))
    assert [r["class"] for r in rows] == sorted(CLASSES)
    assert sum(int(r["images"]) for r in rows) == 51
    assert abs(100 * sum(int(r["top1_correct"]) for r in rows) / 51 - logged["top1"]) < 1e-9


def test_eval_loads_a_plain_state_dict_with_the_ddp_prefix(trained_run, shapes_dir, tmp_path, capsys):
    state = checkpoints.load_checkpoint(trained_run / "best.pt")["model"]
    plain = tmp_path / "plain.pth"
    torch.save({f"module.{k}": v for k, v in state.items()}, plain)
    code = main(
        ["eval", "resnet20", "--data", str(shapes_dir), "--checkpoint", str(plain), "--device", "cpu", "--workers", "0"]
    )
    assert code == 0
    out = capsys.readouterr().out
    best = checkpoints.load_checkpoint(trained_run / "best.pt")
    assert f"top-1 accuracy {best['best_top1']:6.2f}%" in out and "51 images" in out
