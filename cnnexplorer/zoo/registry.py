"""The architecture zoo: every network of the course text, by name.

This module is deliberately free of torch imports so that the app can list the zoo
before torch has loaded. Builders are named as ``"module:function"`` and imported
only when a model is built.
"""

from __future__ import annotations

import difflib

from cnnexplorer.errors import UsageError
from cnnexplorer.zoo.architecture import CIFAR10, IMAGENET, Architecture

__all__ = [
    "ARCHITECTURES",
    "CIFAR10",
    "FAMILIES",
    "IMAGENET",
    "Architecture",
    "all_names",
    "by_family",
    "get",
    "more_architectures",
    "more_names",
    "names",
]

FAMILIES = ("AlexNet", "VGG", "GoogLeNet", "ResNet", "Wide ResNet", "DenseNet")

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
    """Look an architecture up by name; case-insensitive, ``-`` and ``_`` interchangeable.

    Beyond the curated zoo (see :mod:`cnnexplorer.zoo.resolve`): any torchvision classifier,
    ``timm:NAME``, ``path/to/file.py:factory`` and ``package.module:factory``."""
    arch = _BY_KEY.get(_key(name))
    if arch is not None:
        return arch
    from cnnexplorer.zoo.resolve import resolve, torchvision_names

    found = resolve(name)
    if found is not None:
        return found
    known = {**{key: arch.name for key, arch in _BY_KEY.items()}, **{n: n for n in torchvision_names()}}
    close = difflib.get_close_matches(_key(name), list(known), n=3, cutoff=0.5)
    hint = (
        "did you mean " + ", ".join(known[key] for key in close) + "?"
        if close
        else "run `cnnexplorer list --all` for the names"
    )
    raise UsageError(f"unknown architecture {name!r}: {hint}")


def all_names() -> list[str]:
    """The curated zoo, then every other torchvision classifier."""
    return names() + more_names()


def by_family() -> dict[str, list[Architecture]]:
    """The zoo grouped by family, families in historical order."""
    groups: dict[str, list[Architecture]] = {family: [] for family in FAMILIES}
    for arch in ARCHITECTURES:
        groups[arch.family].append(arch)
    return groups


def more_names() -> list[str]:
    """Every torchvision classifier outside the curated zoo (the app's "more"), sorted; read
    from the disk cache when it holds them, so that only the first call imports torchvision."""
    from cnnexplorer.zoo.resolve import torchvision_names

    curated = set(names())
    return [name for name in torchvision_names() if name not in curated]


def more_architectures() -> list[Architecture]:
    """The architectures of :func:`more_names` (a stored name this torchvision does not build is skipped)."""
    from cnnexplorer.zoo.resolve import resolve

    return [arch for name in more_names() if (arch := resolve(name)) is not None]
