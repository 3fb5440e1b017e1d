"""torchinfo beside the engine, in words: ``summary --format torchinfo``, the summary table's
torchinfo column and its legend, and the details panel's line (see
:mod:`cnnexplorer.analysis.torchinfo_view` for the figures and the reasons)."""

from __future__ import annotations

from cnnexplorer import units
from cnnexplorer.analysis.request import AnalysisRequest
from cnnexplorer.analysis.torchinfo_view import REASONS, MultAddsComparison

# Why torchinfo's Mult-Adds differ from the MACs here, by reason (in REASONS' order).
REASON_TEXT = {
    "bias": "it counts bias additions, one per output element",
    "normalisation": "it counts normalisation's scale and shift, batch x params, as MACs do not",
    "positions": "it counts a linear layer once per sample, not once per position or token",
    "functional": "it cannot see ops a forward calls itself: matmul, F.linear, attention",
    "eval": "it runs in eval mode: layers that run only in training are missing",
    "formula": "its parameter-based formula does not fit this layer type",
}
REASON_CODES = {"bias": "b", "normalisation": "n", "positions": "p", "functional": "f", "eval": "e", "formula": "?"}


def torchinfo_cell(comparison: MultAddsComparison | None) -> str:
    """The summary table's torchinfo cell: its Mult-Adds and reason codes where they differ, else blank."""
    if comparison is None or not comparison.differs:
        return ""
    return f"{units.count(comparison.torchinfo)} {''.join(REASON_CODES[r] for r in comparison.reasons)}"


def torchinfo_legend(comparisons: list[MultAddsComparison], hidden_for_width: int | None = None) -> list[str]:
    """The table's footer: what the torchinfo column shows (or, where it was left out, that a
    terminal of ``hidden_for_width`` columns shows it) and each reason code that occurs."""
    differing = [comparison for comparison in comparisons if comparison.differs]
    if not differing:
        return []
    occurring = {reason for comparison in differing for reason in comparison.reasons}
    if hidden_for_width is None:
        lines = ["torchinfo: its Mult-Adds where they differ from the MACs, because"]
    else:
        lines = [
            f"torchinfo's Mult-Adds differ from the MACs on {len(differing)} of these layers (a terminal "
            f"{hidden_for_width} columns wide shows them beside the MACs), because"
        ]
    lines += [f"  {REASON_CODES[reason]}: {REASON_TEXT[reason]}" for reason in REASONS if reason in occurring]
    return lines


def torchinfo_fact(comparison: MultAddsComparison | None) -> str:
    """The details panel's torchinfo line for one layer."""
    if comparison is None:
        return "not run by torchinfo (it runs the model in eval mode)"
    if not comparison.differs:
        return "same as torchinfo's Mult-Adds"
    why = "; ".join(REASON_TEXT[reason] for reason in comparison.reasons)
    return f"Mult-Adds {comparison.torchinfo:,} (differs: {why})"


def render_torchinfo_summary(summary: str, request: AnalysisRequest, total_mult_adds: int, device: str) -> str:
    """``summary --format torchinfo``: torchinfo's own summary text between a line saying how
    it was run and one giving its total Mult-Adds unrounded."""
    where = "the meta device (no weights, no arithmetic)" if device == "meta" else f"the {device.upper()}"
    head = (
        f"torchinfo.summary of {request.model} in eval mode: input {units.dims(request.input_size)}, "
        f"batch {request.batch}, {request.dtype}, on {where}"
    )
    foot = (
        f"Total mult-adds: {total_mult_adds:,} (torchinfo's Mult-Adds; "
        "`cnnexplorer summary` shows where they differ from its MACs, and why)"
    )
    return f"{head}\n{summary}\n{foot}\n"
