"""A real full disk for the tests: a tmpfs of a few kilobytes mounted on a test's folder (as
root; the tests that need it are skipped elsewhere). Writes there fail with ENOSPC from the
kernel, as on a full disk, whichever layer writes (Python, torch's serializer). Without root,
a child process with a file-size limit (RLIMIT_FSIZE) gets EFBIG from the kernel the same way."""

from __future__ import annotations

import contextlib
import resource
import subprocess
from collections.abc import Callable, Iterator
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


def file_size_limit(size: int) -> Callable[[], None]:
    """A ``preexec_fn`` for :mod:`subprocess`: the child's writes past ``size`` bytes of any file
    fail with EFBIG (Python ignores the SIGXFSZ that comes with it)."""
    hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
    if hard != resource.RLIM_INFINITY and hard < size:
        pytest.skip(f"the file-size limit here is already {hard} bytes")
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))
