"""Every choice and bound of ``train`` and ``eval``, defined once: the CLI's parsers, the
config's checks and the app's launch requests read them here. Torch-free."""

from __future__ import annotations

DATASETS = ("imagefolder", "cifar10", "cifar100", "fake")
CIFAR_CLASSES = {"cifar10": 10, "cifar100": 100}  # torchvision's CIFAR files (which --download may fetch)
CIFAR_DATASETS = tuple(CIFAR_CLASSES)
OPTIMIZERS = ("sgd", "adamw")  # the first is the launch form's default
SCHEDULES = ("step", "cosine", "plateau")
PRECISIONS = ("fp32", "bf16", "fp16")  # what a run computes in (eval's --precision)
TRAIN_PRECISIONS = ("auto", *PRECISIONS)  # train's --precision: auto is resolved on the device
AMP_DTYPES = ("bf16", "fp16")  # --amp, the old name of --precision bf16|fp16
DECODERS = ("cpu", "gpu")  # where JPEGs are decoded and augmented: in the loader's workers, or on the device
DECODE_MODES = ("auto", *DECODERS)  # --decode: auto is resolved by the trainer
EVAL_FORMATS = ("table", "json")
# The launch form's channels-last modes: train's --channels-last, --no-channels-last or neither.
CHANNELS_LAST = {"auto": None, "on": True, "off": False}

# The least value of each whole-number setting (flags and the config's fields of that name).
AT_LEAST = {
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
    "gpu": 0,
    "nproc": 1,
}
POSITIVE_NUMBERS = ("lr", "gamma")  # finite and more than 0
NON_NEGATIVE_NUMBERS = ("momentum", "weight_decay", "warmup_epochs", "label_smoothing", "aux_weight")  # 0 or more
FRACTIONS = ("momentum", "label_smoothing")  # of those, also below 1
LR_BELOW = 10  # the launch form's ceiling on the learning rate (the CLI takes any)

# The values a run's config may hold: auto precision and decoding are resolved by then.
CONFIG_CHOICES = {
    "dataset": DATASETS,
    "optimizer": OPTIMIZERS,
    "schedule": SCHEDULES,
    "precision": PRECISIONS,
    "decode": DECODERS,
}
# Each command's flags that take one of a few values.
FLAG_CHOICES = {
    "train": {
        "dataset": DATASETS,
        "optimizer": OPTIMIZERS,
        "schedule": SCHEDULES,
        "precision": TRAIN_PRECISIONS,
        "amp": AMP_DTYPES,
        "decode": DECODE_MODES,
    },
    "eval": {"dataset": DATASETS, "precision": PRECISIONS, "amp": AMP_DTYPES, "format": EVAL_FORMATS},
}


def number_bound(setting: str) -> str:
    """The range a number setting must lie in, in words (``POSITIVE_NUMBERS``, ``FRACTIONS``)."""
    if setting in POSITIVE_NUMBERS:
        return "more than 0"
    return "at least 0 and below 1" if setting in FRACTIONS else "0 or more"


def in_bounds(setting: str, value: float) -> bool:
    """Whether a finite number is within its setting's range (see ``number_bound``)."""
    if setting in POSITIVE_NUMBERS:
        return value > 0
    return 0 <= value < 1 if setting in FRACTIONS else value >= 0


def milestones_problem(milestones: tuple[int, ...] | list[int], epochs: int | None) -> str | None:
    """What is wrong with a step schedule's milestones (epochs after which the lr drops) in a
    run of ``epochs`` epochs (None: not known yet), or None."""
    if any(later <= earlier for earlier, later in zip(milestones, milestones[1:])):
        return "they must increase, e.g. 30,60"
    if epochs is not None and any(not 1 <= m < epochs for m in milestones):
        if epochs == 1:
            return "a run of 1 epoch has no epoch after which the lr could drop"
        return f"each must be from 1 to {epochs - 1} (an epoch of the run's {epochs} after which the lr drops)"
    return None
