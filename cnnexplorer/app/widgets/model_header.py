"""One-glance totals of the current model, its input and batch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Static

from cnnexplorer import units
from cnnexplorer.zoo.published import paper_result, published

if TYPE_CHECKING:
    from cnnexplorer.analysis import Analysis, AnalysisRequest
    from cnnexplorer.zoo import Architecture


def published_phrase(arch: Architecture) -> str:
    """The published accuracy of the model's dataset (named on the header's first line):
    torchvision's ImageNet top-1, or the paper's CIFAR-10 test error; empty if none."""
    reference, paper = published(arch), paper_result(arch)
    if reference is not None:
        return f" · published top-1 {reference.acc1:.2f}%"
    if paper is not None:
        return f" · published error {paper.top1_error:.2f}%"
    return ""


class ModelHeader(Static):
    """Model name, input, batch, totals and the memory estimate; or a loading/error line.

    Short phrases joined by separators, so that the lines wrap between figures on a
    narrow terminal, never inside one. A notice (an action's error) lasts until the user's
    next action clears it (:meth:`clear_notice`); the figures stay."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.analysis: Analysis | None = None  # the figures shown (None: a message or a failure)
        self.notice: str | None = None

    def show(self, analysis: Analysis, notice: str | None = None) -> None:
        self.analysis, self.notice = analysis, notice
        arch, totals, memory = analysis.arch, analysis.totals, analysis.memory
        text = Text()
        text.append(analysis.name, style="bold")
        if arch is not None:
            year = f" {arch.year}" if arch.year else ""  # models from outside the zoo have none
            text.append(f"  {arch.family}{year} · {arch.dataset.split(' (')[0]}", style="dim")
        text.append(f" · input {units.dims(analysis.input_size)} · batch {analysis.batch} · {analysis.dtype}")
        text.append(
            f"\nparams {units.count(totals.params)} · MACs {units.count(totals.macs)} · "
            f"FLOPs {units.count(totals.flops)} (2×MACs)"
        )
        if totals.training_only_params:
            text.append(f" · +{units.count(totals.training_only_params)} params in training-only heads", style="yellow")
        if arch is not None:
            text.append(published_phrase(arch))
        text.append(
            f"\nmemory (estimate): inference {units.size(memory.inference_bytes)} · "
            f"training {units.size(memory.training_bytes('sgd'))} (SGD-momentum)",
            style="dim",
        )
        if notice:
            text.append(f"\n{notice}", style="bold red")
        self.update(text)

    def clear_notice(self) -> None:
        """The user moved on: the figures without the notice of an earlier action."""
        if self.notice is not None and self.analysis is not None:
            self.show(self.analysis)

    def show_failure(self, request: AnalysisRequest, error: str) -> None:
        """The model in the header cannot be shown at this request: why."""
        self.analysis, self.notice = None, None
        text = Text()
        text.append(request.model, style="bold")
        text.append(f"  input {units.dims(request.input_size)} · batch {request.batch} · {request.dtype}")
        text.append(f"\n{error}", style="bold red")
        text.append("\ni: choose another input (empty: each model's own)", style="dim")
        self.update(text)

    def show_message(self, message: str) -> None:
        self.analysis, self.notice = None, None
        self.update(Text(message, style="italic"))
