"""The zoo at a glance: every architecture's cost at its default input and its published
accuracy. Used by ``cnnexplorer list`` and the app's zoo chart."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING
from rich import box
from rich.table import Table

from cnnexplorer import units
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


def render_overview(rows: list[ZooRow]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for column in ("name", "family", "year", "size", "params", "GMACs", "top-1", "top-5"):
        table.add_column(column, justify="left" if column in ("name", "family") else "right", no_wrap=True)
    for row in rows:
        table.add_row(
            row.name, row.family, str(row.year), str(row.input[1]) if row.input[1] == row.input[2] else units.dims(row.input[1:]), units.count(row.params),
            f"{row.macs / 1e9:.3g}", f"{row.acc1:.2f}" if row.acc1 else "-", f"{row.acc5:.2f}" if row.acc5 else "-",
        )  # fmt: skip
    table.caption = (
        "size: the default input (square); GMACs: 10^9 multiply-accumulates at it (FLOPs = 2 x MACs); "
        "top-1/top-5: torchvision's published ImageNet accuracy in % (IMAGENET1K_V1)"
    )
    return table
