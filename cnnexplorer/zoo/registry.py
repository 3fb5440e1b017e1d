"""The architecture zoo: every network of the course text, by name.

This module is deliberately free of torch imports so that the app can list the zoo
before torch has loaded. Builders are named as ``"module:function"`` and imported
only when a model is built.
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass, field
from typing import Any

from cnnexplorer.errors import UsageError

FAMILIES = ("AlexNet", "VGG", "GoogLeNet", "ResNet", "Wide ResNet", "DenseNet")

IMAGENET = "ImageNet (ILSVRC-2012)"
CIFAR10 = "CIFAR-10"


@dataclass(frozen=True)
class Architecture:
    """One entry of the zoo."""

    name: str
    family: str
    paper: str
    year: int
    input_size: tuple[int, int, int]  # C, H, W
    dataset: str
    num_classes: int
    description: str
    builder: str  # "package.module:function", or "torchvision:<model name>"
    builder_kwargs: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    # Module-path prefixes that only run in training mode (GoogLeNet's auxiliary heads).
    training_only: tuple[str, ...] = ()

    @property
    def torchvision_name(self) -> str | None:
        """The torchvision model name, for the ones torchvision implements."""
        kind, _, target = self.builder.partition(":")
        return target if kind == "torchvision" else None

    def build(self, num_classes: int | None = None) -> Any:
        """Construct the model (on the current default device; use ``torch.device('meta')``
        as a context manager to build it without allocating weights)."""
        kwargs = dict(self.builder_kwargs)
        kwargs["num_classes"] = num_classes or self.num_classes
        kind, _, target = self.builder.partition(":")
        if kind == "torchvision":
            from torchvision import models

            return models.get_model(target, weights=None, **kwargs)
        module = importlib.import_module(kind)
        return getattr(module, target)(**kwargs)


_TV = "torchvision:"
_KRIZHEVSKY = "Krizhevsky, Sutskever & Hinton, ImageNet Classification with Deep CNNs (NeurIPS 2012)"
_SIMONYAN = "Simonyan & Zisserman, Very Deep Convolutional Networks (ICLR 2015, arXiv 2014)"
_SZEGEDY = "Szegedy et al., Going Deeper with Convolutions (CVPR 2015, arXiv 2014)"
_HE = "He, Zhang, Ren & Sun, Deep Residual Learning for Image Recognition (CVPR 2016, arXiv 2015)"
_ZAGORUYKO = "Zagoruyko & Komodakis, Wide Residual Networks (BMVC 2016)"
_HUANG = "Huang, Liu, van der Maaten & Weinberger, Densely Connected Convolutional Networks (CVPR 2017)"


def _vgg(depth: int, bn: bool) -> Architecture:
    config = {11: "A", 13: "B", 16: "D", 19: "E"}[depth]
    suffix = "_bn" if bn else ""
    extra = " with batch normalisation after every convolution (a later addition)" if bn else ""
    return Architecture(
        name=f"vgg{depth}{suffix}",
        family="VGG",
        paper=_SIMONYAN,
        year=2014,
        input_size=(3, 224, 224),
        dataset=IMAGENET,
        num_classes=1000,
        description=f"VGG-{depth} (configuration {config}): stacks of 3x3 convolutions, "
        f"2x2 max-pooling, FC 4096-4096-1000{extra}.",
        builder=f"{_TV}vgg{depth}{suffix}",
    )


def _resnet(depth: int) -> Architecture:
    block = "BasicBlock (two 3x3 convs)" if depth < 50 else "Bottleneck (1x1-3x3-1x1)"
    return Architecture(
        name=f"resnet{depth}",
        family="ResNet",
        paper=_HE,
        year=2015,
        input_size=(3, 224, 224),
        dataset=IMAGENET,
        num_classes=1000,
        description=f"ResNet-{depth} for ImageNet: four stages of residual {block} blocks "
        "with identity shortcuts, global average pooling, one FC layer.",
        builder=f"{_TV}resnet{depth}",
    )


def _cifar_resnet(depth: int) -> Architecture:
    n = (depth - 2) // 6
    return Architecture(
        name=f"resnet{depth}",
        family="ResNet",
        paper=_HE + ", section 4.2",
        year=2015,
        input_size=(3, 32, 32),
        dataset=CIFAR10,
        num_classes=10,
        description=f"ResNet-{depth} for CIFAR-10: 3 stages of {n} BasicBlocks with 16/32/64 "
        "filters, parameter-free (zero-padding) shortcuts, global average pooling, FC 10.",
        builder="cnnexplorer.zoo.cifar_resnet:cifar_resnet",
        builder_kwargs={"depth": depth},
    )


def _wide_resnet(depth: int) -> Architecture:
    return Architecture(
        name=f"wide_resnet{depth}_2",
        family="Wide ResNet",
        paper=_ZAGORUYKO,
        year=2016,
        input_size=(3, 224, 224),
        dataset=IMAGENET,
        num_classes=1000,
        description=f"Wide ResNet-{depth}-2: ResNet-{depth} with every bottleneck's inner 3x3 width doubled.",
        builder=f"{_TV}wide_resnet{depth}_2",
    )


def _cifar_wide_resnet(depth: int, widen_factor: int) -> Architecture:
    blocks = (depth - 4) // 6
    widths = "/".join(str(w * widen_factor) for w in (16, 32, 64))
    return Architecture(
        name=f"wrn-{depth}-{widen_factor}",
        family="Wide ResNet",
        paper=_ZAGORUYKO,
        year=2016,
        input_size=(3, 32, 32),
        dataset=CIFAR10,
        num_classes=10,
        description=f"WRN-{depth}-{widen_factor} for CIFAR: 3 groups of {blocks} pre-activation blocks of two "
        f"3x3 convolutions, widths {widths}, 1x1 projection shortcuts where shapes change.",
        builder="cnnexplorer.zoo.wide_resnet:wide_resnet",
        builder_kwargs={"depth": depth, "widen_factor": widen_factor},
    )


def _densenet(depth: int, growth: int, init: int) -> Architecture:
    return Architecture(
        name=f"densenet{depth}",
        family="DenseNet",
        paper=_HUANG,
        year=2016,
        input_size=(3, 224, 224),
        dataset=IMAGENET,
        num_classes=1000,
        description=f"DenseNet-BC-{depth} for ImageNet (growth rate {growth}, {init} initial "
        "filters): four dense blocks where every layer sees all earlier feature maps, "
        "1x1 bottlenecks and compressing transition layers.",
        builder=f"{_TV}densenet{depth}",
    )


ARCHITECTURES: tuple[Architecture, ...] = (
    Architecture(
        name="alexnet",
        family="AlexNet",
        paper="Krizhevsky, One weird trick for parallelizing CNNs (arXiv 2014), torchvision's reference",
        year=2014,
        input_size=(3, 224, 224),
        dataset=IMAGENET,
        num_classes=1000,
        description="torchvision's AlexNet: the single-GPU 'one weird trick' variant with "
        "64/192/384/256/256 filters, no LRN, adaptive average pooling to 6x6.",
        builder=f"{_TV}alexnet",
    ),
    Architecture(
        name="alexnet-2012",
        family="AlexNet",
        paper=_KRIZHEVSKY,
        year=2012,
        input_size=(3, 227, 227),
        dataset=IMAGENET,
        num_classes=1000,
        description="AlexNet as in the course table, as one tower: conv 96/256/384/384/256, "
        "LRN after the first two conv blocks, overlapping 3x3/2 max-pooling, "
        "FC 4096-4096-1000 with dropout 0.5.",
        builder="cnnexplorer.zoo.alexnet_2012:alexnet_2012",
    ),
    Architecture(
        name="alexnet-2012-2gpu",
        family="AlexNet",
        paper=_KRIZHEVSKY,
        year=2012,
        input_size=(3, 227, 227),
        dataset=IMAGENET,
        num_classes=1000,
        description="AlexNet split into two towers as trained on two GTX 580s: conv2, conv4 "
        "and conv5 only see their own GPU's half of the channels (grouped convolutions).",
        builder="cnnexplorer.zoo.alexnet_2012:alexnet_2012",
        builder_kwargs={"two_towers": True},
    ),
    *(_vgg(depth, bn) for depth in (11, 13, 16, 19) for bn in (False, True)),
    Architecture(
        name="googlenet",
        family="GoogLeNet",
        paper=_SZEGEDY,
        year=2014,
        input_size=(3, 224, 224),
        dataset=IMAGENET,
        num_classes=1000,
        description="GoogLeNet (Inception v1): nine Inception modules of parallel 1x1, 3x3, "
        "5x5 and pooling branches with 1x1 reductions; two auxiliary classifiers that "
        "only run during training (torchvision's version adds batch normalisation).",
        builder=f"{_TV}googlenet",
        builder_kwargs={"aux_logits": True, "init_weights": True},
        training_only=("aux1", "aux2"),
    ),
    *(_resnet(depth) for depth in (18, 34, 50, 101, 152)),
    *(_cifar_resnet(depth) for depth in (20, 32, 44, 56, 110)),
    _wide_resnet(50),
    _wide_resnet(101),
    _cifar_wide_resnet(28, 10),
    _cifar_wide_resnet(16, 8),
    _densenet(121, 32, 64),
    _densenet(161, 48, 96),
    _densenet(169, 32, 64),
    _densenet(201, 32, 64),
    Architecture(
        name="densenet-bc-100",
        family="DenseNet",
        paper=_HUANG,
        year=2016,
        input_size=(3, 32, 32),
        dataset=CIFAR10,
        num_classes=10,
        description="DenseNet-BC-100 for CIFAR (k=12): three dense blocks of 16 bottleneck "
        "layers, compression 0.5 in the transitions.",
        builder="cnnexplorer.zoo.densenet_bc:densenet_bc",
        builder_kwargs={"depth": 100, "growth_rate": 12},
    ),
)

_BY_KEY = {arch.name.replace("-", "_"): arch for arch in ARCHITECTURES}


def _key(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def names() -> list[str]:
    """All architecture names, in zoo order."""
    return [arch.name for arch in ARCHITECTURES]


def get(name: str) -> Architecture:
    """Look an architecture up by name; case-insensitive, ``-`` and ``_`` interchangeable."""
    arch = _BY_KEY.get(_key(name))
    if arch is not None:
        return arch
    close = difflib.get_close_matches(_key(name), list(_BY_KEY), n=3, cutoff=0.5)
    hint = (
        "did you mean " + ", ".join(_BY_KEY[key].name for key in close) + "?"
        if close
        else "run `cnnexplorer list` for the names"
    )
    raise UsageError(f"unknown architecture {name!r}: {hint}")


def by_family() -> dict[str, list[Architecture]]:
    """The zoo grouped by family, families in historical order."""
    groups: dict[str, list[Architecture]] = {family: [] for family in FAMILIES}
    for arch in ARCHITECTURES:
        groups[arch.family].append(arch)
    return groups
