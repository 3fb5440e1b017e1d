"""A run's checkpoints: the state last.pt/best.pt hold, writing them, the checkpoint a resume
reads (once), restoring it into a new trainer and reconciling it with the run folder's best.pt."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnnexplorer.errors import UsageError
from cnnexplorer.train import checkpoints
from cnnexplorer.train.building import Trainer
from cnnexplorer.train.context import Position, Run
from cnnexplorer.train.devices import Placement


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
        "epoch_totals": [position.epoch_loss_sum, position.epoch_images, position.epoch_seconds],
        "rng": rng,
        "config": run.config.as_dict(),
    }


def save(run: Run, position: Position, kinds: tuple[str, ...]) -> None:
    """Write the run's state as ``<kind>.pt`` for each of ``kinds`` in order (best before last,
    so that last.pt never records a best that best.pt does not yet hold), each durable before
    its checkpoint event (rank 0; every rank takes part in gathering the state)."""
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
    position.epoch_loss_sum, position.epoch_images, position.epoch_seconds = _epoch_totals(saved)
    resume.release()
    return position


def _epoch_totals(saved: dict[str, Any]) -> tuple[float, int, float]:
    """The current epoch's loss sum, images and seconds so far; a checkpoint written before
    they were kept (or with damaged ones), mid-epoch, leaves the epoch's mean unknown (NaN)."""
    totals = saved.get("epoch_totals")
    if (
        isinstance(totals, (list, tuple))
        and len(totals) == 3
        and all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in totals)
        and all(math.isfinite(value) and value >= 0 for value in totals[1:])
    ):
        return float(totals[0]), int(totals[1]), float(totals[2])
    unknown = float("nan") if saved["epoch_step"] else 0.0
    return unknown, 0, 0.0


def adopt_folder_best(run: Run, position: Position) -> None:
    """A resumed run's best is what its folder's best.pt holds (its val top-1 and epoch), or
    none when there is no readable one: a run killed while best.pt was written by an older
    version (or a checkpoint resumed into another folder) never reports a best that best.pt
    does not hold; the next better epoch writes best.pt. Rank 0 reads it; every rank agrees."""
    best = (-1.0, 0)
    if run.placement.is_main:
        best = checkpoints.recorded_best(run.run_dir / "best.pt") or best
    if run.placement.distributed:
        import torch.distributed as dist

        shared = [best]
        dist.broadcast_object_list(shared, src=0)
        best = shared[0]
    position.best_top1, position.best_epoch = best


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
