"""The settings of a training run (torch-free): recipe defaults plus flags, frozen.

The CLI builds a config with ``precision``/``decode`` "auto" and ``channels_last`` None; the
run derives the resolved one with ``dataclasses.replace`` before it builds the trainer."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import msgspec

from cnnexplorer.train.choices import AT_LEAST, CONFIG_CHOICES


@dataclass(frozen=True)
class TrainConfig:
    model: str
    dataset: str  # imagefolder, cifar10, cifar100, fake
    data: str | None
    image_size: int
    num_classes: int
    epochs: int
    batch_size: int  # global: split evenly over the processes
    optimizer: str
    lr: float
    momentum: float
    nesterov: bool
    weight_decay: float
    schedule: str
    milestones: list[int]  # epochs after which the lr is multiplied by gamma (step schedule)
    gamma: float
    plateau_patience: int
    warmup_epochs: float
    label_smoothing: float
    aux_weight: float
    seed: int
    deterministic: bool
    precision: str  # fp32, bf16 or fp16 (autocast); "auto" in a new run's config, replaced on its device
    channels_last: bool | None  # None in a new run's config: the run's device decides (resolve_precision)
    compile: bool
    workers: int
    max_steps: int | None
    log_every: int
    fake_size: int
    download: bool
    recipe: str  # where the defaults came from
    run_dir: str = ""
    world_size: int = 1
    decode: str = "cpu"  # cpu or gpu; "auto" in a new run's config until it opens its data; runs recorded before: cpu

    @property
    def amp(self) -> str | None:
        """The autocast dtype's name, None for fp32 (what --amp used to record)."""
        return None if self.precision == "fp32" else self.precision

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Any) -> TrainConfig:
        """The config a run recorded (config.json, a checkpoint's); ValueError naming the first
        entry that is missing, not of its type, not finite, not a choice or out of bounds (a
        damaged or crafted file)."""
        if isinstance(values, dict) and "precision" not in values and "amp" in values:  # from before --precision
            values = {**values, "precision": values["amp"] or "fp32"}
        try:
            config = msgspec.convert(values, type=cls, strict=True)
        except msgspec.ValidationError as error:
            raise ValueError(f"its config: {error}") from None
        for field in fields(config):
            value = getattr(config, field.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"its config's {field.name} is {value}, not a finite number")
        for name, choices in CONFIG_CHOICES.items():
            if getattr(config, name) not in choices:
                raise ValueError(f"its config's {name} is {getattr(config, name)!r:.40}, not one of {choices}")
        for name, least in AT_LEAST.items():
            value = getattr(config, name, None)  # the table also bounds flags that are no field here
            if value is not None and value < least:
                raise ValueError(f"its config's {name} is {value}, below {least}")
        return config

    def summary_lines(self) -> list[str]:
        """The recipe as printed at the start of a run."""
        optimizer = f"{self.optimizer} lr {self.lr:g}"
        if self.optimizer == "sgd":
            optimizer += f" momentum {self.momentum:g}" + (" nesterov" if self.nesterov else "")
        schedule = self.schedule
        if self.schedule == "step":
            schedule += f" x{self.gamma:g} after epochs {', '.join(map(str, self.milestones)) or 'none'}"
        elif self.schedule == "plateau":
            schedule += f" x{self.gamma:g} after {self.plateau_patience} epochs without a better val top-1"
        if self.warmup_epochs:
            schedule += f", warmup {self.warmup_epochs:g} epochs"
        extras = ["compile"] * self.compile  # precision and memory format: a line of their own
        if self.label_smoothing:
            extras.append(f"label smoothing {self.label_smoothing:g}")
        if self.aux_weight:
            extras.append(f"auxiliary losses x{self.aux_weight:g}")
        return [
            f"recipe: {self.recipe}",
            f"{self.model} on {self.dataset}{' ' + self.data if self.data else ''}: {self.epochs} epochs, "
            f"batch {self.batch_size}, image {self.image_size}, {self.num_classes} classes, seed {self.seed}",
            f"{optimizer}, weight decay {self.weight_decay:g}, {schedule}"
            + (f"; {', '.join(extras)}" if extras else ""),
        ]


def resolve_precision(
    precision: str, channels_last: bool | None, device_type: str, bf16_supported: bool
) -> tuple[str, bool, str]:
    """(precision, channels_last, the line that says so) for ``--precision`` and
    ``--[no-]channels-last`` as given on a device."""
    chosen = precision == "auto"
    if chosen:
        precision = "bf16" if device_type == "cuda" and bf16_supported else "fp32"
    if channels_last is None:
        channels_last = device_type == "cuda" and precision != "fp32"
    layout = " + channels-last" if channels_last else ""
    if not chosen:
        return precision, channels_last, f"precision {precision}{layout} (as asked)"
    if precision == "bf16":
        note = f"precision bf16{layout} (default on this GPU; --precision fp32 for full precision)"
        return precision, channels_last, note
    where = "the CPU" if device_type == "cpu" else "this GPU (no bf16)"
    return precision, channels_last, f"precision fp32{layout} (default on {where}; --precision bf16 for autocast)"
