"""The training loop: plain functions, data flowing through arguments, no global state.

``run_training`` sets everything up, then alternates ``train_epoch`` and validation,
writing ``last.pt``/``best.pt``, ``metrics.csv`` and ``events.jsonl`` in the run directory
(rank 0 only). It returns the process exit code.
"""

from __future__ import annotations

import csv
import errno
import math
import signal
import sys
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, Any

import torch
import torch.nn.functional as F

from cnnexplorer import zoo
from cnnexplorer.errors import UsageError
from cnnexplorer.runs import rundir
from cnnexplorer.runs.atomic import write_text_atomic
from cnnexplorer.runs.events import EventWriter, silence_broken_pipe
from cnnexplorer.runs.progress import PlainReporter, StepStats, make_reporter
from cnnexplorer.train import checkpoints, data, gpu_input, run_data
from cnnexplorer.train.config import TrainConfig
from cnnexplorer.train.devices import Placement, resolve_placement, shutdown_distributed, stop_exit_code
from cnnexplorer.train.evaluate import EvalResult, autocast_for, broadcast_buffers, evaluate

EXIT_FAILED = 1  # a crash or a non-finite loss or weights
METRICS_COLUMNS = ("epoch", "step", "train_loss", "val_loss", "val_top1", "val_top5", "lr", "seconds", "img_per_s")


class StopNow(BaseException):
    """A second SIGINT/SIGTERM: stop at once, writing nothing (like KeyboardInterrupt, not an Exception)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class StopSignals:
    """Records SIGINT/SIGTERM so that the loop can finish its step and stop cleanly; a second
    signal raises StopNow wherever the process is (checkpoint writes are atomic); later ones
    are ignored while the run writes how it ended (its error and done events, one line)."""

    def __init__(self, reporter: PlainReporter) -> None:
        self.signum: int | None = None
        self.stopping_now = False
        self.reporter = reporter
        self.previous = {}

    def __enter__(self) -> StopSignals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self.previous[sig] = signal.signal(sig, self._record)
        return self

    def _record(self, signum: int, _frame: object) -> None:
        if self.stopping_now:
            return
        if self.signum is not None:
            self.stopping_now = True
            raise StopNow(signum)
        self.reporter.message(
            f"{signal.Signals(signum).name}: finishing the current step, then writing last.pt "
            "(send it again to stop at once)"
        )
        self.signum = signum

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


@dataclass
class Position:
    """Where a run is: completed epochs, steps done in the current epoch, steps in all."""

    epoch: int = 0
    epoch_step: int = 0
    step: int = 0
    best_top1: float = -1.0
    best_epoch: int = 0


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
    stopped_by: str | None = None  # None, "signal", "nonfinite", "max_steps"
    mean_loss: float = float("nan")
    images: int = 0
    seconds: float = 0.0
    lr: float = 0.0
    failure: dict[str, Any] = field(default_factory=dict)
    loss_sum: float = 0.0
    loss_count: int = 0


@dataclass
class Trainer:
    """The objects a run trains with (built once by ``build_trainer``)."""

    config: TrainConfig
    placement: Placement
    raw_model: torch.nn.Module  # unwrapped: what is saved and evaluated
    model: torch.nn.Module  # DDP- and/or compile-wrapped: what is trained
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler
    datasets: data.Datasets
    train_sampler: data.ResumableSampler
    train_loader: torch.utils.data.DataLoader
    val_loader: torch.utils.data.DataLoader
    prepare: gpu_input.BatchPreparer  # the train loader's batches onto the device
    notes: list[str] = field(default_factory=list)  # how it runs: precision, decoding (printed at the start)


def lr_factor(
    step: int,
    steps_per_epoch: int,
    epochs: int,
    schedule: str,
    milestones: tuple[int, ...],
    gamma: float,
    warmup_epochs: float,
) -> float:
    """The multiplier of the base lr for optimizer step ``step`` (0-based)."""
    warmup_steps = round(warmup_epochs * steps_per_epoch)
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "cosine":
        total = max(epochs * steps_per_epoch - warmup_steps, 1)
        return 0.5 * (1.0 + math.cos(math.pi * min(step - warmup_steps, total) / total))
    if schedule == "step":
        epoch = step / steps_per_epoch
        return gamma ** sum(1 for milestone in milestones if epoch >= milestone)
    return 1.0


def build_optimizer(config: TrainConfig, model: torch.nn.Module) -> torch.optim.Optimizer:
    if config.optimizer == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(
        model.parameters(),
        lr=config.lr,
        momentum=config.momentum,
        nesterov=config.nesterov,
        weight_decay=config.weight_decay,
    )


def build_scheduler(config: TrainConfig, optimizer: torch.optim.Optimizer, steps_per_epoch: int) -> Any:
    """Per-step LambdaLR for step/cosine (with warmup); ReduceLROnPlateau on val top-1 otherwise."""
    if config.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="max", factor=config.gamma, patience=config.plateau_patience
        )
    factor = partial(
        lr_factor,
        steps_per_epoch=steps_per_epoch,
        epochs=config.epochs,
        schedule=config.schedule,
        milestones=tuple(config.milestones),
        gamma=config.gamma,
        warmup_epochs=config.warmup_epochs,
    )
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def build_trainer(config: TrainConfig, placement: Placement) -> Trainer:
    arch = zoo.get(config.model)
    downloading_elsewhere = config.download and placement.distributed and not placement.is_main
    if downloading_elsewhere:  # rank 0 downloads first; the others then read its files
        import torch.distributed as dist

        dist.barrier()
    datasets = run_data.build_datasets(
        config.dataset,
        config.data,
        config.image_size,
        config.seed,
        download=config.download and placement.is_main,
        fake_size=config.fake_size,
        fake_classes=config.num_classes,
        decode=config.decode,
        device=placement.device,
    )
    config.decode = datasets.decode
    if config.download and placement.distributed and placement.is_main:
        import torch.distributed as dist

        dist.barrier()
    if len(datasets.classes) != config.num_classes:
        raise UsageError(
            f"the data has {len(datasets.classes)} classes but the run is configured for {config.num_classes}"
        )
    per_rank_batch = config.batch_size // placement.world_size
    train_sampler = data.ResumableSampler(
        datasets.train, placement.world_size, placement.rank, config.seed, per_rank_batch
    )
    val_sampler = data.ShardSampler(len(datasets.val), placement.world_size, placement.rank)
    pin = placement.device.type == "cuda"
    collate = gpu_input.collate_encoded if datasets.decode == "gpu" else None
    train_loader = data.make_loader(
        datasets.train, train_sampler, per_rank_batch, config.workers, pin, config.seed, collate
    )
    val_loader = data.make_loader(datasets.val, val_sampler, per_rank_batch, config.workers, pin, config.seed, collate)
    prepare = gpu_input.preparer_for(datasets.train, placement.device, bool(config.channels_last))

    torch.manual_seed(config.seed)  # the same initial weights on every rank
    raw_model = arch.build(num_classes=config.num_classes).to(placement.device)
    if config.channels_last:
        raw_model = raw_model.to(memory_format=torch.channels_last)
    model = raw_model
    if placement.distributed:
        from torch.nn.parallel import DistributedDataParallel

        device_ids = [placement.device.index] if placement.device.type == "cuda" else None
        model = DistributedDataParallel(raw_model, device_ids=device_ids)
    if config.compile:
        model = torch.compile(model)
    optimizer = build_optimizer(config, raw_model)
    scheduler = build_scheduler(config, optimizer, train_sampler.batches_per_epoch())
    scaler = torch.amp.GradScaler(placement.device.type, enabled=config.amp == "fp16")
    return Trainer(
        config,
        placement,
        raw_model,
        model,
        optimizer,
        scheduler,
        scaler,
        datasets,
        train_sampler,
        train_loader,
        val_loader,
        prepare,
        [datasets.decode_note] if datasets.decode_note else [],
    )


def training_loss(output: Any, targets: torch.Tensor, label_smoothing: float, aux_weight: float) -> torch.Tensor:
    """Cross-entropy; for GoogLeNet's training outputs, plus its auxiliary losses x aux_weight."""
    if isinstance(output, tuple) and hasattr(output, "aux_logits1"):
        loss = F.cross_entropy(output.logits, targets, label_smoothing=label_smoothing)
        for aux in (output.aux_logits1, output.aux_logits2):
            if aux is not None:
                loss = loss + aux_weight * F.cross_entropy(aux, targets, label_smoothing=label_smoothing)
        return loss
    return F.cross_entropy(output, targets, label_smoothing=label_smoothing)


def current_lr(trainer: Trainer) -> float:
    return trainer.optimizer.param_groups[0]["lr"]


def agree(values: list[float], placement: Placement) -> list[float]:
    """Sum ``values`` over the ranks (one small all-reduce); the values themselves alone."""
    if not placement.distributed:
        return values
    import torch.distributed as dist

    tensor = torch.tensor(values, dtype=torch.float64, device=placement.device)
    dist.all_reduce(tensor)
    return tensor.tolist()


def train_epoch(
    trainer: Trainer, epoch: int, position: Position, stop: StopSignals, events: EventWriter, reporter: PlainReporter
) -> EpochOutcome:
    """Train one epoch from ``position.epoch_step``; stops early on a signal, a non-finite
    loss (before that step touches the weights) or ``--max-steps``."""
    config, placement = trainer.config, trainer.placement
    steps_per_epoch = trainer.train_sampler.batches_per_epoch()
    trainer.train_sampler.set_epoch(epoch, skip_batches=position.epoch_step)  # its keys carry the epoch
    trainer.model.train()
    reporter.begin_epoch(epoch, config.epochs, steps_per_epoch, position.epoch_step)
    outcome = EpochOutcome()
    epoch_start = time.perf_counter()
    data.reseed_loader(trainer.train_loader, config.seed, epoch)
    batches = gpu_input.PrefetchedBatches(iter(trainer.train_loader), trainer.prepare, placement.device)
    try:
        _train_steps(trainer, epoch, position, stop, events, reporter, batches, outcome)
    finally:
        batches.close()
    outcome.mean_loss = outcome.loss_sum / outcome.loss_count if outcome.loss_count else float("nan")
    outcome.seconds = time.perf_counter() - epoch_start
    outcome.lr = current_lr(trainer)
    return outcome


def _train_steps(
    trainer: Trainer,
    epoch: int,
    position: Position,
    stop: StopSignals,
    events: EventWriter,
    reporter: PlainReporter,
    batches: gpu_input.PrefetchedBatches,
    outcome: EpochOutcome,
) -> None:
    config, placement = trainer.config, trainer.placement
    steps_per_epoch = trainer.train_sampler.batches_per_epoch()
    window = StepWindow()
    while position.epoch_step < steps_per_epoch:
        waited = time.perf_counter()
        try:
            images, targets = next(batches)
        except StopIteration:
            break
        data_time = time.perf_counter() - waited
        lr = current_lr(trainer)
        with autocast_for(placement.device, config.amp):
            output = trainer.model(images)
            loss = training_loss(output, targets, config.label_smoothing, config.aux_weight)
        # One small all-reduce per step: the mean loss, the images, and whether any rank was signalled.
        local = [loss.item(), float(targets.numel()), float(stop.signum is not None)]
        loss_value, batch_images, signalled = agree(local, placement)
        loss_value /= placement.world_size
        if not math.isfinite(loss_value):
            outcome.stopped_by = "nonfinite"
            outcome.failure = {"step": position.step + 1, "epoch": epoch, "lr": lr, "loss": loss_value}
            break
        trainer.optimizer.zero_grad(set_to_none=True)
        trainer.scaler.scale(loss).backward()
        trainer.scaler.step(trainer.optimizer)
        trainer.scaler.update()
        if not isinstance(trainer.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            trainer.scheduler.step()
        position.step += 1
        position.epoch_step += 1
        outcome.loss_sum, outcome.loss_count = outcome.loss_sum + loss_value, outcome.loss_count + 1
        window.loss_sum += loss_value
        window.steps += 1
        window.images += int(batch_images)
        window.data_seconds += data_time
        outcome.images += int(batch_images)
        logged = position.step % config.log_every == 0 or position.epoch_step == steps_per_epoch
        elapsed = time.perf_counter() - window.start
        stats = StepStats(
            epoch,
            config.epochs,
            position.epoch_step,
            steps_per_epoch,
            window.loss_sum / window.steps,
            lr,
            window.images / elapsed if elapsed > 0 else 0.0,
            window.data_seconds / window.steps,
        )
        reporter.step(stats, logged)
        if logged:
            events.emit(
                "step",
                epoch=epoch,
                step=position.step,
                epoch_step=position.epoch_step,
                steps_per_epoch=steps_per_epoch,
                loss=stats.loss,
                lr=lr,
                img_per_s=stats.img_per_s,
                data_time=stats.data_time,
            )
            window = StepWindow()
        if signalled:
            outcome.stopped_by = "signal"
            break
        if config.max_steps is not None and position.step >= config.max_steps:
            outcome.stopped_by = "max_steps"
            break


def checkpoint_state(trainer: Trainer, position: Position) -> dict[str, Any]:
    """Everything a resume needs, rank 0's model without wrapper prefixes; RNG states of
    every rank (gathered: call on all ranks)."""
    rng = checkpoints.capture_rng_state()
    if trainer.placement.distributed:
        import torch.distributed as dist

        gathered: list[Any] = [None] * trainer.placement.world_size
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
        "config": trainer.config.as_dict(),
    }


def restore(trainer: Trainer, saved: Any, path: Path) -> Position:
    """Load a training checkpoint into the trainer and return where it stopped; a one-line
    UsageError for a checkpoint that is not whole or does not fit this run."""
    checkpoints.check_training_checkpoint(saved, path)
    check_resumable_world_size(saved, trainer.placement.world_size, path)
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
        if isinstance(per_rank, list) and len(per_rank) == trainer.placement.world_size:
            rng = per_rank[trainer.placement.rank]
        checkpoints.restore_rng_state(rng)
    except (KeyError, ValueError, TypeError, IndexError, AttributeError, RuntimeError) as error:
        detail = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise UsageError(
            f"{path} does not fit this run: its {part} state cannot be loaded ({detail}); "
            "resume from another checkpoint, or start a new run"
        ) from None
    return Position(saved["epoch"], saved["epoch_step"], saved["step"], saved["best_top1"], saved["best_epoch"])


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


def save(trainer: Trainer, position: Position, run_dir: Path, kinds: tuple[str, ...], events: EventWriter) -> None:
    state = checkpoint_state(trainer, position)
    if not trainer.placement.is_main:
        return
    for kind in kinds:
        path = run_dir / f"{kind}.pt"
        checkpoints.save_checkpoint(path, state)
        events.emit("checkpoint", path=str(path), kind=kind, epoch=position.epoch, step=position.step)


def append_metrics(run_dir: Path, row: dict[str, Any]) -> None:
    path = run_dir / "metrics.csv"
    new = not path.exists()
    with open(path, "a", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=METRICS_COLUMNS)
        if new:
            writer.writeheader()
        writer.writerow(row)


def model_totals(model: str, num_classes: int, image_size: int) -> tuple[int, int]:
    """Parameters and MACs of one forward pass at ``image_size`` (the analysis engine, on the
    meta device); a UsageError if the image is too small for the model."""
    from cnnexplorer.analysis import analyze_module

    arch = zoo.get(model)
    with torch.device("meta"):
        built = arch.build(num_classes=num_classes)
    analysis = analyze_module(built, (3, image_size, image_size), name=arch.name, training_only=arch.training_only)
    return analysis.totals.params, analysis.totals.macs


def run_training(
    config: TrainConfig, gpu: int | None, device: str | None, resume_path: Path | None, events_to_stdout: bool
) -> int:
    """Train as configured (resuming from ``resume_path`` if given); the exit code."""
    params, macs = model_totals(config.model, config.num_classes, config.image_size)
    placement = resolve_placement(gpu, device)
    try:
        bf16 = placement.device.type == "cuda" and torch.cuda.is_bf16_supported()
        precision_note = config.resolve_precision(placement.device.type, bf16)
        if config.batch_size % placement.world_size:
            raise UsageError(
                f"--batch-size {config.batch_size} does not split over {placement.world_size} processes: "
                f"use a multiple of {placement.world_size}"
            )
        config.world_size = placement.world_size
        if placement.distributed:  # every rank takes rank 0's seed (shuffling must agree)
            import torch.distributed as dist

            shared = [config.seed]
            dist.broadcast_object_list(shared, src=0)
            config.seed = shared[0]
        if config.deterministic:
            torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
        else:
            torch.backends.cudnn.benchmark = True
        human = sys.stderr if events_to_stdout else sys.stdout
        reporter = make_reporter(human, config.log_every, placement.is_main)
        try:
            return _train(config, placement, resume_path, events_to_stdout, reporter, params, macs, precision_note)
        finally:
            reporter.close()
    finally:
        shutdown_distributed()


def _train(
    config: TrainConfig,
    placement: Placement,
    resume_path: Path | None,
    events_to_stdout: bool,
    reporter: PlainReporter,
    params: int,
    macs: int | None,
    precision_note: str = "",
) -> int:
    trainer = build_trainer(config, placement)
    trainer.notes.insert(0, precision_note)
    position = Position()
    if resume_path is not None:
        position = restore(trainer, checkpoints.load_checkpoint(resume_path), resume_path)
    lock, events = _open_run(config, placement, resume_path, events_to_stdout)
    try:
        return _run(config, placement, trainer, position, resume_path, events, reporter, params, macs)
    finally:
        if lock is not None:
            lock.release()


def _open_run(
    config: TrainConfig, placement: Placement, resume_path: Path | None, events_to_stdout: bool
) -> tuple[rundir.RunLock | None, EventWriter]:
    """Rank 0 claims a new run folder (or locks the resumed run's own), writes config.json
    whole and opens the event stream; every rank learns the folder, or the one-line reason
    there is none (a folder in use by another run, a path that cannot be written)."""
    lock, events, failure = None, EventWriter(), None
    if placement.is_main:
        wanted, created = Path(config.run_dir), False
        try:
            if resume_path is not None and wanted == resume_path.parent:
                lock = rundir.lock_run_dir(wanted)
            else:
                claimed, lock = rundir.claim_run_dir(wanted)
                config.run_dir, created = str(claimed), True
            events = _write_run_files(config, events_to_stdout)
        except UsageError as error:
            failure = str(error)
            if lock is not None:
                lock.release()
                lock = None
            if created:
                rundir.remove_if_unused(Path(config.run_dir))
    if placement.distributed:
        import torch.distributed as dist

        shared = [config.run_dir, failure]
        dist.broadcast_object_list(shared, src=0)
        config.run_dir, failure = shared
    if failure is not None:
        raise UsageError(failure)
    return lock, events


def _write_run_files(config: TrainConfig, events_to_stdout: bool) -> EventWriter:
    run_dir = Path(config.run_dir)
    path = run_dir / "config.json"
    try:
        write_text_atomic(path, _json(config.as_dict()) + "\n")
    except OSError as error:
        raise rundir.file_error("write", path, error) from None
    try:
        return EventWriter(run_dir / "events.jsonl", sys.stdout if events_to_stdout else None)
    except OSError as error:
        raise rundir.file_error("write", run_dir / "events.jsonl", error) from None


def _run(
    config: TrainConfig,
    placement: Placement,
    trainer: Trainer,
    position: Position,
    resume_path: Path | None,
    events: EventWriter,
    reporter: PlainReporter,
    params: int,
    macs: int | None,
) -> int:
    run_dir = Path(config.run_dir)
    with events, StopSignals(reporter) as stop:
        try:
            _announce(config, placement, trainer, position, resume_path, events, reporter, params, macs)
            return _epochs(trainer, position, run_dir, stop, events, reporter)
        except StopNow as stop_now:
            name = signal.Signals(stop_now.signum).name
            last = run_dir / "last.pt"
            kept = f"continue with --resume {last}" if last.exists() else "no last.pt was written"
            message = f"second {name}: stopped at once after step {position.step}, without writing a checkpoint; {kept}"
            error = {
                "kind": "interrupted",
                "message": message,
                "signal": name,
                "step": position.step,
                "epoch": position.epoch + 1,
            }
            return _finish(
                events,
                placement,
                _summary(position, None, time.perf_counter(), run_dir),
                error,
                stop_exit_code(stop_now.signum),
            )
        except Exception as exception:
            kind, message = failure_of(exception, position)
            usage = kind in ("data", "usage")  # goes on as a UsageError (exit 2), printed by the CLI
            error = {"kind": kind, "message": message, "step": position.step, "epoch": position.epoch + 1}
            code = _finish(
                events,
                placement,
                _summary(position, None, time.perf_counter(), run_dir),
                error,
                EXIT_FAILED,
                echo=not usage,
            )
            if usage:
                raise UsageError(message) from None
            return code


def _announce(
    config: TrainConfig,
    placement: Placement,
    trainer: Trainer,
    position: Position,
    resume_path: Path | None,
    events: EventWriter,
    reporter: PlainReporter,
    params: int,
    macs: int | None,
) -> None:
    """The start event and the lines a person sees first."""
    run_dir = Path(config.run_dir)
    steps_per_epoch = trainer.train_sampler.batches_per_epoch()
    events.emit(
        "start",
        command="train",
        model=config.model,
        family=zoo.get(config.model).family,
        config=config.as_dict(),
        params=params,
        macs=macs,
        device=str(placement.device),
        devices=_all_devices(placement),
        world_size=placement.world_size,
        dataset=trainer.datasets.describe(),
        steps_per_epoch=steps_per_epoch,
        run_dir=str(run_dir),
        resumed_from=str(resume_path) if resume_path else None,
        start_epoch=position.epoch + 1,
        start_step=position.step,
        precision=config.precision,
        channels_last=config.channels_last,
        decode=config.decode,
    )
    for line in config.summary_lines() + [note for note in trainer.notes if note]:
        reporter.message(line)
    reporter.message(
        f"{params:,} parameters; {placement.world_size} x {placement.device}; "
        f"{trainer.datasets.describe()['train_images']} training / {len(trainer.datasets.val)} "
        f"val images; run directory {run_dir}"
    )
    if resume_path:
        reporter.message(f"resuming from {resume_path}: epoch {position.epoch + 1}, step {position.step}")


def _finish(
    events: EventWriter,
    placement: Placement,
    summary: dict[str, Any],
    error: dict[str, Any],
    code: int,
    echo: bool = True,
) -> int:
    """End a run that did not complete: the ``error`` event, the ``done`` event (interrupted or failed),
    the message as one line on stderr (rank 0; if ``echo``); returns the exit ``code``."""
    interrupted = error["kind"] == "interrupted"
    done = {"status": "interrupted" if interrupted else "failed", "summary": summary}
    for event, fields in (("error", error), ("done", done)):
        try:
            events.emit(event, **fields)
        except OSError:
            pass  # the file failed (a full disk): the stream and the line below still tell
    if echo and placement.is_main:
        say(f"cnnexplorer: {'' if interrupted else 'error: '}{error['message']}", sys.stderr)
    return code


def say(line: str, stream: IO[str]) -> None:
    """Print one line; a stream whose reader left (an app that quit) is not an error."""
    try:
        print(line, file=stream, flush=True)
    except (BrokenPipeError, ValueError):
        silence_broken_pipe(stream)


def failure_of(error: Exception, position: Position) -> tuple[str, str]:
    """The ``error`` event's kind and one-line message for an exception that ended training."""
    unreadable = data.unreadable_image_message(error)  # from a loader worker it arrives wrapped
    if unreadable is not None:
        return "data", unreadable
    if isinstance(error, UsageError):
        return "usage", str(error)
    where = f"after step {position.step} (epoch {position.epoch + 1})"
    kept = "last.pt and best.pt were not touched"
    if isinstance(error, checkpoints.NonFiniteWeightsError):
        return "nonfinite_weights", (
            f"the weights became non-finite {where} although the loss was finite; {kept} "
            f"(try a lower --lr, or --warmup-epochs)"
        )
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
        where_on_disk = f" writing {error.filename}" if error.filename else ""
        return "disk", (
            f"{rundir.os_error_text(error)}{where_on_disk} {where}; the checkpoints are as last written "
            "(free some space, then --resume)"
        )
    first_line = (str(error).strip().splitlines() or [""])[0]
    return "crash", f"{type(error).__name__} {where}: {first_line}; {kept} since the last checkpoint event"


def _epochs(
    trainer: Trainer, position: Position, run_dir: Path, stop: StopSignals, events: EventWriter, reporter: PlainReporter
) -> int:
    config, placement = trainer.config, trainer.placement
    run_start = time.perf_counter()
    last_val: EvalResult | None = None
    signalled = False
    while position.epoch < config.epochs and not signalled:
        if config.max_steps is not None and position.step >= config.max_steps:
            break
        epoch = position.epoch + 1
        outcome = train_epoch(trainer, epoch, position, stop, events, reporter)
        if outcome.stopped_by == "nonfinite":
            failure = outcome.failure
            message = (
                f"the loss is {failure['loss']} at step {failure['step']} (epoch {failure['epoch']}, "
                f"lr {failure['lr']:.4g}): stopped before that step changed the weights; "
                "last.pt and best.pt were not touched (try a lower --lr, or --warmup-epochs)"
            )
            error = {
                "kind": "nonfinite_loss",
                "message": message,
                "step": failure["step"],
                "epoch": failure["epoch"],
                "lr": failure["lr"],
            }
            return _finish(events, placement, _summary(position, last_val, run_start, run_dir), error, EXIT_FAILED)
        if outcome.stopped_by == "signal":
            save(trainer, position, run_dir, ("last",), events)
            signalled = True
            break
        epoch_finished = position.epoch_step >= trainer.train_sampler.batches_per_epoch()
        if epoch_finished:
            position.epoch, position.epoch_step = epoch, 0
        broadcast_buffers(trainer.raw_model, placement)
        reporter.begin_validation(len(trainer.val_loader))
        last_val = evaluate(
            trainer.raw_model,
            trainer.val_loader,
            placement,
            config.num_classes,
            config.amp,
            config.channels_last,
            on_batch=reporter.validation_batch,
        )
        if isinstance(trainer.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau) and epoch_finished:
            trainer.scheduler.step(last_val.top1)
        improved = last_val.top1 > position.best_top1
        if improved:
            position.best_top1, position.best_epoch = last_val.top1, epoch
        events.emit(
            "val",
            epoch=epoch,
            step=position.step,
            loss=last_val.loss,
            top1=last_val.top1,
            top5=last_val.top5,
            images=last_val.images,
            best_top1=position.best_top1,
        )
        reporter.message(
            f"epoch {epoch} val: loss {last_val.loss:.4f} top-1 {last_val.top1:.2f}% "
            f"top-5 {last_val.top5:.2f}% ({last_val.images} images){'  best so far' if improved else ''}"
        )
        save(trainer, position, run_dir, ("last", "best") if improved else ("last",), events)
        if placement.is_main:
            img_per_s = round(outcome.images / outcome.seconds, 2) if outcome.seconds else 0.0
            append_metrics(
                run_dir,
                {
                    "epoch": epoch,
                    "step": position.step,
                    "train_loss": outcome.mean_loss,
                    "val_loss": last_val.loss,
                    "val_top1": last_val.top1,
                    "val_top5": last_val.top5,
                    "lr": outcome.lr,
                    "seconds": round(outcome.seconds, 3),
                    "img_per_s": img_per_s,
                },
            )
        reporter.end_epoch()
        # A signal during validation: last.pt is written, stop here.
        signalled = bool(agree([float(stop.signum is not None)], placement)[0])
    summary = _summary(position, last_val, run_start, run_dir)
    if signalled:
        signum = stop.signum or signal.SIGINT
        name = signal.Signals(signum).name
        message = (
            f"{name} at step {position.step} (epoch {epoch}): wrote last.pt; "
            f"continue with --resume {run_dir / 'last.pt'}"
        )
        error = {"kind": "interrupted", "message": message, "signal": name, "step": position.step, "epoch": epoch}
        return _finish(events, placement, summary, error, stop_exit_code(signum))
    events.emit("done", status="completed", summary=summary)
    reporter.message(
        f"done: {position.step} steps, best val top-1 {position.best_top1:.2f}% "
        f"(epoch {position.best_epoch}); {run_dir}"
    )
    return 0


def _summary(position: Position, last_val: EvalResult | None, run_start: float, run_dir: Path) -> dict[str, Any]:
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


def _all_devices(placement: Placement) -> list[str]:
    if not placement.distributed:
        return [str(placement.device)]
    import torch.distributed as dist

    devices: list[Any] = [None] * placement.world_size
    dist.all_gather_object(devices, str(placement.device))
    return devices


def _json(value: Any) -> str:
    import json

    return json.dumps(value, indent=2)
