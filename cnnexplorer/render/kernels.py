"""Render the stacked-kernel comparison (``cnnexplorer kernels``)."""

from __future__ import annotations

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from cnnexplorer import units
from cnnexplorer.analysis.stacked_kernels import KernelOption


def render_comparison(pairs: list[tuple[KernelOption, KernelOption]]) -> Group:
    """A table of the comparison, with the savings of each stack."""
    first = pairs[0][0]
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for column in ("configuration", "RF", "params", "= xC²", "MACs", "FLOPs", "= xC²HW", "ReLUs"):
        table.add_column(column, justify="left" if column == "configuration" else "right")
    notes = []
    for large, stack in pairs:
        for option in (large, stack):
            table.add_row(
                option.label,
                f"{option.receptive_field}x{option.receptive_field}",
                f"{option.params:,}",
                f"{option.params_per_c2:g}",
                units.count(option.macs),
                units.count(option.flops),
                f"{option.flops_per_c2hw:g}",
                str(option.nonlinearities),
            )
        notes.append(
            f"{stack.label} vs {large.label}: same {stack.receptive_field}x{stack.receptive_field} field, "
            f"{100 * (1 - stack.params / large.params):.0f}% fewer params and FLOPs, "
            f"{stack.nonlinearities}x the non-linearities"
        )
    header = Text(f"C = {first.channels} channels in and out, H x W = {first.height} x {first.width}, no biases")
    legend = Text("MACs: multiply-accumulates; FLOPs = 2 x MACs; RF: receptive field", style="dim")
    return Group(header, table, *(Text(n) for n in notes), legend)
