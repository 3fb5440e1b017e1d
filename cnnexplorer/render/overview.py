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
            str(row.year),
            str(row.input[1]) if row.input[1] == row.input[2] else units.dims(row.input[1:]),
            units.count(row.params),
            f"{row.macs / 1e9:.3g}",
            f"{row.acc1:.2f}" if row.acc1 else "-",
            f"{row.acc5:.2f}" if row.acc5 else "-",
        )
    table.caption = (
        "size: the default input (square); GMACs: 10^9 multiply-accumulates at it (FLOPs = 2 x MACs); "
        "top-1/top-5: torchvision's published ImageNet accuracy in % (IMAGENET1K_V1)"
    )
    return table
