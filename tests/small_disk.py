"""A real full disk for the tests: a tmpfs of a few kilobytes mounted on a test's folder (as
root; the tests that need it are skipped elsewhere). Writes there fail with ENOSPC from the
kernel, as on a full disk, whichever layer writes (Python, torch's serializer)."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def small_disk(folder: Path, size: str = "64k") -> Iterator[Path]:
    """``folder`` as a tmpfs of ``size`` bytes for the block; skips the test where it cannot mount."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True, check=False
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (root needed): {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
