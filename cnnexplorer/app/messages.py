"""Messages posted by the app's workers and widgets."""

from __future__ import annotations

from typing import Any

from textual.message import Message


class ArchitectureChosen(Message):
    """The user moved to an architecture in the zoo list."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name


class AnalysisReady(Message):
    """An analysis finished (``analysis``) or failed (``error``) for request ``request_id``."""

    def __init__(self, request_id: int, analysis: Any = None, error: str | None = None) -> None:
        super().__init__()
        self.request_id = request_id
        self.analysis = analysis
        self.error = error


class ZooRowReady(Message):
    """The background pass over the zoo finished one architecture."""

    def __init__(self, row: Any) -> None:
        super().__init__()
        self.row = row
