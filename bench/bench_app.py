"""Responsiveness of the explorer app, driven headless with Textual's pilot.

    python bench/bench_app.py

Prints: time from process start to the first frame (torch not yet imported), to the first
analysed model, the latency of a switch to an analysed (cached) model next to the latency of a
key that does nothing (the pilot's own floor, measured in the same run), the key latency while
holding the down key over the zoo (analyses running in workers), the time to open the diff
screen for resnet152 vs wide_resnet101_2 (bench_diff's measurement), and, as the baseline, the
time the same first model takes to analyse in-process after torch has loaded. All of that on an
empty analysis cache (a temporary folder: the user's cache is neither read nor filled). Then,
on a warm cache (the zoo stored by `cnnexplorer list`), fresh processes of the app as a user
starts it (zoo pass on): the first analysed model and the whole zoo pane's figures, timed from
the process's launch, and whether torch had finished loading by then.
Goals: first frame <= 0.5 s; a switch to a cached model <= 50 ms; diff screen <= 0.1 s; keys
never blocked; first model on a warm cache <= 0.6 s after launch.
"""

from __future__ import annotations

import time

START = time.perf_counter()

import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

CACHE_VARIABLE = "CNNEXPLORER_CACHE_DIR"  # cnnexplorer.disk_cache.CACHE_DIR_VARIABLE
LAUNCHED_AT = "BENCH_APP_LAUNCHED_AT"  # wall-clock time the parent started a warm-cache run
WARM_RUNS = 5


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
    report_warm_launches()


def report_warm_launches() -> None:
    """Fill the cache with the zoo (``cnnexplorer list``), then time fresh app processes on it."""
    env = dict(os.environ)
    subprocess.run([sys.executable, "-m", "cnnexplorer", "list"], env=env, stdout=subprocess.DEVNULL, check=True)
    runs = []
    for _ in range(WARM_RUNS):
        env[LAUNCHED_AT] = repr(time.time())
        output = subprocess.run([sys.executable, __file__, "--warm"], env=env, capture_output=True, text=True)
        runs.append(json.loads(output.stdout.strip().splitlines()[-1]))
    first, zoo = (statistics.median(run[key] for run in runs) for key in ("first model", "zoo"))
    loading = sum(run["torch still loading"] for run in runs)
    print(
        f"warm cache, from launch (median of {WARM_RUNS} fresh processes, zoo pass on): first analysed model "
        f"{first * 1000:.0f} ms, all {runs[0]['zoo rows']} zoo rows {zoo * 1000:.0f} ms; torch still loading "
        f"when the model appeared in {loading} of {WARM_RUNS}"
    )


async def warm_launch() -> None:
    """One launch on a warm cache; prints its marks (seconds since the parent launched it) as JSON."""
    from cnnexplorer.app import make_app
    from cnnexplorer.zoo import ARCHITECTURES

    launched = float(os.environ[LAUNCHED_AT])
    app = make_app()
    async with app.run_test(size=(130, 40)):
        explorer = app.screen
        while explorer.analysis is None:
            await asyncio.sleep(0.002)
        first_model, torch_loading = time.time() - launched, not explorer.devices
        while len(explorer.zoo_rows) < len(ARCHITECTURES):
            await asyncio.sleep(0.002)
        zoo = time.time() - launched
    marks = {"first model": first_model, "zoo": zoo, "zoo rows": len(explorer.zoo_rows)}
    print(json.dumps({**marks, "torch still loading": torch_loading}))


if __name__ == "__main__":
    if "--warm" in sys.argv:
        asyncio.run(warm_launch())
    else:
        with tempfile.TemporaryDirectory(prefix="bench-app-cache-") as folder:
            os.environ[CACHE_VARIABLE] = folder  # an empty cache: the figures above are cold
            asyncio.run(main())
