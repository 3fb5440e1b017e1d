"""Runs that cannot collide or be lost (issue 13): unique, locked run folders; an event stream
that heals; resume that does what the user means; data folders, file systems and numbers
that fail in one line. Tiny runs on synthetic data, on the CPU."""

import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import torch

from cnnexplorer.cli import main
from cnnexplorer.errors import UsageError
from cnnexplorer.runs import atomic, rundir
from cnnexplorer.runs.events import read_event_log, read_events
from cnnexplorer.runs.jobs import run_to_resume
from cnnexplorer.runs.state import load_run
from cnnexplorer.train import checkpoints
from tests.train_shapes import cli_env, only_run_dir, popen_cli, run_cli

TINY = ["--dataset", "fake", "--fake-size", "32", "--device", "cpu", "--workers", "0", "--batch-size", "16"]
TINY += ["--log-every", "1"]  # 2 steps an epoch, 3 val images


def _tiny_run(output, *flags, epochs: int = 1):
    """A resnet20 run on 32 synthetic images, in this process; its run folder."""
    assert main(["train", "resnet20", "--epochs", str(epochs), "--output", str(output), *TINY, *flags]) == 0
    return only_run_dir(output)


def _one_line(capsys, argv, code: int = 2) -> str:
    """Run the CLI here: the exit code and one line on stderr, no traceback; that line."""
    try:
        got = main(argv)
    except SystemExit as exit_:  # argparse's own errors
        got = exit_.code
    err = capsys.readouterr().err
    assert got == code, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err


def _events(run_dir):
    return read_events(run_dir / "events.jsonl")


class _OsWith:
    """The os module with some functions replaced: an OS error where the code meets the OS
    (as root, a read-only folder is still writable, so a read-only or full disk is simulated)."""

    def __init__(self, **replaced):
        self.__dict__.update(replaced)

    def __getattr__(self, name):
        return getattr(os, name)


def _failing(error_number: int):
    def fail(*args, **kwargs):
        raise OSError(error_number, os.strerror(error_number), str(args[0]) if args else None)

    return fail


# 1. Two runs started in the same second -------------------------------------------------


def test_two_runs_started_at_once_with_the_same_output_get_two_folders(tmp_path):
    argv = ["train", "resnet20", "--epochs", "1", "--output", str(tmp_path), *TINY, "--seed", "0"]
    processes = [popen_cli(argv) for _ in range(2)]
    for process in processes:
        _out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
    folders = sorted(path for path in tmp_path.iterdir() if path.is_dir())
    assert len(folders) == 2
    for folder in folders:
        kinds = [event["event"] for event in _events(folder)]
        assert kinds.count("start") == 1 and kinds.count("done") == 1
        assert json.loads((folder / "config.json").read_text())["run_dir"] == str(folder)
        assert checkpoints.load_checkpoint(folder / "last.pt")["config"]["run_dir"] == str(folder)


def test_a_taken_run_folder_name_gets_a_suffix(tmp_path):
    first, first_lock = rundir.claim_run_dir(tmp_path / "runs" / "20260101-000000-resnet20")
    second, second_lock = rundir.claim_run_dir(tmp_path / "runs" / "20260101-000000-resnet20")
    assert first.name == "20260101-000000-resnet20" and second.name == "20260101-000000-resnet20-2"
    assert rundir.lock_holder(first) == rundir.lock_holder(second) == os.getpid()
    first_lock.release()
    second_lock.release()
    assert rundir.lock_holder(first) is None


# 2. A run folder is locked while its run goes on -----------------------------------------


def test_a_resume_of_a_live_run_is_refused_naming_its_process(tmp_path, capsys):
    argv = ["train", "resnet20", "--epochs", "1000", "--output", str(tmp_path), *TINY, "--seed", "0"]
    process = popen_cli(argv)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and process.poll() is None:
            folders = list(tmp_path.iterdir())
            if folders and (folders[0] / "last.pt").exists():
                break
            time.sleep(0.1)
        run_dir = only_run_dir(tmp_path)
        err = _one_line(capsys, ["train", "resnet20", "--resume", str(run_dir), "--epochs", "1001"])
        assert f"is in use by process {process.pid}" in err and "a run still going" in err
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=120)
    assert process.returncode == 130
    assert [event["event"] for event in _events(run_dir)].count("start") == 1


def test_a_lock_left_by_a_dead_process_does_not_hold_the_run(tmp_path):
    run_dir = _tiny_run(tmp_path)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (run_dir / rundir.LOCK_NAME).write_text(f"{dead.pid}\n")
    assert rundir.lock_holder(run_dir) is None
    assert main(["train", "resnet20", "--resume", str(run_dir), "--epochs", "2"]) == 0


# 3. A torn last line plus a resume --------------------------------------------------------


def test_a_torn_last_line_and_a_resume_keep_the_whole_history_readable(tmp_path):
    run_dir = _tiny_run(tmp_path)
    events_file = run_dir / "events.jsonl"
    lines = len(events_file.read_text().splitlines())
    with open(events_file, "a") as stream:
        stream.write('{"schema":1,"event":"step","epoch":2,"st')  # a SIGKILL mid-line
    assert main(["train", "resnet20", "--resume", str(run_dir / "last.pt"), "--epochs", "2"]) == 0
    log = read_event_log(events_file)
    assert log.damaged == [lines + 1]
    assert [event.event for event in log.events].count("start") == 2
    state = load_run(run_dir)
    assert state.status == "done" and state.segments == 2 and state.step == 4


def test_after_a_kill_and_a_resume_each_step_is_in_the_history_once(tmp_path):
    """A run killed after logging steps past its last checkpoint redoes them on resume."""
    run_dir = _tiny_run(tmp_path)  # last.pt at step 2
    step = {"schema": 1, "event": "step", "time": time.time(), "epoch": 2, "epoch_step": 1, "steps_per_epoch": 2}
    step |= {"lr": 0.1, "img_per_s": 10.0, "data_time": 0.0}
    with open(run_dir / "events.jsonl", "a") as stream:
        for number, loss in ((3, 9.0), (4, 9.5)):  # what the killed process had logged
            stream.write(json.dumps({**step, "step": number, "loss": loss}) + "\n")
    assert main(["train", "resnet20", "--resume", str(run_dir / "last.pt"), "--epochs", "2"]) == 0
    history = read_event_log(run_dir / "events.jsonl").history()
    steps = [event.step for event in history if event.event == "step"]
    assert steps == [1, 2, 3, 4]
    assert 9.0 not in [event.loss for event in history if event.event == "step"]
    losses = load_run(run_dir).losses
    assert [point[0] for point in losses] == [1, 2, 3, 4]


def test_a_temporary_file_left_by_a_killed_writer_is_removed_at_the_next_write(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".last.pt.{dead.pid}.tmp"
    stale.write_bytes(b"half a checkpoint")
    live = tmp_path / f".last.pt.{os.getppid()}.tmp"  # a writer still going: left alone
    live.write_bytes(b"being written")
    checkpoints.save_checkpoint(tmp_path / "last.pt", {"model": {"w": torch.ones(2)}})
    assert not stale.exists() and live.exists()
    assert checkpoints.load_checkpoint(tmp_path / "last.pt")["model"]["w"].sum() == 2


# 6. Resume flags -----------------------------------------------------------------------------


def test_the_starting_command_with_resume_added_continues_the_run(tmp_path):
    run_dir = _tiny_run(tmp_path, "--seed", "3")
    again = ["train", "resnet20", "--epochs", "2", "--output", str(tmp_path), *TINY, "--seed", "3"]
    assert main([*again, "--resume", str(run_dir / "last.pt")]) == 0
    assert only_run_dir(tmp_path) == run_dir  # the same folder: --output is the folder it lies in
    assert [event["event"] for event in _events(run_dir)].count("start") == 2


def test_changed_flags_are_refused_on_resume_zero_and_false_included(tmp_path, capsys):
    run_dir = _tiny_run(tmp_path, "--seed", "1", "--label-smoothing", "0.1", "--nesterov")
    resume = ["train", "resnet20", "--resume", str(run_dir / "last.pt"), "--epochs", "2"]
    for flags, says in (
        (["--weight-decay", "0"], "--weight-decay 0 differs from the checkpoint's 0.0001"),
        (["--momentum", "0"], "--momentum 0 differs from the checkpoint's 0.9"),
        (["--no-nesterov"], "--no-nesterov differs from the checkpoint's on"),
        (["--label-smoothing", "0"], "--label-smoothing 0 differs from the checkpoint's 0.1"),
        (["--seed", "0"], "--seed 0 differs from the checkpoint's 1"),
    ):
        assert says in _one_line(capsys, [*resume, *flags])
    assert checkpoints.load_checkpoint(run_dir / "last.pt")["epoch"] == 1  # untouched


def test_a_run_folder_is_taken_for_its_last_pt(tmp_path, capsys):
    run_dir = _tiny_run(tmp_path)
    assert main(["train", "resnet20", "--resume", str(run_dir), "--epochs", "2"]) == 0
    assert _events(run_dir)[-1]["status"] == "completed" and load_run(run_dir).segments == 2
    empty = tmp_path / "empty-run"
    empty.mkdir()
    assert "has no last.pt to resume from" in _one_line(capsys, ["train", "resnet20", "--resume", str(empty)])


# 7. File systems ---------------------------------------------------------------------------


def test_an_output_that_is_a_file_or_read_only_is_one_line(tmp_path, capsys, monkeypatch):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    argv = ["train", "resnet20", "--epochs", "1", *TINY]
    assert "is a file, not a folder" in _one_line(capsys, [*argv, "--output", str(a_file)])
    assert "is a file, not a folder" in _one_line(capsys, [*argv, "--output", str(a_file / "runs")])
    monkeypatch.setattr(rundir, "os", _OsWith(mkdir=_failing(errno.EROFS)))
    err = _one_line(capsys, [*argv, "--output", str(tmp_path / "runs")])
    assert "cannot create run folder" in err and "the disk is read-only" in err


def test_a_full_disk_at_the_start_leaves_no_half_written_run(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(atomic, "os", _OsWith(fsync=_failing(errno.ENOSPC)))
    err = _one_line(capsys, ["train", "resnet20", "--epochs", "1", "--output", str(tmp_path), *TINY])
    assert "cannot write" in err and "config.json: the disk is full (No space left on device)" in err
    assert list(tmp_path.iterdir()) == []  # no folder with an empty config.json


def test_a_full_disk_during_a_run_is_named_and_the_last_checkpoint_kept(tmp_path, capsys, monkeypatch):
    real_save, saves = checkpoints.save_checkpoint, []

    def save_until_the_disk_fills(path, state):
        saves.append(path)
        if len(saves) > 2:  # epoch 1 wrote last.pt and best.pt
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real_save(path, state)

    monkeypatch.setattr(checkpoints, "save_checkpoint", save_until_the_disk_fills)
    argv = ["train", "resnet20", "--epochs", "2", "--output", str(tmp_path), *TINY]
    err = _one_line(capsys, argv, code=1)
    assert "the disk is full (No space left on device) writing" in err and "--resume" in err
    run_dir = only_run_dir(tmp_path)
    assert checkpoints.load_checkpoint(run_dir / "last.pt")["epoch"] == 1
    events = _events(run_dir)
    assert [(e["event"], e.get("kind") or e.get("status")) for e in events[-2:]] == [
        ("error", "disk"),
        ("done", "failed"),
    ]


@pytest.fixture(scope="module")
def fake_run(tmp_path_factory):
    """A 1-epoch run on 64 synthetic images with seed 7; its folder."""
    output = tmp_path_factory.mktemp("fake-run")
    argv = ["train", "resnet20", "--epochs", "1", "--output", str(output), *TINY, "--fake-size", "64"]
    assert main([*argv, "--seed", "7"]) == 0
    return only_run_dir(output)


EVAL = ["--dataset", "fake", "--device", "cpu", "--workers", "0"]


def test_eval_prints_its_result_before_a_per_class_file_it_cannot_write(fake_run, tmp_path, capsys, monkeypatch):
    argv = ["eval", "resnet20", *EVAL, "--checkpoint", str(fake_run / "best.pt")]
    code = main([*argv, "--per-class", str(tmp_path / "missing" / "per_class.csv")])
    out, err = capsys.readouterr()
    assert code == 2 and "top-1 accuracy" in out
    assert len(err.strip().splitlines()) == 1 and "No such file or directory" in err and "result above" in err
    monkeypatch.setattr(atomic, "os", _OsWith(fsync=_failing(errno.EROFS)))
    code = main([*argv, "--per-class", str(tmp_path / "per_class.csv")])
    out, err = capsys.readouterr()
    assert code == 2 and "top-1 accuracy" in out and "the disk is read-only" in err
    assert not (tmp_path / "per_class.csv").exists() and not list(tmp_path.glob(".per_class*"))


def test_eval_events_at_a_folder_or_in_a_missing_folder_is_one_line(fake_run, tmp_path, capsys):
    argv = ["eval", "resnet20", *EVAL, "--checkpoint", str(fake_run / "best.pt")]
    assert "not a regular file" in _one_line(capsys, [*argv, "--events", str(tmp_path)])
    assert "No such file or directory" in _one_line(capsys, [*argv, "--events", str(tmp_path / "no" / "e.jsonl")])


def test_eval_of_a_fake_data_run_makes_the_runs_own_images_again(fake_run, capsys):
    val = next(event for event in _events(fake_run) if event["event"] == "val")
    argv = ["eval", "resnet20", *EVAL, "--checkpoint", str(fake_run / "best.pt"), "--format", "json"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["images"] == val["images"] == 6
    assert result["top1"] == pytest.approx(val["top1"]) and result["loss"] == pytest.approx(val["loss"], rel=1e-4)


# 8. Checkpoints, signals and numbers ---------------------------------------------------------


def test_a_checkpoint_with_the_marker_but_missing_or_damaged_entries_is_refused_in_one_line(fake_run, tmp_path, capsys):
    saved = checkpoints.load_checkpoint(fake_run / "last.pt")
    crafted = {
        "no config": {k: v for k, v in saved.items() if k != "config"},
        "no rng": {k: v for k, v in saved.items() if k != "rng"},
        "no optimizer": {k: v for k, v in saved.items() if k != "optimizer"},
        "an epoch in words": {**saved, "epoch": "one"},
        "a config without a model": {**saved, "config": {k: v for k, v in saved["config"].items() if k != "model"}},
        "epochs in words": {**saved, "config": {**saved["config"], "epochs": "ten"}},
        "an optimizer of another shape": {**saved, "optimizer": {"state": {}, "param_groups": [{"params": [0]}]}},
        "weights that are not tensors": {**saved, "model": {"conv1.weight": 3}},
    }
    for name, checkpoint in crafted.items():
        path = tmp_path / f"{name}.pt"
        torch.save(checkpoint, path)
        err = _one_line(capsys, ["train", "resnet20", "--resume", str(path), "--epochs", "2"])
        assert str(path) in err, (name, err)


def test_a_payload_calling_os_system_is_refused_naming_the_blocked_global(tmp_path, capsys):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    evil = tmp_path / "evil.pt"
    torch.save({"format": checkpoints.FORMAT, "model": Payload()}, evil)
    err = _one_line(capsys, ["train", "resnet20", "--resume", str(evil)])
    assert f"{os.name == 'nt' and 'nt' or 'posix'}.system" in err and "pickled Python object" in err
    assert not marker.exists()


def test_a_third_signal_is_ignored_while_the_run_writes_how_it_ended():
    import io

    from cnnexplorer.runs.progress import PlainReporter
    from cnnexplorer.train.failures import StopNow, StopSignals

    with StopSignals(PlainReporter(io.StringIO(), 1)) as stop:
        os.kill(os.getpid(), signal.SIGINT)
        with pytest.raises(StopNow):
            os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)  # a third: no StopNow, no KeyboardInterrupt
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.stopping_now


def test_numbers_out_of_range_and_a_cpu_index_are_one_line_errors(capsys):
    train = ["train", "resnet20", *TINY]
    for flags, says in (
        (["--warmup-epochs", "inf"], "not a finite number"),
        (["--lr", "inf"], "not a finite number"),
        (["--lr", "nan"], "not a finite number"),
        (["--gamma", "inf"], "not a finite number"),
        (["--weight-decay", "inf"], "not a finite number"),
        (["--device", "cpu:99"], "the CPU is one device"),
    ):
        assert says in _one_line(capsys, [*train, *flags])
    assert "too large for a tensor" in _one_line(capsys, ["summary", "resnet18", "--input", "3x2000000000x2000000000"])
    assert "too large for a tensor" in _one_line(capsys, ["summary", "resnet18", "--batch", "99999999999999999999"])


# 5. Data folders --------------------------------------------------------------------------------


@pytest.fixture
def small_shapes(tmp_path):
    from tests.train_shapes import write_shapes

    return write_shapes(tmp_path / "shapes", train_per_class=3, val_per_class=(1, 1, 1, 1))


def _train_on(root, tmp_path):
    return ["train", "resnet20", "--data", str(root), "--output", str(tmp_path / "runs"), *TINY[4:]]


def test_a_symlink_loop_in_a_data_folder_is_refused_in_one_line(small_shapes, tmp_path, capsys):
    (small_shapes / "train" / "circle" / "loop").symlink_to(".")
    err = _one_line(capsys, _train_on(small_shapes, tmp_path))
    assert f"{small_shapes / 'train' / 'circle' / 'loop'} is a symlink loop" in err
    assert not (tmp_path / "runs").exists()


def test_a_class_folder_that_links_to_itself_is_refused_in_one_line(small_shapes, tmp_path, capsys):
    (small_shapes / "train" / "self").symlink_to("self")
    err = _one_line(capsys, _train_on(small_shapes, tmp_path))
    assert f"{small_shapes / 'train' / 'self'} is a symlink that loops back on itself" in err


def test_a_named_pipe_with_an_image_name_is_refused_not_waited_on(small_shapes, tmp_path, capsys):
    pipe = small_shapes / "val" / "cross" / "x.png"
    os.mkfifo(pipe)
    assert f"{pipe} is a named pipe, not an image file" in _one_line(capsys, _train_on(small_shapes, tmp_path))


def test_the_same_folder_reached_twice_counts_its_images_once(small_shapes):
    from cnnexplorer.train.run_data import build_datasets

    (small_shapes / "train" / "circle" / "again").symlink_to(small_shapes / "train" / "square")
    (small_shapes / "train" / "circle" / "twice").symlink_to(small_shapes / "train" / "square")
    assert len(build_datasets("imagefolder", str(small_shapes), 32, 0).train) == 12 + 3


def test_sixteen_bit_images_are_scaled_not_clipped(tmp_path):
    import numpy as np
    from PIL import Image

    from cnnexplorer.train.data import _load_rgb

    levels = np.array([[0, 257 * 64, 257 * 128, 65535]], dtype=np.uint16)
    Image.fromarray(levels).save(tmp_path / "grey16.png")
    assert Image.open(tmp_path / "grey16.png").mode.startswith("I")
    loaded = np.asarray(_load_rgb(str(tmp_path / "grey16.png")))
    assert loaded[0, :, 0].tolist() == [0, 64, 128, 255]  # clipped, it was [0, 255, 255, 255]


# 4. A job whose app quit --------------------------------------------------------------------------


def test_a_run_whose_reader_went_away_finishes_and_keeps_its_record(tmp_path):
    """The app left its job running and quit: the job's stdout and stderr pipes close."""
    argv = [sys.executable, "-m", "cnnexplorer", "train", "resnet20", "--epochs", "3", "--output", str(tmp_path)]
    process = subprocess.Popen(
        [*argv, *TINY, "--events", "-"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env()
    )
    assert json.loads(process.stdout.readline())["event"] == "start"
    process.stdout.close()
    process.stderr.close()
    assert process.wait(timeout=300) == 0
    events = _events(only_run_dir(tmp_path))
    assert events[-1]["event"] == "done" and events[-1]["status"] == "completed"
    assert [event["epoch"] for event in events if event["event"] == "val"] == [1, 2, 3]


def test_a_resumed_run_keeps_no_copy_of_the_checkpoint_it_restored(tmp_path, monkeypatch):
    from cnnexplorer.train import loop

    run_dir = _tiny_run(tmp_path)
    restored = []

    def restore_and_keep(trainer, placement, resume):
        position = real_restore(trainer, placement, resume)
        restored.append(resume)
        return position

    real_restore = loop.restore
    monkeypatch.setattr(loop, "restore", restore_and_keep)
    argv = ["train", "resnet20", "--resume", str(run_dir / "last.pt"), "--epochs", "2", *TINY]
    assert main(argv) == 0
    (resume,) = restored
    assert resume.path == run_dir / "last.pt" and resume.checkpoint == {}  # the trainer holds the state
    assert checkpoints.load_checkpoint(run_dir / "last.pt")["epoch"] == 2


# Run files that are not regular files ----------------------------------------------------------


def test_a_named_pipe_as_events_file_is_refused_by_resume_in_one_line_not_waited_on(tmp_path):
    run_dir = _tiny_run(tmp_path)
    (run_dir / "events.jsonl").unlink()
    os.mkfifo(run_dir / "events.jsonl")
    try:
        resumed = run_cli(["train", "resnet20", "--resume", str(run_dir / "last.pt"), "--epochs", "2"], timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("--resume waited on the named pipe")
    assert resumed.returncode == 2 and len(resumed.stderr.strip().splitlines()) == 1, resumed.stderr
    assert f"cannot write {run_dir / 'events.jsonl'}: not a regular file" in resumed.stderr
    assert checkpoints.load_checkpoint(run_dir / "last.pt")["epoch"] == 1  # untouched


def test_run_files_that_are_named_pipes_are_refused_without_blocking(tmp_path):
    """The app's resume reads config.json; the checkpoint readers read .pt files: a named pipe
    in their place (no writer would ever come) is refused at once."""
    run_dir = _tiny_run(tmp_path)
    for name in ("config.json", "best.pt"):
        (run_dir / name).unlink()
        os.mkfifo(run_dir / name)
    outcome = {}

    def read_them():
        try:
            run_to_resume(load_run(run_dir))
        except ValueError as error:
            outcome["resume"] = str(error)
        try:
            checkpoints.load_checkpoint(run_dir / "best.pt")
        except UsageError as error:
            outcome["checkpoint"] = str(error)

    reader = threading.Thread(target=read_them, daemon=True)
    reader.start()
    reader.join(timeout=30)
    assert not reader.is_alive(), "a reader waited on a named pipe"
    assert outcome["resume"] == "its config.json cannot be read: not a regular file"
    assert outcome["checkpoint"].startswith(f"cannot read checkpoint {run_dir / 'best.pt'}: not a regular file; ")


def test_a_device_or_named_pipe_as_eval_checkpoint_says_what_to_pass_instead(tmp_path, capsys):
    pipe = tmp_path / "model.pt"
    os.mkfifo(pipe)
    for path in ("/dev/null", str(pipe)):
        argv = ["eval", "resnet20", "--dataset", "fake", "--device", "cpu", "--checkpoint", path]
        err = _one_line(capsys, argv)
        assert f"cannot read checkpoint {path}: not a regular file; pass the path of a .pt file written by" in err
        assert err.rstrip().endswith("`cnnexplorer train` or torch.save"), err
