"""torchvision's published figures for its ImageNet weights (offline metadata, no download)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cache

from cnnexplorer import disk_cache
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
    """Every torchvision weight set of an architecture, oldest recipe first (empty if none).

    Read from torchvision once per torchvision version, then from the disk cache, so that
    a cached summary or list never imports torchvision (and torch)."""
    if arch.torchvision_name is None:
        return ()
    key = {"model": arch.torchvision_name, "torchvision": disk_cache.package_version("torchvision")}
    stored = _stored_weights(disk_cache.load("weights", key))
    if stored is not None:
        return stored
    found = _torchvision_weights(arch.torchvision_name)
    disk_cache.save("weights", key, {"weights": [asdict(p) for p in found]})
    return found


def _torchvision_weights(name: str) -> tuple[Published, ...]:
    from torchvision.models import get_model_weights

    found = []
    for weights in get_model_weights(name):
        meta = weights.meta
        metrics = meta["_metrics"]["ImageNet-1K"]
        found.append(Published(weights.name, meta["num_params"], meta["_ops"], metrics["acc@1"], metrics["acc@5"]))
    return tuple(found)


_FIELD_TYPES = {
    "weights": (str,),
    "num_params": (int,),
    "gmacs": (int, float),
    "acc1": (int, float),
    "acc5": (int, float),
}


def _stored_weights(document: dict | None) -> tuple[Published, ...] | None:
    """The weight sets of a stored document; None unless every field has its type."""
    entries = document.get("weights") if document is not None else None
    if not isinstance(entries, list) or not entries:
        return None
    for entry in entries:
        if not isinstance(entry, dict) or entry.keys() != _FIELD_TYPES.keys():
            return None
        if any(not isinstance(entry[n], t) or isinstance(entry[n], bool) for n, t in _FIELD_TYPES.items()):
            return None
    return tuple(Published(**entry) for entry in entries)


def published(arch: Architecture) -> Published | None:
    """The original-recipe weights' figures (``IMAGENET1K_V1``), closest to the paper's."""
    found = weights_of(arch)
    return found[0] if found else None
