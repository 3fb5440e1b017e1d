"""The resolved settings of a training run (torch-free): recipe defaults plus flags."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


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
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})

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
