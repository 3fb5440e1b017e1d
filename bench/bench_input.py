"""Does the input pipeline keep up with the GPU? On an ImageNet-like folder of JPEGs made on the
fly (10,000 images around 500x375 by default), in one process and one run:

  loader alone    the train loader and its device step (decode, augment, normalise), no model
  real            cnnexplorer's training loop (train_epoch) on those JPEGs, two epochs
  synthetic       the same loop on --dataset fake (images made on the device)

and prints img/s of each, the ratio real / synthetic (goal >= 0.95 on a GPU) and the stall at
the epoch boundary: the first step of epoch 2 over the median step (goal < 1 step more).

    python bench/bench_input.py --device cuda --model resnet50,vgg16          # defaults: issue 14's
    python bench/bench_input.py --images 256 --size 160x120 --batch 32 --model resnet18 --device cpu \\
        --image-size 112 --workers 1                                           # a CPU smoke run

Rates are images over the summed step times after --warmup steps (data waits included).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from dataclasses import replace
from multiprocessing import Pool
from pathlib import Path

import torch
from speed_config import speed_run_config, speed_trainer

from cnnexplorer.runs.events import EventWriter
from cnnexplorer.runs.progress import SilentReporter
from cnnexplorer.train import gpu_input
from cnnexplorer.train.config import TrainConfig
from cnnexplorer.train.context import Position, Run
from cnnexplorer.train.devices import Placement
from cnnexplorer.train.failures import StopSignals
from cnnexplorer.train.stepping import train_epoch

CLASSES = 10


def _write_jpeg(job: tuple[Path, int, int, int, int]) -> None:
    """A photo-like image: smooth random colour fields (a small random grid scaled up), tinted
    by its class (so a model can learn the classes), plus grain, so the JPEG is of ImageNet's
    size (tens of KiB) and every decode does real work."""
    import numpy as np
    from PIL import Image

    path, width, height, seed, label = job
    rng = np.random.default_rng(seed)
    tint = np.random.default_rng(1000 + label).integers(0, 256, 3)
    grid = (rng.integers(0, 256, (6, 8, 3)) + tint) // 2
    coarse = Image.fromarray(grid.astype(np.uint8)).resize((width, height), Image.BICUBIC)
    pixels = np.asarray(coarse, dtype=np.int16) + rng.integers(-12, 13, (height, width, 3), dtype=np.int16)
    Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(path, quality=90)


def make_image_folder(root: Path, images: int, width: int, height: int, workers: int) -> Path:
    """root/train/<class>/*.jpg (``images`` files, sizes within 20% of width x height) and a
    small root/val (the loop's datasets need one)."""
    jobs = []
    for split, count in (("train", images), ("val", max(CLASSES, images // 50))):
        for index in range(count):
            folder = root / split / f"c{index % CLASSES}"
            folder.mkdir(parents=True, exist_ok=True)
            scale = 0.8 + 0.4 * ((index * 7919) % 1000) / 1000
            jobs.append(
                (folder / f"{index:06d}.jpg", round(width * scale), round(height * scale), index, index % CLASSES)
            )
    with Pool(max(1, workers)) as pool:
        pool.map(_write_jpeg, jobs, chunksize=64)
    return root


def bench_config(args: argparse.Namespace, model: str, dataset: str, folder: str | None, epochs: int) -> TrainConfig:
    return speed_run_config(
        model,
        dataset=dataset,
        data=folder,
        image_size=args.image_size,
        num_classes=CLASSES,
        epochs=epochs,
        batch_size=args.batch,
        precision=args.precision,
        channels_last=None,
        workers=args.workers,
        max_steps=None,
        fake_size=args.batch * (args.steps + WARMUP),
        decode=args.decode,
    )


class StepTimes(SilentReporter):
    """The wall time of each step (from the end of the previous one: data waits included)."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []
        self.images: list[int] = []
        self.last = time.perf_counter()

    def begin_epoch(self, *args) -> None:
        self.last = time.perf_counter()  # what came between epochs (nothing here) is not a step

    def step(self, stats, logged: bool) -> None:
        now = time.perf_counter()
        self.times.append(now - self.last)
        self.last = now


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_rates(
    config: TrainConfig, device: torch.device, epochs: int, max_steps: int | None
) -> tuple[float, float, str]:
    """(img/s over the steps after warm-up, epoch-2 first step / median step, the start note)."""
    config, trainer, notes = speed_trainer(replace(config, max_steps=max_steps), device)
    reporter = StepTimes()
    position = Position()
    per_epoch = []
    with StopSignals(reporter) as stop, EventWriter() as events:
        run = Run(config, Placement(device), trainer, events, reporter, stop)
        for epoch in range(1, epochs + 1):
            before = len(reporter.times)
            train_epoch(run, epoch, position)
            _sync(device)
            per_epoch.append(reporter.times[before:])
            position.epoch, position.epoch_step = epoch, 0
    timed = [t for t in per_epoch[0][WARMUP:]] + [t for e in per_epoch[1:] for t in e]
    rate = config.batch_size * len(timed) / sum(timed)
    stall = per_epoch[1][0] / statistics.median(timed) if epochs > 1 and per_epoch[1] else float("nan")
    return rate, stall, "; ".join(n for n in notes if n)


def loader_rate(config: TrainConfig, device: torch.device, steps: int) -> float:
    """img/s of the train loader with its device step (decode, augment, normalise), no model."""
    _config, trainer, _notes = speed_trainer(config, device)
    loaders = trainer.loaders
    loaders.train_sampler.set_epoch(1)
    batches = gpu_input.PrefetchedBatches(iter(loaders.train), loaders.prepare, device)
    images, started = 0, None
    try:
        for index, (batch, _targets) in enumerate(batches):
            if index == WARMUP:
                _sync(device)
                started = time.perf_counter()
            elif index > WARMUP:
                images += len(batch)
            if index >= WARMUP + steps:
                break
    finally:
        batches.close()
    _sync(device)
    return images / (time.perf_counter() - started) if started and images else float("nan")


WARMUP = 3  # steps of epoch 1 left out: worker start-up, cuDNN's autotuning, the allocator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--size", default="500x375", help="WxH of the JPEGs (each within 20%%)")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--image-size", type=int, default=224, help="the model's input")
    parser.add_argument("--model", default="resnet50", help="comma-separated, e.g. resnet50,vgg16")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=30, help="timed steps of the loader and of synthetic runs")
    parser.add_argument("--workers", type=int, default=max(1, min(16, (os.cpu_count() or 2) - 1)))
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16"))
    parser.add_argument("--decode", default="auto", choices=("auto", "cpu", "gpu"))
    parser.add_argument("--folder", help="an existing ImageFolder of JPEGs instead of a new one")
    args = parser.parse_args()
    device = torch.device(args.device)
    width, height = (int(part) for part in args.size.split("x"))
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{torch.get_num_threads()} threads"
    print(
        f"{device} ({where}), {os.cpu_count()} CPUs, {args.workers} loader workers; torch {torch.__version__}; "
        f"batch {args.batch}, input {args.image_size}, precision {args.precision}, decode {args.decode}",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(args.folder) if args.folder else Path(scratch) / "images"
        if not args.folder:
            started = time.perf_counter()
            make_image_folder(folder, args.images, width, height, os.cpu_count() or 1)
            size = sum(p.stat().st_size for p in (folder / "train").rglob("*.jpg")) / args.images / 1024
            print(f"made {args.images} JPEGs around {args.size} ({size:.0f} KiB each) in "
                  f"{time.perf_counter() - started:.1f} s", flush=True)  # fmt: skip
        for model in args.model.split(","):
            real = bench_config(args, model, "imagefolder", str(folder), epochs=2)
            loader = loader_rate(bench_config(args, model, "imagefolder", str(folder), 1), device, args.steps)
            real_rate, stall, note = train_rates(real, device, epochs=2, max_steps=None)
            fake = bench_config(args, model, "fake", None, epochs=1)
            fake_rate, _, _ = train_rates(fake, device, epochs=1, max_steps=args.steps + WARMUP)
            print(f"{model}: {note}")
            print(f"  loader alone (decode, augment, normalise): {loader:9.1f} img/s")
            print(f"  training on the JPEGs (2 epochs):          {real_rate:9.1f} img/s")
            print(f"  training on synthetic data:                {fake_rate:9.1f} img/s")
            print(f"  ratio real / synthetic:                    {real_rate / fake_rate:9.3f}   (goal >= 0.95)")
            print(f"  epoch 2's first step / median step:        {stall:9.2f}   (goal < 2: a stall under one step)")
            del real, fake
            if device.type == "cuda":
                torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
