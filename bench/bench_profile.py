"""``cnnexplorer profile`` measured: the hooks' overhead, the coverage, and models side by side.

    python bench/bench_profile.py [--models resnet18,vgg16,densenet121] [--device cpu]
        [--batch 1] [--input 3x224x224] [--precision auto] [--mode inference] [--steps 5]
        [--threads 1] [--layers] [--remeasure-peaks] [--out DIR]

For each model (random weights), one profile run: the whole forward without hooks and with
the timing hooks, steps alternating, medians (overhead = with / without - 1); the coverage
(the leaves' forward times summed / the whole forward without hooks); throughput; and the
achieved GMAC/s (the engine's MACs / the measured step; FLOPs = 2 x MACs) against the
device's measured GEMM peak. Ratios are against the first model, measured in the same
process. --layers prints each model's three costliest layers too.

Goal (issue 23): hooks overhead within a few percent of the step and coverage within 15% of
1 on the CPU; the achieved-speed spread across models (timm's RTX 4090 figures: resnet50
17.7, vgg16 34.6, densenet121 10.4 TMAC/s) visible per layer.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from rich.console import Console

from cnnexplorer.analysis.inputs import parse_input
from cnnexplorer.profile.measure import ProfileRequest, profile_model
from cnnexplorer.profile.render import render
from cnnexplorer.profile.results import to_json


def write_profile(profile, stem: Path) -> None:
    """The profile's table (as `cnnexplorer profile` prints it, 120 columns) and JSON document."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    with open(stem.with_suffix(".txt"), "w") as table:
        render(profile, "table", Console(file=table, width=120, highlight=False))
    stem.with_suffix(".json").write_text(json.dumps(to_json(profile), indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="resnet18,vgg16,densenet121")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--input", default="3x224x224")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--mode", default="inference", choices=("inference", "training"))
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    parser.add_argument("--layers", action="store_true", help="each model's three costliest layers too")
    parser.add_argument("--remeasure-peaks", action="store_true", help="measure the device's peaks again")
    parser.add_argument("--out", metavar="DIR", help="write each model's table (.txt) and JSON document here")
    args = parser.parse_args()
    if args.device == "cpu":
        torch.set_num_threads(args.threads)
    input_size = parse_input(args.input)
    rows = []
    for name in args.models.split(","):
        request = ProfileRequest(
            name,
            input_size,
            args.batch,
            args.device,
            args.precision,
            args.channels_last,
            args.mode,
            args.steps,
            remeasure_peaks=args.remeasure_peaks and not rows,
        )
        profile = profile_model(request, progress=lambda line: print(line, file=sys.stderr, flush=True))
        rows.append(profile)
        if args.out:
            write_profile(profile, Path(args.out) / f"profile_{name}_{args.mode}")
        if args.layers:
            for line in profile.lessons()[1:3]:
                print(f"  {name}: {line}")
    peaks = rows[0].peaks
    print(
        f"{args.device} ({peaks.device_name}), {rows[0].precision}{' autocast' if rows[0].autocast else ''}, "
        f"{args.mode}, batch {args.batch} of {args.input}, {args.steps} steps"
        + (f", {torch.get_num_threads()} CPU thread(s), timed with {rows[0].clock}" if args.device == "cpu" else "")
    )
    print(
        f"peaks: {peaks.flops_per_s / 1e9:,.1f} GFLOP/s GEMM, {peaks.bytes_per_s / 1e9:,.1f} GB/s copy "
        f"({'reused from ' + peaks.measured_at if peaks.reused else 'measured now'})"
    )
    print(
        f"{'model':<12} {'step ms':>9} {'fwd ms':>9} {'hooked ms':>9} {'overhead':>8} {'coverage':>8} {'img/s':>9} "
        f"{'GMAC/s':>9} {'% peak':>6} {'vs first':>8}"
    )
    first = None
    for profile in rows:
        macs = sum(layer.flops for layer in profile.layers) / 2 * (3 if profile.mode == "training" else 1)
        gmacs = macs / (profile.step_ms / 1e3) / 1e9
        first = first or gmacs
        print(
            f"{profile.model:<12} {profile.step_ms:>9.2f} {profile.forward_ms:>9.2f} "
            f"{profile.forward_ms_with_hooks:>9.2f} "
            f"{100 * profile.hooks_overhead:>+7.1f}% {profile.coverage:>8.3f} {profile.img_per_s:>9.1f} "
            f"{gmacs:>9.2f} {100 * 2 * gmacs * 1e9 / peaks.flops_per_s:>5.1f}% {gmacs / first:>7.2f}x"
        )
    if args.mode == "training":
        print("training: step = forward + backward; MACs counted as 3 x the forward's (backward = 2 x forward)")


if __name__ == "__main__":
    main()
