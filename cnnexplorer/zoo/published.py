"""Published figures: torchvision's for its ImageNet weights (offline metadata, no download)
and the papers' CIFAR-10 test errors for the CIFAR variants (typed in from the papers' tables,
each with its table)."""

from __future__ import annotations

from dataclasses import dataclass
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
    stored = disk_cache.load("weights", key, type=_StoredWeights)
    if stored is not None and stored.weights:
        return stored.weights
    found = _torchvision_weights(arch.torchvision_name)
    disk_cache.save("weights", key, {"weights": found})
    return found


@dataclass
class _StoredWeights:
    """A stored ``weights`` document, read back field by field with the types above."""

    weights: tuple[Published, ...]


def _torchvision_weights(name: str) -> tuple[Published, ...]:
    from torchvision.models import get_model_weights

    found = []
    for weights in get_model_weights(name):
        meta = weights.meta
        metrics = meta["_metrics"]["ImageNet-1K"]
        found.append(Published(weights.name, meta["num_params"], meta["_ops"], metrics["acc@1"], metrics["acc@5"]))
    return tuple(found)


def published(arch: Architecture) -> Published | None:
    """The figures of the first weights torchvision lists: the original recipe (``IMAGENET1K_V1``),
    closest to the paper's, for all but the models first published with other weights (SWAG)."""
    found = weights_of(arch)
    return found[0] if found else None


@dataclass(frozen=True)
class PaperResult:
    """A test error a paper's table prints for the architecture as the zoo builds it."""

    dataset: str
    top1_error: float  # percent
    source: str  # the paper and its table
    detail: str  # how the figure was obtained

    @property
    def acc1(self) -> float:
        return 100.0 - self.top1_error


_HE_TABLE_6 = "He et al. 2015, Table 6"
_HE_DETAIL = "with augmentation (4-pixel padding, random crop, flip)"
_WRN_TABLE_5 = "Zagoruyko & Komodakis 2016, Table 5"
_WRN_DETAIL = "flip/translation augmentation, mean/std normalisation, median of 5 runs"

PAPER_RESULTS: dict[str, PaperResult] = {
    "resnet20": PaperResult("CIFAR-10", 8.75, _HE_TABLE_6, _HE_DETAIL),
    "resnet32": PaperResult("CIFAR-10", 7.51, _HE_TABLE_6, _HE_DETAIL),
    "resnet44": PaperResult("CIFAR-10", 7.17, _HE_TABLE_6, _HE_DETAIL),
    "resnet56": PaperResult("CIFAR-10", 6.97, _HE_TABLE_6, _HE_DETAIL),
    "resnet110": PaperResult("CIFAR-10", 6.43, _HE_TABLE_6, _HE_DETAIL + ", best of 5 runs (mean 6.61 ± 0.16)"),
    "wrn-28-10": PaperResult("CIFAR-10", 4.00, _WRN_TABLE_5, _WRN_DETAIL),
    "wrn-16-8": PaperResult("CIFAR-10", 4.27, _WRN_TABLE_5, _WRN_DETAIL),
    "densenet-bc-100": PaperResult(
        "CIFAR-10", 4.51, "Huang et al. 2017, Table 2", "C10+: standard augmentation (translation, flip)"
    ),
}


def paper_result(arch: Architecture) -> PaperResult | None:
    """The paper's CIFAR-10 test error for a CIFAR variant (None for the others)."""
    return PAPER_RESULTS.get(arch.name)
