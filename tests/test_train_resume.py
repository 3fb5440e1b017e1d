"""SIGINT/SIGTERM stop a run cleanly; --resume continues it exactly."""

import csv
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

from cnnexplorer.runs.events import read_events
from cnnexplorer.train import checkpoints
from tests.train_shapes import (
    TRAIN_ARGS,
    cli_env,
    only_run_dir,
    popen_cli,
    run_cli,
    write_shapes,
)

EPOCHS = ["--epochs", "4", "--log-every", "1"]


def _losses(run_dir, start=0):
    return {e["step"]: e["loss"] for e in read_events(run_dir / "events.jsonl")[start:] if e["event"] == "step"}


def _interrupt_after(process, events_path, steps, signum):
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if events_path.exists() and sum(1 for e in read_events(events_path) if e["event"] == "step") >= steps:
            process.send_signal(signum)
            break
        time.sleep(0.01)
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


def test_interrupted_and_resumed_run_equals_an_uninterrupted_one(shapes_dir, tmp_path):
    straight = tmp_path / "straight"
    done = run_cli(["train", "resnet20", "--data", str(shapes_dir), "--output", str(straight), *EPOCHS, *TRAIN_ARGS])
    assert done.returncode == 0, done.stderr
    expected = _losses(only_run_dir(straight))
    assert len(expected) == 40

    broken = tmp_path / "broken"
    process = popen_cli(["train", "resnet20", "--data", str(shapes_dir), "--output", str(broken), *EPOCHS, *TRAIN_ARGS])
    while not broken.exists() or not any(broken.iterdir()):
        time.sleep(0.01)
    run_dir = only_run_dir(broken)
    code, _out, err = _interrupt_after(process, run_dir / "events.jsonl", 5, signal.SIGINT)
    assert code == 130, err
    assert "Traceback" not in err and f"--resume {run_dir / 'last.pt'}" in err
    events = read_events(run_dir / "events.jsonl")
    stop = next(e for e in events if e["event"] == "error")
    assert stop["kind"] == "interrupted" and stop["signal"] == "SIGINT"
    assert events[-1]["event"] == "done" and events[-1]["status"] == "interrupted"
    stopped_at = checkpoints.load_checkpoint(run_dir / "last.pt")["step"]
    assert 5 <= stopped_at < 40 and stopped_at == stop["step"] == max(_losses(run_dir))

    # Resume with data-loading workers: augmentation is seeded per image, so that changes nothing.
    resumed = run_cli(["train", "resnet20", "--resume", str(run_dir / "last.pt"), "--workers", "2"])
    assert resumed.returncode == 0, resumed.stderr
    after = read_events(run_dir / "events.jsonl")[len(events) :]
    assert after[0]["event"] == "start" and after[0]["resumed_from"] == str(run_dir / "last.pt")
    assert after[0]["start_step"] == stopped_at
    combined = {**_losses(run_dir)}
    assert sorted(combined) == sorted(expected)
    assert [combined[s] for s in sorted(combined)] == [expected[s] for s in sorted(expected)]
    straight_vals = [
        (e["epoch"], e["top1"], e["loss"])
        for e in read_events(only_run_dir(straight) / "events.jsonl")
        if e["event"] == "val"
    ]
    resumed_vals = [
        (e["epoch"], e["top1"], e["loss"]) for e in read_events(run_dir / "events.jsonl") if e["event"] == "val"
    ]
    assert resumed_vals == straight_vals
    final_a = checkpoints.load_checkpoint(only_run_dir(straight) / "last.pt")["model"]
    final_b = checkpoints.load_checkpoint(run_dir / "last.pt")["model"]
    assert all(torch.equal(final_a[k], final_b[k]) for k in final_a)


def test_sigterm_writes_last_pt_and_exits_143(shapes_dir, tmp_path):
    process = popen_cli(
        ["train", "resnet20", "--data", str(shapes_dir), "--output", str(tmp_path), *EPOCHS, *TRAIN_ARGS]
    )
    while not any(tmp_path.iterdir()):
        time.sleep(0.01)
    run_dir = only_run_dir(tmp_path)
    code, _out, err = _interrupt_after(process, run_dir / "events.jsonl", 3, signal.SIGTERM)
    assert code == 143, err
    assert "Traceback" not in err
    last = checkpoints.load_checkpoint(run_dir / "last.pt")
    events = read_events(run_dir / "events.jsonl")
    assert [e["signal"] for e in events if e["event"] == "error"] == ["SIGTERM"]
    assert [e["path"] for e in events if e["event"] == "checkpoint"][-1] == str(run_dir / "last.pt")
    assert last["step"] == max(_losses(run_dir)) and last["epoch_step"] == last["step"] % 10


DROPOUT_NET = """\
from torch import nn


class DropNet(nn.Module):
    input_size = (3, 32, 32)

    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten())
        self.classifier = nn.Sequential(
            nn.Dropout(0.5), nn.Linear(128, 64), nn.ReLU(), nn.Dropout(0.5), nn.Linear(64, num_classes)
        )

    def forward(self, x):
        return self.classifier(self.features(x))
"""
DROPOUT_RUN = [
    *("--dataset", "fake", "--fake-size", "48", "--image-size", "32", "--device", "cpu", "--batch-size", "16"),
    *("--lr", "0.01", "--workers", "0", "--seed", "0", "--log-every", "1"),
]


def test_a_model_with_dropout_resumes_exactly(tmp_path):
    """Dropout draws from torch's RNG (AlexNet's and VGG's classifiers have it; a small net
    with two dropouts stands in): the loaders must not, or on resume they would draw after the
    restore and the masks would differ."""
    from cnnexplorer.cli import main

    (tmp_path / "dropnet.py").write_text(DROPOUT_NET, encoding="utf-8")
    model = f"{tmp_path / 'dropnet.py'}:DropNet"
    assert main(["train", model, "--epochs", "2", "--output", str(tmp_path / "straight"), *DROPOUT_RUN]) == 0
    expected = _losses(only_run_dir(tmp_path / "straight"))
    assert len(expected) == 6

    split = ["train", model, "--epochs", "2", "--max-steps", "1", "--output", str(tmp_path / "split"), *DROPOUT_RUN]
    assert main(split) == 0
    run_dir = only_run_dir(tmp_path / "split")
    assert main(["train", model, "--resume", str(run_dir / "last.pt"), "--max-steps", "6"]) == 0
    combined = _losses(run_dir)
    assert [combined[s] for s in sorted(combined)] == [expected[s] for s in sorted(expected)]


def test_a_second_signal_stops_at_once():
    """The first SIGINT is recorded (the step finishes, last.pt is written); the second raises StopNow at once."""
    import io

    from cnnexplorer.runs.progress import PlainReporter
    from cnnexplorer.train.failures import StopNow, StopSignals

    out = io.StringIO()
    with StopSignals(PlainReporter(out, 1)) as stop:
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.signum == signal.SIGINT and "finishing the current step" in out.getvalue()
        with pytest.raises(StopNow) as stopped:
            os.kill(os.getpid(), signal.SIGTERM)
    assert stopped.value.signum == signal.SIGTERM


# The CLI with an image loader that, for each zz-pipe.png, first reads its zz-pipe.fifo: a named
# pipe that blocks until the test writes it (a data folder refuses pipes among its images).
BLOCKING_LOADER = """
import sys
from cnnexplorer.train import data
load = data._load_rgb
def blocking_load(path):
    if path.endswith("zz-pipe.png"):
        with open(path[: -len(".png")] + ".fifo", "rb") as pipe:
            pipe.read()
    return load(path)
data._load_rgb = blocking_load
from cnnexplorer.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _shapes_with_fifos(root, split):
    """The shapes data set, plus one image per class in ``split`` whose loading waits on a named pipe."""
    write_shapes(root, train_per_class=3, val_per_class=(2, 2, 2, 2))
    fifos = []
    for folder in sorted((root / split).iterdir()):
        shutil.copy(next(folder.iterdir()), folder / "zz-pipe.png")
        fifos.append(folder / "zz-pipe.fifo")
        os.mkfifo(fifos[-1])
    return fifos


def _popen_blocking(args):
    return subprocess.Popen(
        [sys.executable, "-c", BLOCKING_LOADER, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
    )


def _blocked_reading_a_pipe(process):
    """Wait until the run sleeps in read() on a pipe, where a signal interrupts it (Linux's /proc)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if "pipe_read" in open(f"/proc/{process.pid}/wchan").read():
            return
        time.sleep(0.01)
    raise AssertionError("the run never blocked on the pipe")


def _a_reader(fifos, process):
    """The first of ``fifos`` that the run opens for reading, and it open for writing."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        for fifo in fifos:
            try:
                return fifo, os.fdopen(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK), "wb")
            except OSError:  # ENXIO: no reader yet
                pass
        time.sleep(0.01)
    process.kill()
    raise AssertionError(f"the run never read {fifos}: {process.communicate()}")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="named pipes and /proc")
def test_a_second_sigint_stops_a_step_hung_on_its_data(tmp_path):
    fifos = _shapes_with_fifos(tmp_path / "data", "train")
    process = _popen_blocking(
        [
            "train",
            "resnet20",
            "--data",
            str(tmp_path / "data"),
            "--output",
            str(tmp_path / "runs"),
            *EPOCHS,
            *TRAIN_ARGS,
        ]
    )
    _fifo, pipe = _a_reader(fifos, process)
    for _ in range(2):  # the first is recorded, the second stops the blocked read at once
        _blocked_reading_a_pipe(process)
        process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=60)
    pipe.close()
    assert process.returncode == 130, err
    assert "Traceback" not in err and err.startswith("cnnexplorer: second SIGINT: stopped at once after step 0")
    run_dir = only_run_dir(tmp_path / "runs")
    assert not (run_dir / "last.pt").exists()
    events = read_events(run_dir / "events.jsonl")
    assert [(e["event"], e.get("kind") or e.get("status")) for e in events[-2:]] == [
        ("error", "interrupted"),
        ("done", "interrupted"),
    ]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="named pipes and /proc")
def test_a_signal_during_the_last_validation_is_not_lost(tmp_path):
    fifos = _shapes_with_fifos(tmp_path / "data", "val")
    process = _popen_blocking(
        [
            "train",
            "resnet20",
            "--data",
            str(tmp_path / "data"),
            "--output",
            str(tmp_path / "runs"),
            "--epochs",
            "1",
            *TRAIN_ARGS,
        ]
    )
    image = (tmp_path / "data" / "val" / "circle" / "000.png").read_bytes()
    waiting = list(fifos)
    while waiting:
        fifo, pipe = _a_reader(waiting, process)
        if len(waiting) == len(fifos):  # validation waits for this image
            _blocked_reading_a_pipe(process)
            process.send_signal(signal.SIGTERM)
        with pipe:
            pipe.write(image)
        waiting.remove(fifo)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 143, err
    run_dir = only_run_dir(tmp_path / "runs")
    events = read_events(run_dir / "events.jsonl")
    assert [e["event"] for e in events].count("val") == 1
    assert [(e["event"], e.get("kind") or e.get("status")) for e in events[-2:]] == [
        ("error", "interrupted"),
        ("done", "interrupted"),
    ]
    assert checkpoints.load_checkpoint(run_dir / "last.pt")["epoch"] == 1


def test_metrics_after_a_mid_epoch_resume_hold_each_epoch_once_with_its_whole_mean(tmp_path):
    """Stopped at --max-steps 3 (inside epoch 1 of 4 steps, validated there) and resumed to the
    end: metrics.csv is what the uninterrupted run's steps give, epoch by epoch."""
    from cnnexplorer.cli import main

    run = ["train", "resnet20", "--dataset", "fake", "--fake-size", "64", "--image-size", "8", "--device", "cpu"]
    run += ["--workers", "0", "--batch-size", "16", "--log-every", "1", "--epochs", "2", "--seed", "1"]  # 4 steps/epoch
    assert main([*run, "--output", str(tmp_path / "straight")]) == 0
    assert main([*run, "--output", str(tmp_path / "stopped"), "--max-steps", "3"]) == 0
    stopped = only_run_dir(tmp_path / "stopped")
    assert main(["train", "resnet20", "--resume", str(stopped / "last.pt"), "--max-steps", "8"]) == 0

    straight = read_events(only_run_dir(tmp_path / "straight") / "events.jsonl")
    losses = {}
    for event in straight:
        if event["event"] == "step":
            losses.setdefault(event["epoch"], []).append(event["loss"])
    rows = list(csv.DictReader(open(stopped / "metrics.csv", encoding="utf-8")))
    assert [(int(row["epoch"]), int(row["step"])) for row in rows] == [(1, 4), (2, 8)]
    means = [sum(values) / len(values) for _, values in sorted(losses.items())]
    assert [float(row["train_loss"]) for row in rows] == pytest.approx(means, rel=1e-9)
    assert [float(row["val_top1"]) for row in rows] == [e["top1"] for e in straight if e["event"] == "val"]
