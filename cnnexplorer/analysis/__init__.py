"""The analysis engine (Textual-free). Importing this package imports torch."""

from cnnexplorer.analysis.engine import Analysis, LayerNode, Totals, analyze, analyze_module

__all__ = ["Analysis", "LayerNode", "Totals", "analyze", "analyze_module"]
