"""Whole-process times of the command line, cold (empty analysis cache) and warm, next to
what torch alone costs. What a user feels: each run is a fresh process.

    python bench/bench_cli.py [--repeats N]

Prints, for ``list``, ``summary resnet50 --format json``, ``diff vgg16 vgg19`` and two
unknown names (``summary resnt50``, ``diff vgg16 vgg91``: an error with suggestions, exit 2),
the median wall time over N fresh processes with an empty cache folder each (cold) and with a
filled one (warm), and whether a warm run imported torch; then the baselines, also whole
processes: ``python -c "import torch, torchvision, torchinfo"``, torchinfo's default summary
(real weights, a real forward pass on the CPU) of the same models, and what the suggestions
once cost (importing torchvision for its list of models).
Goals, warm: list <= 0.5 s, summary <= 0.3 s, diff <= 0.4 s, an unknown name <= 0.3 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE_VARIABLE = "CNNEXPLORER_CACHE_DIR"  # cnnexplorer.disk_cache.CACHE_DIR_VARIABLE

COMMANDS = {  # label: arguments, goal (warm, seconds), exit status
    "list": (["list"], 0.5, 0),
    "summary resnet50 --format json": (["summary", "resnet50", "--format", "json"], 0.3, 0),
    "diff vgg16 vgg19": (["diff", "vgg16", "vgg19"], 0.4, 0),
    "summary resnt50 (unknown)": (["summary", "resnt50"], 0.3, 2),
    "diff vgg16 vgg91 (unknown)": (["diff", "vgg16", "vgg91"], 0.3, 2),
}

IMPORTS = "import torch, torchvision, torchinfo"
TORCHINFO = (
    "import torch, torchinfo, torchvision\n"
    "for name in {names!r}:\n"
    "    torchinfo.summary(torchvision.models.get_model(name), input_size=(1, 3, 224, 224))"
)
BASELINES = {
    IMPORTS: IMPORTS,
    "torchinfo.summary(resnet50)": TORCHINFO.format(names=["resnet50"]),
    "torchinfo.summary of vgg16 and vgg19": TORCHINFO.format(names=["vgg16", "vgg19"]),
    "torchvision's model names (old suggestions)": "from torchvision import models; models.list_models(module=models)",
}


def run_seconds(argv: list[str], cache: Path, status: int = 0) -> float:
    """Wall time of one fresh process (its output discarded) that exits with ``status``."""
    env = {**os.environ, CACHE_VARIABLE: str(cache), "COLUMNS": "120"}
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    if done.returncode != status:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}, not {status}")
    return seconds


def imports_torch(argv: list[str], cache: Path) -> bool:
    env = {**os.environ, CACHE_VARIABLE: str(cache)}
    report = subprocess.run(
        [sys.executable, "-X", "importtime", *argv[1:]], cwd=ROOT, env=env, capture_output=True, text=True
    ).stderr
    return any(line.rsplit("|", 1)[-1].strip() == "torch" for line in report.splitlines())


def cnnexplorer(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "cnnexplorer", *args]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="fresh processes per figure (default 5)")
    repeats = parser.parse_args().repeats

    with tempfile.TemporaryDirectory(prefix="bench-cli-") as scratch:
        scratch_dir = Path(scratch)
        print(f"whole process, median of {repeats} fresh processes; cold: an empty cache folder each")
        print(f"{'command':46} {'cold':>8} {'warm':>8}  goal (warm)")
        for label, (args, goal, status) in COMMANDS.items():
            argv = cnnexplorer(args)
            cold = [run_seconds(argv, scratch_dir / f"cold-{label}-{i}", status) for i in range(repeats)]
            warm_cache = scratch_dir / f"warm-{label}"
            run_seconds(argv, warm_cache, status)  # fills it
            warm = [run_seconds(argv, warm_cache, status) for _ in range(repeats)]
            torch = "imported" if imports_torch(argv, warm_cache) else "not imported"
            verdict = "met" if statistics.median(warm) <= goal else "MISSED"
            print(
                f"{'cnnexplorer ' + label:46} {statistics.median(cold):7.2f}s {statistics.median(warm):7.2f}s  "
                f"<= {goal} s {verdict}; warm: torch {torch}"
            )
        print("baselines:")
        for label, code in BASELINES.items():
            seconds = [run_seconds([sys.executable, "-c", code], scratch_dir / "unused") for _ in range(repeats)]
            print(f"{'  ' + label:46} {statistics.median(seconds):7.2f}s")


if __name__ == "__main__":
    main()
