"""SIGKILL while best.pt or last.pt is written, again and again, each time resumed: the run
ends as an uninterrupted one does. best.pt holds the best the run reports (the reference
run's very weights), metrics.csv has every epoch once with its whole-epoch mean training
loss, and no temporary file is left. Most kills land inside the writes, before their rename
(tests/kill_at_write.py checks each)."""

import csv
import math

import pytest
import torch

from cnnexplorer.runs.events import read_events
from cnnexplorer.train import checkpoints
from tests.kill_at_write import ForkServer, run_until_killed
from tests.train_shapes import cli_env, only_run_dir

EPOCHS, KILLS = 10, 10  # kills at best.pt writes, and as many at last.pt writes
TRAIN = ["train", "resnet20", "--dataset", "fake", "--fake-size", "32", "--device", "cpu", "--workers", "0"]
TRAIN += ["--batch-size", "16", "--image-size", "8", "--log-every", "1", "--epochs", str(EPOCHS)]  # 2 steps an epoch
SEED = ["--seed", "12"]  # its val top-1 improves at epochs 2 and 4 (checked below)


def _validated_epoch(run_dir) -> int:
    """The epoch whose checkpoints are being written: the latest val event's."""
    return [event["epoch"] for event in read_events(run_dir / "events.jsonl") if event["event"] == "val"][-1]


def _never(kind: str) -> bool:
    return False


def _epoch_means(events) -> dict[int, float]:
    """Each epoch's mean training loss from its steps' own losses (logged at every step)."""
    losses: dict[int, list[float]] = {}
    for event in events:
        if event["event"] == "step":
            losses.setdefault(event["epoch"], []).append(event["loss"])
    return {epoch: math.fsum(values) / len(values) for epoch, values in losses.items()}


@pytest.fixture
def server(tmp_path):
    """Runs forked from one process that imported torch once (a run then takes a fraction of a second)."""
    forks = ForkServer(cli_env(), tmp_path / "runs.log")
    yield forks
    forks.close()


def test_sigkill_at_checkpoint_writes_then_resume_keeps_best_pt_and_metrics_whole(server, tmp_path):
    reference_output = tmp_path / "reference"  # the same run, never interrupted
    reference_output.mkdir()
    argv = [*TRAIN, *SEED, "--output", str(reference_output)]
    assert run_until_killed(server, argv, reference_output, _never) is None
    reference = only_run_dir(reference_output)
    reference_events = read_events(reference / "events.jsonl")
    improving = [e["epoch"] for e in reference_events if e["event"] == "checkpoint" and e["kind"] == "best"]
    assert len(improving) >= 2, improving  # best.pt is rewritten after the first epoch
    best_quota = -(-KILLS // len(improving[1:]))
    kills: list[tuple[str, int]] = []
    output = tmp_path / "killed"
    output.mkdir()

    def decide(kind: str) -> bool:
        run_dir = only_run_dir(output)
        if not (run_dir / "last.pt").exists():
            return False  # nothing to resume from yet: let the first checkpoints be written
        epoch = _validated_epoch(run_dir)
        done_here = kills.count((kind, epoch))
        quota = best_quota if kind == "best" else 2
        if done_here >= quota or sum(k == kind for k, _ in kills) >= KILLS:
            return False
        kills.append((kind, epoch))
        return True

    argv, watched, landed = [*TRAIN, *SEED, "--output", str(output)], output, []
    for _ in range(3 * KILLS):
        kill = run_until_killed(server, argv, watched, decide)
        if kill is None:
            break
        landed.append(kill)
        watched = only_run_dir(output)
        argv = ["train", "resnet20", "--resume", str(watched / "last.pt"), "--log-every", "1"]
    run_dir = only_run_dir(output)

    # The best the run reports is what best.pt holds: the reference run's best epoch, its weights.
    done = read_events(run_dir / "events.jsonl")[-1]
    assert done["event"] == "done" and done["status"] == "completed"
    best = checkpoints.load_checkpoint(run_dir / "best.pt")
    reference_best = checkpoints.load_checkpoint(reference / "best.pt")
    assert (done["summary"]["best_epoch"], done["summary"]["best_top1"]) == (best["best_epoch"], best["best_top1"])
    assert best["epoch"] == best["best_epoch"] == reference_best["epoch"] == improving[-1]
    assert all(torch.equal(best["model"][name], tensor) for name, tensor in reference_best["model"].items())
    assert not [path.name for path in run_dir.iterdir() if path.name.endswith(".tmp")]

    # metrics.csv: every epoch once, its mean training loss over all its steps.
    rows = list(csv.DictReader(open(run_dir / "metrics.csv", encoding="utf-8")))
    assert [int(row["epoch"]) for row in rows] == list(range(1, EPOCHS + 1))
    means = _epoch_means(reference_events)
    assert [float(row["train_loss"]) for row in rows] == pytest.approx([means[e] for e in range(1, EPOCHS + 1)])
    reference_top1 = [e["top1"] for e in reference_events if e["event"] == "val"]
    assert [float(row["val_top1"]) for row in rows] == reference_top1

    # Each kill landed in the write it was meant for: 10 in best.pt's (at the epochs that improve
    # on an earlier best.pt), 10 in last.pt's.
    assert sorted(kind for kind, _ in kills) == ["best"] * KILLS + ["last"] * KILLS, kills
    assert {epoch for kind, epoch in kills if kind == "best"} == set(improving[1:])
    assert [kill.kind for kill in landed] == [kind for kind, _ in kills]
    inside = {kind: sum(kill.inside for kill in landed if kill.kind == kind) for kind in ("best", "last")}
    assert inside["best"] >= KILLS // 2 and inside["last"] >= KILLS // 2, landed  # before the rename
