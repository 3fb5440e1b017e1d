"""Faults and bad input: one-line errors, exit codes, nothing lost."""

import errno
import os
import shutil

import pytest
import torch

from cnnexplorer.cli import main
from cnnexplorer.runs.events import read_events
from cnnexplorer.train import checkpoints
from tests.small_disk import file_size_limit, small_disk
from tests.train_shapes import TRAIN_ARGS, only_run_dir, run_cli, write_shapes

FAST = ["--device", "cpu", "--workers", "0", "--batch-size", "16", "--epochs", "1"]


def _usage_error(capsys, argv, *fragments):
    """Run the CLI in this process: exit 2, one line on stderr naming the problem."""
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and err.startswith("cnnexplorer")
    for fragment in fragments:
        assert fragment in err, err
    return err


def test_a_non_finite_loss_stops_the_run_and_keeps_the_finite_checkpoints(shapes_dir, tmp_path, capsys):
    # Epoch 1 trains normally (writes last.pt and best.pt); then the lr jumps to 5e36 and the loss blows up.
    code = main(
        [
            "train",
            "resnet20",
            "--data",
            str(shapes_dir),
            "--output",
            str(tmp_path),
            "--epochs",
            "3",
            "--schedule",
            "step",
            "--milestones",
            "1",
            "--gamma",
            "1e38",
            *TRAIN_ARGS,
        ]
    )
    assert code == 1
    err = capsys.readouterr().err
    run_dir = only_run_dir(tmp_path)
    events = read_events(run_dir / "events.jsonl")
    error = next(e for e in events if e["event"] == "error")
    assert error["kind"] == "nonfinite_loss" and error["epoch"] == 2 and error["step"] > 10
    assert error["lr"] == pytest.approx(0.05 * 1e38)
    assert f"step {error['step']}" in error["message"] and f"step {error['step']}" in err
    assert events[-1]["event"] == "done" and events[-1]["status"] == "failed"
    assert not [e for e in events if e["event"] == "checkpoint" and e["epoch"] > 1]
    for name in ("last.pt", "best.pt"):
        saved = checkpoints.load_checkpoint(run_dir / name)
        assert saved["epoch"] == 1 and saved["step"] == 10
        assert all(torch.isfinite(t).all() for t in saved["model"].values() if t.is_floating_point())


def _blow_up_at_step_11(shapes_dir, tmp_path, *flags):
    """Epoch 1 (10 steps) writes last.pt and best.pt; then the lr jumps to 3e38 and --max-steps 11 ends the run."""
    return main(
        [
            "train",
            "resnet20",
            "--data",
            str(shapes_dir),
            "--output",
            str(tmp_path),
            "--epochs",
            "2",
            "--max-steps",
            "11",
            "--schedule",
            "step",
            "--milestones",
            "1",
            *TRAIN_ARGS,
            "--lr",
            "0.001",
            "--gamma",
            "3e41",
            *flags,
        ]
    )


def _assert_failed_with_checkpoints_of_step_10(run_dir, kind):
    events = read_events(run_dir / "events.jsonl")
    error = next(e for e in events if e["event"] == "error")
    assert error["kind"] == kind
    assert events[-1]["event"] == "done" and events[-1]["status"] == "failed"
    for name in ("last.pt", "best.pt"):
        saved = checkpoints.load_checkpoint(run_dir / name)
        assert saved["step"] == 10
        assert all(torch.isfinite(t).all() for t in saved["model"].values() if t.is_floating_point())
    return error


def test_weights_that_go_non_finite_after_a_finite_loss_end_the_run_with_events_and_one_line(
    shapes_dir, tmp_path, capsys
):
    # Weight decay 10 makes step 11's update 3e38 x (grad + 10 w): past float32's range, while its loss was finite.
    code = _blow_up_at_step_11(shapes_dir, tmp_path, "--weight-decay", "10")
    err = capsys.readouterr().err
    assert code == 1, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert (
        "cnnexplorer: error: the weights became non-finite after step 11 (epoch 2) although the loss was finite" in err
    )
    assert _assert_failed_with_checkpoints_of_step_10(only_run_dir(tmp_path), "nonfinite_weights")["step"] == 11


def test_an_unexpected_error_in_training_ends_the_run_with_events_and_one_line(shapes_dir, tmp_path, capsys):
    # AdamW's bias-corrected step size 3e38 / (1 - 0.9**11) no longer fits a float: torch raises a RuntimeError.
    code = _blow_up_at_step_11(shapes_dir, tmp_path, "--optimizer", "adamw")
    err = capsys.readouterr().err
    assert code == 1, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert err.startswith("cnnexplorer: error: RuntimeError after step 10 (epoch 2): ")
    error = _assert_failed_with_checkpoints_of_step_10(only_run_dir(tmp_path), "crash")
    assert error["message"] in err


def test_missing_empty_and_wrongly_laid_out_data(tmp_path, capsys):
    _usage_error(
        capsys, ["train", "resnet20", "--data", str(tmp_path / "nowhere"), *FAST], "does not exist", "train/<class>"
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    _usage_error(capsys, ["train", "resnet20", "--data", str(empty), *FAST], "is empty")
    no_val = write_shapes(tmp_path / "no_val", train_per_class=1, val_per_class=(1, 1, 1, 1))
    shutil.rmtree(no_val / "val")
    _usage_error(capsys, ["train", "resnet20", "--data", str(no_val), *FAST], "has no val/ folder")
    flat = tmp_path / "flat"
    (flat / "train").mkdir(parents=True)
    (flat / "val").mkdir()
    shutil.copy(next((no_val / "train" / "circle").iterdir()), flat / "train" / "x.png")
    _usage_error(capsys, ["train", "resnet20", "--data", str(flat), *FAST], "has images but no class folders")
    _usage_error(capsys, ["train", "resnet20", *FAST], "no data", "--data DIR")


def test_a_class_missing_in_val_and_an_empty_class_folder(tmp_path, capsys):
    root = write_shapes(tmp_path / "shapes", train_per_class=1, val_per_class=(1, 1, 1, 1))
    shutil.rmtree(root / "val" / "triangle")
    _usage_error(capsys, ["train", "resnet20", "--data", str(root), *FAST], "'triangle'", "missing in", "val")
    (root / "val" / "triangle").mkdir()
    _usage_error(capsys, ["train", "resnet20", "--data", str(root), *FAST], "triangle has no images")


def test_an_unreadable_image_is_named(tmp_path, capsys):
    root = write_shapes(tmp_path / "shapes", train_per_class=2, val_per_class=(1, 1, 1, 1))
    broken = root / "train" / "cross" / "001.png"
    broken.write_bytes(b"\x89PNG but not really")
    _usage_error(
        capsys,
        ["train", "resnet20", "--data", str(root), "--output", str(tmp_path / "runs"), *FAST],
        f"cannot read image {broken}",
    )
    events = read_events(only_run_dir(tmp_path / "runs") / "events.jsonl")
    assert [(e["event"], e.get("kind")) for e in events[-2:]] == [("error", "data"), ("done", None)]


def test_an_unreadable_image_is_named_also_from_a_loader_worker(tmp_path):
    root = write_shapes(tmp_path / "shapes", train_per_class=2, val_per_class=(1, 1, 1, 1))
    broken = root / "val" / "square" / "000.png"
    broken.write_bytes(b"")
    result = run_cli(
        [
            "train",
            "resnet20",
            "--data",
            str(root),
            "--output",
            str(tmp_path / "runs"),
            "--device",
            "cpu",
            "--workers",
            "2",
            "--batch-size",
            "4",
            "--epochs",
            "1",
        ]
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert f"cannot read image {broken}" in result.stderr


def test_bad_models_and_flag_combinations(shapes_dir, tmp_path, capsys, trained_run):
    data = ["--data", str(shapes_dir)]
    _usage_error(capsys, ["train", "resnet-21", *data, *FAST], "unknown architecture", "did you mean")
    _usage_error(capsys, ["train", "resnet20", *data, "--gpu", "0", "--device", "cpu"], "pass one")
    if not torch.cuda.is_available():
        _usage_error(capsys, ["train", "resnet20", *data, "--gpu", "0"], "no CUDA device")
        _usage_error(capsys, ["train", "resnet20", *data, "--gpus", "0,1"], "no CUDA device")
        _usage_error(capsys, ["train", "resnet20", *data, "--nproc", "2"], "add --device cpu")
    _usage_error(capsys, ["train", "resnet20", *data, "--nproc", "2", "--gpus", "0"], "give one")
    _usage_error(capsys, ["train", "resnet20", *data, "--nnodes", "2", *FAST], "go with --nproc")
    _usage_error(capsys, ["train", "resnet20", *data, "--batch-size", "0"], "must be 1 or more")
    _usage_error(
        capsys,
        ["train", "resnet20", *data, "--schedule", "cosine", "--milestones", "3"],
        "--milestones is for --schedule step",
    )
    _usage_error(capsys, ["train", "vgg11", *data, "--warmup-epochs", "1"], "not plateau")
    _usage_error(capsys, ["train", "resnet20", *data, "--aux-weight", "0.3"], "googlenet")
    _usage_error(capsys, ["train", "resnet20", "--dataset", "fake", *data], "leave --data out")
    _usage_error(capsys, ["train", "resnet20", "--dataset", "cifar10", "--data", str(tmp_path)], "add --download")
    _usage_error(capsys, ["train", "alexnet-2012", *data, "--image-size", "32", *FAST], "alexnet-2012")
    _usage_error(capsys, ["train", "resnet20", "--resume", str(tmp_path / "none.pt")], "does not exist")
    last = str(trained_run / "last.pt")
    _usage_error(
        capsys, ["train", "resnet20", "--resume", last, "--lr", "0.1"], "--lr 0.1 differs from the checkpoint's 0.05"
    )
    _usage_error(capsys, ["train", "resnet32", "--resume", last], "checkpoint of resnet20")
    _usage_error(capsys, ["train", "resnet20", "--resume", last], "has done all 6 epochs")
    plain = tmp_path / "plain.pt"
    torch.save(checkpoints.load_checkpoint(last)["model"], plain)
    _usage_error(capsys, ["train", "resnet20", "--resume", str(plain)], "not a training checkpoint")
    assert checkpoints.load_checkpoint(last)["epoch"] == 6  # untouched


def test_eval_bad_input(shapes_dir, tmp_path, capsys, trained_run, monkeypatch):
    data = ["--data", str(shapes_dir), "--device", "cpu", "--workers", "0"]
    best = str(trained_run / "best.pt")
    _usage_error(capsys, ["eval", "resnet20", *data], "pass one of --checkpoint PATH")
    _usage_error(capsys, ["eval", "resnet18", *data, "--checkpoint", best, "--weights", "IMAGENET1K_V1"], "pass one of")
    _usage_error(capsys, ["eval", "resnet20", *data, "--weights", "IMAGENET1K_V1"], "not a torchvision model")
    _usage_error(capsys, ["eval", "resnet18", *data, "--weights", "IMAGENET9K"], "choose from IMAGENET1K_V1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    _usage_error(
        capsys,
        ["eval", "resnet18", *data, "--weights", "IMAGENET1K_V1"],
        "not in the torch hub cache",
        "--checkpoint PATH",
    )
    # With the file in the cache it is used (here: random weights, so the 4-class data does not fit them).
    from torchvision.models import ResNet18_Weights

    cached = tmp_path / "torch_home" / "hub" / "checkpoints" / ResNet18_Weights.IMAGENET1K_V1.url.rsplit("/", 1)[1]
    cached.parent.mkdir(parents=True)
    from cnnexplorer import zoo

    torch.save(zoo.get("resnet18").build().state_dict(), cached)
    _usage_error(
        capsys, ["eval", "resnet18", *data, "--weights", "IMAGENET1K_V1"], "classify 1000 classes but the data has 4"
    )

    class Payload:
        def __reduce__(self):
            return (print, ("never",))

    evil = tmp_path / "evil.pt"
    torch.save({"model": checkpoints.load_checkpoint(best)["model"], "x": Payload()}, evil)
    _usage_error(capsys, ["eval", "resnet20", *data, "--checkpoint", str(evil)], "pickled Python object")
    three = write_shapes(tmp_path / "three", train_per_class=1, val_per_class=(1, 1, 1, 1))
    shutil.rmtree(three / "val" / "cross")
    _usage_error(
        capsys,
        ["eval", "resnet20", "--data", str(three), "--checkpoint", best, "--device", "cpu"],
        "classify 4 classes but the data has 3",
    )
    _usage_error(
        capsys, ["eval", "resnet20", "--data", str(tmp_path / "nowhere"), "--checkpoint", best], "does not exist"
    )


def test_a_disk_that_fills_during_a_run_is_a_disk_fault_naming_the_file_and_the_epoch(tmp_path, capsys):
    """A real full disk: a 5.6 MB tmpfs holds epoch 1's config, events, metrics, best.pt and
    last.pt (2.2 MB each) but not a third checkpoint, so epoch 2's checkpoint write fails
    inside torch's serializer (which wraps ENOSPC in a RuntimeError of its own)."""
    with small_disk(tmp_path / "disk", size="5600k") as disk:
        argv = ["train", "resnet20", "--dataset", "fake", "--fake-size", "32", "--image-size", "8", "--log-every", "1"]
        code = main([*argv, *FAST[:-1], "2", "--output", str(disk)])
        err = capsys.readouterr().err
        run_dir = only_run_dir(disk)
        error = [event for event in read_events(run_dir / "events.jsonl") if event["event"] == "error"]
        last = checkpoints.load_checkpoint(run_dir / "last.pt")
        left = sorted(path.name for path in run_dir.iterdir() if path.name.endswith(".tmp"))
    assert code == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert [(event["kind"], event["epoch"], event["step"]) for event in error] == [("disk", 2, 4)]
    full = "the disk is full (No space left on device) writing {} after step 4 (epoch 2)"
    assert any(full.format(run_dir / name) in err for name in ("best.pt", "last.pt")), err
    assert error[0]["message"] in err
    assert last["epoch"] == 1 and left == []  # the checkpoint as last written; no half-written file


def test_a_checkpoint_over_the_file_size_limit_is_a_disk_fault_saying_what_to_do(tmp_path):
    """No root needed: a run limited to 1 MB files (RLIMIT_FSIZE) writes its config, events and
    metrics, but epoch 1's checkpoint (2.2 MB) fails with EFBIG inside torch's serializer; like
    a full disk, the write failed, not the run."""
    argv = ["train", "resnet20", "--dataset", "fake", "--fake-size", "32", "--image-size", "8", "--log-every", "1"]
    child = run_cli([*argv, *FAST, "--output", str(tmp_path)], preexec_fn=file_size_limit(1 << 20))
    run_dir = only_run_dir(tmp_path)
    error = [event for event in read_events(run_dir / "events.jsonl") if event["event"] == "error"]
    assert child.returncode == 1 and len(child.stderr.strip().splitlines()) == 1, child.stderr
    assert [(event["kind"], event["epoch"], event["step"]) for event in error] == [("disk", 1, 2)], error
    assert f"File too large writing {run_dir / 'best.pt'} after step 2 (epoch 1)" in child.stderr
    assert "raise the file-size limit, `ulimit -f`," in child.stderr and "then --resume" in child.stderr
    assert not [path.name for path in run_dir.iterdir() if path.suffix in (".pt", ".tmp")]  # nothing half-written


@pytest.mark.parametrize(
    ("number", "advice"),
    [
        (errno.ENOSPC, "free some space"),
        (errno.EDQUOT, "free some space or raise your quota"),
        (errno.EROFS, "remount the disk read-write"),
        (errno.EFBIG, "raise the file-size limit"),
    ],
)
def test_each_disk_fault_says_what_fixes_its_own_cause(number, advice):
    from cnnexplorer.train.failures import failure_of

    wrapped = RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos")
    wrapped.__cause__ = OSError(number, os.strerror(number), "/runs/r/last.pt")
    event = failure_of(wrapped, 12, 2)
    assert (event["kind"], event["step"], event["epoch"]) == ("disk", 12, 2)
    assert os.strerror(number) in event["message"] and "/runs/r/last.pt" in event["message"]
    assert f"({advice}" in event["message"] and event["message"].endswith("then --resume)")
