"""The analysis engine (Textual-free).

``analyze`` and ``analyze_module`` are imported lazily (they need torch), so that the
torch-free parts (the request, the result types, input parsing) load at once."""

from __future__ import annotations

from typing import Any

from cnnexplorer.analysis.request import AnalysisRequest
from cnnexplorer.analysis.results import Analysis, LayerNode, MemoryEstimate, Totals

__all__ = ["Analysis", "AnalysisRequest", "LayerNode", "MemoryEstimate", "Totals", "analyze", "analyze_module"]


def __getattr__(name: str) -> Any:
    if name in ("analyze", "analyze_module"):
        from cnnexplorer.analysis import engine

        return getattr(engine, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
