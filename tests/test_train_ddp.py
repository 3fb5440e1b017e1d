"""DDP on the CPU (gloo) through torchrun: the relaunch, rank-0-only output, exact eval counts."""

import json
import signal
import time

import pytest

from cnnexplorer.runs.events import EVENT_FIELDS, SCHEMA_VERSION, read_event_log, read_events
from cnnexplorer.train import checkpoints
from tests.train_shapes import TRAIN_ARGS, VAL_PER_CLASS, only_run_dir, popen_cli, run_cli

DDP_TRAIN = ["--epochs", "2", "--log-every", "1", "--nproc", "2", *TRAIN_ARGS]


@pytest.fixture(scope="module")
def ddp_run(shapes_dir, tmp_path_factory):
    """An uninterrupted 2-process run: its run directory and the launcher's output."""
    output = tmp_path_factory.mktemp("ddp")
    result = run_cli(["train", "resnet20", "--data", str(shapes_dir), "--output", str(output), *DDP_TRAIN])
    assert result.returncode == 0, result.stderr[-3000:]
    return only_run_dir(output), result  # one run directory: only rank 0 writes


def _losses(run_dir):
    return {e["step"]: e["loss"] for e in read_events(run_dir / "events.jsonl") if e["event"] == "step"}


def test_two_process_ddp_run_and_eval(shapes_dir, ddp_run):
    run_dir, result = ddp_run
    assert sorted(p.name for p in run_dir.iterdir()) == [
        ".lock",
        "best.pt",
        "config.json",
        "events.jsonl",
        "last.pt",
        "metrics.csv",
    ]
    lines = (run_dir / "events.jsonl").read_text(encoding="utf-8").splitlines()
    log = read_event_log(run_dir / "events.jsonl")
    assert log.damaged == [] and len(log.events) == len(lines)  # every line is an event
    records = [json.loads(line) for line in lines]
    assert all(r["schema"] == SCHEMA_VERSION and set(EVENT_FIELDS[r["event"]]) <= set(r) for r in records)
    events = read_events(run_dir / "events.jsonl")
    kinds = [e["event"] for e in events]
    assert kinds.count("start") == 1 and kinds.count("done") == 1 and kinds.count("val") == 2
    assert {"step", "checkpoint"} <= set(kinds)
    start = events[0]
    assert start["world_size"] == 2 and start["devices"] == ["cpu", "cpu"]
    # 160 images, global batch 16 = 8 per rank over 80 images each: 10 steps per epoch
    assert start["steps_per_epoch"] == 10 and [e["step"] for e in events if e["event"] == "step"] == list(range(1, 21))
    assert all(e["images"] == sum(VAL_PER_CLASS) for e in events if e["event"] == "val")
    assert result.stdout.count("epoch 2 val") == 1  # rank 0 alone reports
    last = checkpoints.load_checkpoint(run_dir / "last.pt")
    assert last["step"] == 20 and not any(k.startswith("module.") for k in last["model"])
    assert len(last["rng"]["per_rank"]) == 2

    # Eval under DDP counts each of the 51 images once (ranks get 26 and 25) and agrees with one process.
    evaluate = [
        "eval",
        "resnet20",
        "--data",
        str(shapes_dir),
        "--checkpoint",
        str(run_dir / "last.pt"),
        "--device",
        "cpu",
        "--workers",
        "0",
        "--batch-size",
        "8",
        "--format",
        "json",
    ]
    two = run_cli([*evaluate, "--nproc", "2"])
    one = run_cli(evaluate)
    assert two.returncode == 0 and one.returncode == 0, two.stderr[-3000:]
    two_result, one_result = json.loads(two.stdout), json.loads(one.stdout)
    assert two_result["images"] == one_result["images"] == 51
    assert two_result["top1"] == one_result["top1"] and two_result["top5"] == one_result["top5"]
    assert abs(two_result["loss"] - one_result["loss"]) < 1e-5
    logged = [e for e in events if e["event"] == "val"][-1]
    assert abs(one_result["top1"] - logged["top1"]) < 1e-9


def test_ctrl_c_on_a_ddp_run_stops_every_rank_cleanly_and_resumes_exactly(shapes_dir, tmp_path, ddp_run):
    process = popen_cli(["train", "resnet20", "--data", str(shapes_dir), "--output", str(tmp_path), *DDP_TRAIN])
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        runs = list(tmp_path.iterdir())
        if (
            runs
            and (runs[0] / "events.jsonl").exists()
            and any(e["event"] == "step" for e in read_events(runs[0] / "events.jsonl"))
        ):
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=180)
    assert process.returncode == 130, err[-3000:]
    assert "Traceback" not in err
    run_dir = only_run_dir(tmp_path)
    events = read_events(run_dir / "events.jsonl")
    assert [e["kind"] for e in events if e["event"] == "error"] == ["interrupted"]
    assert events[-1]["status"] == "interrupted"
    last = checkpoints.load_checkpoint(run_dir / "last.pt")
    assert last["step"] == next(e for e in events if e["event"] == "error")["step"] < 20

    resumed = run_cli(["train", "resnet20", "--resume", str(run_dir / "last.pt"), "--nproc", "2", "--device", "cpu"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    expected = _losses(ddp_run[0])
    combined = _losses(run_dir)
    assert sorted(combined) == sorted(expected) == list(range(1, 21))
    assert [combined[s] for s in range(1, 21)] == [expected[s] for s in range(1, 21)]


def test_bad_data_found_by_a_rank_is_one_line_with_exit_2(tmp_path):
    from tests.train_shapes import write_shapes

    root = write_shapes(tmp_path / "shapes", train_per_class=2, val_per_class=(1, 1, 1, 1))
    broken = root / "train" / "circle" / "000.png"
    broken.write_bytes(b"no image")
    result = run_cli(
        [
            "train",
            "resnet20",
            "--data",
            str(root),
            "--output",
            str(tmp_path / "runs"),
            "--epochs",
            "1",
            "--nproc",
            "2",
            "--device",
            "cpu",
            "--workers",
            "0",
            "--batch-size",
            "8",
        ]
    )
    assert result.returncode == 2, result.stderr[-3000:]
    assert result.stderr.strip().splitlines() == [f"cnnexplorer: error: {result.stderr.split('error: ', 1)[1].strip()}"]
    assert f"cannot read image {broken}" in result.stderr and "Traceback" not in result.stderr


def test_a_mid_epoch_checkpoint_resumes_only_with_its_number_of_processes(shapes_dir, tmp_path):
    from cnnexplorer.cli import main

    assert (
        main(
            [
                "train",
                "resnet20",
                "--data",
                str(shapes_dir),
                "--output",
                str(tmp_path),
                "--epochs",
                "1",
                "--max-steps",
                "2",
                *TRAIN_ARGS,
            ]
        )
        == 0
    )
    last = only_run_dir(tmp_path) / "last.pt"
    assert checkpoints.load_checkpoint(last)["epoch_step"] == 2
    before = last.read_bytes()
    resumed = run_cli(
        ["train", "resnet20", "--resume", str(last), "--max-steps", "4", "--nproc", "2", "--device", "cpu"]
    )
    assert resumed.returncode == 2
    assert "Traceback" not in resumed.stderr
    assert (
        f"cnnexplorer: error: {last} stopped mid-epoch in a run of 1 process: resume it with 1 (this is 2)"
        in resumed.stderr
    )
    assert last.read_bytes() == before
