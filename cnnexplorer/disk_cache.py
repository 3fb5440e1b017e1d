"""The cache folder: small JSON documents kept between runs, keyed by what they depend on.

Where: ``$CNNEXPLORER_CACHE_DIR``, else ``$XDG_CACHE_HOME/cnnexplorer``, else
``~/.cache/cnnexplorer``. A document of kind ``K`` under key ``k`` (a JSON-able dict) is
the file ``K-<sha256 of k>.json``, and carries ``k`` itself under ``"cache"``, so that a
file is only ever read back for the key it was written for.

Writes go through :func:`cnnexplorer.runs.atomic.write_atomic` (a temporary file in the same
folder, fsync'd, renamed over the entry, the folder fsync'd): a reader, or a second process
writing the same entry, sees a whole document or none. Stored data is only ever data: a
document is read back as the type its reader declares (msgspec checks every value against
it; JSON's NaN, as torchvision publishes a missing accuracy, survives), and a file that is
missing, not a regular file, larger than :data:`MAX_ENTRY_BYTES`, unreadable, truncated,
nested too deep, of another shape or not for its key reads as absent; a folder that cannot
be written leaves the cache off, silently. Nothing here imports torch or the rest of the
package but that helper (the analysis store and the zoo's published figures both build on it).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import stat
from pathlib import Path
from typing import Any

import msgspec

from cnnexplorer.runs.atomic import write_atomic

CACHE_DIR_VARIABLE = "CNNEXPLORER_CACHE_DIR"
_TEMPORARY_SUFFIX = ".tmp"
# Entries and the temporary files of a killed writer; nothing else in the folder is ours.
_OURS = re.compile(r"^\.?[a-z]+-[0-9a-f]{64}(\.json|\..+\.tmp)$")
# Far above any analysis (densenet201: 0.4 MB; efficientnet_b7, among the largest: 0.6 MB).
MAX_ENTRY_BYTES = 64 * 2**20

_enabled = True


def cache_dir() -> Path:
    """The cache folder (it may not exist yet)."""
    override = os.environ.get(CACHE_DIR_VARIABLE)
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "cnnexplorer"


def set_enabled(enabled: bool) -> None:
    """Turn the cache on or off for this process (``--no-cache``): off, nothing is read or written."""
    global _enabled
    _enabled = enabled


def is_enabled() -> bool:
    return _enabled


@functools.cache
def package_version(name: str) -> str | None:
    """An installed package's version from its metadata, without importing it (None: absent)."""
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def entry_path(kind: str, key: dict[str, Any]) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
    return cache_dir() / f"{kind}-{digest}.json"


def load(kind: str, key: dict[str, Any], type: Any = dict[str, Any]) -> Any:
    """The document stored for ``key``, converted to ``type`` by msgspec (a dataclass takes
    its fields from the document's keys, other keys ignored); None where it is absent,
    damaged, of another shape, for another key, or the cache is off."""
    if not _enabled:
        return None
    data = _read_entry(entry_path(kind, key))
    if data is None:
        return None
    try:
        document = json.loads(data)
        if not isinstance(document, dict) or document.get("cache") != {"key": key}:
            return None
        return msgspec.convert(document, type=type)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python recurses
        return None


def _read_entry(path: Path) -> bytes | None:
    """The bytes of a regular file of at most MAX_ENTRY_BYTES; None for anything else (a FIFO
    is opened without blocking and never read)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        with os.fdopen(descriptor, "rb") as stream:
            status = os.fstat(stream.fileno())
            if not stat.S_ISREG(status.st_mode) or status.st_size > MAX_ENTRY_BYTES:
                return None
            data = stream.read(MAX_ENTRY_BYTES + 1)
    except OSError:
        return None
    return data if len(data) <= MAX_ENTRY_BYTES else None


def save(kind: str, key: dict[str, Any], document: dict[str, Any]) -> bool:
    """Store ``document`` (builtins and dataclasses, as msgspec turns them into JSON values; a
    ``"cache"`` entry holding the key is added) atomically; False where the cache is off or
    the folder cannot be written."""
    if not _enabled:
        return False
    path = entry_path(kind, key)
    try:
        values = msgspec.to_builtins({**document, "cache": {"key": key}})
        data = json.dumps(values, separators=(",", ":")).encode()
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data)
    except (OSError, TypeError, ValueError):
        return False
    return True


def files() -> list[Path]:
    """Every file of ours in the cache folder: entries, and temporary files a killed writer left."""
    try:
        return sorted(path for path in cache_dir().iterdir() if _OURS.match(path.name) and path.is_file())
    except OSError:
        return []


def usage() -> dict[str, tuple[int, int]]:
    """Entries and bytes on disk by kind (temporary files under ``"temporary"``)."""
    found: dict[str, tuple[int, int]] = {}
    for path in files():
        kind = "temporary" if path.name.endswith(_TEMPORARY_SUFFIX) else path.name.split("-", 1)[0]
        count, size = found.get(kind, (0, 0))
        found[kind] = (count + 1, size + _size_of(path))
    return found


def clear() -> tuple[int, int]:
    """Remove every file of ours; how many, and their bytes. Other files are left alone."""
    removed, freed = 0, 0
    for path in files():
        size = _size_of(path)
        try:
            path.unlink()
        except OSError:
            continue
        removed, freed = removed + 1, freed + size
    return removed, freed


def _size_of(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
