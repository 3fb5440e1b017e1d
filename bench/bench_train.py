"""Training throughput: cnnexplorer's training loop against a minimal loop in the style of
pytorch/examples ``imagenet/main.py --dummy``, same model, data, device and process; and the
cost of the event stream (a step event every step, to a file, against none).

    python bench/bench_train.py [--model resnet18] [--batch 16] [--steps 10] [--warmup 2] [--rounds 2]
    python bench/bench_train.py --device cuda --model vgg16 --batch 64 --amp bf16 --channels-last
    python bench/bench_train.py --device cuda --model resnet50 --batch 256 --precision-compare

Goals (issue 5): ratio (ours / minimal) >= 1.0 and event-stream overhead < 2%.
--precision-compare (issue 14): only our loop, fp32 against the default precision of the device
(bf16 + channels-last on a GPU with bf16; fp32 on the CPU, so a ratio of 1.00), alternating;
goal on the GPU >= 1.8x.
The runs alternate (minimal, ours with events, ours without; the order rotates each round).
Each step is timed (from the end of the previous step, so data loading is included) and the
figure of a loop is the median over all its timed steps: bursts of load from other
processes on a shared machine move a median much less than a total.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from speed_config import speed_run_config, speed_trainer

from cnnexplorer import zoo
from cnnexplorer.runs.events import EventWriter
from cnnexplorer.runs.progress import SilentReporter
from cnnexplorer.train.config import resolve_precision
from cnnexplorer.train.context import Position, Run
from cnnexplorer.train.devices import Placement
from cnnexplorer.train.evaluate import autocast_for
from cnnexplorer.train.failures import StopSignals
from cnnexplorer.train.stepping import train_epoch


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def minimal_loop(args: argparse.Namespace, device: torch.device) -> list[float]:
    """pytorch/examples imagenet ``train()`` reduced to its work: forward, loss, loss.item(),
    zero_grad, backward, step. Images per second of each timed step."""
    torch.manual_seed(0)
    model = zoo.get(args.model).build().to(device)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    scaler = torch.amp.GradScaler(device.type, enabled=args.amp == "fp16")
    model.train()
    rates: list[float] = []
    previous = time.perf_counter()
    generator = torch.Generator(device=device).manual_seed(0)
    shape = (args.batch, 3, args.image_size, args.image_size)
    for index in range(args.steps + args.warmup):  # images made on the device, as --dataset fake makes them
        images = torch.randn(shape, generator=generator, device=device)
        targets = torch.randint(1000, (args.batch,), generator=generator, device=device)
        if args.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        with autocast_for(device, args.amp):
            loss = F.cross_entropy(model(images), targets)
        loss.item()
        optimizer.zero_grad()
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        _sync(device)
        now = time.perf_counter()
        if index >= args.warmup:
            rates.append(targets.numel() / (now - previous))
        previous = now
    return rates


class StepRates(SilentReporter):
    """Keeps the img/s the loop reports after each step (log_every=1: per step)."""

    def __init__(self) -> None:
        super().__init__()
        self.rates: list[float] = []

    def step(self, stats, logged: bool) -> None:
        self.rates.append(stats.img_per_s)


def our_loop(
    args: argparse.Namespace, device: torch.device, with_events: bool, precision: str | None = None
) -> list[float]:
    """cnnexplorer's ``train_epoch`` (the loop ``cnnexplorer train`` runs) on the same data,
    images per second of each timed step; with events: a step event every step, appended
    and flushed to events.jsonl. ``precision``: auto, fp32, ... (default: --amp's)."""
    arch = zoo.get(args.model)
    config = speed_run_config(
        arch.name,
        dataset="fake",
        data=None,
        image_size=args.image_size,
        num_classes=1000,
        epochs=1,
        batch_size=args.batch,
        precision=precision or args.amp or "fp32",
        channels_last=None if precision else args.channels_last,
        workers=args.workers,
        max_steps=args.warmup + args.steps,
        fake_size=args.batch * (args.steps + args.warmup),
    )
    config, trainer, _notes = speed_trainer(config, device)
    reporter = StepRates()
    position = Position()
    with tempfile.TemporaryDirectory() as folder, StopSignals(reporter) as stop:
        events = EventWriter(Path(folder) / "events.jsonl") if with_events else EventWriter()
        with events:
            run = Run(config, Placement(device), trainer, events, reporter, stop)
            outcome = train_epoch(run, 1, position)
    assert outcome.stopped_by == "max_steps" and position.step == args.warmup + args.steps, outcome
    return reporter.rates[args.warmup :]


def event_cost_us(repeats: int = 2000) -> float:
    """Microseconds to emit one step event to a file (what the loop adds per logged step)."""
    with tempfile.TemporaryDirectory() as folder, EventWriter(Path(folder) / "e.jsonl") as events:
        started = time.perf_counter()
        for step in range(repeats):
            events.emit(
                "step",
                epoch=1,
                step=step,
                epoch_step=step,
                steps_per_epoch=repeats,
                loss=2.345678,
                lr=0.1,
                img_per_s=123.4,
                data_time=0.001,
            )
        return (time.perf_counter() - started) / repeats * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per run")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--amp", choices=("bf16", "fp16"))
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument(
        "--precision-compare", action="store_true", help="our loop in fp32 against the device's default precision"
    )
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.precision_compare:
        compare_precisions(args, device)
        return
    where = (
        f" ({torch.cuda.get_device_name(device)})"
        if device.type == "cuda"
        else f", {args.threads or torch.get_num_threads()} threads"
    )
    print(
        f"{args.model} {args.image_size}x{args.image_size}, batch {args.batch}, synthetic data, {device}{where}"
        f"{', amp ' + args.amp if args.amp else ''}{', channels-last' if args.channels_last else ''}; "
        f"{args.warmup} warm-up + {args.steps} timed steps x {args.rounds} rounds"
    )
    if args.threads:
        torch.set_num_threads(args.threads)
    results: dict[str, list[float]] = {"minimal": [], "events": [], "no_events": []}
    runs = {
        "minimal": lambda: minimal_loop(args, device),
        "events": lambda: our_loop(args, device, with_events=True),
        "no_events": lambda: our_loop(args, device, with_events=False),
    }
    order = list(runs)
    for round_ in range(args.rounds):
        for name in order[round_ % 3 :] + order[: round_ % 3]:  # rotated each round: no loop always goes first
            results[name] += runs[name]()
        print(
            f"  after round {round_ + 1}: "
            + ", ".join(f"{k} {statistics.median(v):.2f}" for k, v in results.items())
            + " img/s (medians so far)",
            flush=True,
        )
    minimal, ours, quiet = (statistics.median(results[k]) for k in ("minimal", "events", "no_events"))
    step_seconds = args.batch / ours
    per_event = event_cost_us()
    print(f"minimal loop (pytorch/examples style): {minimal:8.2f} img/s")
    print(f"cnnexplorer train loop, events on:     {ours:8.2f} img/s   ratio {ours / minimal:.3f}")
    print(f"cnnexplorer train loop, events off:    {quiet:8.2f} img/s")
    print(
        f"event stream: measured overhead {100 * (quiet - ours) / quiet:+.2f}% (run-to-run noise included); "
        f"one step event costs {per_event:.1f} us = {100 * per_event * 1e-6 / step_seconds:.4f}% of a "
        f"{step_seconds * 1000:.0f} ms step"
    )


def compare_precisions(args: argparse.Namespace, device: torch.device) -> None:
    """Our loop in fp32 and in the device's default (--precision auto), alternating, medians."""
    bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    precision, channels_last, note = resolve_precision("auto", None, device.type, bf16)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{torch.get_num_threads()} threads"
    print(
        f"{args.model} {args.image_size}x{args.image_size}, batch {args.batch}, synthetic data made on the device, "
        f"{device} ({name}), torch {torch.__version__}; default: {note}; "
        f"{args.warmup} warm-up + {args.steps} timed steps x {args.rounds} rounds",
        flush=True,
    )
    same = precision == "fp32" and not channels_last
    variants = ("fp32",) if same else ("fp32", "auto")  # on the CPU the default is fp32: one run to time
    results: dict[str, list[float]] = {variant: [] for variant in variants}
    for round_ in range(args.rounds):
        for precision in variants if round_ % 2 == 0 else variants[::-1]:
            results[precision] += our_loop(args, device, with_events=False, precision=precision)
            if device.type == "cuda":
                torch.cuda.empty_cache()
        medians = ", ".join(f"{k} {statistics.median(v):.1f}" for k, v in results.items())
        print(f"  after round {round_ + 1}: {medians} img/s", flush=True)
    fp32 = statistics.median(results["fp32"])
    default = statistics.median(results["auto"]) if not same else fp32
    label = f"default ({precision}{' + channels-last' if channels_last else ''}):"
    print(f"{'fp32:':32} {fp32:9.1f} img/s")
    print(f"{label:32} {default:9.1f} img/s")
    suffix = f" (default is fp32 on {device.type})" if same else "   (goal >= 1.8 on a GPU)"
    print(f"ratio {default / fp32:.2f}{suffix}")


if __name__ == "__main__":
    main()
