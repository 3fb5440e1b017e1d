"""Diff speed: analyse, align and render the two largest ResNets, against the analysis of
the two models alone (the baseline), medians over a few runs in one process.

    python bench/bench_diff.py [--repeats 5] [--left resnet152] [--right wide_resnet101_2]

Goal (issue 4): the diff of resnet152 and wide_resnet101_2 computes and renders without
a visible stall. The ratio says what aligning and rendering add on top of the analyses;
the last figure is the time to open the app's diff screen once the diff exists.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import time

from rich.console import Console
from timing import median_seconds

from cnnexplorer.analysis import AnalysisRequest, analyze
from cnnexplorer.diff import diff_analyses
from cnnexplorer.render.diff import render


def _screen_seconds(diff, repeats: int) -> float:
    """Median time to open the app's diff screen (mount, fill both panes, first paint), headless."""
    from textual.app import App

    from cnnexplorer.app.screens.diff_screen import DiffScreen

    async def once() -> float:
        app = App()
        async with app.run_test(size=(130, 40)) as pilot:
            start = time.perf_counter()
            await app.push_screen(DiffScreen(diff))
            await pilot.pause()
            return time.perf_counter() - start

    return statistics.median(asyncio.run(once()) for _ in range(repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--left", default="resnet152")
    parser.add_argument("--right", default="wide_resnet101_2")
    args = parser.parse_args()

    def analyses():
        return analyze(AnalysisRequest.of(args.left)), analyze(AnalysisRequest.of(args.right))

    def full_diff(fmt: str) -> None:
        left, right = analyses()
        render(diff_analyses(left, right), fmt, None, False, Console(file=io.StringIO(), width=80))

    left, right = analyses()  # warm-up: imports, torchvision builders
    full_diff("table")
    baseline = median_seconds(analyses, args.repeats)
    align = median_seconds(lambda: diff_analyses(left, right), args.repeats)
    table = median_seconds(lambda: full_diff("table"), args.repeats)
    as_json = median_seconds(lambda: full_diff("json"), args.repeats)
    screen = _screen_seconds(diff_analyses(left, right), args.repeats)
    rows = len(diff_analyses(left, right).rows)
    print(f"{args.left} vs {args.right}: {rows} aligned rows, median of {args.repeats} runs")
    print(f"  analyse both (baseline)          {baseline * 1000:7.0f} ms")
    print(f"  align only                       {align * 1000:7.0f} ms")
    print(f"  analyse + align + render table   {table * 1000:7.0f} ms  ({table / baseline:.2f}x baseline)")
    print(f"  analyse + align + render json    {as_json * 1000:7.0f} ms  ({as_json / baseline:.2f}x baseline)")
    print(f"  open the app's diff screen       {screen * 1000:7.0f} ms  (headless, 130x40, from the diff)")


if __name__ == "__main__":
    main()
