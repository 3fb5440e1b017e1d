"""The data flags' checks that the CLI and the launch requests share, each a one-line
UsageError. Torch-free."""

from __future__ import annotations

from pathlib import Path

from cnnexplorer.errors import UsageError
from cnnexplorer.train.choices import CIFAR_DATASETS


def check_download(dataset: str | None, download: bool) -> None:
    """--download goes with a CIFAR dataset (the files it fetches)."""
    if download and dataset not in CIFAR_DATASETS:
        raise UsageError("--download fetches CIFAR files: it goes with --dataset cifar10 or cifar100")


def check_image_folder_layout(root: Path, splits: list[str]) -> None:
    """``root`` is a folder holding a folder for each of ``splits`` (their classes unread)."""
    layout = f"expected {root}/train/<class>/<images> and {root}/val/<class>/<images> (the ImageNet layout)"
    if not root.is_dir():
        raise UsageError(f"data directory {root} does not exist: {layout}")
    if not any(root.iterdir()):
        raise UsageError(f"data directory {root} is empty: {layout}")
    for name in splits:
        if not (root / name).is_dir():
            raise UsageError(f"{root} has no {name}/ folder: {layout}")
