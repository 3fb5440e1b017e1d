"""eval --weights: torchvision's file from the torch hub cache, published figures, events."""

import json

import pytest
import torch

from cnnexplorer import zoo
from cnnexplorer.cli import main
from cnnexplorer.runs.events import SCHEMA_VERSION, iter_events
from cnnexplorer.zoo.published import weights_of


@pytest.fixture
def cached_resnet18(tmp_path, monkeypatch):
    """Random resnet18 weights placed where torchvision's IMAGENET1K_V1 file would be cached."""
    from torchvision.models import ResNet18_Weights

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    cached = tmp_path / "torch_home" / "hub" / "checkpoints" / ResNet18_Weights.IMAGENET1K_V1.url.rsplit("/", 1)[1]
    cached.parent.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(zoo.get("resnet18").build().state_dict(), cached)
    return cached


def test_weights_from_the_cache_with_published_figures(cached_resnet18, capsys):
    code = main(
        [
            "eval",
            "resnet18",
            "--dataset",
            "fake",
            "--fake-size",
            "40",
            "--weights",
            "imagenet1k_v1",
            "--device",
            "cpu",
            "--workers",
            "0",
            "--batch-size",
            "4",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    reference = next(p for p in weights_of(zoo.get("resnet18")) if p.weights == "IMAGENET1K_V1")
    assert "4 images" in out and "torchvision IMAGENET1K_V1" in out
    assert f"top-1 error {100 - reference.acc1:.2f}%, top-5 error {100 - reference.acc5:.2f}%" in out
    assert "top-5 error 10.92%" in out  # torchvision's published figure for ResNet-18 V1


def test_eval_events_on_stdout_and_result_on_stderr(cached_resnet18, capsys):
    code = main(
        [
            "eval",
            "resnet18",
            "--dataset",
            "fake",
            "--fake-size",
            "20",
            "--weights",
            "DEFAULT",
            "--device",
            "cpu",
            "--workers",
            "0",
            "--events",
            "-",
            "--format",
            "json",
        ]
    )
    assert code == 0
    captured = capsys.readouterr()
    events = list(iter_events(iter(captured.out.splitlines(keepends=True))))
    assert [e.event for e in events] == ["start", "val", "done"] and all(e.schema == SCHEMA_VERSION for e in events)
    assert events[0].params == 11_689_512 and events[0].macs > 1e9  # ResNet-18 at 224
    result = json.loads(captured.err)
    assert result["images"] == events[1].images == 2 and result["top1"] == events[1].top1


def test_a_checkpoint_trained_on_other_data_gets_no_published_imagenet_figures(tmp_path, capsys):
    from cnnexplorer.cli import main

    fake = ["--dataset", "fake", "--image-size", "32", "--device", "cpu", "--workers", "0", "--batch-size", "8"]
    assert (
        main(
            [
                "train",
                "resnet18",
                "--fake-size",
                "16",
                "--epochs",
                "1",
                "--max-steps",
                "1",
                "--output",
                str(tmp_path),
                *fake,
            ]
        )
        == 0
    )
    last = next(tmp_path.iterdir()) / "last.pt"
    capsys.readouterr()
    assert main(["eval", "resnet18", "--checkpoint", str(last), *fake, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["published"] is None
