"""The resolved settings of a training run (torch-free): recipe defaults plus flags."""

from __future__ import annotations

import math
from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any

PRECISIONS = ("fp32", "bf16", "fp16")
DECODERS = ("cpu", "gpu")  # where JPEGs are decoded and augmented: in the loader's workers, or on the device

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
    "precision": PRECISIONS,
    "decode": DECODERS,
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
    precision: str  # fp32, bf16 or fp16 (autocast); "auto" until resolve_precision
    channels_last: bool | None  # None until resolve_precision
    compile: bool
    workers: int
    max_steps: int | None
    log_every: int
    fake_size: int
    download: bool
    recipe: str  # where the defaults came from
    run_dir: str = ""
    world_size: int = 1
    decode: str = "cpu"  # cpu or gpu; "auto" until the trainer resolves it (runs before it: cpu)

    @property
    def amp(self) -> str | None:
        """The autocast dtype's name, None for fp32 (what --amp used to record)."""
        return None if self.precision == "fp32" else self.precision

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """The config a checkpoint recorded; ValueError naming the first entry that is
        missing or not of its type (a damaged or crafted file)."""
        known = {f.name: f for f in fields(cls)}
        chosen = {key: value for key, value in values.items() if key in known}
        if "precision" not in chosen and "amp" in values:  # a run from before --precision
            chosen["precision"] = values["amp"] or "fp32"
        for name, spec in known.items():
            if name not in chosen:
                if spec.default is MISSING:
                    raise ValueError(f"its config has no {name}")
                continue
            if not _has_type(chosen[name], str(spec.type)):
                raise ValueError(f"its config's {name} is {chosen[name]!r:.40}, not {spec.type}")
        for name, choices in _CHOICES.items():
            if name in chosen and chosen[name] not in choices:
                raise ValueError(f"its config's {name} is {chosen.get(name)!r:.40}, not one of {choices}")
        for name, least in _AT_LEAST.items():
            if chosen.get(name) is not None and chosen[name] < least:
                raise ValueError(f"its config's {name} is {chosen[name]}, below {least}")
        return cls(**chosen)

    def resolve_precision(self, device_type: str, bf16_supported: bool) -> str:
        """Turn "auto" into the concrete precision (bf16 where a CUDA device supports it, else
        fp32) and channels-last None into on (with bf16/fp16 on CUDA) or off; the line that
        says so at the start of a run."""
        chosen = self.precision == "auto"
        if chosen:
            self.precision = "bf16" if device_type == "cuda" and bf16_supported else "fp32"
        if self.channels_last is None:
            self.channels_last = device_type == "cuda" and self.precision != "fp32"
        layout = " + channels-last" if self.channels_last else ""
        if not chosen:
            return f"precision {self.precision}{layout} (as asked)"
        if self.precision == "bf16":
            return f"precision bf16{layout} (default on this GPU; --precision fp32 for full precision)"
        where = "the CPU" if device_type == "cpu" else "this GPU (no bf16)"
        return f"precision fp32{layout} (default on {where}; --precision bf16 for autocast)"

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
