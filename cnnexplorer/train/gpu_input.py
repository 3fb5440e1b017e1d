"""Batches onto the device. The loader's workers hand over uint8 images (converted to float and
normalised on the device), JPEG bytes with their augmentation's parameters (decoded, cropped,
flipped and colour-jittered on the device: ``--decode gpu``), or the seeds of synthetic images
(made on the device). On CUDA a thread prepares the next batch on a side stream while the GPU
trains on this one.

What is identical whichever path: the augmentation's parameters of every image (crop box, flip,
jitter order and factors), drawn on the CPU from the seed of (seed, epoch, index) by the same
torchvision transforms, whatever the worker count or the decoder. What may differ: pixel values
after decoding and resizing (another JPEG decoder, another device's interpolation) and, by at
most one level, after colour jitter (done for the whole batch at once; torchvision does it
image by image)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from cnnexplorer.train import data

JPEG_EXTENSIONS = (".jpg", ".jpeg")
JPEG_MAGIC = b"\xff\xd8\xff"


# Normalisation on the device -------------------------------------------------------------


def normalize(images: torch.Tensor, mean=data.IMAGENET_MEAN, std=data.IMAGENET_STD) -> torch.Tensor:
    """uint8 images to normalised float32 with the very functions the loader's workers used
    to apply (v2's to_dtype with scale, then normalize): the same numbers, on any device."""
    from torchvision.transforms.v2 import functional as F

    return F.normalize(F.to_dtype(images, torch.float32, scale=True), list(mean), list(std))


def images_to_device(images: torch.Tensor, device: torch.device, channels_last: bool) -> torch.Tensor:
    """A batch onto the device as the model takes it: uint8 crosses as uint8 (a quarter of
    the bytes of float32) and is normalised there; float batches (torchvision's own
    preprocessing for --weights) go as they are."""
    images = images.to(device, non_blocking=True)
    if images.dtype == torch.uint8:
        images = normalize(images)
    return images.contiguous(memory_format=torch.channels_last) if channels_last else images


# Synthetic images on the device ----------------------------------------------------------


def synthetic_batch(seeds: torch.Tensor, image_size: int, device: torch.device) -> torch.Tensor:
    """A batch of standard-normal images made on the device, each from its own seed alone: an
    image is the same in any batch, at any batch size or rank (also on resume), so a run's
    validation and a later ``eval`` on the same kind of device see the same images, at no CPU
    cost. (The CPU's and CUDA's generators draw different numbers from one seed.)"""
    images = torch.empty((len(seeds), 3, image_size, image_size), device=device)
    generator = torch.Generator(device=device)
    for image, seed in zip(images, seeds.tolist()):
        image.normal_(generator=generator.manual_seed(seed % 2**63))
    return images


# JPEG bytes and augmentation parameters (the workers' side of --decode gpu) ------------------


def is_jpeg_file(path: str) -> bool:
    """A .jpg/.jpeg name whose first bytes are a JPEG's."""
    if not path.lower().endswith(JPEG_EXTENSIONS):
        return False
    try:
        with open(path, "rb") as stream:
            return stream.read(3) == JPEG_MAGIC
    except OSError:
        return False


def transform_steps(transform: Callable) -> list:
    """The v2 transforms of a Compose after ToImage (the decoder makes the tensor)."""
    from torchvision.transforms import v2

    return [step for step in transform.transforms if not isinstance(step, v2.ToImage)]


def draw_params(steps: list, height: int, width: int) -> list[dict[str, Any] | None]:
    """Each step's random parameters for an image of height x width, drawn from torch's RNG
    in the order v2.Compose draws them (a random-apply transform draws its coin first; None:
    not applied). Sizes travel through the steps on an empty meta tensor, so nothing is
    decoded: a worker needs only the image's header."""
    from torchvision import tv_tensors
    from torchvision.transforms.v2._transform import _RandomApplyTransform

    proxy = tv_tensors.Image(torch.empty((3, height, width), dtype=torch.uint8, device="meta"))
    drawn: list[dict[str, Any] | None] = []
    for step in steps:
        if isinstance(step, _RandomApplyTransform) and torch.rand(1) >= step.p:
            drawn.append(None)
            continue
        params = step.make_params([proxy])
        proxy = step.transform(proxy, params)
        drawn.append(params)
    return drawn


def apply_params(steps: list, params: list[dict[str, Any] | None], image: torch.Tensor) -> torch.Tensor:
    """The steps with drawn parameters, on one image (any device): what v2.Compose does."""
    from torchvision import tv_tensors

    image = tv_tensors.Image(image)
    for step, drawn in zip(steps, params):
        if drawn is not None:
            image = step.transform(image, drawn)
    return image.as_subclass(torch.Tensor)


def _image_size(path: str) -> tuple[int, int]:
    """(height, width) from the file's header, without decoding its pixels."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            width, height = image.size
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise data.UnreadableImageError(f"cannot read image {path}: {error}") from None
    return height, width


@dataclass
class EncodedSample:
    path: str
    encoded: torch.Tensor  # the file's bytes, uint8
    target: int
    params: list[dict[str, Any] | None]


class EncodedImages(Dataset):
    """An ImageFolder's files as bytes with their augmentation's parameters, drawn with the
    seed :class:`~cnnexplorer.train.data.SeededTransform` uses: the device decodes and applies
    them (:class:`DeviceDecoder`)."""

    def __init__(self, files: data.ImageFiles, transform: Callable, seed: int) -> None:
        self.files = files
        self.classes = files.classes
        self.steps = transform_steps(transform)
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, key: int | tuple[int, int]) -> EncodedSample:
        from torchvision.io import read_file

        epoch, index = data.epoch_and_index(key, self.epoch)
        path, target = self.files.samples[index]
        height, width = _image_size(path)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(data.image_seed(self.seed, epoch, index))
            params = draw_params(self.steps, height, width)
        return EncodedSample(path, read_file(path), target, params)


@dataclass
class EncodedBatch:
    """A batch of files: their bytes end to end in one tensor (one shared-memory block from a
    worker, one pinned copy), split again by ``lengths``."""

    paths: list[str]
    encoded: torch.Tensor  # uint8, every file's bytes in turn
    lengths: list[int]
    targets: torch.Tensor
    params: list[list[dict[str, Any] | None]]

    def files(self) -> list[torch.Tensor]:
        return list(torch.split(self.encoded, self.lengths))

    def pin_memory(self) -> EncodedBatch:  # the DataLoader's pin-memory thread calls this
        self.encoded, self.targets = self.encoded.pin_memory(), self.targets.pin_memory()
        return self


def collate_encoded(samples: list[EncodedSample]) -> EncodedBatch:
    """A batch of files stays a list of files (every image has its own size until it is
    cropped); tensors in the parameters become lists (a tensor each would cost a file
    descriptor each on the way out of a worker)."""
    return EncodedBatch(
        [sample.path for sample in samples],
        torch.cat([sample.encoded for sample in samples]),
        [len(sample.encoded) for sample in samples],
        torch.tensor([sample.target for sample in samples]),
        [[_plain(params) for params in sample.params] for sample in samples],
    )


def _plain(params: dict[str, Any] | None) -> dict[str, Any] | None:
    if params is None:
        return None
    return {key: value.tolist() if isinstance(value, torch.Tensor) else value for key, value in params.items()}


# The device's side of --decode gpu ---------------------------------------------------------


class DeviceDecoder:
    """Decodes a batch of JPEGs on the device (torchvision's decode_jpeg, batched), applies each
    image's geometry (crop and resize, to the common size), then the flip and colour jitter
    to the whole batch at once. A file the device decoder refuses (a PNG under a .jpg name, a
    CMYK JPEG) is decoded on the CPU, that file alone; ``fallbacks`` counts them."""

    def __init__(self, transform: Callable, device: torch.device) -> None:
        from torchvision.transforms import v2

        self.steps = transform_steps(transform)
        self.device = device
        self.fallbacks = 0
        kinds = [type(step) for step in self.steps]
        self.flip_at = kinds.index(v2.RandomHorizontalFlip) if v2.RandomHorizontalFlip in kinds else None
        self.jitter_at = kinds.index(v2.ColorJitter) if v2.ColorJitter in kinds else None
        batched = [at for at in (self.flip_at, self.jitter_at) if at is not None]
        if batched and min(batched) < len(self.steps) - len(batched):
            raise ValueError("flip and colour jitter must come after the geometry to be batched")
        if self.jitter_at is not None and self.steps[self.jitter_at].hue is not None:
            raise ValueError("batched colour jitter has no hue")
        self.geometry = [step for at, step in enumerate(self.steps) if at not in batched]

    def __call__(self, batch: EncodedBatch) -> torch.Tensor:
        decoded = self._decode(batch)
        images = torch.stack(
            [
                apply_params(self.geometry, params[: len(self.geometry)], image)
                for image, params in zip(decoded, batch.params)
            ]
        )
        if self.flip_at is not None:
            flipped = torch.tensor([params[self.flip_at] is not None for params in batch.params], device=self.device)
            images = torch.where(flipped[:, None, None, None], images.flip(-1), images)
        if self.jitter_at is not None:
            images = jitter_batch(images, [params[self.jitter_at] for params in batch.params])
        return images

    def _decode(self, batch: EncodedBatch) -> list[torch.Tensor]:
        from torchvision.io import ImageReadMode, decode_jpeg

        files = batch.files()
        try:
            return decode_jpeg(files, mode=ImageReadMode.RGB, device=self.device)
        except RuntimeError:
            pass  # one file the device decoder refuses fails the batch: decode one by one
        decoded = []
        for path, encoded in zip(batch.paths, files):
            try:
                decoded.append(decode_jpeg(encoded, mode=ImageReadMode.RGB, device=self.device))
            except RuntimeError:
                self.fallbacks += 1
                decoded.append(_decode_on_cpu(path, encoded).to(self.device))
        return decoded


def _decode_on_cpu(path: str, encoded: torch.Tensor) -> torch.Tensor:
    from torchvision.io import ImageReadMode, decode_image

    try:
        return decode_image(encoded, mode=ImageReadMode.RGB)
    except RuntimeError:
        from torchvision.transforms.v2.functional import pil_to_tensor

        return pil_to_tensor(data._load_rgb(path))


def jitter_batch(images: torch.Tensor, params: list[dict[str, Any] | None]) -> torch.Tensor:
    """v2.ColorJitter's brightness, contrast and saturation on a uint8 batch, each image with
    its own order and factors (torchvision's formulas, with the factors as tensors)."""
    count = len(params)
    order = [list(p["fn_idx"]) if p else [0, 1, 2, 3] for p in params]
    factors = {
        op: [p[name] if p and p[name] is not None else None for p in params]
        for op, name in ((0, "brightness_factor"), (1, "contrast_factor"), (2, "saturation_factor"))
    }
    for position in range(4):
        for op, adjust in ((0, _brightness), (1, _contrast), (2, _saturation)):
            chosen = [i for i in range(count) if order[i][position] == op and factors[op][i] is not None]
            if not chosen:
                continue
            ratio = torch.tensor([factors[op][i] for i in chosen], dtype=torch.float64)
            index = torch.tensor(chosen, device=images.device)
            images[index] = adjust(images[index], ratio.to(images.device))
    return images


def _column(ratio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A factor and 1 - factor (taken in double, as torchvision's Python floats are), as float32 columns."""
    return ratio.float().view(-1, 1, 1, 1), (1.0 - ratio).float().view(-1, 1, 1, 1)


def _blend(images: torch.Tensor, other: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
    factor, rest = _column(ratio)
    return (images * factor + other * rest).clamp_(0, 255).to(torch.uint8)


def _grey(images: torch.Tensor) -> torch.Tensor:
    r, g, b = images.unbind(dim=-3)
    return r.mul(0.2989).add_(g, alpha=0.587).add_(b, alpha=0.114).unsqueeze(-3).floor_()


def _brightness(images: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
    return (images * _column(ratio)[0]).clamp_(0, 255).to(torch.uint8)


def _contrast(images: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
    return _blend(images, _grey(images).mean(dim=(-3, -2, -1), keepdim=True), ratio)


def _saturation(images: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
    return _blend(images, _grey(images), ratio)


# Choosing the decoder ------------------------------------------------------------------


def choose_decoder(
    requested: str, dataset_kind: str, device: torch.device, train_files: list[str] | None
) -> tuple[str, str]:
    """(decode, why) for ``--decode auto|cpu|gpu``: gpu (on the device) for an ImageFolder of
    JPEGs on CUDA, else cpu (in the loader's workers). Per run: auto picks gpu only when every
    training file is a .jpg/.jpeg (a file the device decoder then refuses is decoded on the CPU,
    that file alone)."""
    from cnnexplorer.errors import UsageError

    if requested == "cpu":
        return "cpu", "decode cpu (as asked)"
    if dataset_kind != "imagefolder":
        if requested == "gpu":
            raise UsageError(
                f"--decode gpu reads JPEG files: it goes with an ImageFolder tree, not --dataset {dataset_kind}"
            )
        return "cpu", "" if dataset_kind == "fake" else f"decode cpu ({dataset_kind} is held in memory)"
    if requested == "gpu":
        where = "on the GPU" if device.type == "cuda" else f"in the main process on {device.type}"
        return "gpu", f"decode gpu: JPEGs decoded and augmented {where} (as asked)"
    if device.type != "cuda":
        return "cpu", "decode cpu (in the loader's workers; --decode gpu to decode in the main process)"
    others = [path for path in train_files or [] if not path.lower().endswith(JPEG_EXTENSIONS)]
    if others:
        return "cpu", f"decode cpu: {len(others)} training files are not JPEG (e.g. {Path(others[0]).name})"
    return "gpu", "decode gpu: JPEGs decoded and augmented on the GPU (--decode cpu for the loader's workers)"


# The batches of an epoch ---------------------------------------------------------------


class BatchPreparer:
    """Turns what the loader yields into (images, targets) on the device, ready for the model."""

    def __init__(
        self,
        device: torch.device,
        channels_last: bool,
        decoder: DeviceDecoder | None = None,
        synthetic_size: int | None = None,
    ) -> None:
        self.device, self.channels_last, self.decoder = device, channels_last, decoder
        self.synthetic_size = synthetic_size  # the image size of synthetic batches (their items are seeds)

    def __call__(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(batch, EncodedBatch):
            images = normalize(self.decoder(batch))
            targets = batch.targets
        else:
            images, targets = batch
            if self.synthetic_size is not None:
                images = synthetic_batch(images, self.synthetic_size, self.device)
            else:
                images = images_to_device(images, self.device, False)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return images, targets.to(self.device, non_blocking=True)


def preparer_for(dataset: Dataset, device: torch.device, channels_last: bool) -> BatchPreparer:
    """The preparer of a loader's batches: with a device decoder for an :class:`EncodedImages`,
    a generator for :class:`~cnnexplorer.train.data.SyntheticImages`."""
    decoder = DeviceDecoder(_compose(dataset.steps), device) if isinstance(dataset, EncodedImages) else None
    synthetic = dataset.image_size if isinstance(dataset, data.SyntheticImages) else None
    return BatchPreparer(device, channels_last, decoder, synthetic)


def _compose(steps: list) -> Callable:
    from torchvision.transforms import v2

    return v2.Compose(steps)


class _End:
    pass


class PrefetchedBatches:
    """The loader's batches, prepared on the device: on CUDA by a thread on a side stream, one
    or two batches ahead (the decode and augmentation overlap the step; the main thread waits
    for a batch's event only); elsewhere in the main thread. ``close()`` stops the thread
    (call it when an epoch ends early)."""

    def __init__(self, batches: Iterator, prepare: Callable, device: torch.device, depth: int = 2) -> None:
        self.batches, self.prepare, self.device = batches, prepare, device
        self.threaded = device.type == "cuda"
        self.stopping = threading.Event()
        if self.threaded:
            self.ready: queue.Queue = queue.Queue(depth)
            self.thread = threading.Thread(target=self._fill, daemon=True, name="prefetch")
            self.thread.start()

    def __iter__(self) -> PrefetchedBatches:
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.threaded:
            return self.prepare(next(self.batches))
        item = self.ready.get()
        if isinstance(item, _End):
            raise StopIteration
        if isinstance(item, BaseException):
            raise item
        (images, targets), event = item
        stream = torch.cuda.current_stream(self.device)
        stream.wait_event(event)
        images.record_stream(stream)  # made on the side stream, used on this one
        targets.record_stream(stream)
        return images, targets

    def _fill(self) -> None:
        stream = torch.cuda.Stream(self.device)
        try:
            with torch.cuda.device(self.device), torch.cuda.stream(stream):
                for batch in self.batches:
                    prepared = self.prepare(batch)
                    event = torch.cuda.Event()
                    event.record(stream)
                    if not self._put((prepared, event)):
                        return
        except BaseException as error:  # handed to the main thread, which raises it
            self._put(error)
            return
        self._put(_End())

    def _put(self, item: Any) -> bool:
        while not self.stopping.is_set():
            try:
                self.ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def close(self) -> None:
        if self.threaded:
            self.stopping.set()
            self.thread.join()
