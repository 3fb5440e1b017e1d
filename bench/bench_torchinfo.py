"""`summary --format torchinfo` and the torchinfo column's cost: torchinfo's summary of a model
built as the engine builds it, on the meta device, against torchinfo's default use (real
weights initialised on the CPU, a real forward), and against the engine's own analysis.

    python bench/bench_torchinfo.py [--repeats 3] [--models resnet50,vgg16,densenet201,vit_b_16]

Per model, the median of ``--repeats`` runs after one warm-up (the disk cache off): the meta
run (build + ``torchinfo.summary``), the CPU run, and the engine's analysis (the baseline of
what a cold ``summary`` costs without torchinfo).
"""

from __future__ import annotations

import argparse
from functools import partial

from timing import median_seconds

from cnnexplorer import disk_cache
from cnnexplorer.analysis import AnalysisRequest, analyze
from cnnexplorer.analysis.torchinfo_view import run_torchinfo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", default="resnet50,vgg16,densenet201,vit_b_16")
    args = parser.parse_args()
    disk_cache.set_enabled(False)
    warm_up = AnalysisRequest.of("resnet18")
    analyze(warm_up), run_torchinfo(warm_up), run_torchinfo(warm_up, device="cpu")
    print(f"{'model':<14}{'meta':>9}{'CPU':>9}{'CPU/meta':>10}{'engine':>9}{'meta/engine':>13}")
    for name in args.models.split(","):
        request = AnalysisRequest.of(name)
        meta = median_seconds(partial(run_torchinfo, request), args.repeats)
        cpu = median_seconds(partial(run_torchinfo, request, device="cpu"), args.repeats)
        engine = median_seconds(partial(analyze, request), args.repeats)
        print(f"{name:<14}{meta:>8.3f}s{cpu:>8.3f}s{cpu / meta:>9.1f}x{engine:>8.3f}s{meta / engine:>12.2f}x")


if __name__ == "__main__":
    main()
