"""A training run from start to end: plain functions, data flowing through arguments, no global state.

``run_training`` resolves the config for the device (precision, world size, rank 0's seed,
where images decode), builds the trainer (:mod:`~cnnexplorer.train.building`), restores a
resumed checkpoint (:mod:`~cnnexplorer.train.checkpointing`), claims the run folder, then
runs the epochs (:mod:`~cnnexplorer.train.stepping`), writing ``config.json``,
``events.jsonl``, ``metrics.csv`` and ``last.pt``/``best.pt`` there (rank 0 only). It returns
the process exit code; a failure ends in an ``error`` event (:mod:`~cnnexplorer.train.failures`).
"""

from __future__ import annotations

import json
import signal
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from cnnexplorer import zoo
from cnnexplorer.errors import UsageError
from cnnexplorer.runs import rundir
from cnnexplorer.runs.atomic import remove_stale_temp_files, write_text_atomic
from cnnexplorer.runs.events import EventWriter
from cnnexplorer.runs.progress import make_reporter
from cnnexplorer.runs.tensorboard import LiveTensorBoard, TensorBoardEventWriter
from cnnexplorer.train.building import build_trainer, model_totals, open_datasets
from cnnexplorer.train.checkpointing import Resume, adopt_folder_best, restore
from cnnexplorer.train.config import TrainConfig, resolve_precision
from cnnexplorer.train.context import Position, Run
from cnnexplorer.train.devices import Placement, resolve_placement, shutdown_distributed, stop_exit_code
from cnnexplorer.train.failures import EXIT_FAILED, StopNow, StopSignals, end_unfinished, error_event, failure_of
from cnnexplorer.train.stepping import run_epochs, summary_of


@dataclass(frozen=True)
class Announcement:
    """What the start event and the first lines tell besides the run's config."""

    resumed_from: Path | None
    params: int
    macs: int | None
    notes: list[str]  # how it runs: precision, decoding


def run_training(
    config: TrainConfig,
    gpu: int | None,
    device: str | None,
    resume: Resume | None,
    events_to_stdout: bool,
    tensorboard: Path | None = None,
) -> int:
    """Train as configured (continuing ``resume`` if given); the exit code. ``tensorboard``:
    a folder where rank 0 also writes the run's events live as TensorBoard scalars."""
    params, macs, totals_note = model_totals(config.model, config.num_classes, config.image_size, training=True)
    placement = resolve_placement(gpu, device)
    try:
        config, precision_note = resolve_for_placement(config, placement)
        if config.deterministic:
            torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
        else:
            torch.backends.cudnn.benchmark = True
        human = sys.stderr if events_to_stdout else sys.stdout
        reporter = make_reporter(human, config.log_every, placement.is_main)
        try:
            datasets = open_datasets(config, placement)
            config = replace(config, decode=datasets.decode)
            trainer = build_trainer(config, placement, datasets)
            position = restore(trainer, placement, resume) if resume else Position()
            notes = [precision_note, datasets.decode_note, totals_note]
            announcement = Announcement(resume.path if resume else None, params, macs, notes)
            config, lock, events = _open_run(config, placement, resume, events_to_stdout, tensorboard)
            try:
                with events, StopSignals(reporter) as stop:
                    return _run(Run(config, placement, trainer, events, reporter, stop), position, announcement)
            finally:
                if lock is not None:
                    lock.release()
        finally:
            reporter.close()
    finally:
        shutdown_distributed()


def resolve_for_placement(config: TrainConfig, placement: Placement) -> tuple[TrainConfig, str]:
    """The config with its precision and channels-last concrete for the device, its world size,
    and rank 0's seed on every rank (shuffling must agree); the line that says the precision."""
    bf16 = placement.device.type == "cuda" and torch.cuda.is_bf16_supported()
    precision, channels_last, note = resolve_precision(
        config.precision, config.channels_last, placement.device.type, bf16
    )
    if config.batch_size % placement.world_size:
        raise UsageError(
            f"--batch-size {config.batch_size} does not split over {placement.world_size} processes: "
            f"use a multiple of {placement.world_size}"
        )
    seed = config.seed
    if placement.distributed:
        import torch.distributed as dist

        shared = [seed]
        dist.broadcast_object_list(shared, src=0)
        seed = shared[0]
    resolved = replace(
        config, precision=precision, channels_last=channels_last, world_size=placement.world_size, seed=seed
    )
    return resolved, note


def _open_run(
    config: TrainConfig, placement: Placement, resume: Resume | None, events_to_stdout: bool, tensorboard: Path | None
) -> tuple[TrainConfig, rundir.RunLock | None, EventWriter]:
    """Rank 0 claims a new run folder (or locks the resumed run's own), writes config.json
    whole and opens the event stream; every rank learns the folder (the config with it), or
    the one-line reason there is none (a folder in use by another run, a path that cannot be
    written)."""
    lock, events, failure = None, EventWriter(), None
    run_dir = config.run_dir
    if placement.is_main:
        wanted, created = Path(config.run_dir), False
        try:
            if resume is not None and wanted == resume.path.parent:
                lock = rundir.lock_run_dir(wanted)
            else:
                claimed, lock = rundir.claim_run_dir(wanted)
                run_dir, created = str(claimed), True
            events = _write_run_files(replace(config, run_dir=run_dir), events_to_stdout, tensorboard)
        except UsageError as error:
            failure = str(error)
            if lock is not None:
                lock.release()
                lock = None
            if created:
                rundir.remove_if_unused(Path(run_dir))
    if placement.distributed:
        import torch.distributed as dist

        shared = [run_dir, failure]
        dist.broadcast_object_list(shared, src=0)
        run_dir, failure = shared
    if failure is not None:
        raise UsageError(failure)
    return replace(config, run_dir=run_dir), lock, events


def _write_run_files(config: TrainConfig, events_to_stdout: bool, tensorboard: Path | None) -> EventWriter:
    """config.json, written whole, and the event stream opened (also into TensorBoard where
    asked); what writers killed in this folder left half-written (their temporary files) is removed."""
    run_dir = Path(config.run_dir)
    for name in ("config.json", "metrics.csv", "best.pt", "last.pt"):
        remove_stale_temp_files(run_dir / name)
    path = run_dir / "config.json"
    try:
        write_text_atomic(path, json.dumps(config.as_dict(), indent=2) + "\n")
    except OSError as error:
        raise rundir.file_error("write", path, error) from None
    echo = sys.stdout if events_to_stdout else None
    try:
        if tensorboard is not None:
            return TensorBoardEventWriter(run_dir / "events.jsonl", echo, LiveTensorBoard(tensorboard))
        return EventWriter(run_dir / "events.jsonl", echo)
    except OSError as error:
        raise rundir.file_error("write", run_dir / "events.jsonl", error) from None


def _run(run: Run, position: Position, announcement: Announcement) -> int:
    """Announce the run and train it; a failure becomes its error and done events, naming the
    epoch it happened in (the one being trained, validated or saved)."""
    try:
        if announcement.resumed_from:
            adopt_folder_best(run, position)
        _announce(run, position, announcement)
        return run_epochs(run, position)
    except StopNow as stop_now:
        name = signal.Signals(stop_now.signum).name
        last = run.run_dir / "last.pt"
        kept = f"continue with --resume {last}" if last.exists() else "no last.pt was written"
        message = f"second {name}: stopped at once after step {position.step}, without writing a checkpoint; {kept}"
        error = error_event("interrupted", message, position.step, position.in_epoch or position.epoch + 1, signal=name)
        summary = summary_of(position, None, time.perf_counter(), run.run_dir)
        return end_unfinished(run.events, run.placement, summary, error, stop_exit_code(stop_now.signum))
    except Exception as exception:
        error = failure_of(exception, position.step, position.in_epoch or position.epoch + 1)
        usage = error["kind"] in ("data", "usage")  # goes on as a UsageError (exit 2), printed by the CLI
        summary = summary_of(position, None, time.perf_counter(), run.run_dir)
        code = end_unfinished(run.events, run.placement, summary, error, EXIT_FAILED, echo=not usage)
        if usage:
            raise UsageError(error["message"]) from None
        return code


def _announce(run: Run, position: Position, announcement: Announcement) -> None:
    """The start event and the lines a person sees first."""
    config, placement, datasets = run.config, run.placement, run.trainer.loaders.datasets
    run.events.emit(
        "start",
        command="train",
        model=config.model,
        family=zoo.get(config.model).family,
        config=config.as_dict(),
        params=announcement.params,
        macs=announcement.macs,
        device=str(placement.device),
        devices=_all_devices(placement),
        world_size=placement.world_size,
        dataset=datasets.describe(),
        steps_per_epoch=run.trainer.loaders.steps_per_epoch(),
        run_dir=str(run.run_dir),
        resumed_from=str(announcement.resumed_from) if announcement.resumed_from else None,
        start_epoch=position.epoch + 1,
        start_step=position.step,
        precision=config.precision,
        channels_last=config.channels_last,
        decode=config.decode,
    )
    for line in config.summary_lines() + [note for note in announcement.notes if note]:
        run.reporter.message(line)
    run.reporter.message(
        f"{announcement.params:,} parameters; {placement.world_size} x {placement.device}; "
        f"{datasets.describe()['train_images']} training / {len(datasets.val)} "
        f"val images; run directory {run.run_dir}"
    )
    if announcement.resumed_from:
        resumed = f"resuming from {announcement.resumed_from}: epoch {position.epoch + 1}, step {position.step}"
        run.reporter.message(resumed)


def _all_devices(placement: Placement) -> list[str]:
    if not placement.distributed:
        return [str(placement.device)]
    import torch.distributed as dist

    devices: list[Any] = [None] * placement.world_size
    dist.all_gather_object(devices, str(placement.device))
    return devices
