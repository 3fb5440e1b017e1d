"""Reading files that others may have planted or damaged: only regular files, opened without
blocking (a named pipe would hang the reader forever), of a bounded size, and JSON of a
bounded depth, decoded into a declared type. Whatever fails is an OSError (the file) or a
ValueError (its contents), in one line; nothing read is ever imported or resolved.
"""

from __future__ import annotations

import errno
import os
import stat
from itertools import accumulate
from pathlib import Path
from typing import IO, Any, TypeVar

import msgspec

MAX_JSON_BYTES = 1024 * 1024  # a run's config.json is about 1 kB
MAX_JSON_DEPTH = 32  # a run's config.json nests 2 deep

T = TypeVar("T")

_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")
_BRACKET_STEP = [{ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}.get(byte, 0) for byte in range(256)]


class NotRegularFileError(OSError):
    """A path that is a folder, a named pipe, a device or a socket where a file was expected."""


def open_regular(path: Path | str, append: bool = False) -> IO[bytes]:
    """Open ``path`` as a binary file, for reading (or for appending, created if missing),
    refusing anything but a regular file before a byte is read or written; raises OSError.
    Opening is non-blocking, so that a named pipe cannot hang the caller."""
    try:
        _check_regular(os.stat(path).st_mode, path)
    except FileNotFoundError:
        if not append:
            raise
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT if append else os.O_RDONLY
    descriptor = os.open(path, flags | getattr(os, "O_NONBLOCK", 0), 0o644)
    try:
        _check_regular(os.fstat(descriptor).st_mode, path)  # what was opened: it may have been swapped
        if hasattr(os, "set_blocking"):
            os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "ab" if append else "rb")
    except BaseException:
        os.close(descriptor)
        raise


def _check_regular(mode: int, path: Path | str) -> None:
    if not stat.S_ISREG(mode):
        raise NotRegularFileError(errno.EINVAL, "not a regular file", str(path))


def read_regular(path: Path | str, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; OSError for anything else."""
    with open_regular(path) as stream:
        if os.fstat(stream.fileno()).st_size > limit:
            raise OSError(errno.EFBIG, f"larger than {limit:,} bytes", str(path))
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"larger than {limit:,} bytes", str(path))
    return data


def nests_within(data: bytes, limit: int) -> bool:
    """Whether JSON ``data``'s arrays and objects nest at most ``limit`` deep, read without a
    parser, in time linear in its length (brackets inside strings count too: the bound errs
    on the safe side)."""
    steps = map(_BRACKET_STEP.__getitem__, data.translate(None, _NOT_BRACKETS))
    return max(accumulate(steps), default=0) <= limit


def decode_json(data: bytes, type: type[T], source: str = "the file") -> T:
    """``data`` as JSON of ``type``; ValueError (one line) when it is not JSON, nests deeper
    than MAX_JSON_DEPTH or is not of the type."""
    if not nests_within(data, MAX_JSON_DEPTH):
        raise ValueError(f"{source} nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        return msgspec.json.decode(data, type=type)
    except msgspec.ValidationError as error:
        raise ValueError(f"{source} is not as expected: {error}") from None
    except (msgspec.DecodeError, RecursionError) as error:
        raise ValueError(f"{source} is not JSON: {error}") from None


def read_json(path: Path | str, type: type[T] = Any, limit: int = MAX_JSON_BYTES) -> T:  # type: ignore[assignment]
    """A regular JSON file of at most ``limit`` bytes as ``type``; OSError or ValueError."""
    return decode_json(read_regular(path, limit), type, str(path))
