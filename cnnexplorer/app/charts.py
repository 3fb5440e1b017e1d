"""Small chart helpers of the jobs screen: thinning, smoothing and sparklines of a run's curves."""

from __future__ import annotations

import math


def thin(points: list[tuple[int, float]], most: int = 600) -> list[tuple[int, float]]:
    """Every k-th point (and the last), so that a chart draws at most ``most`` of them."""
    if len(points) <= most:
        return points
    step = len(points) / (most - 1)
    return [points[int(i * step)] for i in range(most - 1)] + [points[-1]]


def smooth(values: list[float], weight: float = 0.9) -> list[float]:
    """Exponential moving average, debiased as TensorBoard does."""
    smoothed, average = [], 0.0
    for index, value in enumerate(values, start=1):
        average = weight * average + (1 - weight) * value
        smoothed.append(average / (1 - weight**index))
    return smoothed


_BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float], width: int = 16) -> str:
    """A one-line chart of the last values, resampled to ``width`` characters."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return ""
    if len(finite) > width:
        step = len(finite) / width
        finite = [finite[int(i * step)] for i in range(width - 1)] + [finite[-1]]
    low, high = min(finite), max(finite)
    scale = (len(_BLOCKS) - 1) / (high - low) if high > low else 0
    return "".join(_BLOCKS[int((v - low) * scale)] for v in finite)
