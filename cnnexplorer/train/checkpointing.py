"""A run's checkpoints and metrics: the state last.pt/best.pt hold, writing them, the checkpoint
a resume reads (once) and restoring it into a new trainer; metrics.csv."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnnexplorer.errors import UsageError
from cnnexplorer.train import checkpoints
from cnnexplorer.train.building import Trainer
from cnnexplorer.train.context import Position, Run
from cnnexplorer.train.devices import Placement

METRICS_COLUMNS = ("epoch", "step", "train_loss", "val_loss", "val_top1", "val_top5", "lr", "seconds", "img_per_s")


@dataclass
class Resume:
    """The training checkpoint a run continues from, read and checked once. :meth:`release`
    drops the loaded state once the trainer holds it (or once torchrun's ranks, which read
    their own, take over), so that a run keeps no second copy of its weights and optimizer
    state (about 1 GB for VGG-16 on a GPU)."""

    path: Path
    checkpoint: dict[str, Any]

    def release(self) -> None:
        self.checkpoint = {}


def read_resume(path: Path) -> Resume:
    """Load ``path``; a one-line UsageError unless it is a whole training checkpoint."""
    saved = checkpoints.load_checkpoint(path)
    checkpoints.check_training_checkpoint(saved, path)
    return Resume(path, saved)


def checkpoint_state(run: Run, position: Position) -> dict[str, Any]:
    """Everything a resume needs, rank 0's model without wrapper prefixes; RNG states of
    every rank (gathered: call on all ranks)."""
    trainer, placement = run.trainer, run.placement
    rng = checkpoints.capture_rng_state()
    if placement.distributed:
        import torch.distributed as dist

        gathered: list[Any] = [None] * placement.world_size
        dist.all_gather_object(gathered, rng)
        rng = gathered[0]
        rng["per_rank"] = gathered
    return {
        "format": checkpoints.FORMAT,
        "version": checkpoints.VERSION,
        "model": checkpoints.strip_wrapper_prefixes(
            {k: v.detach().cpu() for k, v in trainer.raw_model.state_dict().items()}
        ),
        "optimizer": trainer.optimizer.state_dict(),
        "scheduler": trainer.scheduler.state_dict(),
        "scaler": trainer.scaler.state_dict(),
        "epoch": position.epoch,
        "epoch_step": position.epoch_step,
        "step": position.step,
        "best_top1": position.best_top1,
        "best_epoch": position.best_epoch,
        "rng": rng,
        "config": run.config.as_dict(),
    }


def save(run: Run, position: Position, kinds: tuple[str, ...]) -> None:
    """Write the run's state as ``<kind>.pt`` for each of ``kinds`` (last, best), each followed
    by its checkpoint event (rank 0; every rank takes part in gathering the state)."""
    state = checkpoint_state(run, position)
    if not run.placement.is_main:
        return
    for kind in kinds:
        path = run.run_dir / f"{kind}.pt"
        checkpoints.save_checkpoint(path, state)
        run.events.emit("checkpoint", path=str(path), kind=kind, epoch=position.epoch, step=position.step)


def restore(trainer: Trainer, placement: Placement, resume: Resume) -> Position:
    """Load a resumed checkpoint into the trainer and return where it stopped; a one-line
    UsageError for a checkpoint that does not fit this run."""
    saved, path = resume.checkpoint, resume.path
    check_resumable_world_size(saved, placement.world_size, path)
    checkpoints.load_model_weights(trainer.raw_model, checkpoints.model_state_of(saved, path), path)
    part = "optimizer"
    try:
        trainer.optimizer.load_state_dict(saved["optimizer"])
        part = "scheduler"
        trainer.scheduler.load_state_dict(saved["scheduler"])
        part = "scaler"
        if saved["scaler"]:
            trainer.scaler.load_state_dict(saved["scaler"])
        part = "rng"
        rng = saved["rng"]
        per_rank = rng.get("per_rank")
        if isinstance(per_rank, list) and len(per_rank) == placement.world_size:
            rng = per_rank[placement.rank]
        checkpoints.restore_rng_state(rng)
    except (KeyError, ValueError, TypeError, IndexError, AttributeError, RuntimeError) as error:
        detail = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise UsageError(
            f"{path} does not fit this run: its {part} state cannot be loaded ({detail}); "
            "resume from another checkpoint, or start a new run"
        ) from None
    position = Position(saved["epoch"], saved["epoch_step"], saved["step"], saved["best_top1"], saved["best_epoch"])
    resume.release()
    return position


def check_resumable_world_size(saved: dict[str, Any], world_size: int, path: Path) -> None:
    """Mid-epoch, the rest of the epoch is the samples each rank has not yet seen in its shard:
    only the same number of processes continues that exactly (between epochs any number may)."""
    started_with = saved["config"].get("world_size", 1)
    if saved["epoch_step"] and started_with != world_size:
        processes = f"{started_with} process{'es' if started_with != 1 else ''}"
        raise UsageError(
            f"{path} stopped mid-epoch in a run of {processes}: "
            f"resume it with {started_with} (this is {world_size}), "
            "or resume from a checkpoint written at the end of an epoch"
        )


def append_metrics(run_dir: Path, row: dict[str, Any]) -> None:
    """One row of metrics.csv (the header first, in a new file)."""
    path = run_dir / "metrics.csv"
    new = not path.exists()
    with open(path, "a", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=METRICS_COLUMNS)
        if new:
            writer.writeheader()
        writer.writerow(row)
