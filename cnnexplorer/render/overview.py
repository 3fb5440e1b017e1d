"""Render the zoo overview (``cnnexplorer list``) as a table."""

from __future__ import annotations

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from cnnexplorer import units
from cnnexplorer.overview import ZooRow


def render_overview(rows: list[ZooRow]) -> Group:
    """One row per architecture: family, year, default size, params, GMACs, published accuracy;
    the legend below it (not a table caption, which would widen the table past 80 columns)."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, collapse_padding=True)
    for column in ("name", "family", "year", "size", "params", "GMACs", "top-1", "top-5"):
        table.add_column(column, justify="left" if column in ("name", "family") else "right", no_wrap=True)
    for row in rows:
        table.add_row(
            row.name,
            row.family,
            str(row.year) if row.year else "-",
            str(row.input[1]) if row.input[1] == row.input[2] else units.dims(row.input[1:]),
            units.count(row.params),
            _gmacs(row.macs),
            _top1(row),
            f"{row.acc5:.2f}" if row.acc5 else "-",
        )
    legend = (
        "size: the default input (square); GMACs: 10^9 multiply-accumulates at it (FLOPs = 2 x MACs); "
        f"top-1/top-5: torchvision's published ImageNet accuracy in % ({_weights_note(rows)}); "
        "* CIFAR-10 top-1 accuracy, 100 minus the test error in the paper's table "
        "(He et al. 2015 Table 6, Zagoruyko & Komodakis 2016 Table 5, Huang et al. 2017 Table 2)"
    )
    return Group(table, Text(legend, style="dim"))


def _weights_note(rows: list[ZooRow]) -> str:
    """Which weights the accuracy columns quote: IMAGENET1K_V1, and the rows that quote others."""
    others: dict[str, list[str]] = {}
    for row in rows:
        if row.weights and row.weights != "IMAGENET1K_V1":
            others.setdefault(row.weights, []).append(row.name)
    exceptions = "".join(f"; {', '.join(names)}: {weights}" for weights, names in others.items())
    return f"weights IMAGENET1K_V1{exceptions}"


def _gmacs(macs: int) -> str:
    """Three significant digits, without an exponent: 0.0565, 15.5, 1016."""
    gmacs = macs / 1e9
    return f"{gmacs:.3g}" if gmacs < 1000 else f"{gmacs:.0f}"


def _top1(row: ZooRow) -> str:
    """ImageNet top-1 accuracy; for a CIFAR variant, the paper's CIFAR-10 accuracy marked ``*``."""
    if row.acc1:
        return f"{row.acc1:.2f}"
    if row.cifar10_error is not None:
        return f"{100 - row.cifar10_error:.2f}*"
    return "-"
