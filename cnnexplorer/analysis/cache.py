"""A thread-safe cache of analyses, keyed by model and input, for the app's workers."""

from __future__ import annotations

import threading
from collections import OrderedDict

from cnnexplorer.analysis.engine import Analysis, analyze
from cnnexplorer.zoo import get

Key = tuple[str, tuple[int, int, int], int, str]


class AnalysisCache:
    """Analyses by (model, input, batch, dtype).

    Two locks: ``_entries_lock`` guards the dictionary only, so that the UI thread's
    :meth:`peek` never waits for an analysis; ``_analysis_lock`` lets one analysis run at
    a time (the engine's module hooks are process-wide while a pass runs).
    """

    def __init__(self, capacity: int = 64) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[Key, Analysis] = OrderedDict()
        self._entries_lock = threading.Lock()
        self._analysis_lock = threading.Lock()

    @staticmethod
    def key(name: str, input_size: tuple[int, int, int] | None = None, batch: int = 1, dtype: str = "float32") -> Key:
        arch = get(name)
        return (arch.name, input_size or arch.input_size, batch, dtype)

    def peek(self, key: Key) -> Analysis | None:
        """The cached analysis for ``key``, without computing it (never blocks on one)."""
        with self._entries_lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def get(self, key: Key) -> Analysis:
        """The analysis for ``key``, computed on first use (raises UsageError on bad input)."""
        with self._analysis_lock:
            found = self.peek(key)
            if found is None:
                found = analyze(*key)
                with self._entries_lock:
                    self._entries[key] = found
                    while len(self._entries) > self.capacity:
                        self._entries.popitem(last=False)
            return found
