import functools

import pytest

from cnnexplorer.analysis import analyze


@functools.lru_cache(maxsize=None)
def analysed(name: str, input_size: tuple[int, int, int] | None = None, batch: int = 1, dtype: str = "float32"):
    """Analyses are deterministic: share them across tests."""
    return analyze(name, input_size, batch, dtype)


@pytest.fixture
def analysis_of():
    return analysed
