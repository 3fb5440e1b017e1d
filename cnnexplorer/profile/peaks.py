"""A device's peaks, measured: dense GEMM FLOP/s at a dtype and copy bandwidth, kept in the
disk cache (kind ``peaks``) per device, device name, dtype, torch version and CPU threads."""

from __future__ import annotations

import datetime
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from cnnexplorer import disk_cache
from cnnexplorer.profile.results import Peaks

KIND = "peaks"
REPEATS = 5


@dataclass
class _StoredPeaks:
    flops_per_s: float
    bytes_per_s: float
    measured_at: str


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's model name (from /proc/cpuinfo where there is one)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine() or "cpu"


def cache_key(device: torch.device, name: str, dtype: torch.dtype) -> dict:
    return {
        "device": str(device),
        "device_name": name,
        "dtype": str(dtype).removeprefix("torch."),
        "torch": torch.__version__,
        "threads": torch.get_num_threads() if device.type == "cpu" else 0,
    }


def device_peaks(
    device: torch.device, dtype: torch.dtype, remeasure: bool = False, progress: Callable[[str], None] = print
) -> Peaks:
    """The peaks of ``device`` at ``dtype``: from the cache unless ``remeasure`` (or absent,
    damaged, not finite and positive), else measured now and stored."""
    name = device_name(device)
    key = cache_key(device, name, dtype)
    stored = None if remeasure else disk_cache.load(KIND, key, _StoredPeaks)
    if stored is not None and all(math.isfinite(v) and v > 0 for v in (stored.flops_per_s, stored.bytes_per_s)):
        return Peaks(str(device), name, key["dtype"], stored.flops_per_s, stored.bytes_per_s, stored.measured_at, True)
    progress(f"measuring {name}'s peaks at {key['dtype']}: a large GEMM and a large copy")
    flops = gemm_flops_per_s(device, dtype)
    bandwidth = copy_bytes_per_s(device)
    measured_at = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    disk_cache.save(KIND, key, {"flops_per_s": flops, "bytes_per_s": bandwidth, "measured_at": measured_at})
    return Peaks(str(device), name, key["dtype"], flops, bandwidth, measured_at, False)


def gemm_flops_per_s(device: torch.device, dtype: torch.dtype, size: int | None = None) -> float:
    """The best of a few square matmuls of ``size`` (2 x size^3 FLOPs each) at ``dtype``."""
    size = size or (8192 if device.type == "cuda" else 1024)
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    seconds = _best_seconds(device, lambda: torch.mm(a, b))
    return 2 * size**3 / seconds


def copy_bytes_per_s(device: torch.device, nbytes: int | None = None) -> float:
    """The best of a few copies of a tensor far larger than the caches: bytes read + written / time."""
    nbytes = nbytes or (2**30 if device.type == "cuda" else 2**28)
    source = torch.ones(nbytes // 4, device=device)
    target = torch.empty_like(source)
    seconds = _best_seconds(device, lambda: target.copy_(source))
    return 2 * source.numel() * source.element_size() / seconds


def cpu_clock() -> Callable[[], float]:
    """The CPU's clock in seconds: with one torch thread that thread's CPU time (all the work
    runs on it, and other processes on a shared machine do not inflate it), else the wall clock."""
    return time.thread_time if torch.get_num_threads() == 1 else time.perf_counter


def _best_seconds(device: torch.device, work: Callable[[], object]) -> float:
    work()  # warm-up (library initialisation, allocation)
    best = math.inf
    for _ in range(REPEATS):
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            work()
            end.record()
            end.synchronize()
            best = min(best, start.elapsed_time(end) / 1e3)
        else:
            clock = cpu_clock()
            started = clock()
            work()
            best = min(best, clock() - started)
    return best
