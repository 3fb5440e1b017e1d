"""The app's launch contract with ``train`` and ``eval``: the launch form's fields, the command
lines a job runs, and the form's validation by the CLI's own parser. Torch-free."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from cnnexplorer import zoo
from cnnexplorer.train import devices
from cnnexplorer.train.cli import DATASETS, add_eval_parser, add_train_parser
from cnnexplorer.zoo.registry import CIFAR10

if TYPE_CHECKING:
    from cnnexplorer.runs.state import RunState

# Every job of the app: events on stdout, images loaded in the job's own process.
_JOB_FLAGS = ("--events", "-", "--workers", "0")
# The --dataset choices that read torchvision's CIFAR files (and may --download them).
CIFAR_DATASETS = ("cifar10", "cifar100")


@dataclass
class TrainForm:
    """The fields of the launch form; :func:`validate` checks them, :func:`command` builds the
    command line. ``device`` is one of :func:`~cnnexplorer.train.devices.list_device_choices`."""

    model: str
    kind: str = "train"  # or "eval"
    dataset: str = "fake"  # one of dataset_choices(model)
    data: str = ""  # ImageFolder root, or the folder of the CIFAR files; unused for "fake"
    download: bool = False  # CIFAR: fetch the files if missing
    epochs: str = "1"
    batch_size: str = "32"
    lr: str = ""  # empty: the recipe's
    optimizer: str = "sgd"
    device: str = "cpu"
    precision: str = "auto"  # auto, fp32, bf16 or fp16 (eval: auto is fp32)
    amp: str = ""  # "", "bf16" or "fp16": --amp, the old name of --precision (the form shows precision)
    channels_last: str = "auto"  # auto (train: on with bf16/fp16 on a GPU; eval: off), on or off
    seed: str = "0"
    output: str = "runs"
    max_steps: str = ""
    checkpoint: str = ""  # eval: a .pt file


def dataset_choices(model: str) -> tuple[str, ...]:
    """The CLI's ``--dataset`` choices that suit a model: an ImageFolder tree and synthetic
    images for every model, CIFAR-10/100 too for the zoo's CIFAR variants."""
    cifar = zoo.get(model).dataset == CIFAR10
    return tuple(dataset for dataset in DATASETS if cifar or dataset not in CIFAR_DATASETS)


def known_checkpoints(runs_dir: Path, model: str) -> list[Path]:
    """The ``best.pt`` and ``last.pt`` files of the model's runs under ``runs_dir``, newest run first."""
    from cnnexplorer.runs.state import discover_runs

    found = [run.run_dir for run in discover_runs(runs_dir) if run.model == model and run.run_dir is not None]
    return [folder / name for folder in found for name in ("best.pt", "last.pt") if (folder / name).is_file()]


def _arguments(form: TrainForm) -> dict[str, list[str]]:
    """The command's arguments after ``python -m cnnexplorer`` in order, by the form field each
    comes from (``""``: those of no field)."""
    arguments = {
        "": [form.kind, form.model, *_JOB_FLAGS],
        "dataset": [] if form.dataset == "imagefolder" else ["--dataset", form.dataset],
        "data": [] if form.dataset == "fake" else ["--data", form.data],
        "download": ["--download"] if form.download and form.dataset in CIFAR_DATASETS else [],
        "batch_size": ["--batch-size", form.batch_size],
        "device": devices.device_flags(form.device),
        "precision": [] if form.precision == "auto" else ["--precision", form.precision],
        "amp": ["--amp", form.amp] if form.amp else [],
        "channels_last": _memory_format_flags(form),
    }
    if form.kind == "eval":
        return arguments | {"checkpoint": ["--checkpoint", form.checkpoint]}
    lr, max_steps = form.lr.strip(), form.max_steps.strip()
    return arguments | {
        "epochs": ["--epochs", form.epochs],
        "optimizer": ["--optimizer", form.optimizer],
        "seed": ["--seed", form.seed],
        "output": ["--output", form.output],
        "lr": ["--lr", lr] if lr else [],
        "max_steps": ["--max-steps", max_steps] if max_steps else [],
    }


def _memory_format_flags(form: TrainForm) -> list[str]:
    """Channels-last forced on or off; auto is the command's own default (eval: off)."""
    if form.channels_last == "on":
        return ["--channels-last"]
    return ["--no-channels-last"] if form.channels_last == "off" and form.kind == "train" else []


def command(form: TrainForm, python: str = sys.executable) -> list[str]:
    """The command line a form launches (the same as typing it in a shell)."""
    return [python, "-m", "cnnexplorer", *(argument for part in _arguments(form).values() for argument in part)]


class _Rejected(Exception):
    """What the train/eval parser said of arguments it would not take."""


class _Parser(argparse.ArgumentParser):
    """The CLI's parser, raising where the CLI prints its usage and exits."""

    def error(self, message: str) -> NoReturn:
        raise _Rejected(message)


@cache
def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="cnnexplorer")
    subcommands = parser.add_subparsers()  # of the same class, so raising too
    add_train_parser(subcommands)
    add_eval_parser(subcommands)
    return parser


# What the form says of a field the parser rejects (others get the parser's own words).
_HINTS = {
    "epochs": "a whole number of 1 or more",
    "batch_size": "a whole number of 1 or more",
    "max_steps": "a whole number of 1 or more",
    "seed": "a whole number of 0 or more",
    "lr": "a number, e.g. 0.1",
    "device": devices.DEVICE_CHOICE_SYNTAX,
}


def validate(form: TrainForm) -> dict[str, str]:
    """Field name -> what is wrong with it; empty when the form can launch. The train/eval
    parser judges each field's arguments; the form adds what a parser does not check."""
    errors = _own_checks(form)
    arguments = _arguments(form)
    fixed = arguments.pop("")
    for name, part in arguments.items():
        if name not in errors:
            try:
                _parser().parse_args(fixed + part)
            except _Rejected as rejected:
                errors[name] = _HINTS.get(name, str(rejected))
    return errors


def _own_checks(form: TrainForm) -> dict[str, str]:
    """What the parser does not check: that folders and files exist, the device choice, and
    the form's own limits."""
    errors: dict[str, str] = {}
    choices = dataset_choices(form.model)
    if form.dataset not in choices:
        errors["dataset"] = f"{form.model} takes {', '.join(choices)}"
    elif data_error := _data_error(form):
        errors["data"] = data_error
    if form.kind == "eval" and not form.checkpoint:
        errors["checkpoint"] = "a last.pt/best.pt to evaluate"
    elif form.kind == "eval" and not Path(form.checkpoint).is_file():
        errors["checkpoint"] = f"no such file: {form.checkpoint}"
    if form.kind == "train" and not form.output.strip():
        errors["output"] = "a folder for the run directory"
    if form.kind == "train" and _number_outside(form.lr, 0, 10):
        errors["lr"] = "between 0 and 10"
    if not devices.is_device_choice(form.device):
        errors["device"] = devices.DEVICE_CHOICE_SYNTAX
    return errors


def _data_error(form: TrainForm) -> str | None:
    """What is wrong with the data folder for the chosen dataset, if anything."""
    folder = form.data.strip()
    if form.dataset == "fake":
        return None
    if form.dataset in CIFAR_DATASETS:
        if not folder:
            return "a folder for the CIFAR files"
        if not form.download and not Path(folder).is_dir():
            return f"no such folder: {folder} (tick download to fetch the files there)"
        return None
    split = "val" if form.kind == "eval" else "train"
    if not folder:
        return "an ImageFolder root: DIR holding train/<class>/ and val/<class>/"
    if not Path(folder).is_dir():
        return f"no such folder: {folder}"
    if not (Path(folder) / split).is_dir():
        return f"expected {folder}/{split}/<class>/... (ImageFolder layout)"
    return None


def _number_outside(text: str, low: float, high: float) -> bool:
    """True for a number not strictly between ``low`` and ``high``; False for no number."""
    try:
        return not low < float(text) < high
    except ValueError:
        return False


def resume_command(state: RunState, python: str = sys.executable) -> list[str]:
    """Resume a stopped run from its ``last.pt`` with the configuration it was started with.
    ValueError, in one line, when it cannot be: no last.pt, or the run is still going in
    another process (one started headless, or by another app), which holds its folder."""
    from cnnexplorer.runs.rundir import lock_holder

    if state.run_dir is None or not (state.run_dir / "last.pt").is_file():
        raise ValueError("this run has no last.pt to resume from")
    holder = lock_holder(state.run_dir)
    if holder is not None:
        who = f"process {holder}" if holder else "another process"
        raise ValueError(f"it is still running in {who}: wait for it to end, or stop it first")
    argv = [python, "-m", "cnnexplorer", "train", _model_of(state), *_JOB_FLAGS]
    return argv + _placement(state.devices) + ["--resume", str(state.run_dir / "last.pt")]


def _model_of(state: RunState) -> str:
    """The run's model as its config.json names it (else as its events do)."""
    try:
        config = json.loads((state.run_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        config = None
    model = config.get("model") if isinstance(config, dict) else None
    model = model if isinstance(model, str) else state.model
    if not model:
        raise ValueError("its config.json does not name its model")
    return model


def _placement(devices: list[str]) -> list[str]:
    """The device flags that put a resumed run where it ran before (same process count)."""
    if len(devices) > 1 and all(d.startswith("cuda:") for d in devices):
        return ["--gpus", ",".join(d.split(":")[1] for d in devices)]
    if len(devices) > 1:
        return ["--nproc", str(len(devices)), "--device", "cpu"]
    return ["--device", devices[0]] if devices else []
