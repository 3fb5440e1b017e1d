"""Messages posted by the app's workers and widgets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from cnnexplorer.analysis import Analysis, AnalysisRequest
    from cnnexplorer.overview import ZooRow


@dataclass
class ArchitectureChosen(Message):
    """The user moved to an architecture in the zoo list."""

    name: str


@dataclass
class AnalysisReady(Message):
    """The analysis of ``request`` finished (``analysis``) or failed (``error``)."""

    request: AnalysisRequest
    analysis: Analysis | None = None
    error: str | None = None


@dataclass
class ZooRowReady(Message):
    """The background pass over the zoo finished one architecture."""

    row: ZooRow
