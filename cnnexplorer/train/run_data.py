"""The data of a run opened from its options: the train and val sets, with their images
decoded in the loader's workers (:mod:`cnnexplorer.train.data`) or on the device
(:mod:`cnnexplorer.train.gpu_input`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from cnnexplorer.errors import UsageError
from cnnexplorer.train import data
from cnnexplorer.train.choices import CIFAR_DATASETS
from cnnexplorer.train.gpu_input import EncodedImages, choose_decoder


def build_datasets(
    kind: str,
    root: str | None,
    image_size: int,
    seed: int,
    *,
    want_train: bool = True,
    download: bool = False,
    fake_size: int = 1280,
    fake_classes: int = 1000,
    val_transform: Callable | None = None,
    split: str = "val",
    decode: str = "cpu",
    device: torch.device | None = None,
) -> data.Datasets:
    """Open the data of a run; every problem with it is a one-line UsageError. ``decode``:
    cpu, gpu or auto (see :func:`cnnexplorer.train.gpu_input.choose_decoder`)."""
    device = device or torch.device("cpu")
    if val_transform is not None:  # torchvision's own preprocessing: on PIL images, in the workers
        decode = "cpu"
    if kind != "imagefolder":
        decode, note = choose_decoder(decode, kind, device, None)
    val_tf = val_transform or data.eval_transform(image_size)
    if kind == "fake":
        classes = [str(i) for i in range(fake_classes)]
        train = data.SyntheticImages(fake_size, image_size, fake_classes, seed) if want_train else None
        return data.Datasets(
            kind,
            train,
            data.SyntheticImages(max(fake_size // 10, 1), image_size, fake_classes, seed + 1),
            classes,
            "cpu",
            note,
        )
    if root is None:
        raise UsageError(f"--dataset {kind} needs --data DIR")
    if kind in CIFAR_DATASETS:
        cifar = data.cifar_datasets(kind, Path(root), image_size, seed, want_train, download, val_tf)
        cifar.decode_note = note
        return cifar
    return _image_folder(Path(root), image_size, seed, want_train, val_tf, split, decode, device)


def _image_folder(
    root: Path,
    image_size: int,
    seed: int,
    want_train: bool,
    val_tf: Callable,
    split: str,
    decode: str,
    device: torch.device,
) -> data.Datasets:
    classes = data.check_image_folder(root, want_train, split)
    train_files = data.ImageFiles(root / "train", classes) if want_train else None
    val_files = data.ImageFiles(root / split, classes)
    listed = [path for path, _ in (train_files or val_files).samples]
    decode, note = choose_decoder(decode, "imagefolder", device, listed)
    if decode == "gpu":
        train = EncodedImages(train_files, data.train_transform(image_size), seed) if train_files else None
        return data.Datasets("imagefolder", train, EncodedImages(val_files, val_tf, seed), list(classes), decode, note)
    val_files.transform = val_tf
    train = data.SeededTransform(train_files, data.train_transform(image_size), seed) if train_files else None
    return data.Datasets("imagefolder", train, val_files, list(classes), decode, note)
