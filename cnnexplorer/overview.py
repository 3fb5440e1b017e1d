"""The zoo at a glance: every architecture's cost at its default input and its published
accuracy. Used by ``cnnexplorer list`` and the app's zoo chart."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from cnnexplorer.zoo import ARCHITECTURES, Architecture

if TYPE_CHECKING:
    from cnnexplorer.analysis import Analysis


@dataclass(frozen=True)
class ZooRow:
    name: str
    family: str
    year: int
    dataset: str
    input: tuple[int, int, int]
    params: int
    macs: int
    acc1: float | None  # torchvision's published ImageNet accuracy, in %
    acc5: float | None
    cifar10_error: float | None = None  # the paper's CIFAR-10 test error, in % (CIFAR variants)
    cifar10_source: str | None = None  # the paper and its table
    weights: str | None = None  # the torchvision weights acc1/acc5 belong to, e.g. "IMAGENET1K_V1"

    def as_dict(self) -> dict:
        return asdict(self)


def overview_row(arch: Architecture, analysis: Analysis | None = None) -> ZooRow:
    """One architecture's row, from its analysis at the default input (if not given: from the
    disk cache, else computed)."""
    if analysis is None:
        from cnnexplorer.analysis.request import AnalysisRequest
        from cnnexplorer.analysis.store import analyze_cached

        analysis = analyze_cached(AnalysisRequest.of(arch.name))
    return _row(arch, analysis.totals.params, analysis.totals.macs)


def stored_row(arch: Architecture) -> ZooRow | None:
    """One architecture's row from the totals the disk cache holds (torch-free, the layer
    tree left unread); None if it holds none."""
    from cnnexplorer.analysis.request import AnalysisRequest
    from cnnexplorer.analysis.store import load_totals

    totals = load_totals(AnalysisRequest.of(arch.name))
    return _row(arch, *totals) if totals is not None else None


def zoo_row(arch: Architecture) -> ZooRow:
    """One architecture's row: from the disk cache, else from its analysis."""
    return stored_row(arch) or overview_row(arch)


def _row(arch: Architecture, params: int, macs: int) -> ZooRow:
    from cnnexplorer.zoo.published import paper_result, published

    reference, paper = published(arch), paper_result(arch)
    return ZooRow(
        name=arch.name,
        family=arch.family,
        year=arch.year,
        dataset=arch.dataset,
        input=arch.input_size,
        params=params,
        macs=macs,
        acc1=reference.acc1 if reference else None,
        acc5=reference.acc5 if reference else None,
        cifar10_error=paper.top1_error if paper else None,
        cifar10_source=paper.source if paper else None,
        weights=reference.weights if reference else None,
    )


def zoo_overview(progress: bool = False, architectures: Sequence[Architecture] = ARCHITECTURES) -> list[ZooRow]:
    """One row per architecture (the curated zoo unless given); with ``progress``, a progress bar on stderr."""
    if not progress:
        return [zoo_row(arch) for arch in architectures]
    from rich.console import Console
    from rich.progress import Progress

    rows = []
    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("analysing the zoo", total=len(architectures))
        for arch in architectures:
            bar.update(task, description=f"analysing {arch.name}")
            rows.append(zoo_row(arch))
            bar.advance(task)
    return rows
