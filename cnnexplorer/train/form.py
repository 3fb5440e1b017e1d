"""The launch form's side of a :class:`~cnnexplorer.train.request.LaunchRequest`: the request
a new form starts from, its fields' values (text, a choice, a tick box), the request they
make, and its problems by field. Torch-free."""

from __future__ import annotations

from dataclasses import replace

from cnnexplorer.train import devices
from cnnexplorer.train.choices import CHANNELS_LAST, CIFAR_DATASETS, OPTIMIZERS
from cnnexplorer.train.recipes import Recipe
from cnnexplorer.train.request import JOB_WORKERS, LaunchRequest

WHOLE_NUMBERS = ("epochs", "batch_size", "seed", "max_steps")
OPTIONAL = ("lr", "max_steps")  # empty: not given (the recipe's, all steps)
# The form's field of each request option it shows under another name.
FIELD_OF = {"gpus": "device", "nproc": "device"}


def new_request(command: str, model: str, recipe: Recipe, device: str, output: str) -> LaunchRequest:
    """What a new form shows: synthetic data, the recipe's batch (train: its epochs and
    optimizer, seed 0, runs under ``output``) on ``device`` (a device choice). Evaluation
    in fp32 and NCHW, like the published figures."""
    request = LaunchRequest(
        command, model, workers=JOB_WORKERS, dataset="fake", batch_size=recipe.batch_size, **device_options(device)
    )
    if command == "eval":
        return replace(request, precision="fp32", channels_last=False)
    return replace(request, epochs=recipe.epochs, optimizer=recipe.optimizer, seed=0, output=output)


def device_options(choice: str) -> dict[str, object]:
    """The request's device options for a device choice: ``gpus:0,1`` -> gpus (0, 1), else device."""
    if not choice.startswith(devices.DDP_CHOICE):
        return {"gpus": None, "device": choice}
    text = choice.removeprefix(devices.DDP_CHOICE)
    try:
        return {"gpus": tuple(int(part) for part in text.split(",") if part.strip()), "device": None}
    except ValueError:
        return {"gpus": text, "device": None}  # for problems() to name


def field_values(request: LaunchRequest) -> dict[str, str | bool]:
    """The form's fields for a request: text, choices and the download box."""
    values: dict[str, str | bool] = {
        name: "" if getattr(request, name) is None else str(getattr(request, name))
        for name in ("data", "checkpoint", "output", "lr", *WHOLE_NUMBERS)
    }
    gpus = request.gpus
    return values | {
        "dataset": request.dataset or "imagefolder",
        "download": request.download,
        "optimizer": request.optimizer or OPTIMIZERS[0],
        "device": devices.DDP_CHOICE + ",".join(map(str, gpus)) if gpus else request.device or "cpu",
        "precision": request.precision or "auto",
        "channels_last": next(mode for mode, value in CHANNELS_LAST.items() if value == request.channels_last),
    }


def read_fields(request: LaunchRequest, values: dict[str, str | bool]) -> LaunchRequest:
    """``request`` with the form's fields in ``values`` (those it shows): text that is not a
    number stays text, for :meth:`~LaunchRequest.problems` to name."""
    options: dict[str, object] = {}
    for name, value in values.items():
        if name == "device":
            options |= device_options(str(value))
        elif name in OPTIONAL and not str(value).strip():
            options[name] = None
        elif name in WHOLE_NUMBERS + ("lr",):
            options[name] = _number(str(value), float if name == "lr" else int)
        elif name == "precision":
            options[name] = None if value == "auto" else value
        elif name == "channels_last":
            options[name] = CHANNELS_LAST[str(value)]
        else:
            options[name] = value
    read = replace(request, **options)
    dataset = None if read.dataset == "imagefolder" else read.dataset  # the CLI's default with --data
    return replace(
        read,
        dataset=dataset,
        data=None if dataset == "fake" else read.data,
        download=read.download and dataset in CIFAR_DATASETS,
    )


def _number(text: str, kind: type) -> int | float | str:
    try:
        return kind(text.strip())
    except ValueError:
        return text


def field_problems(request: LaunchRequest) -> dict[str, str]:
    """The request's problems by the form's field that shows each option."""
    return {FIELD_OF.get(name, name): problem for name, problem in request.problems().items()}
