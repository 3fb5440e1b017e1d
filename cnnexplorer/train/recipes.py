"""Each family's training recipe from its paper (torch-free), the defaults of ``train``;
a generic recipe, said so in its source, for every other model.

Milestones are fractions of the run, so that ``--epochs`` keeps the schedule's shape.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from cnnexplorer.zoo.registry import Architecture


@dataclass(frozen=True)
class Recipe:
    source: str
    epochs: int
    batch_size: int
    optimizer: str  # "sgd" or "adamw"
    lr: float
    momentum: float
    nesterov: bool
    weight_decay: float
    schedule: str  # "step", "cosine" or "plateau"
    milestones: tuple[float, ...]  # fractions of the epochs (step schedule)
    gamma: float  # lr factor at each milestone / plateau
    warmup_epochs: float = 0.0
    label_smoothing: float = 0.0
    aux_weight: float = 0.0  # GoogLeNet's auxiliary classifiers

    def as_dict(self) -> dict:
        return asdict(self)


def _imagenet_resnet(source: str, nesterov: bool = False) -> Recipe:
    return Recipe(source, 90, 256, "sgd", 0.1, 0.9, nesterov, 1e-4, "step", (1 / 3, 2 / 3), 0.1)


def recipe_for(arch: Architecture) -> Recipe:
    """The paper recipe of an architecture (CIFAR variants get their CIFAR recipe)."""
    cifar = arch.input_size[1] <= 64
    if arch.family == "AlexNet":
        return Recipe(
            "Krizhevsky et al. 2012: SGD 0.01, momentum 0.9, wd 5e-4, batch 128, lr /10 three times in ~90 epochs",
            90,
            128,
            "sgd",
            0.01,
            0.9,
            False,
            5e-4,
            "step",
            (1 / 3, 2 / 3, 8 / 9),
            0.1,
        )
    if arch.family == "VGG":
        return Recipe(
            "Simonyan & Zisserman 2014: SGD 0.01, momentum 0.9, wd 5e-4, batch 256, lr /10 when val accuracy stops "
            "improving, 74 epochs",
            74,
            256,
            "sgd",
            0.01,
            0.9,
            False,
            5e-4,
            "plateau",
            (),
            0.1,
        )
    if arch.family == "GoogLeNet":
        return Recipe(
            "Szegedy et al. 2014: SGD momentum 0.9, lr -4% every 8 epochs, auxiliary losses weighted 0.3 (lr 0.01, wd "
            "2e-4 and batch 256 are not in the paper)",
            90,
            256,
            "sgd",
            0.01,
            0.9,
            False,
            2e-4,
            "step",
            tuple(i * 8 / 90 for i in range(1, 12)),
            0.96,
            aux_weight=0.3,
        )
    if arch.family == "ResNet" and cifar:
        return Recipe(
            "He et al. 2015 sec. 4.2: SGD 0.1, momentum 0.9, wd 1e-4, batch 128, lr /10 at 32k and 48k of 64k "
            "iterations",
            164,
            128,
            "sgd",
            0.1,
            0.9,
            False,
            1e-4,
            "step",
            (0.5, 0.75),
            0.1,
        )
    if arch.family == "ResNet":
        return _imagenet_resnet(
            "He et al. 2015: SGD 0.1, momentum 0.9, wd 1e-4, batch 256, lr /10 every 30 epochs, 90 epochs"
        )
    if arch.family == "Wide ResNet" and cifar:
        return Recipe(
            "Zagoruyko & Komodakis 2016: SGD Nesterov 0.1, momentum 0.9, wd 5e-4, batch 128, lr x0.2 at epochs 60, "
            "120, 160 of 200",
            200,
            128,
            "sgd",
            0.1,
            0.9,
            True,
            5e-4,
            "step",
            (0.3, 0.6, 0.8),
            0.2,
        )
    if arch.family == "Wide ResNet":
        return _imagenet_resnet(
            "Zagoruyko & Komodakis 2016 (ImageNet): the ResNet recipe with Nesterov momentum", nesterov=True
        )
    if arch.family == "DenseNet" and cifar:
        return Recipe(
            "Huang et al. 2016: SGD Nesterov 0.1, momentum 0.9, wd 1e-4, batch 64, lr /10 at 50% and 75% of 300 epochs",
            300,
            64,
            "sgd",
            0.1,
            0.9,
            True,
            1e-4,
            "step",
            (0.5, 0.75),
            0.1,
        )
    if arch.family == "DenseNet":
        return _imagenet_resnet(
            "Huang et al. 2016 (ImageNet): SGD Nesterov 0.1, momentum 0.9, wd 1e-4, batch 256, lr /10 at epochs 30 "
            "and 60 of 90",
            nesterov=True,
        )
    return generic_recipe(arch, cifar)


def generic_recipe(arch: Architecture, cifar: bool) -> Recipe:
    """For a model with no paper recipe here (torchvision's others, timm's, the user's own):
    AdamW with a cosine schedule and a short warmup, a common modern default."""
    epochs, batch, warmup = (200, 128, 5.0) if cifar else (100, 256, 5.0)
    return Recipe(
        f"generic recipe (no paper recipe for {arch.name}): AdamW 1e-3, wd 0.05, batch {batch}, cosine over "
        f"{epochs} epochs after {warmup:g} warmup epochs, label smoothing 0.1",
        epochs,
        batch,
        "adamw",
        1e-3,
        0.9,
        False,
        0.05,
        "cosine",
        (),
        0.1,
        warmup_epochs=warmup,
        label_smoothing=0.1,
    )


def milestone_epochs(milestones: tuple[float, ...], epochs: int) -> list[int]:
    """Milestone fractions as epoch numbers (after which the lr drops), at least 1 apart."""
    return sorted({max(1, round(fraction * epochs)) for fraction in milestones})
