"""The zoo at a glance: every architecture's cost at its default input and its published
accuracy. Used by ``cnnexplorer list`` and the app's zoo chart."""

from __future__ import annotations

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
    acc1: float | None
    acc5: float | None

    def as_dict(self) -> dict:
        return asdict(self)


def overview_row(arch: Architecture, analysis: Analysis | None = None) -> ZooRow:
    """One architecture's row, from its analysis at the default input (computed if not given)."""
    from cnnexplorer.analysis import AnalysisRequest, analyze
    from cnnexplorer.zoo.published import published

    analysis = analysis or analyze(AnalysisRequest.of(arch.name))
    reference = published(arch)
    return ZooRow(
        name=arch.name,
        family=arch.family,
        year=arch.year,
        dataset=arch.dataset,
        input=arch.input_size,
        params=analysis.totals.params,
        macs=analysis.totals.macs,
        acc1=reference.acc1 if reference else None,
        acc5=reference.acc5 if reference else None,
    )


def zoo_overview(progress: bool = False) -> list[ZooRow]:
    """One row per architecture; with ``progress``, a progress bar on stderr."""
    if not progress:
        return [overview_row(arch) for arch in ARCHITECTURES]
    from rich.console import Console
    from rich.progress import Progress

    rows = []
    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("analysing the zoo", total=len(ARCHITECTURES))
        for arch in ARCHITECTURES:
            bar.update(task, description=f"analysing {arch.name}")
            rows.append(overview_row(arch))
            bar.advance(task)
    return rows
