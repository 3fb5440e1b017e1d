"""Validation of user-given input sizes, batch sizes and dtypes (torch-free)."""

from __future__ import annotations

import re

from cnnexplorer.errors import UsageError

DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}

_SIZE = re.compile(r"^\s*(\d+)\s*(?:[x×,]\s*(\d+)\s*)*$", re.IGNORECASE | re.ASCII)
_NUMBER = re.compile(r"\d+", re.ASCII)
INPUT_FORMS = "CxHxW (3x224x224) or S for 3xSxS (224)"


def parse_input(text: str) -> tuple[int, int, int]:
    """Parse ``CxHxW`` (``3x224x224``) or ``S`` (3xSxS). Two numbers are refused: ``3x224``
    could be channels and height as well as height and width."""
    if not _SIZE.match(text or ""):
        raise UsageError(f"malformed input size {text!r}: write {INPUT_FORMS}")
    digits = _NUMBER.findall(text)
    if len(digits) not in (1, 3):
        raise UsageError(f"input size {text[:40]!r} has {len(digits)} numbers: write {INPUT_FORMS}")
    if any(len(v) > 12 for v in digits):  # no tensor is that large; int() of 4,300+ digits even fails
        raise UsageError(f"input size {text[:40]!r} has a number too large: write {INPUT_FORMS}")
    values = [int(v) for v in digits]
    if len(values) == 1:
        values = [3, values[0], values[0]]
    return validate_input(tuple(values))  # type: ignore[arg-type]


def validate_input(size: tuple[int, ...]) -> tuple[int, int, int]:
    """Check that a (C, H, W) size has three positive entries."""
    if len(size) != 3 or any(not isinstance(v, int) or v < 1 for v in size):
        text = "x".join(str(v) for v in size)
        raise UsageError(f"invalid input size {text}: channels, height and width must be positive integers")
    return (size[0], size[1], size[2])


def validate_batch(batch: int) -> int:
    """Check that a batch size is a positive integer."""
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        raise UsageError(f"invalid batch size {batch!r}: it must be a positive integer")
    return batch


def validate_dtype(dtype: str) -> str:
    """Check that a dtype name is one the analysis knows."""
    if dtype not in DTYPE_BYTES:
        raise UsageError(f"unknown dtype {dtype!r}: use one of {', '.join(DTYPE_BYTES)}")
    return dtype
