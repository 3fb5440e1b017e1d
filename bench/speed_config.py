"""The training configuration of the benches' speed runs: plain SGD, no schedule to speak of."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch

from cnnexplorer import zoo
from cnnexplorer.train.building import Trainer, build_trainer, open_datasets
from cnnexplorer.train.config import TrainConfig, resolve_precision
from cnnexplorer.train.devices import Placement


def speed_run_config(model: str, **fields: Any) -> TrainConfig:
    """A TrainConfig for timing steps: SGD at lr 0.01 with momentum 0.9, seed 0, a step event
    every step; ``fields`` give the data, batch, precision and the rest."""
    plain = dict(
        model=zoo.get(model).name,
        optimizer="sgd",
        lr=0.01,
        momentum=0.9,
        nesterov=False,
        weight_decay=1e-4,
        schedule="step",
        milestones=[],
        gamma=0.1,
        plateau_patience=2,
        warmup_epochs=0.0,
        label_smoothing=0.0,
        aux_weight=0.0,
        seed=0,
        deterministic=False,
        compile=False,
        log_every=1,
        download=False,
        recipe="bench",
    )
    return TrainConfig(**(plain | fields))


def speed_trainer(config: TrainConfig, device: torch.device) -> tuple[TrainConfig, Trainer, list[str]]:
    """The config resolved for ``device`` (precision, channels-last, decode) as ``cnnexplorer
    train`` resolves it, the trainer built from it, and the notes that say how it runs."""
    bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    precision, channels_last, note = resolve_precision(config.precision, config.channels_last, device.type, bf16)
    config = replace(config, precision=precision, channels_last=channels_last)
    placement = Placement(device)
    datasets = open_datasets(config, placement)
    config = replace(config, decode=datasets.decode)
    return config, build_trainer(config, placement, datasets), [note, datasets.decode_note]
