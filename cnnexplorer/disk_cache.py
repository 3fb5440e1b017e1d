"""The cache folder: small JSON documents kept between runs, keyed by what they depend on.

Where: ``$CNNEXPLORER_CACHE_DIR``, else ``$XDG_CACHE_HOME/cnnexplorer``, else
``~/.cache/cnnexplorer``. A document of kind ``K`` under key ``k`` (a JSON-able dict) is
the file ``K-<sha256 of k>.json``, laid out as ``{"key":k,"digest":"<hex>","document":...}``:
the digest is the sha256 of ``k`` and the document's bytes, so that a file is only ever read
back for the key it was written for, and whole, as it was written.

Writes go through :func:`cnnexplorer.runs.atomic.write_atomic` (a temporary file in the same
folder, fsync'd, renamed over the entry, the folder fsync'd): a reader, or a second process
writing the same entry, sees a whole document or none. Stored data is only ever data: a
document is read back as the type its reader declares (msgspec checks every value against
it; JSON's NaN, as torchvision publishes a missing accuracy, survives), and a file that is
missing, not a regular file, larger than :data:`MAX_ENTRY_BYTES`, unreadable, not of the
layout above, not matching its digest, nested deeper than :data:`MAX_DEPTH` (checked before
a parser sees it) or of another shape reads as absent; a folder that cannot be written leaves
the cache off, silently. The digest tells a damaged, edited or misplaced file from a good one;
it is no signature (whoever can write the folder can compute one), which is why nothing
stored is ever resolved, imported or run. Files are read, and nesting bounded, by
:mod:`cnnexplorer.runs.safe_read`, as the run files are. Nothing here imports torch or the rest
of the package but those two helpers (the analysis store and the zoo's published figures both
build on it).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import msgspec

from cnnexplorer.runs.atomic import write_atomic
from cnnexplorer.runs.safe_read import nests_within, read_regular

CACHE_DIR_VARIABLE = "CNNEXPLORER_CACHE_DIR"
_TEMPORARY_SUFFIX = ".tmp"
# Entries and the temporary files of a killed writer; nothing else in the folder is ours.
_OURS = re.compile(r"^\.?[a-z]+-[0-9a-f]{64}(\.json|\..+\.tmp)$")
# Far above any analysis (densenet201: 0.4 MB; efficientnet_b7, among the largest: 0.6 MB).
MAX_ENTRY_BYTES = 64 * 2**20
# Far above any analysis (maxvit_t's nests 23 deep) and far below what a parser recurses to.
MAX_DEPTH = 100

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
    document = _document_bytes(data, key) if data is not None else None
    if document is None or not nests_within(document, MAX_DEPTH):
        return None
    try:
        return msgspec.convert(json.loads(document), type=type)
    except (ValueError, RecursionError):  # msgspec.ValidationError is a ValueError
        return None


def _key_bytes(key: dict[str, Any]) -> bytes:
    return json.dumps(key, sort_keys=True, separators=(",", ":")).encode()


def _digest(key: dict[str, Any], document: bytes) -> bytes:
    return hashlib.sha256(_key_bytes(key) + b"\n" + document).hexdigest().encode()


def _entry_bytes(key: dict[str, Any], document: bytes) -> bytes:
    return b'{"key":' + _key_bytes(key) + b',"digest":"' + _digest(key, document) + b'","document":' + document + b"}"


def _document_bytes(data: bytes, key: dict[str, Any]) -> bytes | None:
    """The document's bytes of an entry laid out by :func:`_entry_bytes` for ``key`` and
    matching its digest; None for anything else."""
    head = b'{"key":' + _key_bytes(key) + b',"digest":"'
    start = len(head) + 64 + len(b'","document":')
    if not (data.startswith(head) and data[len(head) + 64 : start] == b'","document":' and data.endswith(b"}")):
        return None
    document = data[start:-1]
    return document if data[len(head) : len(head) + 64] == _digest(key, document) else None


def _read_entry(path: Path) -> bytes | None:
    """The bytes of a regular file of at most MAX_ENTRY_BYTES; None for anything else (a FIFO
    is opened without blocking and never read)."""
    try:
        return read_regular(path, MAX_ENTRY_BYTES)
    except OSError:
        return None


def save(kind: str, key: dict[str, Any], document: dict[str, Any]) -> bool:
    """Store ``document`` (builtins and dataclasses, as msgspec turns them into JSON values)
    for ``key`` atomically; False where the cache is off or the folder cannot be written."""
    if not _enabled:
        return False
    path = entry_path(kind, key)
    try:
        data = json.dumps(msgspec.to_builtins(document), separators=(",", ":")).encode()
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, _entry_bytes(key, data))
    except (OSError, TypeError, ValueError):
        return False
    return True


def files() -> list[Path]:
    """Every file of ours in the cache folder: entries (whatever they have become: a pipe or a
    link at an entry's name too), and temporary files a killed writer left."""
    try:
        return _our_files()
    except OSError:
        return []


def _our_files() -> list[Path]:
    """:func:`files`, raising OSError where the folder cannot be read (none yet: no files)."""
    try:
        found = list(cache_dir().iterdir())
    except (FileNotFoundError, NotADirectoryError):  # no folder, so none of ours
        return []
    return sorted(path for path in found if _OURS.match(path.name) and not path.is_dir())


def usage() -> dict[str, tuple[int, int]]:
    """Entries and bytes on disk by kind (temporary files under ``"temporary"``)."""
    found: dict[str, tuple[int, int]] = {}
    for path in files():
        kind = "temporary" if path.name.endswith(_TEMPORARY_SUFFIX) else path.name.split("-", 1)[0]
        count, size = found.get(kind, (0, 0))
        found[kind] = (count + 1, size + _size_of(path))
    return found


def clear() -> tuple[int, int, list[OSError]]:
    """Remove every file of ours: how many were removed, their bytes, and the error of each
    one that could not be (or the folder's, where it could not be read). Other files are left alone."""
    removed, freed, failures = 0, 0, []
    try:
        paths = _our_files()
    except OSError as error:
        return 0, 0, [error]
    for path in paths:
        size = _size_of(path)
        try:
            path.unlink()
        except FileNotFoundError:  # another process cleared it first
            continue
        except OSError as error:
            failures.append(error)
            continue
        removed, freed = removed + 1, freed + size
    return removed, freed, failures


def _size_of(path: Path) -> int:
    try:
        return path.lstat().st_size
    except OSError:
        return 0
