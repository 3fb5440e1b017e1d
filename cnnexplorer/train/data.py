"""Data sets, augmentation (torchvision.transforms.v2), samplers and loaders for train/eval."""

from __future__ import annotations

import errno
import math
import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from cnnexplorer.errors import UsageError
from cnnexplorer.train.data_checks import check_image_folder_layout

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SMALL_IMAGE = 64  # at or below this size, CIFAR-style augmentation (pad-and-crop) instead of resized crops
SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")  # Pillow's modes of 16-bit greyscale files
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")  # torchvision's


class UnreadableImageError(Exception):
    """An image file that PIL cannot decode; the message names the file."""


def unreadable_image_message(error: BaseException) -> str | None:
    """The one-line 'cannot read image ...' message inside an error, also when a DataLoader
    worker re-raised it wrapped in its traceback text; None if there is none."""
    found = re.findall(r"cannot read image .*", str(error))
    return found[-1].strip() if found else None


def _load_rgb(path: str) -> Any:
    from PIL import Image

    try:
        with open(path, "rb") as stream:
            image = Image.open(stream)
            if image.mode in SIXTEEN_BIT_MODES:  # 0..65535: scaled to 0..255, not clipped at 255
                image = image.convert("I").point(lambda value: value * (1 / 257)).convert("L")
            return image.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise UnreadableImageError(f"cannot read image {path}: {error}") from None


def train_transform(image_size: int) -> Callable:
    """Paper-style augmentation: random-resized crop, flip and colour jitter for ImageNet-size
    inputs; 4-pixel pad-and-crop and flip for CIFAR-size inputs. The output is a uint8 CHW
    tensor: the conversion to float and the normalisation happen on the device
    (:func:`cnnexplorer.train.gpu_input.normalize`), with the same functions, so the same
    numbers. Colour jitter works on uint8 here as it always did (v2 keeps the dtype)."""
    from torchvision.transforms import v2

    if image_size <= SMALL_IMAGE:
        geometry = [
            v2.Resize(image_size, antialias=True),
            v2.CenterCrop(image_size),
            v2.RandomCrop(image_size, padding=image_size // 8),
            v2.RandomHorizontalFlip(),
        ]
    else:
        geometry = [
            v2.RandomResizedCrop(image_size, antialias=True),
            v2.RandomHorizontalFlip(),
            v2.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4),
        ]
    return v2.Compose([v2.ToImage(), *geometry])


def eval_transform(image_size: int) -> Callable:
    """Resize (to image_size / 0.875 for ImageNet-size inputs) and centre crop; uint8 out."""
    from torchvision.transforms import v2

    resize = image_size if image_size <= SMALL_IMAGE else round(image_size / 0.875)
    return v2.Compose([v2.ToImage(), v2.Resize(resize, antialias=True), v2.CenterCrop(image_size)])


def image_seed(seed: int, epoch: int, index: int) -> int:
    """The seed of one image's augmentation in one epoch."""
    return (seed * 1_000_003 + epoch * 100_003 + index) % (2**63)


def epoch_and_index(key: int | tuple[int, int], epoch: int) -> tuple[int, int]:
    """A sample key from :class:`ResumableSampler` is (epoch, index): the epoch travels with
    the index, so that loader workers that persist across epochs (each with its own copy of
    the dataset, which never sees an attribute set later in the main process) seed by the
    right epoch. A plain index takes ``epoch``."""
    return (int(key[0]), int(key[1])) if isinstance(key, tuple) else (epoch, int(key))


class SeededTransform(Dataset):
    """Applies a random transform with a seed derived from (seed, epoch, index), so that the
    augmentation of every image is the same whatever the worker count, the rank, or where
    a run was interrupted and resumed. Keys are (epoch, index) pairs (or an index, with
    ``epoch``)."""

    def __init__(self, base: Dataset, transform: Callable, seed: int) -> None:
        self.base = base
        self.transform = transform
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[torch.Tensor, int]:
        epoch, index = epoch_and_index(key, self.epoch)
        image, target = self.base[index]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(image_seed(self.seed, epoch, index))
            return self.transform(image), target


class SyntheticImages(Dataset):
    """Random images with random labels (for speed runs). An item is the image's seed and its
    label: the pixels are made a batch at a time on the device
    (:func:`cnnexplorer.train.gpu_input.synthetic_batch`), so a speed run measures the model,
    not the generator."""

    def __init__(self, size: int, image_size: int, num_classes: int, seed: int = 0) -> None:
        self.size, self.image_size, self.num_classes, self.seed = size, image_size, num_classes, seed

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[torch.Tensor, int]:
        _epoch, index = epoch_and_index(key, 0)  # the same images every epoch
        image_seed = self.seed * 1_000_003 + index
        label = int(torch.randint(self.num_classes, (1,), generator=torch.Generator().manual_seed(image_seed)))
        return torch.tensor(image_seed, dtype=torch.int64), label


@dataclass
class Datasets:
    """The train and val sets of a run (train is None for eval); where its JPEGs are decoded
    (``decode``: cpu in the loader's workers, gpu on the device) and why."""

    kind: str
    train: Dataset | None
    val: Dataset
    classes: list[str]
    decode: str = "cpu"
    decode_note: str = ""

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "classes": len(self.classes),
            "train_images": len(self.train) if self.train is not None else None,  # type: ignore[arg-type]
            "val_images": len(self.val),  # type: ignore[arg-type]
        }


def cifar_datasets(
    kind: str, root: Path, image_size: int, seed: int, want_train: bool, download: bool, val_tf: Callable
) -> Datasets:
    """CIFAR-10 or CIFAR-100 from torchvision's files in ``root`` (fetched only with ``download``)."""
    from torchvision import datasets

    reader = datasets.CIFAR10 if kind == "cifar10" else datasets.CIFAR100
    label = "CIFAR-10" if kind == "cifar10" else "CIFAR-100"
    try:
        val = reader(str(root), train=False, transform=val_tf, download=download)
        train = reader(str(root), train=True, download=download) if want_train else None
    except RuntimeError:
        raise UsageError(
            f"no {label} data in {root}: add --download to fetch it (needs network), or point --data at the folder "
            f"holding {reader.base_folder}"
        ) from None
    except OSError as error:
        raise UsageError(f"cannot get {label} into {root}: {error}") from None
    train_set = SeededTransform(train, train_transform(image_size), seed) if train is not None else None
    return Datasets(kind, train_set, val, list(val.classes))


def _class_folders(split_dir: Path) -> list[str]:
    """The class folder names of a split; a one-line UsageError for an entry that looks like
    a class folder but cannot be one (a symlink that loops or leads nowhere)."""
    classes = []
    for entry in sorted(split_dir.iterdir()):
        if entry.name.startswith("."):
            continue
        try:
            entry.stat()
        except OSError as error:
            if entry.is_symlink():
                raise UsageError(
                    f"{entry} is a symlink that {_dead_link(error)}: remove it or point it at a folder"
                ) from None
            raise UsageError(f"cannot read {entry}: {error.strerror or error}") from None
        if entry.is_dir():
            classes.append(entry.name)
    if not classes:
        loose = any(entry.suffix.lower() in IMAGE_EXTENSIONS for entry in split_dir.iterdir() if entry.is_file())
        what = "images but no class folders" if loose else "no class folders"
        raise UsageError(f"{split_dir} has {what}: expected {split_dir}/<class>/<image files>")
    return classes


def _dead_link(error: OSError) -> str:
    return "loops back on itself" if error.errno == errno.ELOOP else "leads nowhere"


def image_files(class_dir: Path) -> list[str]:
    """The image files under a class folder (subfolders and symlinks followed), each once, in
    ImageFolder's order. A one-line UsageError for a symlink loop (a folder inside itself,
    which would count its images again and again) and for a name with an image extension
    that is not a regular file (a named pipe would block the loader for ever)."""
    found: list[tuple[str, list[str]]] = []
    visited: set[tuple[int, int]] = set()
    pending = [(str(class_dir), ())]
    while pending:
        folder, ancestors = pending.pop()
        identity = _identity(folder)
        if identity in ancestors:
            raise UsageError(
                f"{folder} is a symlink loop (it leads back to a folder that holds it): remove it, or every image "
                "under it would count again and again"
            )
        if identity in visited:
            continue  # the same folder through another symlink: its images count once
        visited.add(identity)
        names: list[str] = []
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError as error:
            raise UsageError(f"cannot read folder {folder}: {error.strerror or error}") from None
        for entry in entries:
            if _is_folder(entry):
                pending.append((entry.path, (*ancestors, identity)))
            elif entry.name.lower().endswith(IMAGE_EXTENSIONS):
                _check_regular(entry)
                names.append(entry.name)
        found.append((folder, names))
    return [os.path.join(folder, name) for folder, names in sorted(found) for name in names]


def _identity(folder: str) -> tuple[int, int]:
    info = os.stat(folder)
    return info.st_dev, info.st_ino


def _is_folder(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _check_regular(entry: os.DirEntry) -> None:
    try:
        info = entry.stat()
    except OSError as error:
        raise UsageError(f"{entry.path} is a symlink that {_dead_link(error)}: remove it") from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a named pipe" if stat.S_ISFIFO(info.st_mode) else "not a regular file"
        raise UsageError(f"{entry.path} is {kind}, not an image file: remove it (reading it could block for ever)")


class ImageFiles(Dataset):
    """ImageFolder's samples from :func:`image_files`: (image, class index) pairs."""

    def __init__(self, split_dir: Path, classes: list[str], transform: Callable | None = None) -> None:
        self.classes = classes
        self.samples = [(path, index) for index, name in enumerate(classes) for path in image_files(split_dir / name)]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        path, target = self.samples[index]
        image = _load_rgb(path)
        return (self.transform(image) if self.transform is not None else image), target


def check_image_folder(root: Path, want_train: bool = True, split: str = "val") -> list[str]:
    """Check an ImageFolder tree (``root/train/<class>/...``, ``root/<split>/<class>/...``)
    without reading images; its class names, or a one-line UsageError."""
    splits = ["train", split] if want_train else [split]
    check_image_folder_layout(root, splits)
    folders = {name: _class_folders(root / name) for name in splits}
    if want_train:
        missing = sorted(set(folders["train"]) - set(folders[split]))
        extra = sorted(set(folders[split]) - set(folders["train"]))
        if missing:
            more = f" ({len(missing)} classes are)" if len(missing) > 1 else ""
            raise UsageError(
                f"class {missing[0]!r} is in {root}/train but missing in {root}/{split}{more}: every class needs a "
                f"{split} folder with images"
            )
        if extra:
            raise UsageError(
                f"class {extra[0]!r} is in {root}/{split} but not in {root}/train: the {split} classes must match "
                "train's"
            )
    for name in splits:
        for class_name in folders[name]:
            if not image_files(root / name / class_name):
                raise UsageError(
                    f"class folder {root / name / class_name} has no images ({', '.join(IMAGE_EXTENSIONS[:4])}, ...)"
                )
    return folders[split]


class ResumableSampler(Sampler[tuple[int, int]]):
    """The epoch's shuffled order (torch's DistributedSampler, also for one process), less the
    samples of the batches already done when a run resumes mid-epoch; as (epoch, index) keys
    (see :func:`epoch_and_index`)."""

    def __init__(self, dataset: Dataset, world_size: int, rank: int, seed: int, batch_size: int) -> None:
        self.order = DistributedSampler(
            dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed, drop_last=False
        )
        self.batch_size = batch_size
        self.skip_batches = 0

    def set_epoch(self, epoch: int, skip_batches: int = 0) -> None:
        self.order.set_epoch(epoch)
        self.skip_batches = skip_batches

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch = self.order.epoch
        return ((epoch, index) for index in islice(iter(self.order), self.skip_batches * self.batch_size, None))

    def __len__(self) -> int:
        return max(len(self.order) - self.skip_batches * self.batch_size, 0)

    def batches_per_epoch(self) -> int:
        return math.ceil(len(self.order) / self.batch_size)


class ShardSampler(Sampler[int]):
    """Every ``world_size``-th sample from ``rank``: together the ranks see each sample exactly
    once (DistributedSampler would pad with repeats)."""

    def __init__(self, size: int, world_size: int, rank: int) -> None:
        self.indices = range(rank, size, world_size)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def _ignore_interrupts(_worker_id: int) -> None:
    """Ctrl-C reaches the whole process group: workers leave it to the main process, which
    finishes its step and stops them."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


PREFETCH_BATCHES = 4  # per worker: a slow image or two does not starve the step


def make_loader(
    dataset: Dataset,
    sampler: Sampler,
    batch_size: int,
    workers: int,
    pin_memory: bool,
    seed: int = 0,
    collate_fn: Callable | None = None,
) -> DataLoader:
    """A loader with its own random generator: each ``iter()`` draws a base seed for the
    workers, and from torch's global RNG that draw would shift dropout's numbers (and a
    resumed run would draw after restoring that RNG, so it would not match the original).
    Its workers persist across epochs (no start-up stall at each epoch's first step)."""
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        pin_memory=pin_memory,
        drop_last=False,
        collate_fn=collate_fn,
        worker_init_fn=_ignore_interrupts if workers else None,
        generator=torch.Generator().manual_seed(_generator_seed(seed, 0)),
        persistent_workers=workers > 0,
        prefetch_factor=PREFETCH_BATCHES if workers > 0 else None,
    )


def reseed_loader(loader: DataLoader, seed: int, epoch: int) -> None:
    """Make the loader's draws in ``epoch`` depend on the seed and epoch only (so also on resume)."""
    loader.generator.manual_seed(_generator_seed(seed, epoch))


def _generator_seed(seed: int, epoch: int) -> int:
    return hash((seed, epoch)) & (2**63 - 1)  # a tuple of ints hashes the same in every process
