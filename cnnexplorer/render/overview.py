"""Render the zoo overview (``cnnexplorer list``) as a table."""

from __future__ import annotations

from rich import box
from rich.table import Table

from cnnexplorer import units
from cnnexplorer.overview import ZooRow


def render_overview(rows: list[ZooRow]) -> Table:
    """One row per architecture: family, year, default size, params, GMACs, published accuracy."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for column in ("name", "family", "year", "size", "params", "GMACs", "top-1", "top-5"):
        table.add_column(column, justify="left" if column in ("name", "family") else "right", no_wrap=True)
    for row in rows:
        table.add_row(
            row.name,
            row.family,
            str(row.year) if row.year else "-",
            str(row.input[1]) if row.input[1] == row.input[2] else units.dims(row.input[1:]),
            units.count(row.params),
            f"{row.macs / 1e9:.3g}",
            _top1(row),
            f"{row.acc5:.2f}" if row.acc5 else "-",
        )
    table.caption = (
        "size: the default input (square); GMACs: 10^9 multiply-accumulates at it (FLOPs = 2 x MACs); "
        "top-1/top-5: torchvision's published ImageNet accuracy in % (IMAGENET1K_V1); "
        "* CIFAR-10 top-1 accuracy, 100 minus the test error in the paper's table "
        "(He et al. 2015 Table 6, Zagoruyko & Komodakis 2016 Table 5, Huang et al. 2017 Table 2)"
    )
    return table


def _top1(row: ZooRow) -> str:
    """ImageNet top-1 accuracy; for a CIFAR variant, the paper's CIFAR-10 accuracy marked ``*``."""
    if row.acc1:
        return f"{row.acc1:.2f}"
    if row.cifar10_error is not None:
        return f"{100 - row.cifar10_error:.2f}*"
    return "-"
