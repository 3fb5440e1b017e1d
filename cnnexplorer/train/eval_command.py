"""``cnnexplorer eval``: top-1/top-5 of a checkpoint or of torchvision's weights."""

from __future__ import annotations

import csv
import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch

from cnnexplorer import zoo
from cnnexplorer.errors import UsageError
from cnnexplorer.runs import rundir
from cnnexplorer.runs.atomic import write_text_atomic
from cnnexplorer.runs.events import EventWriter
from cnnexplorer.runs.progress import make_reporter
from cnnexplorer.train import checkpoints, data, run_data
from cnnexplorer.train.choices import CIFAR_CLASSES
from cnnexplorer.train.devices import resolve_placement, shutdown_distributed
from cnnexplorer.train.evaluate import EvalResult, evaluate


@dataclass
class EvalOptions:
    model: str
    dataset: str
    data: str | None
    split: str
    checkpoint: str | None
    weights: str | None
    gpu: int | None
    device: str | None
    batch_size: int
    workers: int
    image_size: int | None
    amp: str | None
    channels_last: bool
    per_class: str | None
    format: str
    events: str | None
    download: bool
    fake_size: int | None  # --dataset fake: None for the checkpoint's run's (else 1280)
    seed: int | None = None  # --dataset fake: None for the checkpoint's run's (else 0)


@dataclass
class WeightsSource:
    state: dict[str, torch.Tensor]
    label: str  # what the report names as the weights
    image_size: int | None  # from a training checkpoint's config
    num_classes: int | None
    preprocess: Any  # torchvision's transforms for --weights, else None
    published: Any  # cnnexplorer.zoo.published.Published or None
    config: Any = None  # a training checkpoint's TrainConfig, else None


def torchvision_weights(arch: zoo.Architecture, name: str, download: bool) -> WeightsSource:
    """torchvision's weights ``name`` from the torch hub cache (or, with --download, the
    network), with their own preprocessing and published figures."""
    from torchvision.models import get_model_weights

    from cnnexplorer.zoo.published import weights_of

    if arch.torchvision_name is None:
        raise UsageError(f"{arch.name} is not a torchvision model, so it has no --weights: pass --checkpoint PATH")
    enum = get_model_weights(arch.torchvision_name)
    available = {w.name: w for w in enum}
    key = enum.DEFAULT.name if name.upper() == "DEFAULT" else name.upper()
    if key not in available:
        raise UsageError(f"{arch.name} has no weights {name!r}: choose from {', '.join(available)} or DEFAULT")
    weights = available[key]
    cached = hub_file(weights)
    if not cached.is_file():
        if not download:
            raise UsageError(
                f"weights {key} of {arch.name} are not in the torch hub cache ({cached}) and downloads are off: "
                f"pass --checkpoint PATH with a state_dict file, or add --download (needs network)"
            )
        try:
            torch.hub.download_url_to_file(weights.url, str(cached), progress=sys.stderr.isatty())
        except OSError as error:
            raise UsageError(
                f"cannot download {weights.url} ({error}): pass --checkpoint PATH with a state_dict file"
            ) from None
    state = checkpoints.model_state_of(checkpoints.load_checkpoint(cached), cached)
    found = {p.weights: p for p in weights_of(arch)}
    return WeightsSource(
        state,
        f"torchvision {key}",
        weights.transforms().crop_size[0],
        len(weights.meta["categories"]),
        weights.transforms(),
        found.get(key),
    )


def hub_file(weights: Any) -> Path:
    """Where the torch hub cache keeps the file of torchvision's ``weights`` (an enum member)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(weights.url).path).name


def weights_not_downloaded(arch: zoo.Architecture) -> set[str]:
    """The names of ``arch``'s torchvision weight sets whose files are not in the torch hub cache."""
    if arch.torchvision_name is None:
        return set()
    from torchvision.models import get_model_weights

    return {weights.name for weights in get_model_weights(arch.torchvision_name) if not hub_file(weights).is_file()}


def checkpoint_weights(arch: zoo.Architecture, path: str) -> WeightsSource:
    from cnnexplorer.train.config import TrainConfig
    from cnnexplorer.zoo.published import published

    loaded = checkpoints.load_checkpoint(path)
    config = None
    if checkpoints.is_training_checkpoint(loaded):
        try:
            config = TrainConfig.from_dict(loaded.get("config"))
        except ValueError as error:
            raise UsageError(f"{path} is not a whole training checkpoint: {error}") from None
    if config is not None and zoo.get(config.model).name != arch.name:
        raise UsageError(f"{path} is a checkpoint of {config.model}, not {arch.name}")
    return WeightsSource(
        checkpoints.model_state_of(loaded, path),
        str(path),
        config.image_size if config else None,
        config.num_classes if config else None,
        None,
        published(arch),
        config,
    )


def published_figures_apply(options: EvalOptions, arch: zoo.Architecture, num_classes: int, image_size: int) -> bool:
    """torchvision's ImageNet figures compare with torchvision's weights, or with a checkpoint
    evaluated on an ImageNet-layout folder with the model's 1000 classes at its own input size."""
    if options.weights:
        return True
    return (
        options.dataset == "imagefolder"
        and num_classes == arch.num_classes == 1000
        and image_size == arch.input_size[1]
    )


def run_eval(options: EvalOptions) -> int:
    arch = zoo.get(options.model)
    source = (
        torchvision_weights(arch, options.weights, options.download)
        if options.weights
        else checkpoint_weights(arch, options.checkpoint)
    )
    if broken := checkpoints.non_finite_tensors(source.state):
        raise UsageError(
            f"refusing {source.label}: {len(broken)} of its tensors hold NaN or infinite values (e.g. {broken[0]}), "
            "so no prediction from them means anything; evaluate weights that are finite"
        )
    image_size = options.image_size or source.image_size or arch.input_size[1]
    if options.dataset == "imagefolder":
        classes = data.check_image_folder(Path(options.data), want_train=False, split=options.split)
        num_classes = source.num_classes or len(classes)
    else:
        num_classes = source.num_classes or CIFAR_CLASSES.get(options.dataset, arch.num_classes)
    from cnnexplorer.train.building import model_totals

    params, macs, _ = model_totals(arch.name, num_classes, image_size)
    if not published_figures_apply(options, arch, num_classes, image_size):
        source.published = None
    trained = source.config  # a fake data set is made again as the run made it
    seed = options.seed if options.seed is not None else trained.seed if trained else 0
    fake_size = options.fake_size or (trained.fake_size if trained else 1280)
    placement = resolve_placement(options.gpu, options.device)
    try:
        datasets = run_data.build_datasets(
            options.dataset,
            options.data,
            image_size,
            seed=seed,
            want_train=False,
            download=options.download,
            fake_size=fake_size,
            fake_classes=num_classes,
            val_transform=source.preprocess,
            split=options.split,
        )
        if len(datasets.classes) != num_classes:
            raise UsageError(f"the weights classify {num_classes} classes but the data has {len(datasets.classes)}")
        model = arch.build(num_classes=num_classes)
        checkpoints.load_model_weights(model, source.state, source.label)
        model = model.to(placement.device)
        if options.channels_last:
            model = model.to(memory_format=torch.channels_last)
        per_rank_batch = max(options.batch_size // placement.world_size, 1)
        loader = data.make_loader(
            datasets.val,
            data.ShardSampler(len(datasets.val), placement.world_size, placement.rank),
            per_rank_batch,
            options.workers,
            placement.device.type == "cuda",
        )
        with _event_writer(options, placement.is_main) as events:
            events.emit(
                "start",
                command="eval",
                model=arch.name,
                family=arch.family,
                config=_plain(options),
                params=params,
                macs=macs,
                device=str(placement.device),
                devices=[str(placement.device)] * placement.world_size,
                world_size=placement.world_size,
                dataset=datasets.describe(),
                steps_per_epoch=len(loader),
                run_dir=None,
                resumed_from=None,
                start_epoch=0,
                start_step=0,
            )
            reporter = make_reporter(sys.stderr, 1, placement.is_main)
            reporter.begin_validation(len(loader))
            try:
                result = evaluate(
                    model,
                    loader,
                    placement,
                    num_classes,
                    options.amp,
                    options.channels_last,
                    on_batch=reporter.validation_batch,
                )
            except (data.UnreadableImageError, RuntimeError) as error:
                message = data.unreadable_image_message(error)
                if message is None:
                    raise
                events.emit("error", kind="data", message=message)
                raise UsageError(message) from None
            finally:
                reporter.close()
            events.emit(
                "val",
                epoch=0,
                step=0,
                loss=result.loss,
                top1=result.top1,
                top5=result.top5,
                images=result.images,
                best_top1=result.top1,
            )
            events.emit("done", status="completed", summary=result.as_dict())
        if placement.is_main:
            _report(arch, options, source, datasets, result)
            if options.per_class:  # after the result is printed: a failed write loses nothing
                _write_per_class(Path(options.per_class), datasets.classes, result)
    finally:
        shutdown_distributed()
    return 0


def _event_writer(options: EvalOptions, is_main: bool) -> EventWriter:
    """The event stream: to stdout (``-``), to a file, or nowhere; a path that cannot be
    written is a one-line UsageError before the evaluation starts."""
    echo = sys.stdout if options.events == "-" and is_main else None
    path = Path(options.events) if options.events not in (None, "-") and is_main else None
    try:
        return EventWriter(path, echo)
    except OSError as error:
        raise rundir.file_error("write events to", path, error) from None


def _write_per_class(path: Path, classes: list[str], result: EvalResult) -> None:
    """Each class's top-1 accuracy as CSV, written whole or not at all."""
    rows = io.StringIO()
    writer = csv.writer(rows, lineterminator="\n")
    writer.writerow(["class", "images", "top1_correct", "top1_accuracy"])
    for name, correct, total in zip(classes, result.per_class_correct, result.per_class_total):
        writer.writerow([name, total, correct, f"{100.0 * correct / total:.4f}" if total else ""])
    try:
        write_text_atomic(path, rows.getvalue())
    except OSError as error:
        raise UsageError(
            f"cannot write the per-class accuracy to {path}: {rundir.os_error_text(error)} "
            "(the result above stands; pass another --per-class path)"
        ) from None


def _plain(options: EvalOptions) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(options)


def _report(
    arch: zoo.Architecture, options: EvalOptions, source: WeightsSource, datasets: data.Datasets, result: EvalResult
) -> None:
    reference = source.published
    out = sys.stderr if options.events == "-" else sys.stdout
    if options.format == "json":
        record = {
            "model": arch.name,
            "weights": source.label,
            "dataset": datasets.kind,
            "data": options.data,
            **result.as_dict(),
            "published": None
            if reference is None
            else {
                "weights": reference.weights,
                "acc1": reference.acc1,
                "acc5": reference.acc5,
                "top1_error": reference.top1_error,
                "top5_error": reference.top5_error,
            },
        }
        print(json.dumps(record, indent=2), file=out)
        return
    lines = [
        f"{arch.name} with {source.label} on {datasets.kind}{' ' + options.data if options.data else ''} "
        f"({options.split}): "
        f"{result.images} images, {result.images_per_second:.1f} img/s",
        f"  top-1 accuracy {result.top1:6.2f}%   error {100 - result.top1:6.2f}%",
        f"  top-5 accuracy {result.top5:6.2f}%   error {100 - result.top5:6.2f}%",
        f"  loss {result.loss:.4f}",
    ]
    if reference is not None:
        lines.append(
            f"  published (torchvision {reference.weights}, ImageNet val): top-1 error {reference.top1_error:.2f}%, "
            f"top-5 error {reference.top5_error:.2f}%"
        )
    if options.per_class:
        lines.append(f"  per-class accuracy: {options.per_class}")
    print("\n".join(lines), file=out)
