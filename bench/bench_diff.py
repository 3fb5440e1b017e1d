"""Diff speed: analyse, align and render the two largest ResNets, against the analysis of
the two models alone (the baseline), medians over a few runs in one process.

    python bench/bench_diff.py [--repeats 5] [--left resnet152] [--right wide_resnet101_2]

Goal (issue 4): the diff of resnet152 and wide_resnet101_2 computes and renders without
a visible stall. The ratio says what aligning and rendering add on top of the analyses.
Then the app's diff screen, once the diff exists: the time from push_screen to the first
painted frame with rows (goal <= 0.1 s), against the same screen filling the whole table
before its first frame (the previous approach); the time until every row is in; and the
longest the event loop stayed busy after the first frame (how long a key could wait).
`time_open_diff_screen(left, right)` gives the first figure to other scripts.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from rich.console import Console
from timing import median_seconds

from cnnexplorer.analysis import AnalysisRequest, analyze
from cnnexplorer.diff import diff_analyses
from cnnexplorer.render.diff import render

SIZE = (130, 40)


@dataclass
class ScreenTiming:
    """How one opening of the diff screen went, in seconds."""

    first_frame: float  # push_screen to the first painted frame that shows rows
    all_rows: float  # push_screen to the last row in the table
    longest_stall: float  # after the first frame, the longest the event loop stayed busy (a key waits that long)


async def _open(screen, size: tuple[int, int]) -> ScreenTiming:
    """Push ``screen`` on a bare headless app and time its first frame and its fill."""
    from textual.app import App

    app = App()
    async with app.run_test(size=size) as pilot:
        first: list[float] = []
        display = app._display  # the hook every painted frame goes through

        def spy(painted, update) -> None:
            if painted is screen and not first and screen.table.virtual_size.height > screen.table.header_height:
                first.append(time.perf_counter())
            display(painted, update)

        app._display = spy
        stalls = [0.0]

        async def tick() -> None:  # how late a 1 ms sleep wakes up: the loop was busy that long
            while True:
                before = time.perf_counter()
                await asyncio.sleep(0.001)
                if first:
                    stalls.append(time.perf_counter() - before - 0.001)

        ticker = asyncio.create_task(tick())
        start = time.perf_counter()
        await app.push_screen(screen)
        while not first or not screen.loaded:
            await asyncio.sleep(0.001)
        done = time.perf_counter()
        ticker.cancel()
        await pilot.pause()
        return ScreenTiming(first[0] - start, done - start, max(stalls))


def _run(coroutine) -> ScreenTiming:
    """Run ``coroutine`` to the end, in a thread of its own if an event loop is running here."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def open_diff_screen(diff, size: tuple[int, int] = SIZE, all_at_once: bool = False) -> ScreenTiming:
    """Open the app's diff screen on ``diff`` once, headless; ``all_at_once``: the baseline that
    fills the whole table before the first frame (the previous approach)."""
    from cnnexplorer.app.screens.diff_screen import DiffScreen

    class AllRowsAtOnce(DiffScreen):
        def _fill(self, cursor: int) -> None:
            super()._fill(cursor)
            self._load_to(len(self.rows))

    return _run(_open((AllRowsAtOnce if all_at_once else DiffScreen)(diff), size))


def time_open_diff_screen(left: str, right: str, repeats: int = 5) -> float:
    """Median seconds from push_screen to the first painted frame of the app's diff screen for
    two zoo models (analysed and aligned beforehand), headless at 130x40."""
    diff = diff_analyses(analyze(AnalysisRequest.of(left)), analyze(AnalysisRequest.of(right)))
    open_diff_screen(diff)  # warm-up: imports, CSS
    return statistics.median(open_diff_screen(diff).first_frame for _ in range(repeats))


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
    diff = diff_analyses(left, right)
    open_diff_screen(diff)  # warm-up: imports, CSS
    screens = [open_diff_screen(diff) for _ in range(args.repeats)]
    at_once = [open_diff_screen(diff, all_at_once=True) for _ in range(args.repeats)]
    rows = len(diff_analyses(left, right).rows)
    print(f"{args.left} vs {args.right}: {rows} aligned rows, median of {args.repeats} runs")
    print(f"  analyse both (baseline)          {baseline * 1000:7.0f} ms")
    print(f"  align only                       {align * 1000:7.0f} ms")
    print(f"  analyse + align + render table   {table * 1000:7.0f} ms  ({table / baseline:.2f}x baseline)")
    print(f"  analyse + align + render json    {as_json * 1000:7.0f} ms  ({as_json / baseline:.2f}x baseline)")
    first = statistics.median(timing.first_frame for timing in screens)
    baseline_first = statistics.median(timing.first_frame for timing in at_once)
    print(f"app's diff screen, headless {SIZE[0]}x{SIZE[1]}, from the diff (median of {args.repeats}):")
    print(
        f"  first frame with rows            {first * 1000:7.0f} ms  "
        f"({first / baseline_first:.2f}x the whole table at once: {baseline_first * 1000:.0f} ms)"
    )
    print(f"  all rows in the table            {statistics.median(t.all_rows for t in screens) * 1000:7.0f} ms")
    print(
        f"  longest stall after first frame  {statistics.median(t.longest_stall for t in screens) * 1000:7.0f} ms  "
        f"(whole table at once: {statistics.median(t.longest_stall for t in at_once) * 1000:.0f} ms)"
    )


if __name__ == "__main__":
    main()
