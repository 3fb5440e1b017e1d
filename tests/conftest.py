import atexit
import functools
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import pytest
import pytest_textual_snapshot

from cnnexplorer.analysis import AnalysisRequest, analyze

# The disk cache (cnnexplorer.disk_cache): one empty folder for the whole session, inherited
# by every subprocess, so that tests never read or fill the user's cache nor see an entry
# left by another run.
CACHE_DIR = tempfile.mkdtemp(prefix="cnnexplorer-test-cache-")
os.environ["CNNEXPLORER_CACHE_DIR"] = CACHE_DIR
atexit.register(shutil.rmtree, CACHE_DIR, ignore_errors=True)


@functools.cache
def analysed(name: str, input_size: tuple[int, int, int] | None = None, batch: int = 1, dtype: str = "float32"):
    """Analyses are deterministic: share them across tests."""
    return analyze(AnalysisRequest.of(name, input_size, batch, dtype))


@pytest.fixture
def analysis_of():
    return analysed


# Snapshots live in the top-level snapshots/ folder, one sub-folder per test module.
SNAPSHOTS = pathlib.Path(__file__).resolve().parent.parent / "snapshots"


class TopLevelSVGExtension(pytest_textual_snapshot.SVGImageExtension):
    @classmethod
    def dirname(cls, *, test_location) -> str:
        return str(SNAPSHOTS / test_location.basename)


pytest_textual_snapshot.SVGImageExtension = TopLevelSVGExtension


@pytest.fixture(scope="session")
def shared_cache():
    """One analysis cache for every app a test starts (analyses are deterministic)."""
    from cnnexplorer.analysis.cache import AnalysisCache

    return AnalysisCache(capacity=256)


async def settle(pilot) -> None:
    """Wait until every worker (and every worker they start) has finished and painted."""
    for _ in range(200):
        await pilot.pause()
        if not pilot.app.explorer.is_busy and not any(w.is_running for w in pilot.app.workers):
            break
        await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.05)
    await pilot.pause()


async def wait_for_screen(pilot, screen_type) -> None:
    """Wait (up to 5 s) until the screen in front is a ``screen_type``, e.g. after a worker opens it."""
    for _ in range(100):
        await pilot.pause(0.05)
        if isinstance(pilot.app.screen, screen_type):
            return


def run_cli(*args: str, env: dict | None = None):
    """``python -m cnnexplorer ARGS`` as a user runs it, in an 80-column terminal."""
    environment = {**os.environ, "COLUMNS": "80", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "cnnexplorer", *args], capture_output=True, text=True, env=environment, timeout=300
    )


def assert_usage_error(result, needle: str) -> None:
    """Bad input: exit code 2 and one line on stderr that says what was wrong, no traceback."""
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert needle in lines[0]
    assert "Traceback" not in result.stderr
