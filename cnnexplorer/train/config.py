"""The resolved settings of a training run (torch-free): recipe defaults plus flags."""

from __future__ import annotations

import math
from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any

# The least value of the config's counts that the loop can run with.
_AT_LEAST = {
    "image_size": 8,
    "num_classes": 1,
    "epochs": 1,
    "batch_size": 1,
    "plateau_patience": 0,
    "seed": 0,
    "workers": 0,
    "max_steps": 1,
    "log_every": 1,
    "fake_size": 1,
    "world_size": 1,
}

_CHOICES = {
    "dataset": ("imagefolder", "cifar10", "cifar100", "fake"),
    "optimizer": ("sgd", "adamw"),
    "schedule": ("step", "cosine", "plateau"),
    "amp": (None, "bf16", "fp16"),
}


def _has_type(value: Any, annotation: str) -> bool:
    """Whether a JSON-ish value fits a field's annotation (as written in this module)."""
    options = [option.strip() for option in annotation.split("|")]
    if value is None:
        return "None" in options
    for option in options:
        if option == "bool" and isinstance(value, bool):
            return True
        if isinstance(value, bool):
            continue
        if option == "int" and isinstance(value, int):
            return True
        if option == "float" and isinstance(value, (int, float)) and math.isfinite(value):
            return True
        if option == "str" and isinstance(value, str):
            return True
        if option == "list[int]" and isinstance(value, list):
            return all(isinstance(item, int) and not isinstance(item, bool) for item in value)
    return False


@dataclass
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
    amp: str | None  # None, "bf16" or "fp16"
    channels_last: bool
    compile: bool
    workers: int
    max_steps: int | None
    log_every: int
    fake_size: int
    download: bool
    recipe: str  # where the defaults came from
    run_dir: str = ""
    world_size: int = 1

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """The config a checkpoint recorded; ValueError naming the first entry that is
        missing or not of its type (a damaged or crafted file)."""
        known = {f.name: f for f in fields(cls)}
        chosen = {key: value for key, value in values.items() if key in known}
        for name, spec in known.items():
            if name not in chosen:
                if spec.default is MISSING:
                    raise ValueError(f"its config has no {name}")
                continue
            if not _has_type(chosen[name], str(spec.type)):
                raise ValueError(f"its config's {name} is {chosen[name]!r:.40}, not {spec.type}")
        for name, choices in _CHOICES.items():
            if chosen.get(name) not in choices:
                raise ValueError(f"its config's {name} is {chosen.get(name)!r:.40}, not one of {choices}")
        for name, least in _AT_LEAST.items():
            if chosen.get(name) is not None and chosen[name] < least:
                raise ValueError(f"its config's {name} is {chosen[name]}, below {least}")
        return cls(**chosen)

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
        extras = [f"amp {self.amp}"] if self.amp else []
        extras += ["channels-last"] * self.channels_last + ["compile"] * self.compile
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
