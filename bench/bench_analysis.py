"""Analysis speed and memory: cnnexplorer's meta-device engine against torchinfo's default
usage (real weights on the CPU, real forward pass), over the whole zoo, in one run.

    python bench/bench_analysis.py [--repeats 3] [--models resnet50,vgg16]
    python bench/bench_analysis.py --all    every torchvision classifier too (engine only)
    python bench/bench_analysis.py --shortcuts    the meta shortcuts on and off, slow models
    python bench/bench_analysis.py --dataflow    the dataflow recorded and not, and the cache entries' size

Per model: the engine cold (its first analysis in this process, after one warm-up analysis
of another model for the lazy imports) and the median of ``--repeats`` more, both without
the disk cache (the engine itself is called); torchinfo's default once. Each model's cold run
starts after a garbage collection: a collection owed to the models before it (0.1-0.3 s of
scanning every object the process holds) is not its cost.

Goals (issues 2 and 12): each model <= 150 ms cold; the zoo >= 10x faster than the
baseline; peak memory of the engine's pass over the zoo <= 500 MB. Issue 22: the analysis at
most 10% slower with the dataflow recorded, and cache entries at most 25% bigger.
"""

from __future__ import annotations

import argparse
import gc
import resource
import statistics

import torch
import torchinfo
import torchvision  # noqa: F401  (imported here, not by the first torchvision model's analysis)
from timing import median_seconds

from cnnexplorer import zoo
from cnnexplorer.analysis import AnalysisRequest, analyze
from cnnexplorer.analysis.dataflow import Dataflow


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def torchinfo_default(arch: zoo.Architecture) -> None:
    """torchinfo as its README shows it: real weights initialised on the CPU, a real forward."""
    model = arch.build()
    torchinfo.summary(model, input_size=(1, *arch.input_size), verbose=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", help="comma-separated names (default: the whole zoo)")
    parser.add_argument(
        "--all",
        action="store_true",
        help="the zoo and every other torchvision classifier, engine only",
    )
    parser.add_argument(
        "--shortcuts",
        action="store_true",
        help="the engine with its meta shortcuts (rules and recipes) on and off, in turn, on six slow models",
    )
    parser.add_argument(
        "--dataflow",
        action="store_true",
        help="the engine with the dataflow recorded and not, alternately, over the zoo; and each cache entry's size",
    )
    args = parser.parse_args()
    torch.set_num_threads(2)
    if args.dataflow:
        return dataflow_on_and_off(args.repeats, args.models)
    if args.shortcuts:
        return shortcuts_on_and_off(args.repeats)
    if args.all:
        return engine_over_everything(args.repeats)
    archs = [zoo.get(n) for n in args.models.split(",")] if args.models else list(zoo.ARCHITECTURES)

    print(f"torch {torch.__version__}, torchinfo {torchinfo.__version__}, {torch.get_num_threads()} threads")
    rss_import = _peak_rss_mb()
    print(f"peak RSS after importing torch, torchvision and torchinfo: {rss_import:.0f} MB")
    analyze(
        AnalysisRequest.of("resnet20")
    )  # warm-up: first-call costs (lazy imports, kernel registration) are not per model
    cold, ours = {}, {}
    for arch in archs:
        request = AnalysisRequest.of(arch.name)
        gc.collect()
        cold[arch.name] = median_seconds(lambda request=request: analyze(request), 1)
        ours[arch.name] = median_seconds(lambda request=request: analyze(request), args.repeats)
    peak_ours = _peak_rss_mb()

    torchinfo_default(zoo.get("resnet20"))  # the same warm-up for the baseline
    baseline = {arch.name: median_seconds(lambda arch=arch: torchinfo_default(arch), 1) for arch in archs}

    print(f"\n{'model':18s} {'cold ms':>8s} {'median ms':>10s} {'torchinfo ms':>13s} {'ratio':>7s}")
    for arch in archs:
        a, m, b = cold[arch.name] * 1000, ours[arch.name] * 1000, baseline[arch.name] * 1000
        flag = "" if a <= 150 else "  (over 150 ms cold)"
        print(f"{arch.name:18s} {a:8.0f} {m:10.0f} {b:13.0f} {b / a:6.1f}x{flag}")
    total_cold, total_ours, total_base = sum(cold.values()), sum(ours.values()), sum(baseline.values())
    over = [n for n, t in cold.items() if t > 0.150]
    print(
        f"\nzoo: engine cold {total_cold:.2f} s (slowest {max(cold.values()) * 1000:.0f} ms), median runs "
        f"{total_ours:.2f} s; torchinfo default {total_base:.2f} s; ratio {total_base / total_cold:.1f}x cold, "
        f"{total_base / total_ours:.1f}x median"
    )
    print(f"models over 150 ms cold: {len(over)} of {len(archs)}: {', '.join(over) or 'none'}")
    print(
        f"peak RSS after the engine's pass over the zoo: {peak_ours:.0f} MB "
        f"(+{peak_ours - rss_import:.0f} MB over the import); after the baseline (real weights): {_peak_rss_mb():.0f} "
        "MB"
    )


def engine_over_everything(repeats: int) -> None:
    """Each model's first analysis in this process (cold: its build and pass, imports done) and
    the median of ``repeats`` more, for the zoo and every other torchvision classifier. The
    torchinfo baseline is left out: real weights for ViT-H/14 at 518x518 take minutes and GBs."""
    import warnings

    warnings.simplefilter("ignore")  # inception_v3's note about its weight initialisation
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; engine only, goal <= 150 ms cold")
    analyze(AnalysisRequest.of("resnet20"))  # warm-up: lazy imports and kernel registration are not per model
    print(f"\n{'model':22s} {'input':>8s} {'cold ms':>8s} {'median ms':>10s}")
    cold: dict[str, float] = {}
    for name in zoo.all_names():
        request = AnalysisRequest.of(name)
        gc.collect()
        cold[name] = median_seconds(lambda request=request: analyze(request), 1)
        warm = median_seconds(lambda request=request: analyze(request), repeats)
        flag = "" if cold[name] <= 0.150 else "  (over 150 ms)"
        size = "x".join(map(str, request.input_size[1:]))
        print(f"{name:22s} {size:>8s} {cold[name] * 1000:8.0f} {warm * 1000:10.0f}{flag}", flush=True)
    over = [name for name, seconds in cold.items() if seconds > 0.150]
    median = statistics.median(cold.values()) * 1000
    print(f"\n{len(cold)} models: cold median {median:.0f} ms, total {sum(cold.values()):.1f} s")
    print(f"models over 150 ms cold: {len(over)} of {len(cold)}: {', '.join(over) or 'none'}")
    print(f"peak RSS: {_peak_rss_mb():.0f} MB")


SLOW = ("swin_v2_b", "efficientnet_v2_l", "vit_l_16", "regnet_y_128gf", "maxvit_t", "convnext_large")


def shortcuts_on_and_off(repeats: int) -> None:
    """Each slow model analysed with the meta shortcuts off (every aten op runs its meta
    kernel) and on, alternately in one process, ``repeats`` rounds: the median of each and
    their ratio. Every analysis is a model's build and pass (recipes live for one pass)."""
    import os
    import warnings

    warnings.simplefilter("ignore")
    analyze(AnalysisRequest.of("resnet20"))  # warm-up
    times: dict[tuple[str, bool], list[float]] = {}
    for _ in range(repeats):
        for name in SLOW:
            for enabled in (False, True):
                os.environ["CNNEXPLORER_META_SHORTCUTS"] = "1" if enabled else "0"  # read by each pass
                request = AnalysisRequest.of(name)
                seconds = median_seconds(lambda request=request: analyze(request), 1)
                times.setdefault((name, enabled), []).append(seconds)
    del os.environ["CNNEXPLORER_META_SHORTCUTS"]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; median of {repeats}, shortcuts off and on")
    print(f"\n{'model':20s} {'off ms':>8s} {'on ms':>8s} {'ratio':>6s}")
    for name in SLOW:
        off, on = (statistics.median(times[(name, enabled)]) * 1000 for enabled in (False, True))
        print(f"{name:20s} {off:8.0f} {on:8.0f} {off / on:5.2f}x")


class _NoDataflow:
    """The engine's flow recorder doing nothing (no dispatch observer): the pass as it ran
    before the dataflow was recorded."""

    op = None

    def __init__(self, *args) -> None:
        pass

    def enter(self, *args) -> None:
        pass

    def leave(self, *args) -> None:
        pass

    def dataflow(self, output):
        return Dataflow([], [], ())


def dataflow_on_and_off(repeats: int, models: str | None) -> None:
    """Each model analysed with the dataflow not recorded and recorded, alternately in one
    process, ``repeats`` rounds (the fastest of each: a shared machine's noise only ever adds
    time; and their ratio); then each model's cache entry as
    the store writes it, with and without its dataflow (bytes of JSON)."""
    import dataclasses
    import json

    import msgspec

    from cnnexplorer.analysis import engine, store

    names = models.split(",") if models else [arch.name for arch in zoo.ARCHITECTURES]
    recorder = engine.FlowRecorder
    analyze(AnalysisRequest.of("resnet20"))  # warm-up
    times: dict[tuple[str, bool], list[float]] = {}
    for _ in range(repeats):
        for name in names:
            for recorded in (False, True):
                engine.FlowRecorder = recorder if recorded else _NoDataflow
                request = AnalysisRequest.of(name)
                gc.collect()
                times.setdefault((name, recorded), []).append(median_seconds(lambda r=request: analyze(r), 1))
    engine.FlowRecorder = recorder
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; fastest of {repeats}, dataflow off and on")
    print(f"\n{'model':20s} {'off ms':>8s} {'on ms':>8s} {'slower':>7s} {'entry KB':>9s} {'+dataflow':>10s}")
    total = {False: 0.0, True: 0.0}
    sizes = {False: 0, True: 0}
    for name in names:
        off, on = (min(times[(name, recorded)]) for recorded in (False, True))
        total[False] += off
        total[True] += on
        document = store._document(analyze(AnalysisRequest.of(name)))
        with_flow = len(json.dumps(msgspec.to_builtins(document), separators=(",", ":")))
        document["analysis"] = dataclasses.replace(document["analysis"], dataflow=None)
        without = len(json.dumps(msgspec.to_builtins(document), separators=(",", ":")))
        sizes[False] += without
        sizes[True] += with_flow
        print(
            f"{name:20s} {off * 1000:8.0f} {on * 1000:8.0f} {on / off - 1:+7.1%} {with_flow / 1024:9.1f} "
            f"{with_flow / without - 1:+10.1%}"
        )
    print(
        f"\nall {len(names)}: {total[False]:.2f} s off, {total[True]:.2f} s on "
        f"({total[True] / total[False] - 1:+.1%}); "
        f"cache entries {sizes[False] / 1024:.0f} KB without the dataflow, {sizes[True] / 1024:.0f} KB with "
        f"({sizes[True] / sizes[False] - 1:+.1%})"
    )


if __name__ == "__main__":
    main()
