"""`cnnexplorer runs`: runs listed (damaged ones with their reason), compared (JSON schema 1:
the config fields that differ, curves with resumed segments joined) and exported to
TensorBoard (read back with tensorboard's own reader), on conftest's ``lr_runs``."""

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cnnexplorer.cli import main
from cnnexplorer.render.runs import COLOURS, chart
from cnnexplorer.runs.catalog import read_run
from cnnexplorer.runs.compare import series
from cnnexplorer.runs.events import read_events
from tests.conftest import assert_usage_error


def cli(capsys, *argv: str) -> subprocess.CompletedProcess:
    """``cnnexplorer ARGV`` in this process: its exit code, output and errors."""
    capsys.readouterr()
    try:
        code = main([*argv])
    except SystemExit as exit_:  # argparse's usage errors
        code = exit_.code
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(argv, code, out, err)


def by_lr(runs_dir: Path) -> dict[float, Path]:
    return {json.loads((folder / "config.json").read_text())["lr"]: folder for folder in runs_dir.iterdir()}


def raw_events(run_dir: Path, kind: str) -> list[dict]:
    return [event for event in read_events(run_dir / "events.jsonl") if event["event"] == kind]


def csv_rows(run_dir: Path) -> list[dict]:
    with open(run_dir / "metrics.csv", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def test_compare_json_gives_exactly_the_config_fields_that_differ(lr_runs, capsys):
    runs = by_lr(lr_runs)
    result = cli(
        capsys, "runs", "compare", runs[0.05].name, runs[0.02].name, "--format", "json", "--runs-dir", str(lr_runs)
    )
    assert result.returncode == 0, result.stderr
    compared = json.loads(result.stdout)
    assert set(compared) == {"schema", "runs", "config_diff", "series"} and compared["schema"] == 1
    # The command lines differ in --lr alone; run_dir, which differs too, names the run, it is not configuration.
    assert compared["config_diff"] == {"lr": [0.05, 0.02]}
    configs = [json.loads((runs[lr] / "config.json").read_text()) for lr in (0.05, 0.02)]
    assert configs[0]["run_dir"] != configs[1]["run_dir"]
    assert {key for key in configs[0] if configs[0][key] != configs[1][key]} == {"lr", "run_dir"}
    for entry, lr, config in zip(compared["runs"], (0.05, 0.02), configs):
        assert entry["run"] == runs[lr].name and entry["model"] == "resnet20" and entry["config"] == config
        rows = csv_rows(runs[lr])
        best = max(rows, key=lambda row: float(row["val_top1"]))
        assert entry["best"] == {
            "val_top1": float(best["val_top1"]),
            "val_top5": float(best["val_top5"]),
            "epoch": int(best["epoch"]),
        }
        assert entry["final"]["epoch"] == 2 and entry["final"]["val_top1"] == float(rows[-1]["val_top1"])
    losses = [[[e["step"], e["loss"]] for e in raw_events(runs[lr], "step")] for lr in (0.05, 0.02)]
    assert compared["series"]["train_loss"] == losses
    assert set(compared["series"]) == {"train_loss", "val_loss", "val_top1", "val_top5", "lr"}


def test_a_resumed_run_is_one_curve(lr_runs):
    resumed = by_lr(lr_runs)[0.02]
    starts = raw_events(resumed, "start")
    assert [start["start_step"] for start in starts] == [0, 3]  # two segments in the one events file
    run = read_run(resumed)
    assert [step for step, _ in series(run, "train_loss", "step")] == list(range(1, 9))
    # The val at --max-steps 3 (mid epoch 1) and the one at the epoch's end: by epoch, the later.
    vals = raw_events(resumed, "val")
    assert [val["step"] for val in vals] == [3, 4, 8]
    assert series(run, "val_top1", "epoch") == [(1, vals[1]["top1"]), (2, vals[2]["top1"])]
    assert series(run, "val_top1", "step") == [(val["step"], val["top1"]) for val in vals]


def test_steps_a_resume_redid_count_once(lr_runs, tmp_path):
    """A segment killed after logging steps past its last checkpoint: the resume's steps replace them."""
    resumed = by_lr(lr_runs)[0.02]
    lines = (resumed / "events.jsonl").read_text().splitlines(keepends=True)
    second_start = [i for i, line in enumerate(lines) if '"event":"start"' in line][1]
    stale = json.loads(next(line for line in lines[second_start:] if '"step":4,' in line and '"event":"step"' in line))
    stale["loss"] = 99.0
    folder = tmp_path / resumed.name
    folder.mkdir()
    shutil.copy(resumed / "config.json", folder)
    (folder / "events.jsonl").write_text(
        "".join(lines[:second_start] + [json.dumps(stale) + "\n"] + lines[second_start:])
    )
    curve = series(read_run(folder), "train_loss", "step")
    assert curve == series(read_run(resumed), "train_loss", "step")
    assert [step for step, _ in curve] == list(range(1, 9)) and 99.0 not in [loss for _, loss in curve]


def _scalars(accumulator, tag: str) -> list[tuple[int, float]]:
    return [(event.step, event.value) for event in accumulator.Scalars(tag)]


def _expected_scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """What events.jsonl says step by step and metrics.csv epoch by epoch."""
    steps, vals, rows = raw_events(run_dir, "step"), raw_events(run_dir, "val"), csv_rows(run_dir)
    expected = {
        "step/train_loss": [(e["step"], e["loss"]) for e in steps],
        "step/lr": [(e["step"], e["lr"]) for e in steps],
    }
    for name in ("loss", "top1", "top5"):
        expected[f"step/val_{name}"] = [(e["step"], e[name]) for e in vals]
    for name in ("train_loss", "val_loss", "val_top1", "val_top5", "lr"):
        expected[f"epoch/{name}"] = [(int(row["epoch"]), float(row[name])) for row in rows]
    return expected


def _hparams(accumulator) -> dict:
    from tensorboard.plugins.hparams import plugin_data_pb2

    content = accumulator.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    values = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info.hparams
    return {
        name: value.WhichOneof("kind") and getattr(value, value.WhichOneof("kind")) for name, value in values.items()
    }


def _assert_board_holds(board: Path, run_dir: Path, config: dict) -> None:
    reading = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")  # the [test] extra
    accumulator = reading.EventAccumulator(str(board))
    accumulator.Reload()
    expected = _expected_scalars(run_dir)
    assert sorted(accumulator.Tags()["scalars"]) == sorted(expected)
    for tag, points in expected.items():
        read = _scalars(accumulator, tag)
        assert [step for step, _ in read] == [step for step, _ in points], tag
        assert [value for _, value in read] == pytest.approx([value for _, value in points], rel=1e-6), tag  # float32
    shown = {
        name: value if isinstance(value, (bool, int, float, str)) else json.dumps(value)
        for name, value in config.items()
    }
    shown.pop("run_dir")
    assert _hparams(accumulator) == {
        name: float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v for name, v in shown.items()
    }


def test_the_tensorboard_export_read_back_equals_the_events_step_by_step(lr_runs, tmp_path, capsys):
    runs = by_lr(lr_runs)
    names = [runs[0.05].name, runs[0.02].name]
    result = cli(capsys, "runs", "export", *names, "--tensorboard", str(tmp_path / "tb"), "--runs-dir", str(lr_runs))
    assert result.returncode == 0, result.stderr
    for lr, name in zip((0.05, 0.02), names):
        _assert_board_holds(tmp_path / "tb" / name, runs[lr], json.loads((runs[lr] / "config.json").read_text()))
    again = cli(capsys, "runs", "export", names[0], "--tensorboard", str(tmp_path / "tb"), "--runs-dir", str(lr_runs))
    assert_usage_error(again, "already holds files")  # nothing written over


def test_train_tensorboard_writes_the_same_live(lr_runs):
    """Written as the runs went (the resumed one in two segments): the same as the events; the
    hparams are the config the run started with (TensorBoard keeps a run's first)."""
    for run_dir in by_lr(lr_runs).values():
        started_with = raw_events(run_dir, "start")[0]["config"]
        _assert_board_holds(lr_runs.parent / "tb" / run_dir.name, run_dir, started_with)


def test_without_tensorboard_installed_the_error_names_the_extra(lr_runs, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # `import` raises ImportError
    name = next(lr_runs.iterdir()).name
    result = cli(capsys, "runs", "export", name, "--tensorboard", str(tmp_path / "tb"), "--runs-dir", str(lr_runs))
    assert_usage_error(result, "pip install 'cnnexplorer[tensorboard]'")
    result = cli(
        capsys,
        "train",
        "resnet20",
        "--dataset",
        "fake",
        "--output",
        str(tmp_path / "runs"),
        "--tensorboard",
        str(tmp_path / "tb"),
    )
    assert_usage_error(result, "pip install 'cnnexplorer[tensorboard]'")
    assert not (tmp_path / "tb").exists() and not (tmp_path / "runs").exists()


def test_runs_list_shows_a_damaged_run_with_its_reason(lr_runs, tmp_path, capsys):
    runs = tmp_path / "runs"
    whole = by_lr(lr_runs)[0.05]
    shutil.copytree(whole, runs / whole.name, ignore=shutil.ignore_patterns("*.pt"))
    (runs / "garbled").mkdir()
    (runs / "garbled" / "events.jsonl").write_text("not an event\n")
    (runs / "no-events").mkdir()
    shutil.copy(whole / "config.json", runs / "no-events")
    (runs / "a-pipe").mkdir()
    os.mkfifo(runs / "a-pipe" / "events.jsonl")  # read, it would hang a careless reader
    (runs / "not-a-run").mkdir()  # e.g. a TensorBoard folder beside the runs: not listed
    result = cli(capsys, "runs", "list", "--runs-dir", str(runs))
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert whole.name in text and "not-a-run" not in text
    assert "garbled: no start event; 1 line of events.jsonl not events" in text
    assert "no-events: events.jsonl cannot be read: No such file or directory" in text
    assert "a-pipe: events.jsonl cannot be read: not a regular file" in text
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines() if line.strip()}
    assert rows["garbled"][1:3] == ["-", "damaged"] and rows["no-events"][1:3] == ["resnet20", "damaged"]
    assert rows[whole.name][1:4] == ["resnet20", "done", "2/2"]


def test_a_run_whose_config_cannot_be_read_is_compared_with_its_reason(lr_runs, tmp_path, capsys):
    whole = by_lr(lr_runs)[0.05]
    damaged = tmp_path / "broken"
    damaged.mkdir()
    shutil.copy(whole / "events.jsonl", damaged)
    (damaged / "config.json").write_text('{"lr": ' * 40)  # nested past the reader's bound
    result = cli(capsys, "runs", "compare", str(whole), str(damaged), "--format", "json")
    assert result.returncode == 0, result.stderr
    compared = json.loads(result.stdout)
    assert compared["config_diff"] == {} and compared["runs"][1]["config"] == {}  # unknown, not "everything differs"
    assert compared["series"]["train_loss"][1] == compared["series"]["train_loss"][0]
    result = cli(capsys, "runs", "compare", str(whole), str(damaged))
    assert "broken: config.json is damaged:" in " ".join(result.stdout.split())


def test_compare_table_draws_the_curves_and_the_differing_config(lr_runs, capsys):
    runs = by_lr(lr_runs)
    names = [runs[0.05].name, runs[0.02].name]
    result = cli(capsys, "runs", "compare", *names, "--x", "epoch", "--metric", "val_loss", "--runs-dir", str(lr_runs))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[1:] for line in lines if line.startswith("lr ")] == [["0.05", "0.02"]]
    assert any("validation loss by epoch" in line for line in lines)
    plot = [line for line in lines if "│" in line]
    assert any("•" in line for line in plot) and any("x" in line.split("│")[1] for line in plot if line.count("│") == 2)
    assert "\x1b[" not in result.stdout  # not a terminal: no colour codes
    drawn = chart([read_run(runs[0.05]), read_run(runs[0.02])], "train_loss", "step", 80, colour=True)
    assert all(f"\x1b[38;5;{number}m" in drawn for number in COLOURS[:2])  # each run its 256-colour line
    assert "107m" not in drawn  # on the terminal's background, not a painted canvas


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["runs", "compare", "{a}"], "needs two runs or more"),
        (["runs", "compare", "{a}", "{a}"], "are the same run"),
        (["runs", "show", "no-such-run"], "no run 'no-such-run'"),
        (["runs", "show", "{tmp}"], "is not a run folder"),
        (["runs", "list", "--runs-dir", "{tmp}/absent"], "no runs folder"),
        (["runs", "compare", "{a}", "{b}", "--metric", "accuracy"], "invalid choice: 'accuracy'"),
        (["runs", "export", "{a}"], "the following arguments are required: --tensorboard"),
        (["runs", "export", "{a}", "--tensorboard", "{tmp}/file/tb"], "--tensorboard {tmp}/file/tb: it (or a folder"),
    ],
)
def test_bad_input_is_one_line(lr_runs, tmp_path, capsys, argv, needle):
    names = sorted(folder.name for folder in lr_runs.iterdir())
    (tmp_path / "file").write_text("")
    filled = [part.format(a=names[0], b=names[1], tmp=tmp_path) for part in argv]
    if "--runs-dir" not in filled:
        filled += ["--runs-dir", str(lr_runs)]
    assert_usage_error(cli(capsys, *filled), needle.format(tmp=tmp_path))


def test_train_refuses_a_tensorboard_folder_that_is_a_file_before_it_starts(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    argv = ["train", "resnet20", "--dataset", "fake", "--device", "cpu", "--output", str(tmp_path / "runs")]
    result = cli(capsys, *argv, "--tensorboard", str(tmp_path / "file"))
    assert_usage_error(result, "is a file, not a folder")
    assert not (tmp_path / "runs").exists()
