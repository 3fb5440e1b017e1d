"""The train/eval parsers stay torch-free and their --help explains the flags."""

import subprocess
import sys
from dataclasses import fields

import pytest

from cnnexplorer.cli import build_parser
from cnnexplorer.train.request import LaunchRequest


def test_building_the_parser_does_not_import_torch():
    code = "import sys; from cnnexplorer.cli import build_parser; build_parser(); print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_help_lists_every_documented_flag(capsys):
    for command, flags in {
        "train": (
            "--gpu",
            "--gpus",
            "--nproc",
            "--device",
            "--data",
            "--dataset",
            "--epochs",
            "--batch-size",
            "--lr",
            "--momentum",
            "--weight-decay",
            "--optimizer",
            "--schedule",
            "--warmup-epochs",
            "--label-smoothing",
            "--workers",
            "--seed",
            "--amp",
            "--channels-last",
            "--compile",
            "--output",
            "--resume",
            "--max-steps",
            "--events",
            "--rdzv-endpoint",
            "torch.distributed.run",
            "130 / 143",
        ),
        "eval": (
            "--checkpoint",
            "--weights",
            "--data",
            "--gpu",
            "--device",
            "--batch-size",
            "--per-class",
            "weights_only=True",
            "IMAGENET1K_V1",
        ),
    }.items():
        try:
            build_parser().parse_args([command, "--help"])
        except SystemExit as exit_:
            assert exit_.code == 0
        out = capsys.readouterr().out
        for flag in flags:
            assert flag in out, (command, flag)


@pytest.mark.parametrize("command", ["train", "eval"])
def test_every_flag_is_a_launch_request_field(command):
    """LaunchRequest.from_args keeps only its fields: a flag without one would be lost on the
    torchrun relaunch and in the app's jobs."""
    parser = build_parser().parse_args([command, "resnet20"]).handler.args[0]  # the command's own parser
    dests = vars(parser.parse_args(["resnet20"])).keys() - {"handler"}  # the command's function; --help has no dest
    assert dests - {item.name for item in fields(LaunchRequest)} == set()
