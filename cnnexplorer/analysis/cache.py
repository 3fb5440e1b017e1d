"""A thread-safe in-memory cache of analyses, keyed by request, for the app's workers."""

from __future__ import annotations

import threading
from collections import OrderedDict

from cnnexplorer.analysis.engine import analyze
from cnnexplorer.analysis.request import AnalysisRequest
from cnnexplorer.analysis.results import Analysis


class AnalysisCache:
    """The most recently used analyses, by request.

    The lock guards the dictionary only, so that the UI thread's :meth:`peek` never
    waits for an analysis (the engine serialises its own passes).
    """

    def __init__(self, capacity: int = 64) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[AnalysisRequest, Analysis] = OrderedDict()
        self._lock = threading.Lock()

    def peek(self, request: AnalysisRequest) -> Analysis | None:
        """The cached analysis for ``request``, without computing it (never blocks on one)."""
        with self._lock:
            found = self._entries.get(request)
            if found is not None:
                self._entries.move_to_end(request)
            return found

    def get(self, request: AnalysisRequest) -> Analysis:
        """The analysis for ``request``, computed on first use (raises UsageError on bad input)."""
        found = self.peek(request)
        if found is None:
            found = analyze(request)
            with self._lock:
                self._entries[request] = found
                while len(self._entries) > self.capacity:
                    self._entries.popitem(last=False)
        return found
