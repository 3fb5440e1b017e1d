"""The ``train`` and ``eval`` subcommands. Import-light: torch loads inside the handlers."""

from __future__ import annotations

import argparse
import math
import os
import random
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from cnnexplorer.errors import UsageError
from cnnexplorer.train.choices import (
    AMP_DTYPES,
    AT_LEAST,
    CIFAR_CLASSES,
    DATASETS,
    DECODE_MODES,
    EVAL_FORMATS,
    OPTIMIZERS,
    PRECISIONS,
    SCHEDULES,
    TRAIN_PRECISIONS,
    in_bounds,
    milestones_problem,
    number_bound,
)
from cnnexplorer.train.data_checks import check_download

if TYPE_CHECKING:
    from cnnexplorer.train.checkpointing import Resume

MODEL_HELP = (
    "the model: a zoo name (`cnnexplorer list`), any torchvision classifier (`list --all`), timm:NAME, "
    "path/to/file.py:factory or package.module:factory"
)
# Flags that launch processes; they are not passed on to the ranks.
LAUNCH_FLAGS = ("gpus", "nproc", "nnodes", "node_rank", "rdzv_endpoint", "rdzv_id", "rdzv_backend")
# Flags a resumed run may change: everything else comes from the checkpoint's config.
RESUMABLE_OVERRIDES = ("epochs", "max_steps", "workers", "log_every", "data", "output", "events", "download")

TRAIN_DESCRIPTION = """\
Train a model (a zoo name, any torchvision classifier, timm:NAME or your own file.py:factory)
on an ImageFolder tree, CIFAR or synthetic data, with its paper's recipe or, for a model
without one, a generic recipe (printed at the start; every part overridable), on the CPU,
one GPU or many GPUs (DDP under torchrun). Writes runs/<timestamp>-<model>/: config.json, events.jsonl,
metrics.csv, last.pt (every epoch and on interrupt) and best.pt (best val top-1)."""

TRAIN_EPILOG = """\
data:
  --data DIR                 ImageFolder tree: DIR/train/<class>/*.jpg and DIR/val/<class>/*.jpg
  --dataset cifar10 --data DIR [--download]   torchvision's CIFAR reader (download is opt-in)
  --dataset fake             synthetic images, for speed runs
devices:
  (default)                  cuda:0 if there is a GPU, else the CPU
  --gpu N / --device cpu     one device
  --gpus 0,1 / --nproc N     DDP: relaunches this command under
                             python -m torch.distributed.run --standalone --nproc-per-node N
  multi-node: add --nnodes, --node-rank, --rdzv-endpoint HOST:PORT, --rdzv-id on every node;
  or start it yourself: torchrun --nproc-per-node 8 -m cnnexplorer train resnet50 --data DIR
speed (on a GPU):
  bf16 autocast + channels-last by default where the GPU has bf16 (--precision fp32 for full
  precision); JPEG folders are decoded and augmented on the GPU (--decode cpu: in the workers);
  loader workers persist across epochs; --dataset fake makes its images on the device.
faults:
  Ctrl-C / SIGTERM finish the current step, write last.pt and exit 130 / 143;
  --resume RUN/last.pt continues exactly where it stopped (same losses with --seed).
  A NaN or infinite loss stops the run (exit 1) before it touches the weights.
examples:
  cnnexplorer train resnet20 --dataset cifar10 --data ~/data --download
  cnnexplorer train resnet50 --data /data/imagenet --gpus 0,1,2,3 --precision bf16
  cnnexplorer train vgg16 --data /data/imagenet --gpu 0 --max-steps 300
  cnnexplorer train ./mynet.py:SmallNet --dataset fake --device cpu --max-steps 100
  cnnexplorer train resnet20 --resume runs/20250101-120000-resnet20/last.pt --epochs 200"""

EVAL_DESCRIPTION = """\
Top-1 and top-5 accuracy and error, loss and images/s of a model over every image of a
split exactly once (also under DDP), with torchvision's published figures alongside where
they exist. Weights come from a checkpoint (of `cnnexplorer train`, or a plain state_dict
file) or from torchvision's weight sets with their own preprocessing. Files are loaded with
torch.load(weights_only=True): one carrying pickled Python objects is refused."""

EVAL_EPILOG = """\
examples:
  cnnexplorer eval resnet20 --data shapes --checkpoint runs/20250101-120000-resnet20/best.pt
  cnnexplorer eval resnet50 --data /data/imagenet --weights IMAGENET1K_V1 --gpu 0
  cnnexplorer eval resnet50 --data /data/imagenet --checkpoint resnet50-0676ba61.pth --per-class per_class.csv
--weights uses the torch hub cache ($TORCH_HOME/hub/checkpoints); without the file there,
add --download (needs network) or pass --checkpoint with a state_dict file."""


def _whole_number(setting: str):
    """An argparse type: a whole number of the setting's least value (``AT_LEAST``) or more."""
    minimum = AT_LEAST[setting]

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} must be {minimum} or more")
        return value

    return parse


def _number(setting: str):
    """An argparse type: a finite number within the setting's range (``choices.number_bound``)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text} is not a finite number")
        if not in_bounds(setting, value):
            raise argparse.ArgumentTypeError(f"{text} must be {number_bound(setting)}")
        return value

    return parse


def _int_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of whole numbers, e.g. 0,1") from None
    if not values or any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: give one or more numbers >= 0, e.g. 0,1")
    return values


def _add_device_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("devices")
    group.add_argument("--gpu", type=_whole_number("gpu"), metavar="N", help="run on cuda:N")
    group.add_argument(
        "--device", metavar="DEV", help="cpu, cuda or cuda:N (default: cuda:0 if there is a GPU, else cpu)"
    )
    group.add_argument(
        "--gpus", type=_int_list, metavar="LIST", help="DDP on these GPUs, e.g. 0,1 (one process each, under torchrun)"
    )
    group.add_argument(
        "--nproc",
        type=_whole_number("nproc"),
        metavar="N",
        help="DDP with N processes per node (GPUs 0..N-1, or N CPU processes with --device cpu)",
    )
    group.add_argument("--nnodes", metavar="N", help="multi-node: passed to torchrun (also N:M for elastic)")
    group.add_argument("--node-rank", metavar="R", help="multi-node: this node's rank, passed to torchrun")
    group.add_argument(
        "--rdzv-endpoint", metavar="HOST:PORT", help="multi-node: rendezvous endpoint, passed to torchrun"
    )
    group.add_argument("--rdzv-id", metavar="ID", help="multi-node: rendezvous (job) id, passed to torchrun")
    group.add_argument(
        "--rdzv-backend", metavar="NAME", help="multi-node: rendezvous backend for torchrun (default c10d)"
    )


def _add_data_options(parser: argparse.ArgumentParser, for_eval: bool) -> None:
    group = parser.add_argument_group("data")
    group.add_argument(
        "--data", metavar="DIR", help="ImageFolder root (DIR/train, DIR/val), or where the CIFAR files are or go"
    )
    group.add_argument(
        "--dataset", choices=DATASETS, help="imagefolder (default with --data), cifar10, cifar100 or fake (synthetic)"
    )
    group.add_argument(
        "--download",
        action="store_true",
        help="allow downloads (CIFAR files" + (", torchvision weights)" if for_eval else ")"),
    )
    group.add_argument(
        "--image-size",
        type=_whole_number("image_size"),
        metavar="S",
        help="square input size (default: the model's own, e.g. 227 for alexnet-2012, 32 for CIFAR models)",
    )
    group.add_argument(
        "--workers",
        type=_whole_number("workers"),
        metavar="N",
        help=f"data loading processes (default {default_workers()}; 0 loads in the main process)",
    )
    group.add_argument(
        "--fake-size",
        type=_whole_number("fake_size"),
        metavar="N",
        help="--dataset fake: training images (val gets N/10; default 1280)",
    )


def default_workers() -> int:
    return min(8, os.cpu_count() or 1)


def add_train_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``train`` to the CLI's subcommands."""
    train = subparsers.add_parser(
        "train",
        description=TRAIN_DESCRIPTION,
        epilog=TRAIN_EPILOG,
        help="train a model (CPU, GPU or DDP) with its paper's recipe; events, checkpoints, resume",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("model", help=MODEL_HELP)
    _add_data_options(train, for_eval=False)
    _add_device_options(train)
    recipe = train.add_argument_group(
        "recipe (defaults: the family's paper recipe, else the generic recipe; printed at the start)"
    )
    recipe.add_argument("--epochs", type=_whole_number("epochs"), metavar="N")
    recipe.add_argument(
        "--batch-size",
        type=_whole_number("batch_size"),
        metavar="N",
        help="global batch, split evenly over the DDP processes",
    )
    recipe.add_argument(
        "--optimizer", choices=OPTIMIZERS, help="sgd (papers) or adamw (lr 1e-3, weight decay 0.05 unless given)"
    )
    recipe.add_argument("--lr", type=_number("lr"), metavar="LR", help="base learning rate")
    recipe.add_argument("--momentum", type=_number("momentum"), metavar="M", help="SGD momentum, from 0 to below 1")
    recipe.add_argument(
        "--nesterov", action=argparse.BooleanOptionalAction, default=None, help="Nesterov momentum (WRN, DenseNet)"
    )
    recipe.add_argument("--weight-decay", type=_number("weight_decay"), metavar="WD")
    recipe.add_argument(
        "--schedule",
        choices=SCHEDULES,
        help="step: x gamma at milestones; cosine: to 0; plateau: x gamma when val top-1 stalls",
    )
    recipe.add_argument(
        "--milestones",
        type=_int_list,
        metavar="E1,E2",
        help="step schedule: epochs after which the lr is multiplied by gamma, increasing, below --epochs",
    )
    recipe.add_argument("--gamma", type=_number("gamma"), metavar="G", help="lr factor at each milestone or plateau")
    recipe.add_argument(
        "--plateau-patience",
        type=_whole_number("plateau_patience"),
        metavar="N",
        help="plateau schedule: epochs without improvement before a drop (default 2)",
    )
    recipe.add_argument(
        "--warmup-epochs",
        type=_number("warmup_epochs"),
        metavar="E",
        help="linear lr warmup (step and cosine schedules; may be fractional)",
    )
    recipe.add_argument("--label-smoothing", type=_number("label_smoothing"), metavar="EPS", help="from 0 to below 1")
    recipe.add_argument(
        "--aux-weight",
        type=_number("aux_weight"),
        metavar="W",
        help="GoogLeNet: weight of the two auxiliary losses (default 0.3)",
    )
    run = train.add_argument_group("run")
    run.add_argument(
        "--seed",
        type=_whole_number("seed"),
        metavar="N",
        help="fix every random choice (also makes cuDNN deterministic); default: a random seed, recorded",
    )
    run.add_argument(
        "--precision",
        choices=TRAIN_PRECISIONS,
        help="auto (default): bf16 autocast and channels-last on a GPU that has bf16, else fp32; "
        "fp16 uses a gradient scaler. An execution detail: the recipe stays the paper's",
    )
    run.add_argument(
        "--amp",
        nargs="?",
        const="bf16",
        choices=AMP_DTYPES,
        help="the same as --precision bf16|fp16 (--amp alone: bf16)",
    )
    run.add_argument(
        "--channels-last",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="NHWC memory format (default: on with bf16/fp16 on a GPU, else off)",
    )
    run.add_argument(
        "--decode",
        choices=DECODE_MODES,
        help="where images are decoded and augmented: cpu (the loader's workers), gpu (on the device, JPEGs, "
        "batched), auto (default: gpu for a folder of JPEGs on a GPU)",
    )
    run.add_argument("--compile", action="store_true", help="torch.compile the model")
    run.add_argument("--output", metavar="DIR", help="where run directories go (default runs/)")
    run.add_argument("--resume", metavar="PATH", help="continue from a last.pt (in its run directory, unless --output)")
    run.add_argument(
        "--max-steps",
        type=_whole_number("max_steps"),
        metavar="N",
        help="stop after N optimizer steps in all (then validate and save)",
    )
    run.add_argument(
        "--log-every",
        type=_whole_number("log_every"),
        metavar="N",
        help="steps between step events and log lines (default 10)",
    )
    run.add_argument(
        "--events", choices=("-",), help="also write the event stream to stdout (human output then goes to stderr)"
    )
    run.add_argument(
        "--tensorboard",
        metavar="DIR",
        help="also write the run live to DIR/<run name> as TensorBoard scalars and hparams "
        "(pip install 'cnnexplorer[tensorboard]'; `cnnexplorer runs export` writes a finished run)",
    )
    train.set_defaults(handler=partial(run_train_command, train))
    return train


def add_eval_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``eval`` to the CLI's subcommands."""
    evaluation = subparsers.add_parser(
        "eval",
        help="top-1/top-5 accuracy of a checkpoint or torchvision's weights",
        description=EVAL_DESCRIPTION,
        epilog=EVAL_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    evaluation.add_argument("model", help=MODEL_HELP)
    weights = evaluation.add_argument_group("weights (one of)")
    weights.add_argument(
        "--checkpoint", metavar="PATH", help="a last.pt/best.pt of `cnnexplorer train`, or a state_dict file"
    )
    weights.add_argument(
        "--weights", metavar="NAME", help="torchvision's weights, e.g. IMAGENET1K_V1, with their preprocessing"
    )
    _add_data_options(evaluation, for_eval=True)
    evaluation.add_argument(
        "--split", default="val", metavar="NAME", help="ImageFolder split folder to evaluate (default val)"
    )
    _add_device_options(evaluation)
    evaluation.add_argument(
        "--batch-size", type=_whole_number("batch_size"), default=64, metavar="N", help="global batch (default 64)"
    )
    evaluation.add_argument("--precision", choices=PRECISIONS, help="autocast dtype of the inference (default fp32)")
    evaluation.add_argument("--amp", nargs="?", const="bf16", choices=AMP_DTYPES, help="--precision bf16|fp16")
    evaluation.add_argument("--channels-last", action="store_true", help="NHWC memory format")
    evaluation.add_argument("--per-class", metavar="CSV", help="write each class's top-1 accuracy to this CSV file")
    evaluation.add_argument("--format", choices=EVAL_FORMATS, default="table", help="result as text (default) or JSON")
    evaluation.add_argument("--events", metavar="PATH", help="write the event stream here (- for stdout)")
    evaluation.add_argument(
        "--seed",
        type=_whole_number("seed"),
        metavar="N",
        help="--dataset fake: the seed of the synthetic images (default: the checkpoint's run's, else 0)",
    )
    evaluation.set_defaults(handler=partial(run_eval_command, evaluation))
    return evaluation


def _launch_if_asked(parser: argparse.ArgumentParser, args: argparse.Namespace, resume: Resume | None) -> int | None:
    """For --gpus/--nproc: run this command under torchrun and return its exit code (the
    checkpoint ``resume`` read is released first: each rank reads its own); None when this
    process should do the work itself."""
    from cnnexplorer.train import devices

    rendezvous = {
        "nnodes": args.nnodes,
        "node-rank": args.node_rank,
        "rdzv-endpoint": args.rdzv_endpoint,
        "rdzv-id": args.rdzv_id,
        "rdzv-backend": args.rdzv_backend,
    }
    launching = args.gpus is not None or args.nproc is not None
    if devices.under_torchrun():
        if launching or any(v is not None for v in rendezvous.values()):
            raise UsageError(
                "--gpus, --nproc and the rendezvous flags launch torchrun; under torchrun already, leave them out"
            )
        if args.gpu is not None:
            raise UsageError(
                "under torchrun each process takes the GPU of its LOCAL_RANK: "
                "leave --gpu out (use CUDA_VISIBLE_DEVICES)"
            )
        return None
    if not launching:
        if any(v is not None for v in rendezvous.values()):
            raise UsageError("the rendezvous flags (--nnodes, --node-rank, --rdzv-*) go with --nproc N or --gpus LIST")
        return None
    if args.gpus is not None and args.nproc is not None and args.nproc != len(args.gpus):
        raise UsageError(
            f"--gpus {','.join(map(str, args.gpus))} is {len(args.gpus)} processes "
            f"but --nproc says {args.nproc}: give one"
        )
    if args.gpu is not None:
        raise UsageError("--gpu N is one device; for several use --gpus 0,1 (or --nproc N)")
    on_cpu = args.device == "cpu"
    if args.gpus is not None:
        if on_cpu:
            raise UsageError("--gpus with --device cpu: for CPU processes use --nproc N --device cpu")
        if len(set(args.gpus)) != len(args.gpus):
            raise UsageError(f"--gpus {','.join(map(str, args.gpus))} names a GPU twice")
        devices.check_gpu_ids(args.gpus)
        nproc, visible = len(args.gpus), args.gpus
    else:
        nproc, visible = args.nproc, None
        if not on_cpu:
            import torch

            if not torch.cuda.is_available():
                raise UsageError(
                    f"--nproc {nproc} runs one process per GPU, but this machine has no CUDA device: "
                    "add --device cpu for CPU processes"
                )
            devices.check_gpu_ids(list(range(nproc)))
    if args.device not in (None, "cpu", "cuda"):
        raise UsageError(
            f"--device {args.device} names one device; with --gpus/--nproc use --device cpu or leave it out"
        )
    command = devices.torchrun_command(nproc, child_arguments(parser, args), rendezvous)
    if resume is not None:
        resume.release()
    return devices.relaunch_under_torchrun(command, visible)


def child_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[str]:
    """This command's arguments as given, less the launch flags: what each rank runs."""
    from dataclasses import replace

    from cnnexplorer.train.request import LaunchRequest

    return replace(LaunchRequest.from_args(parser, args), **dict.fromkeys(LAUNCH_FLAGS)).argv()


def _run_dir(output: str | None, model: str) -> Path:
    """The folder a new run asks for; the run claims it (or a suffixed name) when it starts."""
    from cnnexplorer.runs.rundir import new_run_name

    return Path(output or "runs") / new_run_name(model)


def resolve_train_config(args: argparse.Namespace):
    """Recipe defaults of the model's family, overridden by the flags given."""
    from dataclasses import fields, replace

    from cnnexplorer import zoo
    from cnnexplorer.train.config import TrainConfig
    from cnnexplorer.train.recipes import Recipe, milestone_epochs, recipe_for

    arch = zoo.get(args.model)
    recipe = recipe_for(arch)
    dataset = args.dataset or ("imagefolder" if args.data else None)
    if dataset is None:
        raise UsageError(
            "no data: pass --data DIR (an ImageFolder tree with train/ and val/), "
            "--dataset cifar10 --data DIR, or --dataset fake"
        )
    if dataset == "fake" and args.data:
        raise UsageError("--dataset fake makes its own images: leave --data out")
    if args.fake_size is not None and dataset != "fake":
        raise UsageError("--fake-size is for --dataset fake")
    check_download(dataset, args.download)
    if dataset == "imagefolder":
        from cnnexplorer.train.data import check_image_folder

        num_classes = len(check_image_folder(Path(args.data)))
    else:
        num_classes = CIFAR_CLASSES.get(dataset, arch.num_classes)
    image_size = args.image_size or arch.input_size[1]
    # The recipe with the flags given; switching to AdamW also switches to its usual lr and weight decay.
    given = {f.name: getattr(args, f.name) for f in fields(Recipe) if getattr(args, f.name, None) is not None}
    if given.get("optimizer") == "adamw" and recipe.optimizer != "adamw":
        recipe = replace(recipe, lr=1e-3, weight_decay=0.05)
    chosen = replace(recipe, **given)
    if chosen.schedule == "plateau" and chosen.warmup_epochs:
        raise UsageError(
            "--warmup-epochs works with the step and cosine schedules, not plateau: add --schedule step or cosine"
        )
    if args.milestones is not None and chosen.schedule != "step":
        raise UsageError(f"--milestones is for --schedule step (this run's schedule is {chosen.schedule})")
    if args.milestones is not None and (problem := milestones_problem(args.milestones, chosen.epochs)):
        raise UsageError(f"--milestones {','.join(map(str, args.milestones))}: {problem}")
    if args.aux_weight is not None and arch.family != "GoogLeNet":
        raise UsageError("--aux-weight is for googlenet (the only model here with auxiliary classifiers)")
    if chosen.optimizer == "adamw" and (args.momentum is not None or args.nesterov is not None):
        raise UsageError("--momentum and --nesterov are SGD settings: leave them out with --optimizer adamw")
    overridden = given.keys() & {"lr", "optimizer", "schedule", "weight_decay"}
    milestones = args.milestones if args.milestones is not None else milestone_epochs(recipe.milestones, chosen.epochs)
    return TrainConfig(
        model=arch.name,
        dataset=dataset,
        data=str(args.data) if args.data else None,
        image_size=image_size,
        num_classes=num_classes,
        epochs=chosen.epochs,
        batch_size=chosen.batch_size,
        optimizer=chosen.optimizer,
        lr=chosen.lr,
        momentum=chosen.momentum,
        nesterov=chosen.nesterov and chosen.optimizer == "sgd",
        weight_decay=chosen.weight_decay,
        schedule=chosen.schedule,
        milestones=milestones,
        gamma=chosen.gamma,
        plateau_patience=args.plateau_patience if args.plateau_patience is not None else 2,
        warmup_epochs=chosen.warmup_epochs,
        label_smoothing=chosen.label_smoothing,
        aux_weight=chosen.aux_weight,
        seed=args.seed if args.seed is not None else random.randrange(2**31),
        deterministic=args.seed is not None,
        precision=args.precision or "auto",
        channels_last=args.channels_last,
        compile=args.compile,
        workers=args.workers if args.workers is not None else default_workers(),
        max_steps=args.max_steps,
        log_every=args.log_every or 10,
        fake_size=args.fake_size or 1280,
        download=args.download,
        recipe=recipe.source + (" (with overrides)" if overridden else ""),
        run_dir=str(_run_dir(args.output, arch.name)),
        decode=args.decode or "auto",
    )


def resume_config(parser: argparse.ArgumentParser, args: argparse.Namespace, resume):
    """The config of the checkpoint ``resume`` (read once, by ``read_resume``), with only the
    settings a resumed run may change. Flags of the recipe and run that equal the checkpoint's
    are welcome (the command that started the run, with --resume added); different ones are refused."""
    from dataclasses import replace

    from cnnexplorer import zoo
    from cnnexplorer.runs import rundir
    from cnnexplorer.train import devices
    from cnnexplorer.train.config import TrainConfig

    saved = resume.checkpoint
    try:
        config = TrainConfig.from_dict(saved["config"])
    except ValueError as error:
        raise UsageError(f"{resume.path} is not a whole training checkpoint: {error}") from None
    if zoo.get(args.model).name != config.model:
        raise UsageError(f"{resume.path} is a checkpoint of {config.model}, not {zoo.get(args.model).name}")
    changed = _changed_settings(parser, args, config)
    if changed:
        raise UsageError(
            f"{'; '.join(changed)}: a resumed run keeps its checkpoint's settings "
            "(only --epochs, --max-steps, --workers, --log-every, --data, --output may change); "
            "leave them out, or start a new run"
        )
    overrides = {name: getattr(args, name) for name in ("epochs", "max_steps", "workers", "log_every", "data")}
    config = replace(config, **{name: value for name, value in overrides.items() if value is not None})
    run_dir = resume.path.parent
    in_place = args.output is None or _same_folder(Path(args.output), run_dir.parent)
    config = replace(config, run_dir=str(run_dir) if in_place else str(_run_dir(args.output, config.model)))
    if in_place and not devices.under_torchrun():  # the launcher checked; rank 0 takes the lock
        holder = rundir.lock_holder(run_dir)
        if holder is not None:
            raise UsageError(rundir.held_by_message(run_dir, holder))
    if saved["epoch"] >= config.epochs and (config.max_steps is None or saved["step"] >= config.max_steps):
        raise UsageError(f"{resume.path} has done all {config.epochs} epochs: raise --epochs to train on")
    if config.max_steps is not None and saved["step"] >= config.max_steps:
        raise UsageError(
            f"{resume.path} is at step {saved['step']}, past --max-steps {config.max_steps}: "
            "raise --max-steps or leave it out"
        )
    return config


def _same_folder(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except (OSError, RuntimeError):
        return False


def _changed_settings(parser: argparse.ArgumentParser, args: argparse.Namespace, config) -> list[str]:
    """``--flag VALUE differs from the checkpoint's X`` for each recipe or run flag given
    with another value than the checkpoint's config holds (zero and false values included)."""
    free = RESUMABLE_OVERRIDES + LAUNCH_FLAGS + ("model", "resume", "gpu", "device")
    changed = []
    for name, value in vars(args).items():
        # Not given: None, or a store_true flag's False (train's other flags default to None).
        if name in free or not hasattr(config, name) or value is None or value == parser.get_default(name):
            continue
        if name in ("precision", "decode") and value == "auto":
            continue  # auto was resolved when the run started: the recorded choice stands
        recorded = getattr(config, name)
        if value != recorded:
            flag = ("--no-" if value is False else "--") + name.replace("_", "-")  # False: --no-FLAG
            shown = "" if isinstance(value, bool) else f" {_setting_text(value)}"
            changed.append(f"{flag}{shown} differs from the checkpoint's {_setting_text(recorded)}")
    return changed


def _setting_text(value) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value)) or "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    return "none" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def resume_path(given: str) -> str:
    """The checkpoint --resume names: a file, or a run folder's last.pt."""
    path = Path(given)
    if not path.is_dir():
        return given
    last = path / "last.pt"
    if not last.is_file():
        raise UsageError(
            f"run folder {path} has no last.pt to resume from (it stopped before its first checkpoint): start a new run"
        )
    return str(last)


def run_train_command(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from cnnexplorer import zoo
    from cnnexplorer.train import devices

    zoo.get(args.model)  # unknown names fail first, before torch loads
    if args.gpu is not None and args.device is not None:
        raise UsageError("--gpu N and --device both pick the device: pass one")
    devices.check_device_flag(args.device)
    merge_amp_into_precision(args)
    if args.tensorboard is not None:
        from cnnexplorer.runs.tensorboard import check_folder, check_installed

        check_installed()
        check_folder(Path(args.tensorboard))
    resume = None
    if args.resume:
        from cnnexplorer.train.checkpointing import read_resume

        args.resume = resume_path(args.resume)
        resume = read_resume(Path(args.resume))
    # Resolved (and so checked) before any relaunch, so that bad input fails once, in one line.
    config = resume_config(parser, args, resume) if resume else resolve_train_config(args)
    exit_code = _launch_if_asked(parser, args, resume)
    if exit_code is not None:
        return exit_code
    from cnnexplorer.train.loop import run_training

    tensorboard = Path(args.tensorboard) if args.tensorboard is not None else None
    return run_training(config, args.gpu, args.device, resume, args.events == "-", tensorboard)


def merge_amp_into_precision(args: argparse.Namespace) -> None:
    """--amp X is --precision X (old commands and forms keep working); both, differing, is an error."""
    if args.amp is None:
        return
    if args.precision not in (None, args.amp):
        raise UsageError(f"--amp {args.amp} and --precision {args.precision} disagree: pass --precision alone")
    args.precision, args.amp = args.amp, None


def run_eval_command(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from cnnexplorer import zoo
    from cnnexplorer.train import devices

    zoo.get(args.model)
    merge_amp_into_precision(args)
    if args.gpu is not None and args.device is not None:
        raise UsageError("--gpu N and --device both pick the device: pass one")
    devices.check_device_flag(args.device)
    dataset = args.dataset or "imagefolder"
    if dataset == "fake" and args.data:
        raise UsageError("--dataset fake makes its own images: leave --data out")
    if bool(args.checkpoint) == bool(args.weights):
        raise UsageError(
            "pass one of --checkpoint PATH (from `cnnexplorer train` or torch.save) "
            "and --weights NAME (torchvision's, e.g. IMAGENET1K_V1)"
        )
    if dataset == "imagefolder" and args.data is None:
        raise UsageError("--data DIR is needed: the folder holding val/<class>/<images> (or pass --dataset)")
    if dataset != "fake" and (args.seed is not None or args.fake_size is not None):
        raise UsageError("--seed and --fake-size are for --dataset fake (the synthetic images they make)")
    exit_code = _launch_if_asked(parser, args, None)
    if exit_code is not None:
        return exit_code
    from cnnexplorer.train.eval_command import EvalOptions, run_eval

    return run_eval(
        EvalOptions(
            model=args.model,
            dataset=dataset,
            data=args.data,
            split=args.split,
            checkpoint=args.checkpoint,
            weights=args.weights,
            gpu=args.gpu,
            device=args.device,
            batch_size=args.batch_size,
            amp=None if args.precision in (None, "fp32") else args.precision,
            workers=args.workers if args.workers is not None else default_workers(),
            image_size=args.image_size,
            channels_last=args.channels_last,
            per_class=args.per_class,
            format=args.format,
            events=args.events,
            download=args.download,
            fake_size=args.fake_size,
            seed=args.seed,
        )
    )
