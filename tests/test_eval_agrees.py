"""`cnnexplorer eval` of a run's best.pt gives what that run's own validation recorded in
metrics.csv, and both are the top-1/top-5 of a plain forward over the val images made one at
a time (issue 24, item 12: a synthetic image depended on the batch it was made in, so the
run's batches of 16 and eval's batch of 64 saw different images)."""

from __future__ import annotations

import csv
import json

import pytest
import torch
import torch.nn.functional as F

from cnnexplorer import zoo
from cnnexplorer.cli import main
from cnnexplorer.train import data, gpu_input
from tests.train_shapes import only_run_dir

SEED, FAKE_SIZE, CLASSES, SIZE = 3, 400, 10, 32  # 40 val images: batches of 16, 16 and 8 in the run


def test_a_synthetic_image_is_the_same_in_any_batch():
    seeds = torch.tensor([data.SyntheticImages(50, 8, 4, seed=2)[index][0].item() for index in range(50)])
    cpu = torch.device("cpu")
    whole = gpu_input.synthetic_batch(seeds, 8, cpu)
    alone = torch.cat([gpu_input.synthetic_batch(seeds[i : i + 1], 8, cpu) for i in range(50)])
    assert torch.equal(whole, alone)
    assert torch.equal(gpu_input.synthetic_batch(seeds[7:23], 8, cpu), whole[7:23])
    assert 0.9 < whole.std().item() < 1.1 and not torch.equal(whole[0], whole[1])


def plain_top1_top5_loss(checkpoint) -> tuple[float, float, float]:
    """The oracle: the checkpoint's weights in a freshly built model, each val image made alone."""
    model = zoo.get("resnet20").build(num_classes=CLASSES)
    model.load_state_dict(torch.load(checkpoint, map_location="cpu", weights_only=True)["model"])
    model.eval()
    val = data.SyntheticImages(FAKE_SIZE // 10, SIZE, CLASSES, seed=SEED + 1)
    items = [val[index] for index in range(len(val))]
    cpu = torch.device("cpu")
    images = torch.cat([gpu_input.synthetic_batch(seed.view(1), SIZE, cpu) for seed, _ in items])
    targets = torch.tensor([label for _, label in items])
    with torch.no_grad():
        logits = model(images)
    top5 = logits.topk(5, dim=1).indices
    top1 = 100.0 * (top5[:, 0] == targets).float().mean().item()
    top5_hit = 100.0 * (top5 == targets.unsqueeze(1)).any(dim=1).float().mean().item()
    return top1, top5_hit, F.cross_entropy(logits, targets).item()


def test_eval_of_best_pt_agrees_with_the_runs_validation_and_a_plain_forward(tmp_path, capsys):
    output = tmp_path / "runs"
    common = ["--dataset", "fake", "--device", "cpu", "--workers", "0"]
    train = ["train", "resnet20", *common, "--fake-size", str(FAKE_SIZE), "--seed", str(SEED)]
    assert main([*train, "--batch-size", "16", "--max-steps", "2", "--output", str(output)]) == 0
    run = only_run_dir(output)
    with open(run / "metrics.csv", newline="") as stream:
        (recorded,) = list(csv.DictReader(stream))
    capsys.readouterr()
    assert main(["eval", "resnet20", *common, "--checkpoint", str(run / "best.pt"), "--format", "json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)

    top1, top5, loss = plain_top1_top5_loss(run / "best.pt")
    assert evaluated["images"] == FAKE_SIZE // 10
    assert (evaluated["top1"], evaluated["top5"]) == pytest.approx((top1, top5))
    assert (float(recorded["val_top1"]), float(recorded["val_top5"])) == pytest.approx((top1, top5))
    assert evaluated["loss"] == pytest.approx(loss, rel=1e-4)
    assert float(recorded["val_loss"]) == pytest.approx(loss, rel=1e-4)
