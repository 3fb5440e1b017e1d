"""Typed access to the running app from its screens and widgets."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from textual.dom import DOMNode

    from cnnexplorer.app.app import CnnExplorerApp


def explorer_app(node: DOMNode) -> CnnExplorerApp:
    """The :class:`CnnExplorerApp` that ``node`` belongs to (its jobs, runs folder, launcher)."""
    return cast("CnnExplorerApp", node.app)
