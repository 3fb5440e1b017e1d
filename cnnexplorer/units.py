"""Number formatting shared by the CLI and the app (torch-free)."""

from __future__ import annotations

from collections.abc import Callable

_SI = (("E", 1e18), ("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3))
_BINARY = (("EiB", 2**60), ("PiB", 2**50), ("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10))


def count(value: float) -> str:
    """A count with an SI suffix, at most four characters of digits: 61.1M, 4.09G, 34.9K, 96."""
    for suffix, scale in _SI:
        if abs(value) >= scale * 0.9995:  # 999.6K rounds to 1.00M, not 1000K
            return _three_digits(value / scale) + suffix
    if value != int(value) and abs(value) < 100:
        return _three_digits(value)
    return f"{value:.0f}"


def size(num_bytes: float) -> str:
    """Bytes in binary units: 1.11 MiB."""
    for suffix, scale in _BINARY:
        if abs(num_bytes) >= scale * 0.9995:
            return f"{_three_digits(num_bytes / scale)} {suffix}"
    return f"{num_bytes:.0f} B"


def _three_digits(value: float) -> str:
    """Three significant digits without an exponent: 4.09, 40.6, 118 (and 1.05e3 -> 1050)."""
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


def dims(values: tuple[int, ...] | list[int]) -> str:
    """Sizes joined the way the CLI takes them: 3x224x224."""
    return "x".join(str(value) for value in values)


def shape(sizes: tuple[int, ...] | None, batch: bool = False) -> str:
    """A tensor shape without its batch dimension (unless ``batch``): 96x55x55."""
    if not sizes:
        return "-"
    return dims(sizes if batch else sizes[1:])


def percent(part: float, whole: float) -> str:
    """A share in percent with one decimal; a non-zero share under 0.05% reads ``<0.1%``."""
    if not whole:
        return "-"
    share = 100 * part / whole
    return "<0.1%" if 0 < share < 0.05 else f"{share:.1f}%"


def signed(value: float, formatter: Callable[[float], str] = count) -> str:
    """A delta with its sign: +2.1M, -96, 0."""
    if value == 0:
        return "0"
    return ("+" if value > 0 else "-") + formatter(abs(value))


def duration(seconds: float | None) -> str:
    """Wall time: 45s, 3m07s, 2h05m, 1d03h; ``-`` when unknown."""
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours >= 24:
        return f"{hours // 24}d{hours % 24:02d}h"
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
