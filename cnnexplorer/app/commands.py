"""The command palette's answer to a model name typed in full (``timm:NAME``, ``file.py:factory``,
``package.module:factory``): open it as typed, as the diff picker does, or say what to install."""

from __future__ import annotations

from functools import partial

from rich.text import Text
from textual.command import Hit, Hits, Provider

from cnnexplorer.app.access import explorer_app
from cnnexplorer.zoo.resolve import missing_package, typed_spec


class TypedModel(Provider):
    """One hit, first in the list, for a typed model spec."""

    async def search(self, query: str) -> Hits:
        spec = typed_spec(query)
        if spec is None:
            return
        missing = missing_package(spec)
        if missing is None:
            command = partial(explorer_app(self.screen).open_architecture, spec)
        else:
            command = partial(self.app.notify, missing, title="Cannot open", severity="warning")
        yield Hit(1.0, Text.assemble(spec, ("  " + (missing or "open as typed"), "dim")), command, text=spec)
