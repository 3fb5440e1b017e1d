"""A thread-safe in-memory cache of analyses, keyed by request, for the app's workers.

It reads through to the disk cache (:mod:`cnnexplorer.analysis.store`), so an analysis
made by an earlier run comes back without torch; only a miss there loads the engine.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from cnnexplorer.analysis import store
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

    def load_stored(self, request: AnalysisRequest) -> Analysis | None:
        """The analysis for ``request`` from memory or the disk cache, never computed (torch-free)."""
        found = self.peek(request)
        if found is None:
            found = store.load(request)
            if found is not None:
                self._keep(request, found)
        return found

    def get(self, request: AnalysisRequest) -> Analysis:
        """The analysis for ``request``: from memory, the disk cache, or computed (and stored)
        on first use (raises UsageError on bad input)."""
        found = self.peek(request)
        if found is None:
            found = store.analyze_cached(request)
            self._keep(request, found)
        return found

    def _keep(self, request: AnalysisRequest, analysis: Analysis) -> None:
        with self._lock:
            self._entries[request] = analysis
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
