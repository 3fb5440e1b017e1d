"""A ``train`` or ``eval`` command as one typed value: what the app's jobs run, what the
launch form checks, and what torchrun's ranks are given. Torch-free."""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

from cnnexplorer import zoo
from cnnexplorer.errors import UsageError
from cnnexplorer.runs.jobs import run_to_resume
from cnnexplorer.train import devices
from cnnexplorer.train.choices import (
    AT_LEAST,
    CIFAR_DATASETS,
    DATASETS,
    FLAG_CHOICES,
    LR_BELOW,
    NON_NEGATIVE_NUMBERS,
    POSITIVE_NUMBERS,
    in_bounds,
    milestones_problem,
    number_bound,
)
from cnnexplorer.train.data_checks import check_download
from cnnexplorer.train.recipes import recipe_for
from cnnexplorer.zoo.registry import CIFAR10

if TYPE_CHECKING:
    from cnnexplorer.runs.state import RunState

JOB_WORKERS = 0  # the app's jobs load their images in their own process
NEGATABLE = ("nesterov", "channels_last")  # train's --no-FLAG: off, where None is the command's default


@dataclass(frozen=True)
class LaunchRequest:
    """``cnnexplorer COMMAND MODEL [options]``: each option a flag's value, None (or False)
    where not given, so that the command takes its own default. :meth:`argv` writes the
    options in the order of these fields; :meth:`problems` says whether they are of their
    types and within their bounds (a request read from the launch form may hold text
    where a number did not parse, for :meth:`problems` to name)."""

    command: str  # "train" or "eval"
    model: str
    workers: int | None = None
    dataset: str | None = None  # None: imagefolder (with --data)
    data: str | None = None
    download: bool = False
    batch_size: int | None = None
    gpus: tuple[int, ...] | None = None
    nproc: int | None = None
    device: str | None = None
    precision: str | None = None
    amp: str | None = None
    channels_last: bool | None = None  # eval: on or off (the default)
    checkpoint: str | None = None
    epochs: int | None = None
    optimizer: str | None = None
    seed: int | None = None
    output: str | None = None
    lr: float | None = None
    max_steps: int | None = None
    image_size: int | None = None
    fake_size: int | None = None
    gpu: int | None = None
    nnodes: str | None = None
    node_rank: str | None = None
    rdzv_endpoint: str | None = None
    rdzv_id: str | None = None
    rdzv_backend: str | None = None
    momentum: float | None = None
    nesterov: bool | None = None
    weight_decay: float | None = None
    schedule: str | None = None
    milestones: tuple[int, ...] | None = None
    gamma: float | None = None
    plateau_patience: int | None = None
    warmup_epochs: float | None = None
    label_smoothing: float | None = None
    aux_weight: float | None = None
    decode: str | None = None
    compile: bool = False
    log_every: int | None = None
    events: str | None = None
    tensorboard: str | None = None
    weights: str | None = None
    split: str | None = None
    per_class: str | None = None
    format: str | None = None
    resume: str | None = None

    @classmethod
    def from_args(cls, parser: argparse.ArgumentParser, args: argparse.Namespace) -> LaunchRequest:
        """The command ``parser`` (train's or eval's) parsed into ``args``: the options given,
        those at the parser's default left out."""
        options = {}
        for item in fields(cls)[2:]:
            value = getattr(args, item.name, None)
            if value is not None and value != parser.get_default(item.name):
                options[item.name] = tuple(value) if isinstance(value, list) else value
        return cls(parser.prog.split()[-1], args.model, **options)

    def argv(self) -> list[str]:
        """The command's arguments after ``cnnexplorer``, as a user would type them."""
        arguments = [self.command, self.model]
        for item in fields(self)[2:]:
            arguments += self._flag(item.name, getattr(self, item.name))
        return arguments

    def _flag(self, name: str, value: object) -> list[str]:
        flag = "--" + name.replace("_", "-")
        if value is False and name in NEGATABLE and self.command == "train":
            return [f"--no-{flag[2:]}"]
        if value is None or value is False:
            return []
        if value is True:
            return [flag]
        if isinstance(value, tuple):
            return [flag, ",".join(map(str, value))]
        return [flag, str(value)]

    def problems(self) -> dict[str, str]:
        """Option name -> what is wrong with it; empty when the request can launch. Checks
        the flags' choices and bounds, and what the CLI learns only later: that its folders
        and files exist, that the dataset suits the model; and the launch form's ceiling on
        the learning rate."""
        found = self._value_problems()
        if dataset_problem := self._dataset_problem():
            found["dataset"] = dataset_problem
        elif data_problem := self._data_problem():
            found["data"] = data_problem
        if self.command == "eval" and not (self.checkpoint or self.weights):
            found["checkpoint"] = "a last.pt/best.pt to evaluate"
        elif self.checkpoint and not Path(self.checkpoint).is_file():
            found["checkpoint"] = f"no such file: {self.checkpoint}"
        if self.output is not None and not self.output.strip():
            found["output"] = "a folder for the run directory"
        if self.gpus is not None and not _is_whole_list(self.gpus):
            found["gpus"] = devices.DEVICE_CHOICE_SYNTAX
        try:
            devices.check_device_flag(self.device)
        except UsageError:
            found["device"] = devices.DEVICE_CHOICE_SYNTAX
        try:
            if self.command == "train":  # eval takes --download with any dataset
                check_download(self.dataset, self.download)
        except UsageError as error:
            found["download"] = str(error)
        return found

    def _value_problems(self) -> dict[str, str]:
        """The options that are not of their type, out of their bounds or not among their choices."""
        found = {}
        for name, choices in FLAG_CHOICES[self.command].items():
            value = getattr(self, name)
            if value is not None and value not in choices:
                found[name] = f"invalid choice: {value!r} (choose from {', '.join(map(repr, choices))})"
        for name, least in AT_LEAST.items():
            value = getattr(self, name, None)
            if value is not None and not (_is_whole(value) and value >= least):
                found[name] = f"a whole number of {least} or more"
        for name in POSITIVE_NUMBERS + NON_NEGATIVE_NUMBERS:
            value = getattr(self, name)
            if value is not None and not (_is_number(value) and in_bounds(name, value)):
                found[name] = f"a number, {number_bound(name)}"
        if self.lr is not None and not _is_number(self.lr):
            found["lr"] = "a number, e.g. 0.1"
        elif self.lr is not None and not 0 < self.lr < LR_BELOW:
            found["lr"] = f"between 0 and {LR_BELOW}"
        if self.milestones is not None and not _is_whole_list(self.milestones):
            found["milestones"] = "whole numbers of 0 or more, e.g. 3,6"
        elif self.milestones is not None and (problem := milestones_problem(self.milestones, self._epochs())):
            found["milestones"] = problem
        return found

    def _epochs(self) -> int | None:
        """The run's epochs: the request's, else its model's recipe's (None: not a whole number)."""
        if self.epochs is None:
            return recipe_for(zoo.get(self.model)).epochs
        return self.epochs if _is_whole(self.epochs) else None

    def _dataset_problem(self) -> str | None:
        choices = dataset_choices(self.model)
        if (self.dataset or "imagefolder") not in choices:
            return f"{self.model} takes {', '.join(choices)}"
        return None

    def _data_problem(self) -> str | None:
        """What is wrong with the data folder for the dataset, if anything."""
        folder = (self.data or "").strip()
        if self.dataset == "fake":
            return None
        if self.dataset in CIFAR_DATASETS:
            if not folder:
                return "a folder for the CIFAR files"
            if not self.download and not Path(folder).is_dir():
                return f"no such folder: {folder} (tick download to fetch the files there)"
            return None
        # The form's short words for the first of the CLI's checks (check_image_folder_layout),
        # on the split the command reads first; the child's CLI checks the rest.
        split = "val" if self.command == "eval" else "train"
        if not folder:
            return "an ImageFolder root: DIR holding train/<class>/ and val/<class>/"
        if not Path(folder).is_dir():
            return f"no such folder: {folder}"
        if not (Path(folder) / split).is_dir():
            return f"expected {folder}/{split}/<class>/... (ImageFolder layout)"
        return None


def _is_whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_whole_list(values: object) -> bool:
    return isinstance(values, tuple) and bool(values) and all(_is_whole(v) and v >= 0 for v in values)


def dataset_choices(model: str) -> tuple[str, ...]:
    """The ``--dataset`` choices that suit a model: an ImageFolder tree and synthetic images
    for every model, CIFAR-10/100 too for the zoo's CIFAR variants."""
    cifar = zoo.get(model).dataset == CIFAR10
    return tuple(dataset for dataset in DATASETS if cifar or dataset not in CIFAR_DATASETS)


def resume_request(state: RunState) -> LaunchRequest:
    """Resume a stopped run from its ``last.pt``, on the devices it ran on (as many
    processes); ValueError, in one line, where it cannot be resumed."""
    model, last = run_to_resume(state)
    return LaunchRequest("train", model, workers=JOB_WORKERS, **_placement(state.devices), resume=str(last))


def _placement(ran_on: list[str]) -> dict[str, object]:
    """The device options that put a resumed run where it ran before."""
    if len(ran_on) > 1 and all(device.startswith("cuda:") for device in ran_on):
        return {"gpus": tuple(int(device.split(":")[1]) for device in ran_on)}
    if len(ran_on) > 1:
        return {"nproc": len(ran_on), "device": "cpu"}
    return {"device": ran_on[0]} if ran_on else {}
