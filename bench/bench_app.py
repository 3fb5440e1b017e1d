"""Responsiveness of the explorer app, driven headless with Textual's pilot.

    python bench/bench_app.py

Prints: time from process start to the first frame (torch not yet imported), to the first
analysed model, the latency of a switch to an analysed (cached) model next to the latency of a
key that does nothing (the pilot's own floor, measured in the same run), the key latency while
holding the down key over the zoo (analyses running in workers), the time to open the diff
screen for resnet152 vs wide_resnet101_2 (bench_diff's measurement), and, as the baseline, the
time the same first model takes to analyse in-process after torch has loaded.
Goals: first frame <= 0.5 s; a switch to a cached model <= 50 ms; diff screen <= 0.1 s; keys
never blocked.
"""

from __future__ import annotations

import time

START = time.perf_counter()

import asyncio  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402


async def main() -> None:
    from cnnexplorer.app import make_app
    from cnnexplorer.app.screens.explorer import ANALYSIS_DELAY

    app = make_app(zoo_stats=False)
    marks: dict[str, float] = {}

    async with app.run_test(size=(130, 40)) as pilot:
        marks["first frame"] = time.perf_counter() - START
        explorer = app.screen
        marks["engine loaded at first frame"] = float(explorer.cache is not None)
        while explorer.analysis is None:
            await asyncio.sleep(0.005)
        marks["first analysed model"] = time.perf_counter() - START

        # Analyse the neighbours once, then measure switching between cached analyses.
        for key in ("down", "up"):
            await pilot.press(key)
            while explorer.analysis is None or explorer.analysis.name != explorer.model_name:
                await asyncio.sleep(0.01)
            await pilot.pause()
        floor = []
        for _ in range(20):  # a key bound to nothing: what pilot.press + pause cost by themselves
            start = time.perf_counter()
            await pilot.press("f12")
            await pilot.pause()
            floor.append(time.perf_counter() - start)
        cached = []
        for key in ("down", "up") * 10:
            start = time.perf_counter()
            await pilot.press(key)
            await pilot.pause()
            cached.append(time.perf_counter() - start)
            assert explorer.analysis.name == explorer.model_name

        # Hold the down key over the zoo: analyses of new models run in workers meanwhile.
        held = []
        for _ in range(25):
            start = time.perf_counter()
            await pilot.press("down")
            held.append(time.perf_counter() - start)
        wait_start = time.perf_counter()
        while explorer.analysis.name != explorer.model_name:
            await asyncio.sleep(0.01)
        settle = time.perf_counter() - wait_start

    from cnnexplorer.analysis import AnalysisRequest, analyze

    sys.path.insert(0, str(Path(__file__).parent))
    from bench_diff import time_open_diff_screen

    diff_screen = time_open_diff_screen("resnet152", "wide_resnet101_2")
    start = time.perf_counter()
    analyze(AnalysisRequest.of("alexnet-2012"))
    baseline = time.perf_counter() - start

    print(
        f"first frame after process start:      {marks['first frame'] * 1000:7.0f} ms "
        f"(engine loaded by then: {'yes' if marks['engine loaded at first frame'] else 'no: it loads in a worker'})"
    )
    print(f"first analysed model (alexnet-2012):  {marks['first analysed model'] * 1000:7.0f} ms")
    print(f"baseline: analyse alexnet-2012 after import: {baseline * 1000:.0f} ms")
    switch, key_floor = statistics.median(cached), statistics.median(floor)
    print(
        f"switch to a cached model (key + repaint): median {switch * 1000:.1f} ms, "
        f"max {max(cached) * 1000:.1f} ms over {len(cached)}; a key bound to nothing: "
        f"{key_floor * 1000:.1f} ms, so the switch itself: {(switch - key_floor) * 1000:.1f} ms"
    )
    print(f"diff screen resnet152 vs wide_resnet101_2, push to first frame: {diff_screen * 1000:.0f} ms")
    print(
        f"key latency while holding down over the zoo: median {statistics.median(held) * 1000:.1f} ms, "
        f"max {max(held) * 1000:.1f} ms over {len(held)} presses; last result shown "
        f"{settle * 1000:.0f} ms after the last key (including the {ANALYSIS_DELAY * 1000:.0f} ms debounce)"
    )
    print(f"final model shown matches the cursor: {explorer.analysis.name == explorer.model_name}")


if __name__ == "__main__":
    asyncio.run(main())
