"""SIGINT/SIGTERM stop a run cleanly; --resume continues it exactly."""

import os
import signal
import time

import pytest
import torch

from cnnexplorer.events import read_events
from cnnexplorer.train import checkpoints
from tests.train_shapes import TRAIN_ARGS, only_run_dir, popen_cli, run_cli, shapes_dir  # noqa: F401 (fixture)

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
    after = read_events(run_dir / "events.jsonl")[len(events):]
    assert after[0]["event"] == "start" and after[0]["resumed_from"] == str(run_dir / "last.pt")
    assert after[0]["start_step"] == stopped_at
    combined = {**_losses(run_dir)}
    assert sorted(combined) == sorted(expected)
    assert [combined[s] for s in sorted(combined)] == [expected[s] for s in sorted(expected)]
    straight_vals = [(e["epoch"], e["top1"], e["loss"]) for e in read_events(only_run_dir(straight) / "events.jsonl") if e["event"] == "val"]
    resumed_vals = [(e["epoch"], e["top1"], e["loss"]) for e in read_events(run_dir / "events.jsonl") if e["event"] == "val"]
    assert resumed_vals == straight_vals
    final_a = checkpoints.load_checkpoint(only_run_dir(straight) / "last.pt")["model"]
    final_b = checkpoints.load_checkpoint(run_dir / "last.pt")["model"]
    assert all(torch.equal(final_a[k], final_b[k]) for k in final_a)


def test_sigterm_writes_last_pt_and_exits_143(shapes_dir, tmp_path):
    process = popen_cli(["train", "resnet20", "--data", str(shapes_dir), "--output", str(tmp_path), *EPOCHS, *TRAIN_ARGS])
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


DROPOUT_RUN = ["--dataset", "fake", "--fake-size", "48", "--image-size", "64", "--device", "cpu", "--batch-size", "16",
               "--lr", "0.01", "--workers", "0", "--seed", "0", "--log-every", "1"]


def test_a_model_with_dropout_resumes_exactly(tmp_path):
    """alexnet's dropout draws from torch's RNG: the loaders must not (on resume they would draw after the restore)."""
    from cnnexplorer.cli import main

    assert main(["train", "alexnet", "--epochs", "2", "--output", str(tmp_path / "straight"), *DROPOUT_RUN]) == 0
    expected = _losses(only_run_dir(tmp_path / "straight"))
    assert len(expected) == 6

    assert main(["train", "alexnet", "--epochs", "2", "--max-steps", "1", "--output", str(tmp_path / "split"), *DROPOUT_RUN]) == 0
    run_dir = only_run_dir(tmp_path / "split")
    assert main(["train", "alexnet", "--resume", str(run_dir / "last.pt"), "--max-steps", "6"]) == 0
    combined = _losses(run_dir)
    assert [combined[s] for s in sorted(combined)] == [expected[s] for s in sorted(expected)]


def test_a_second_signal_stops_at_once():
    """The first SIGINT is recorded (the step finishes, last.pt is written); the second raises StopNow at once."""
    import io

    from cnnexplorer.train.loop import StopNow, StopSignals
    from cnnexplorer.train.progress import PlainReporter

    out = io.StringIO()
    with StopSignals(PlainReporter(out, 1)) as stop:
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.signum == signal.SIGINT and "finishing the current step" in out.getvalue()
        with pytest.raises(StopNow) as stopped:
            os.kill(os.getpid(), signal.SIGTERM)
    assert stopped.value.signum == signal.SIGTERM
