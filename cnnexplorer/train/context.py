"""A training run as it goes: what every part of it reads (``Run``) and where it is (``Position``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cnnexplorer.runs.events import EventWriter
from cnnexplorer.runs.progress import PlainReporter
from cnnexplorer.train.building import Trainer
from cnnexplorer.train.config import TrainConfig
from cnnexplorer.train.devices import Placement
from cnnexplorer.train.failures import StopSignals


@dataclass
class Position:
    """Where a run is: completed epochs, steps done in the current epoch, steps in all, the best
    val top-1 so far and its epoch."""

    epoch: int = 0
    epoch_step: int = 0
    step: int = 0
    best_top1: float = -1.0
    best_epoch: int = 0
    # The current epoch so far, over every segment (its metrics.csv row): loss sum, images, seconds.
    epoch_loss_sum: float = 0.0
    epoch_images: int = 0
    epoch_seconds: float = 0.0
    in_epoch: int = 0  # the (1-based) epoch being trained, validated or saved; what a failure names


@dataclass(frozen=True)
class Run:
    """One run's resolved settings, where it runs, what it trains with, where it reports and
    the signals that stop it."""

    config: TrainConfig
    placement: Placement
    trainer: Trainer
    events: EventWriter
    reporter: PlainReporter
    stop: StopSignals

    @property
    def run_dir(self) -> Path:
        return Path(self.config.run_dir)
