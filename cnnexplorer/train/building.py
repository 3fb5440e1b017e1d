"""Building what a run trains with: its data loaders, the model (DDP- and/or compile-wrapped),
the optimizer, the lr schedule and the gradient scaler."""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple

import torch

from cnnexplorer import zoo
from cnnexplorer.errors import InputSizeError, NeedsValuesError, UsageError
from cnnexplorer.train import data, gpu_input, run_data
from cnnexplorer.train.config import TrainConfig
from cnnexplorer.train.devices import Placement
from cnnexplorer.zoo.user_code import has_lazy_modules, materialise_lazy_modules

if TYPE_CHECKING:
    from cnnexplorer.analysis.results import LayerNode


@dataclass(frozen=True)
class Loaders:
    """A run's data as the loop reads it."""

    datasets: data.Datasets
    train_sampler: data.ResumableSampler
    train: torch.utils.data.DataLoader
    val: torch.utils.data.DataLoader
    prepare: gpu_input.BatchPreparer  # the train loader's batches onto the device

    def steps_per_epoch(self) -> int:
        return self.train_sampler.batches_per_epoch()


@dataclass(frozen=True)
class Trainer:
    """The objects a run trains with (built once by ``build_trainer``)."""

    raw_model: torch.nn.Module  # unwrapped: what is saved and evaluated
    model: torch.nn.Module  # DDP- and/or compile-wrapped: what is trained
    optimizer: torch.optim.Optimizer
    scheduler: Any  # LambdaLR (stepped every step) or ReduceLROnPlateau (every epoch)
    scaler: torch.amp.GradScaler
    loaders: Loaders


def lr_factor(
    step: int,
    steps_per_epoch: int,
    epochs: int,
    schedule: str,
    milestones: tuple[int, ...],
    gamma: float,
    warmup_epochs: float,
) -> float:
    """The multiplier of the base lr for optimizer step ``step`` (0-based)."""
    warmup_steps = round(warmup_epochs * steps_per_epoch)
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "cosine":
        total = max(epochs * steps_per_epoch - warmup_steps, 1)
        return 0.5 * (1.0 + math.cos(math.pi * min(step - warmup_steps, total) / total))
    if schedule == "step":
        epoch = step / steps_per_epoch
        return gamma ** sum(1 for milestone in milestones if epoch >= milestone)
    return 1.0


def build_optimizer(config: TrainConfig, model: torch.nn.Module) -> torch.optim.Optimizer:
    if config.optimizer == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(
        model.parameters(),
        lr=config.lr,
        momentum=config.momentum,
        nesterov=config.nesterov,
        weight_decay=config.weight_decay,
    )


def build_scheduler(config: TrainConfig, optimizer: torch.optim.Optimizer, steps_per_epoch: int) -> Any:
    """Per-step LambdaLR for step/cosine (with warmup); ReduceLROnPlateau on val top-1 otherwise."""
    if config.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="max", factor=config.gamma, patience=config.plateau_patience
        )
    factor = partial(
        lr_factor,
        steps_per_epoch=steps_per_epoch,
        epochs=config.epochs,
        schedule=config.schedule,
        milestones=tuple(config.milestones),
        gamma=config.gamma,
        warmup_epochs=config.warmup_epochs,
    )
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def open_datasets(config: TrainConfig, placement: Placement) -> data.Datasets:
    """The run's train and val sets, decoded where ``config.decode`` says (auto: chosen here,
    see ``Datasets.decode``); with --download rank 0 downloads first, the others then read its files."""
    downloading_elsewhere = config.download and placement.distributed and not placement.is_main
    if downloading_elsewhere:
        import torch.distributed as dist

        dist.barrier()
    datasets = run_data.build_datasets(
        config.dataset,
        config.data,
        config.image_size,
        config.seed,
        download=config.download and placement.is_main,
        fake_size=config.fake_size,
        fake_classes=config.num_classes,
        decode=config.decode,
        device=placement.device,
    )
    if config.download and placement.distributed and placement.is_main:
        import torch.distributed as dist

        dist.barrier()
    if len(datasets.classes) != config.num_classes:
        raise UsageError(
            f"the data has {len(datasets.classes)} classes but the run is configured for {config.num_classes}"
        )
    return datasets


def build_loaders(config: TrainConfig, placement: Placement, datasets: data.Datasets) -> Loaders:
    """Each rank's shard of the data: the resumable train sampler and the two loaders."""
    per_rank_batch = config.batch_size // placement.world_size
    train_sampler = data.ResumableSampler(
        datasets.train, placement.world_size, placement.rank, config.seed, per_rank_batch
    )
    val_sampler = data.ShardSampler(len(datasets.val), placement.world_size, placement.rank)
    pin = placement.device.type == "cuda"
    collate = gpu_input.collate_encoded if datasets.decode == "gpu" else None
    train = data.make_loader(datasets.train, train_sampler, per_rank_batch, config.workers, pin, config.seed, collate)
    val = data.make_loader(datasets.val, val_sampler, per_rank_batch, config.workers, pin, config.seed, collate)
    prepare = gpu_input.preparer_for(datasets.train, placement.device, bool(config.channels_last))
    return Loaders(datasets=datasets, train_sampler=train_sampler, train=train, val=val, prepare=prepare)


def build_model(config: TrainConfig, placement: Placement) -> tuple[torch.nn.Module, torch.nn.Module]:
    """(the model, what is trained: the model DDP- and/or compile-wrapped), with the same
    initial weights on every rank."""
    torch.manual_seed(config.seed)
    raw_model = zoo.get(config.model).build(num_classes=config.num_classes).to(placement.device)
    if has_lazy_modules(raw_model):  # their parameters' shapes, before the optimizer and DDP see them
        raw_model.eval()  # no batch-norm statistics move
        materialise_lazy_modules(
            raw_model, torch.zeros(1, 3, config.image_size, config.image_size, device=placement.device)
        )
        raw_model.train()
    if config.channels_last:
        raw_model = raw_model.to(memory_format=torch.channels_last)
    model = raw_model
    if placement.distributed:
        from torch.nn.parallel import DistributedDataParallel

        device_ids = [placement.device.index] if placement.device.type == "cuda" else None
        model = DistributedDataParallel(raw_model, device_ids=device_ids)
    if config.compile:
        model = torch.compile(model)
    return raw_model, model


def build_trainer(config: TrainConfig, placement: Placement, datasets: data.Datasets) -> Trainer:
    """Everything a resolved ``config`` trains with, on ``datasets`` (from ``open_datasets``)."""
    loaders = build_loaders(config, placement, datasets)
    raw_model, model = build_model(config, placement)
    optimizer = build_optimizer(config, raw_model)
    return Trainer(
        raw_model=raw_model,
        model=model,
        optimizer=optimizer,
        scheduler=build_scheduler(config, optimizer, loaders.steps_per_epoch()),
        scaler=torch.amp.GradScaler(placement.device.type, enabled=config.precision == "fp16"),
        loaders=loaders,
    )


class ModelTotals(NamedTuple):
    params: int
    macs: int
    note: str | None  # how they were counted, where not on the meta device


def model_totals(model: str, num_classes: int, image_size: int, training: bool = False) -> ModelTotals:
    """Parameters and MACs of one forward pass of one image at ``image_size``: the analysis
    engine on the meta device, or, for a model whose forward needs values (which meta tensors
    lack), a real forward on the CPU, with a note saying so. A UsageError naming the least
    ``--image-size`` the model runs at when the image is too small for it; with ``training``,
    too small for a training step too (its training-only heads, at batch 2 as batch norm trains)."""
    arch = zoo.get(model)
    try:
        try:
            return ModelTotals(*_totals_on(arch, num_classes, image_size, "meta", training), None)
        except NeedsValuesError:
            note = f"{arch.name}'s forward needs values: its parameters and MACs come from a real forward on the CPU"
            return ModelTotals(*_totals_on(arch, num_classes, image_size, "cpu", training), note)
    except InputSizeError as error:
        raise _image_size_error(arch, num_classes, image_size, error, training) from None


def _totals_on(
    arch: zoo.Architecture, num_classes: int, image_size: int, device: str, training: bool
) -> tuple[int, int]:
    from cnnexplorer.analysis import analyze_module

    with torch.device(device):
        built = arch.build(num_classes=num_classes)
    batch = 2 if training else 1
    analysis = analyze_module(built, (3, image_size, image_size), batch, name=arch.name, device=device)
    if training and (idle := [head.path for head in _training_only_heads(analysis.root) if not head.executed]):
        raise InputSizeError(
            f"input 3x{image_size}x{image_size} is too small for {arch.name}'s training-only {idle[0]}, "
            "which a training step runs"
        )
    return analysis.totals.params, analysis.totals.macs // batch


def _training_only_heads(node: LayerNode) -> Iterator[LayerNode]:
    """The outermost training-only modules under ``node``."""
    for child in node.children:
        if child.training_only:
            yield child
        else:
            yield from _training_only_heads(child)


def _image_size_error(
    arch: zoo.Architecture, num_classes: int, image_size: int, error: UsageError, training: bool
) -> UsageError:
    """``--image-size`` refused in train's and eval's words, with the least size the model runs
    at (a search over meta-device forwards, in training mode for ``training``, between the size
    refused and the model's own)."""
    with torch.device("meta"):
        model = arch.build(num_classes=num_classes)
    lazy = has_lazy_modules(model)  # a lazy module's shapes are set by its first forward: try copies

    def runs_at(size: int) -> bool:
        return _runs_at(copy.deepcopy(model) if lazy else model, size, training)

    own = arch.input_size[1]
    refused = f"--image-size {image_size}: {error}"
    if image_size >= own or not runs_at(own):
        return UsageError(refused)
    low, high = image_size + 1, own  # the least size that runs lies in [low, high]
    while low < high:
        middle = (low + high) // 2
        low, high = (low, middle) if runs_at(middle) else (middle + 1, high)
    return UsageError(f"{refused}; the least --image-size {arch.name} runs at is {low}")


def _runs_at(model: torch.nn.Module, image_size: int, training: bool) -> bool:
    """Whether a forward of a meta-device model runs at ``image_size``: an inference forward,
    or with ``training`` a training step's (training-only heads and all; batch 2, so that batch
    norm trains)."""
    batch = 2 if training else 1
    try:
        with torch.no_grad():
            model.train(training)(torch.empty(batch, 3, image_size, image_size, device="meta"))
    except Exception:  # any failure: not this size
        return False
    return True
