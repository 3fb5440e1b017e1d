"""Responsiveness of the explorer app, driven headless with Textual's pilot.

    python bench/bench_app.py

Prints: time from process start to the first frame (torch not yet imported), to the first
analysed model, the latency of a switch to an analysed (cached) model, the key latency while
holding the down key over the zoo (analyses running in workers), and, as the baseline, the time
the same first model takes to analyse in-process after torch has loaded.
Goals (issue 3): first frame <= 0.5 s; cached switch within one frame; keys never blocked.
"""

from __future__ import annotations

import time

START = time.perf_counter()

import asyncio  # noqa: E402
import statistics  # noqa: E402


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

    start = time.perf_counter()
    analyze(AnalysisRequest.of("alexnet-2012"))
    baseline = time.perf_counter() - start

    print(
        f"first frame after process start:      {marks['first frame'] * 1000:7.0f} ms "
        f"(engine loaded by then: {'yes' if marks['engine loaded at first frame'] else 'no: it loads in a worker'})"
    )
    print(f"first analysed model (alexnet-2012):  {marks['first analysed model'] * 1000:7.0f} ms")
    print(f"baseline: analyse alexnet-2012 after import: {baseline * 1000:.0f} ms")
    print(
        f"switch to a cached model (key + repaint): median {statistics.median(cached) * 1000:.1f} ms, "
        f"max {max(cached) * 1000:.1f} ms over {len(cached)}"
    )
    print(
        f"key latency while holding down over the zoo: median {statistics.median(held) * 1000:.1f} ms, "
        f"max {max(held) * 1000:.1f} ms over {len(held)} presses; last result shown "
        f"{settle * 1000:.0f} ms after the last key (including the {ANALYSIS_DELAY * 1000:.0f} ms debounce)"
    )
    print(f"final model shown matches the cursor: {explorer.analysis.name == explorer.model_name}")


if __name__ == "__main__":
    asyncio.run(main())
