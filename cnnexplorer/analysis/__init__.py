"""The analysis engine (Textual-free).

The names below are imported lazily, so that torch-free submodules (``inputs``) can be
used by the app before torch has loaded."""

from __future__ import annotations

from typing import Any

__all__ = ["Analysis", "LayerNode", "Totals", "analyze", "analyze_module"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from cnnexplorer.analysis import engine

        return getattr(engine, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
