"""One-glance totals of the current model, its input and batch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Static

from cnnexplorer import units

if TYPE_CHECKING:
    from cnnexplorer.analysis import Analysis


class ModelHeader(Static):
    """Model name, input, batch, totals and the memory estimate; or a loading/error line."""

    def show(self, analysis: Analysis, notice: str | None = None) -> None:
        arch, totals, memory = analysis.arch, analysis.totals, analysis.memory
        size = units.dims(analysis.input_size)
        text = Text()
        text.append(analysis.name, style="bold")
        if arch is not None:
            text.append(f"  {arch.family} · {arch.year} · {arch.dataset}", style="dim")
        text.append(f"\ninput {size} · batch {analysis.batch} · {analysis.dtype}   ")
        text.append(
            f"params {units.count(totals.params)}   MACs {units.count(totals.macs)}   "
            f"FLOPs {units.count(totals.flops)} (2 x MACs)"
        )
        text.append(
            f"\nmemory estimate: inference {units.size(memory.inference_bytes)} · training "
            f"{units.size(memory.training_bytes('sgd'))} (SGD-momentum)",
            style="dim",
        )
        if notice:
            text.append(f"\n{notice}", style="bold red")
        self.update(text)

    def show_message(self, message: str) -> None:
        self.update(Text(message, style="italic"))
