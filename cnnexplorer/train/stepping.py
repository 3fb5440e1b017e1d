"""The epochs of a run: optimizer steps over the train loader, then validation, metrics.csv
(derived from the events) and best.pt/last.pt after each epoch; how the run ended (its exit code)."""

from __future__ import annotations

import math
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from cnnexplorer.runs.metrics_csv import write_metrics_csv
from cnnexplorer.runs.progress import StepStats
from cnnexplorer.train import data, gpu_input
from cnnexplorer.train.checkpointing import save
from cnnexplorer.train.context import Position, Run
from cnnexplorer.train.devices import Placement, stop_exit_code
from cnnexplorer.train.evaluate import EvalResult, autocast_for, broadcast_buffers, evaluate
from cnnexplorer.train.failures import EXIT_FAILED, end_unfinished, error_event


@dataclass
class StepWindow:
    """Totals over the steps since the last logged one: what the next step line averages."""

    loss_sum: float = 0.0
    steps: int = 0
    images: int = 0
    data_seconds: float = 0.0
    start: float = field(default_factory=time.perf_counter)


@dataclass
class EpochOutcome:
    """What one call of ``train_epoch`` did, and why it stopped early (if it did)."""

    stopped_by: str | None = None  # None, "signal", "nonfinite", "max_steps"
    error: dict[str, Any] | None = None  # the error event of a non-finite loss


def training_loss(output: Any, targets: torch.Tensor, label_smoothing: float, aux_weight: float) -> torch.Tensor:
    """Cross-entropy; for GoogLeNet's training outputs, plus its auxiliary losses x aux_weight."""
    if isinstance(output, tuple) and hasattr(output, "aux_logits1"):
        loss = F.cross_entropy(output.logits, targets, label_smoothing=label_smoothing)
        for aux in (output.aux_logits1, output.aux_logits2):
            if aux is not None:
                loss = loss + aux_weight * F.cross_entropy(aux, targets, label_smoothing=label_smoothing)
        return loss
    return F.cross_entropy(output, targets, label_smoothing=label_smoothing)


def current_lr(run: Run) -> float:
    return run.trainer.optimizer.param_groups[0]["lr"]


def agree(values: list[float], placement: Placement) -> list[float]:
    """Sum ``values`` over the ranks (one small all-reduce); the values themselves alone."""
    if not placement.distributed:
        return values
    import torch.distributed as dist

    tensor = torch.tensor(values, dtype=torch.float64, device=placement.device)
    dist.all_reduce(tensor)
    return tensor.tolist()


def train_epoch(run: Run, epoch: int, position: Position) -> EpochOutcome:
    """Train one epoch from ``position.epoch_step``; stops early on a signal, a non-finite
    loss (before that step touches the weights) or ``--max-steps``."""
    loaders = run.trainer.loaders
    loaders.train_sampler.set_epoch(epoch, skip_batches=position.epoch_step)  # its keys carry the epoch
    run.trainer.model.train()
    run.reporter.begin_epoch(epoch, run.config.epochs, loaders.steps_per_epoch(), position.epoch_step)
    outcome = EpochOutcome()
    data.reseed_loader(loaders.train, run.config.seed, epoch)
    batches = gpu_input.PrefetchedBatches(iter(loaders.train), loaders.prepare, run.placement.device)
    try:
        _train_steps(run, epoch, position, batches, outcome)
    finally:
        batches.close()
    return outcome


def _train_steps(
    run: Run, epoch: int, position: Position, batches: gpu_input.PrefetchedBatches, outcome: EpochOutcome
) -> None:
    steps_per_epoch = run.trainer.loaders.steps_per_epoch()
    max_steps = run.config.max_steps
    window = StepWindow()
    counted = time.perf_counter()  # the epoch's time is counted up to here
    while position.epoch_step < steps_per_epoch:
        waited = time.perf_counter()
        try:
            images, targets = next(batches)
        except StopIteration:
            break
        data_time = time.perf_counter() - waited
        lr = current_lr(run)
        loss, batch_images, signalled = _optimizer_step(run, images, targets)
        if not math.isfinite(loss):
            outcome.stopped_by = "nonfinite"
            outcome.error = _nonfinite_loss(loss, position.step + 1, epoch, lr)
            break
        position.step += 1
        position.epoch_step += 1
        now = time.perf_counter()
        position.epoch_loss_sum += loss
        position.epoch_images += batch_images
        position.epoch_seconds, counted = position.epoch_seconds + now - counted, now
        window.loss_sum += loss
        window.steps += 1
        window.images += batch_images
        window.data_seconds += data_time
        if signalled:
            outcome.stopped_by = "signal"
        elif max_steps is not None and position.step >= max_steps:
            outcome.stopped_by = "max_steps"
        if _report_step(run, epoch, position, window, lr, outcome.stopped_by is not None):
            window = StepWindow()
        if outcome.stopped_by is not None:
            break


def _optimizer_step(run: Run, images: torch.Tensor, targets: torch.Tensor) -> tuple[float, int, bool]:
    """Forward and loss, then (when the loss is finite) backward and the optimizer and lr steps;
    returns the loss averaged over the ranks, their images and whether any rank was signalled."""
    config, placement, trainer = run.config, run.placement, run.trainer
    with autocast_for(placement.device, config.amp):
        output = trainer.model(images)
        loss = training_loss(output, targets, config.label_smoothing, config.aux_weight)
    # One small all-reduce per step: the mean loss, the images, and whether any rank was signalled.
    local = [loss.item(), float(targets.numel()), float(run.stop.signum is not None)]
    loss_sum, images_sum, signalled = agree(local, placement)
    mean_loss = loss_sum / placement.world_size
    if math.isfinite(mean_loss):
        trainer.optimizer.zero_grad(set_to_none=True)
        trainer.scaler.scale(loss).backward()
        trainer.scaler.step(trainer.optimizer)
        trainer.scaler.update()
        if not isinstance(trainer.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            trainer.scheduler.step()
    return mean_loss, int(images_sum), bool(signalled)


def _report_step(run: Run, epoch: int, position: Position, window: StepWindow, lr: float, stopping: bool) -> bool:
    """The step's progress (a bar or nothing) and, every --log-every steps, at the end of the
    epoch and where the run stops, its line and step event averaged over ``window`` (with the
    epoch's totals so far); whether it was logged."""
    steps_per_epoch = run.trainer.loaders.steps_per_epoch()
    logged = stopping or position.step % run.config.log_every == 0 or position.epoch_step == steps_per_epoch
    elapsed = time.perf_counter() - window.start
    stats = StepStats(
        epoch=epoch,
        epochs=run.config.epochs,
        epoch_step=position.epoch_step,
        steps_per_epoch=steps_per_epoch,
        loss=window.loss_sum / window.steps,
        lr=lr,
        img_per_s=window.images / elapsed if elapsed > 0 else 0.0,
        data_time=window.data_seconds / window.steps,
    )
    run.reporter.step(stats, logged)
    if logged:
        run.events.emit(
            "step",
            epoch=epoch,
            step=position.step,
            epoch_step=position.epoch_step,
            steps_per_epoch=steps_per_epoch,
            loss=stats.loss,
            lr=lr,
            img_per_s=stats.img_per_s,
            data_time=stats.data_time,
            epoch_loss_sum=position.epoch_loss_sum,
            epoch_images=position.epoch_images,
            epoch_seconds=position.epoch_seconds,
        )
    return logged


def _nonfinite_loss(loss: float, step: int, epoch: int, lr: float) -> dict[str, Any]:
    message = (
        f"the loss is {loss} at step {step} (epoch {epoch}, lr {lr:.4g}): stopped before that step changed "
        "the weights; last.pt and best.pt were not touched (try a lower --lr, or --warmup-epochs)"
    )
    return error_event("nonfinite_loss", message, step, epoch, lr=lr)


def run_epochs(run: Run, position: Position) -> int:
    """Train from ``position`` to the last epoch (or --max-steps, or a signal); the exit code."""
    run_start = time.perf_counter()
    last_val: EvalResult | None = None
    signalled = False
    while position.epoch < run.config.epochs and not signalled:
        if run.config.max_steps is not None and position.step >= run.config.max_steps:
            break
        epoch = position.in_epoch = position.epoch + 1
        outcome = train_epoch(run, epoch, position)
        if outcome.stopped_by == "nonfinite":
            summary = summary_of(position, last_val, run_start, run.run_dir)
            return end_unfinished(run.events, run.placement, summary, outcome.error, EXIT_FAILED)
        if outcome.stopped_by == "signal":
            save(run, position, ("last",))
            signalled = True
            break
        epoch_finished = position.epoch_step >= run.trainer.loaders.steps_per_epoch()
        if epoch_finished:  # its totals are in its last step event; last.pt starts the next
            position.epoch, position.epoch_step = epoch, 0
            position.epoch_loss_sum, position.epoch_images, position.epoch_seconds = 0.0, 0, 0.0
        last_val = _validate(run, epoch, position, epoch_finished)
        run.reporter.end_epoch()
        # A signal during validation: last.pt is written, stop here.
        signalled = bool(agree([float(run.stop.signum is not None)], run.placement)[0])
    summary = summary_of(position, last_val, run_start, run.run_dir)
    if signalled:
        signum = run.stop.signum or signal.SIGINT
        name = signal.Signals(signum).name
        message = (
            f"{name} at step {position.step} (epoch {epoch}): wrote last.pt; "
            f"continue with --resume {run.run_dir / 'last.pt'}"
        )
        error = error_event("interrupted", message, position.step, epoch, signal=name)
        return end_unfinished(run.events, run.placement, summary, error, stop_exit_code(signum))
    run.events.emit("done", status="completed", summary=summary)
    run.reporter.message(
        f"done: {position.step} steps, best val top-1 {position.best_top1:.2f}% "
        f"(epoch {position.best_epoch}); {run.run_dir}"
    )
    return 0


def _validate(run: Run, epoch: int, position: Position, epoch_finished: bool) -> EvalResult:
    """Validate rank 0's weights, step a plateau schedule, keep the best; the val event and line,
    metrics.csv, then best.pt when it improved and last.pt: a kill before last.pt is durable
    redoes the epoch; once it is, best.pt already holds what it records as the best."""
    trainer = run.trainer
    broadcast_buffers(trainer.raw_model, run.placement)
    run.reporter.begin_validation(len(trainer.loaders.val))
    result = evaluate(
        trainer.raw_model,
        trainer.loaders.val,
        run.placement,
        run.config.num_classes,
        run.config.amp,
        run.config.channels_last,
        on_batch=run.reporter.validation_batch,
    )
    if isinstance(trainer.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau) and epoch_finished:
        trainer.scheduler.step(result.top1)
    improved = result.top1 > position.best_top1
    if improved:
        position.best_top1, position.best_epoch = result.top1, epoch
    run.events.emit(
        "val",
        epoch=epoch,
        step=position.step,
        loss=result.loss,
        top1=result.top1,
        top5=result.top5,
        images=result.images,
        best_top1=position.best_top1,
    )
    run.reporter.message(
        f"epoch {epoch} val: loss {result.loss:.4f} top-1 {result.top1:.2f}% "
        f"top-5 {result.top5:.2f}% ({result.images} images){'  best so far' if improved else ''}"
    )
    if run.placement.is_main:
        write_metrics_csv(run.run_dir)
    save(run, position, ("best", "last") if improved else ("last",))
    return result


def summary_of(position: Position, last_val: EvalResult | None, run_start: float, run_dir: Path) -> dict[str, Any]:
    """The ``done`` event's summary: how far the run got, its best and last validation, its checkpoints."""
    return {
        "epochs": position.epoch,
        "steps": position.step,
        "best_top1": position.best_top1 if position.best_top1 >= 0 else None,
        "best_epoch": position.best_epoch or None,
        "last_val": last_val.as_dict() if last_val else None,
        "seconds": round(time.perf_counter() - run_start, 3),
        "last": str(run_dir / "last.pt") if (run_dir / "last.pt").exists() else None,
        "best": str(run_dir / "best.pt") if (run_dir / "best.pt").exists() else None,
    }
