"""--precision: auto resolves to fp32 on the CPU (bf16 + channels-last on a GPU with bf16), the
concrete choice is recorded and printed; --amp still works; old runs (with amp) still load."""

import json

import pytest

from cnnexplorer.runs.events import read_events
from cnnexplorer.train.config import TrainConfig, resolve_precision
from tests.conftest import assert_usage_error
from tests.train_shapes import only_run_dir, run_cli

FAKE = ["--dataset", "fake", "--fake-size", "32", "--batch-size", "16", "--device", "cpu", "--workers", "0"]
FAKE += ["--seed", "0", "--epochs", "1", "--image-size", "32"]


def _run(tmp_path, *flags):
    from cnnexplorer.cli import main

    output = tmp_path / "runs"
    assert main(["train", "resnet20", *FAKE, "--output", str(output), *flags]) == 0
    run_dir = only_run_dir(output)
    config = json.loads((run_dir / "config.json").read_text())
    start = next(e for e in read_events(run_dir / "events.jsonl") if e["event"] == "start")
    return run_dir, config, start


def test_the_default_on_the_cpu_is_fp32_recorded_and_printed(tmp_path, capsys):
    run_dir, config, start = _run(tmp_path)
    assert (config["precision"], config["channels_last"], config["decode"]) == ("fp32", False, "cpu")
    assert start["precision"] == "fp32" and start["config"]["precision"] == "fp32"
    assert "amp" not in config
    assert "precision fp32 (default on the CPU" in capsys.readouterr().out


def test_bf16_runs_on_the_cpu_and_amp_is_its_old_name(tmp_path):
    _, config, start = _run(tmp_path / "a", "--precision", "bf16")
    assert config["precision"] == start["precision"] == "bf16" and config["channels_last"] is False
    _, config, _ = _run(tmp_path / "b", "--amp", "--channels-last")
    assert config["precision"] == "bf16" and config["channels_last"] is True


def test_auto_resolves_by_device():
    def resolved(device_type, bf16, precision="auto", channels_last=None):
        return resolve_precision(precision, channels_last, device_type, bf16)

    assert resolved("cuda", True)[:2] == ("bf16", True)
    assert "default on this GPU" in resolved("cuda", True)[2]
    assert resolved("cuda", False)[:2] == ("fp32", False)
    assert resolved("cpu", True)[:2] == ("fp32", False)
    assert resolved("cuda", True, "fp32")[:2] == ("fp32", False)
    assert resolved("cuda", True, channels_last=False)[:2] == ("bf16", False)
    assert resolved("cpu", False, "fp16", True)[:2] == ("fp16", True)


def test_an_old_config_with_amp_loads_as_its_precision(tmp_path):
    _, config, _ = _run(tmp_path)
    old = {key: value for key, value in config.items() if key not in ("precision", "decode")}
    assert TrainConfig.from_dict({**old, "amp": "bf16"}).precision == "bf16"
    loaded = TrainConfig.from_dict({**old, "amp": None})
    assert (loaded.precision, loaded.amp, loaded.decode) == ("fp32", None, "cpu")


def test_resume_keeps_the_recorded_precision_and_refuses_another(tmp_path):
    run_dir, _, _ = _run(tmp_path, "--precision", "bf16", "--max-steps", "1")
    refused = run_cli(["train", "resnet20", "--resume", str(run_dir), "--precision", "fp32"])
    assert_usage_error(refused, "--precision fp32 differs from the checkpoint's bf16")
    resumed = run_cli(["train", "resnet20", "--resume", str(run_dir), "--max-steps", "2", "--amp"])
    assert resumed.returncode == 0, resumed.stderr
    starts = [e for e in read_events(run_dir / "events.jsonl") if e["event"] == "start"]
    assert [start["precision"] for start in starts] == ["bf16", "bf16"]


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--amp", "fp16", "--precision", "bf16"], "--amp fp16 and --precision bf16 disagree"),
        (["--decode", "gpu"], "--decode gpu reads JPEG files"),
    ],
)
def test_conflicting_or_misplaced_flags_are_one_line_errors(tmp_path, flags, needle):
    assert_usage_error(run_cli(["train", "resnet20", *FAKE, "--output", str(tmp_path), *flags]), needle)
