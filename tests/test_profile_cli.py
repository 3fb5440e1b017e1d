"""``cnnexplorer profile`` as a user runs it: each command line in a forked child of one
interpreter that imported torch once (tests/fork_cli.py), its output to a file as to a pipe."""

from __future__ import annotations

import csv
import io
import json
import subprocess

import pytest

from cnnexplorer.profile import from_json
from cnnexplorer.profile.render import CSV_COLUMNS
from tests.conftest import assert_usage_error
from tests.kill_at_write import ForkServer

SMALL = ("resnet20", "--batch", "2", "--steps", "2")


def profile_cli(server: ForkServer, *args: str, columns: int = 80, timeout: float = 180) -> subprocess.CompletedProcess:
    """``cnnexplorer profile ARGS`` in a forked child, in a terminal ``columns`` wide; a hang fails the test."""
    return server.run(["profile", *args], env={"COLUMNS": str(columns)}, timeout=timeout)


def test_table_has_the_header_a_row_per_leaf_and_the_lessons_within_80_columns(fork_server):
    result = profile_cli(fork_server, *SMALL)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "resnet20 on cpu (" + lines[0].split("(", 1)[1] and "inference, batch 2 of 3x32x32" in lines[0]
    assert lines[1:3] == [
        "precision float32, memory format contiguous",
        "2 timed steps, medians; timed with thread CPU time (1 thread)",  # OMP_NUM_THREADS=1
    ]
    assert "GFLOP/s (GEMM)" in result.stdout and "GB/s (copy)" in result.stdout
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    rows = [line.split() for line in lines if line.split()[:1] and line.split()[0].startswith("layer1.0.")]
    assert [row[0] for row in rows] == ["layer1.0.conv1", "layer1.0.bn1", "layer1.0.relu", "layer1.0.conv2",
                                        "layer1.0.bn2", "layer1.0.shortcut"]  # fmt: skip
    assert any(line.startswith("whole model: forward ") and "img/s" in line for line in lines)
    assert "hooks overhead" in result.stdout and "coverage" in result.stdout
    assert "peak memory of a step: " in result.stdout
    assert "measured (torch.profiler's memory events)\n  the engine estimates" in result.stdout
    assert "memory-bound layers:" in result.stdout and "FLOPs = 2 x MACs" in result.stdout
    assert "warm-up" in result.stderr and "step 2/2" in result.stderr  # progress on stderr


def test_json_is_the_schema_1_document(fork_server):
    result = profile_cli(fork_server, *SMALL, "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["schema"] == 1 and document["batch"] == 2 and document["precision"] == "float32"
    profile = from_json(document)
    assert profile.model == "resnet20" and profile.input_size == (3, 32, 32)
    assert [layer["path"] for layer in document["layers"]][:3] == ["conv1", "bn1", "relu"]
    assert all(layer["backward_ms"] is None for layer in document["layers"])


def test_csv_has_a_row_per_leaf(fork_server):
    result = profile_cli(fork_server, *SMALL, "--format", "csv")
    assert result.returncode == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) - 1 == 3 + 3 * 3 * 6 + 2  # stem, 3 stages of 3 blocks of 6 leaves, pool and fc
    conv1 = dict(zip(rows[0], rows[1], strict=True))
    assert conv1["path"] == "conv1" and int(conv1["flops"]) == 2 * 16 * 3 * 9 * 2 * 32 * 32
    assert conv1["backward_ms"] == ""


def test_training_mode_gives_backward_times(fork_server):
    result = profile_cli(fork_server, *SMALL, "--mode", "training", "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["mode"] == "training" and document["model"]["backward_ms"] > 0
    assert all(isinstance(layer["backward_ms"], float) for layer in document["layers"])
    table = profile_cli(fork_server, *SMALL, "--mode", "training")
    assert "bwd ms" in table.stdout and "backward" in table.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--device", "cuda"), "GPU 0 was asked for"),
        (("--device", "cuda:7"), "GPU 7"),
        (("--device", "gpu"), "unknown --device 'gpu'"),
        (("--device", "cpu:1"), "unknown --device 'cpu:1'"),
        (("--precision", "fp8"), "unknown --precision 'fp8'"),
        (("--steps", "0"), "invalid --steps 0"),
        (("--batch", "0"), "batch"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(fork_server, args, needle):
    assert_usage_error(profile_cli(fork_server, *SMALL, *args), needle)


def test_unknown_model_is_one_line(fork_server):
    assert_usage_error(profile_cli(fork_server, "resnet9000"), "resnet9000")


def test_an_input_the_model_cannot_take_is_one_line(fork_server):
    assert_usage_error(profile_cli(fork_server, "alexnet", "--input", "3x16x16"), "choose another --input")


def assert_failure_after_progress(result, needle: str) -> None:
    """Exit 2, the progress lines, then one error line; no traceback."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("cnnexplorer: error: ") and needle in lines[-1], result.stderr
    assert all(not line.startswith("cnnexplorer:") for line in lines[:-1])
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_a_batch_that_does_not_fit_names_the_batch_and_the_estimate(fork_server):
    # 100 million 3x32x32 images: 1.2 TB for the input alone, refused by the allocator at once.
    result = profile_cli(fork_server, "resnet20", "--batch", "100000000", "--steps", "1")
    assert_failure_after_progress(result, "out of memory: batch 100000000 of resnet20 did not fit on cpu")
    assert "the engine estimates 11.9 TiB for the inference step" in result.stderr


MODEL_ONLY_ON_META = """\
from torch import nn


class OnlyMeta(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.fc = nn.Linear(3 * 8 * 8, num_classes)

    def forward(self, x):
        if x.device.type != "meta":
            raise RuntimeError("this model only runs on the meta device")
        return self.fc(x.flatten(1))
"""


def test_a_model_failing_on_the_device_is_one_line(fork_server, tmp_path):
    (tmp_path / "onlymeta.py").write_text(MODEL_ONLY_ON_META)
    result = profile_cli(fork_server, f"{tmp_path / 'onlymeta.py'}:OnlyMeta", "--input", "3x8x8", "--steps", "1")
    assert_failure_after_progress(result, "failed on cpu: RuntimeError: this model only runs on the meta device")


def test_a_model_that_branches_on_values_is_profiled_with_flops_from_a_real_forward(fork_server, tmp_path):
    from tests.test_any_model import SMALL_CNN

    (tmp_path / "mynet.py").write_text(SMALL_CNN)
    result = profile_cli(fork_server, f"{tmp_path / 'mynet.py'}:data_dependent", "--input", "3x16x16", "--steps", "1",
                         "--format", "json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "counting FLOPs on a real CPU forward" in result.stderr
    layers = {layer["path"]: layer for layer in json.loads(result.stdout)["layers"]}
    assert layers["0"]["flops"] == 2 * 8 * 3 * 3 * 3 * 14 * 14  # the 3x3 conv, 3 -> 8 channels, on 14x14 outputs
