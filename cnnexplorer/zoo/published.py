"""torchvision's published figures for its ImageNet weights (offline metadata, no download)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from cnnexplorer.zoo.registry import Architecture


@dataclass(frozen=True)
class Published:
    """One set of torchvision weights and the figures published with it."""

    weights: str  # enum member name, e.g. "IMAGENET1K_V1"
    num_params: int
    gmacs: float  # torchvision's "_ops" field (labelled GFLOPS there, counted as multiply-adds)
    acc1: float
    acc5: float

    @property
    def top1_error(self) -> float:
        return 100.0 - self.acc1

    @property
    def top5_error(self) -> float:
        return 100.0 - self.acc5


@cache
def weights_of(arch: Architecture) -> tuple[Published, ...]:
    """Every torchvision weight set of an architecture, oldest recipe first (empty if none)."""
    if arch.torchvision_name is None:
        return ()
    from torchvision.models import get_model_weights

    found = []
    for weights in get_model_weights(arch.torchvision_name):
        meta = weights.meta
        metrics = meta["_metrics"]["ImageNet-1K"]
        found.append(Published(weights.name, meta["num_params"], meta["_ops"], metrics["acc@1"], metrics["acc@5"]))
    return tuple(found)


def published(arch: Architecture) -> Published | None:
    """The original-recipe weights' figures (``IMAGENET1K_V1``), closest to the paper's."""
    found = weights_of(arch)
    return found[0] if found else None
