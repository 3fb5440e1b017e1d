"""A small learnable data set for the training tests: coloured shapes as PNGs in the
ImageFolder layout, and helpers to run the CLI (in-process or as a real process). The
fixtures built from them (``shapes_dir``, ``trained_run``) are in conftest.py."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

from PIL import Image, ImageDraw

CLASSES = ("circle", "square", "triangle", "cross")
COLOURS = {"circle": (230, 60, 50), "square": (60, 200, 70), "triangle": (60, 90, 230), "cross": (230, 210, 60)}
TRAIN_PER_CLASS = 40
VAL_PER_CLASS = (13, 13, 13, 12)  # 51 images: an odd count, so two DDP ranks get unequal shards


def _draw(shape: str, rng: random.Random, size: int = 32) -> Image.Image:
    background = tuple(rng.randint(0, 60) for _ in range(3))
    image = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(image)
    half = rng.randint(7, 12)
    cx, cy = rng.randint(half, size - half), rng.randint(half, size - half)
    colour = tuple(min(255, max(0, c + rng.randint(-25, 25))) for c in COLOURS[shape])
    box = (cx - half, cy - half, cx + half, cy + half)
    if shape == "circle":
        draw.ellipse(box, fill=colour)
    elif shape == "square":
        draw.rectangle(box, fill=colour)
    elif shape == "triangle":
        draw.polygon([(cx, cy - half), (cx - half, cy + half), (cx + half, cy + half)], fill=colour)
    else:
        width = max(2, half // 2)
        draw.rectangle((cx - half, cy - width, cx + half, cy + width), fill=colour)
        draw.rectangle((cx - width, cy - half, cx + width, cy + half), fill=colour)
    return image


def write_shapes(
    root: Path, seed: int = 0, train_per_class: int = TRAIN_PER_CLASS, val_per_class: tuple[int, ...] = VAL_PER_CLASS
) -> Path:
    """Write ``root/train/<shape>/*.png`` and ``root/val/<shape>/*.png``; returns root."""
    rng = random.Random(seed)
    for split, counts in (("train", (train_per_class,) * len(CLASSES)), ("val", val_per_class)):
        for shape, count in zip(CLASSES, counts):
            folder = root / split / shape
            folder.mkdir(parents=True, exist_ok=True)
            for index in range(count):
                _draw(shape, rng).save(folder / f"{index:03d}.png")
    return root


def cli_env() -> dict[str, str]:
    """Environment for child processes: no network access to weights, quiet threads."""
    env = dict(os.environ)
    env.pop("LOCAL_RANK", None)
    env.pop("WORLD_SIZE", None)
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("OMP_NUM_THREADS", "1")  # steadier on a busy 2-core machine; runs compared use the same
    return env


def run_cli(args: list[str], timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    """Run ``python -m cnnexplorer ARGS`` as a real process."""
    return subprocess.run(
        [sys.executable, "-m", "cnnexplorer", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=cli_env(),
        **kwargs,
    )


def popen_cli(args: list[str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "cnnexplorer", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
        **kwargs,
    )


def only_run_dir(output: Path) -> Path:
    runs = [p for p in output.iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


TRAIN_ARGS = ["--device", "cpu", "--batch-size", "16", "--lr", "0.05", "--workers", "0", "--seed", "0"]
