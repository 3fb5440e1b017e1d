"""Number formatting shared by the CLI and the app (torch-free)."""

from __future__ import annotations


def count(value: float) -> str:
    """A count with an SI suffix: 61.1M, 4.09G, 34.9K, 96."""
    for suffix, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}" if abs(value) < 100 * scale else f"{value / scale:.0f}{suffix}"
    return f"{value:.0f}"


def size(num_bytes: float) -> str:
    """Bytes in binary units: 1.11 MiB."""
    for suffix, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(num_bytes) >= scale:
            return f"{num_bytes / scale:.3g} {suffix}"
    return f"{num_bytes:.0f} B"


def dims(values: tuple[int, ...] | list[int]) -> str:
    """Sizes joined the way the CLI takes them: 3x224x224."""
    return "x".join(str(value) for value in values)


def shape(sizes: tuple[int, ...] | None, batch: bool = False) -> str:
    """A tensor shape without its batch dimension (unless ``batch``): 96x55x55."""
    if not sizes:
        return "-"
    return dims(sizes if batch else sizes[1:])


def percent(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def signed(value: float, formatter=count) -> str:  # noqa: ANN001
    """A delta with its sign: +2.1M, -96, 0."""
    if value == 0:
        return "0"
    return ("+" if value > 0 else "-") + formatter(abs(value))
