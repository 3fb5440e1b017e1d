"""UI input latency of the jobs screen while a job streams events at a high rate.

    python bench/bench_jobs.py [--events 10000]

A child process replays N step events (then val and done) on its stdout as fast as it can;
the app reads them through the same Job reader as a real training run. Meanwhile the bench
presses keys on the jobs screen and times each one. The baseline is the same keys with no
job streaming, in the same run. Goal (issue 6): under 100 ms per key while streaming.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPLAY = """
import json, sys, time
n = int(sys.argv[1])
t = time.time()
def emit(**e):
    sys.stdout.write(json.dumps({"schema": 1, "time": t, **e}) + "\\n")
emit(event="start", command="train", model="resnet20", family="ResNet", config={"epochs": 1, "max_steps": None},
     params=0, macs=0, device="cpu", devices=["cpu"], world_size=1, dataset={}, steps_per_epoch=n,
     run_dir=None, resumed_from=None, start_epoch=1, start_step=0)
for step in range(1, n + 1):
    emit(event="step", epoch=1, step=step, epoch_step=step, steps_per_epoch=n, loss=2.3 / (1 + step / 1000),
         lr=0.1, img_per_s=1000.0, data_time=0.0)
emit(event="val", epoch=1, step=n, loss=1.0, top1=50.0, top5=90.0, images=100, best_top1=50.0)
emit(event="done", status="completed", summary={})
sys.stdout.flush()
"""


async def press_keys(pilot, count: int) -> list[float]:
    latencies = []
    for index in range(count):
        start = time.perf_counter()
        await pilot.press("down" if index % 2 == 0 else "up")
        latencies.append(time.perf_counter() - start)
    return latencies


async def main(events: int) -> None:
    from cnnexplorer.app import make_app
    from cnnexplorer.runs.jobs import Job
    from cnnexplorer.train.request import LaunchRequest

    class ScriptJob(Job):
        """A job of resnet20 whose child is a Python script (its events made up)."""

        def __init__(self, *script: str) -> None:
            super().__init__(LaunchRequest("train", "resnet20"))
            self.script = [sys.executable, "-c", *script]

        @property
        def argv(self) -> list[str]:
            return self.script

    with tempfile.TemporaryDirectory() as runs:
        app = make_app("resnet20", zoo_stats=False, runs_dir=Path(runs))
        async with app.run_test(size=(150, 44)) as pilot:
            while app.explorer.analysis is None:
                await asyncio.sleep(0.01)
            app.add_job(ScriptJob("pass"))
            app.add_job(ScriptJob("pass"))
            await pilot.pause()
            baseline = await press_keys(pilot, 40)

            job = ScriptJob(REPLAY, str(events))
            start = time.perf_counter()
            job.start()
            app.add_job(job)
            streaming = []
            while job.returncode is None:
                streaming += await press_keys(pilot, 10)
            elapsed = time.perf_counter() - start
            await pilot.pause(0.5)
            received = len(job.state.losses)

    def summary(values: list[float]) -> str:
        return (
            f"median {statistics.median(values) * 1000:.1f} ms, max {max(values) * 1000:.1f} ms over {len(values)} keys"
        )

    print(f"baseline (no job streaming): {summary(baseline)}")
    print(f"while streaming {events} step events: {summary(streaming)}")
    print(
        f"events received {received}/{events} in {elapsed:.2f} s ({received / elapsed:.0f} events/s); "
        f"status {job.state.status}"
    )
    print(
        "ratio of median key latency streaming/baseline: "
        f"{statistics.median(streaming) / statistics.median(baseline):.2f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000)
    asyncio.run(main(parser.parse_args().events))
