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
NON_NEGATIVE_NUMBERS = ("momentum", "weight_decay", "warmup_epochs", "label_smoothing", "aux_weight")
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
