"""The training configuration of the benches' speed runs: plain SGD, no schedule to speak of."""

from __future__ import annotations

from typing import Any

from cnnexplorer import zoo
from cnnexplorer.train.config import TrainConfig


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
