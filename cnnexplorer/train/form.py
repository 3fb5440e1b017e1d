"""The launch form's side of a :class:`~cnnexplorer.train.request.LaunchRequest`: the request
a new form starts from, its fields' values (text, a choice, a tick box), the request they
make, its problems by field, and the last launch's values read back as typed ones. Torch-free."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace

from cnnexplorer.train import devices
from cnnexplorer.train.choices import CHANNELS_LAST, CIFAR_DATASETS, OPTIMIZERS
from cnnexplorer.train.recipes import Recipe
from cnnexplorer.train.request import JOB_WORKERS, LaunchRequest

WHOLE_NUMBERS = ("epochs", "batch_size", "seed", "max_steps")
OPTIONAL = ("lr", "max_steps", "data", "checkpoint", "weights")  # empty: not given (never `--data ''`)
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
        for name in ("data", "checkpoint", "weights", "output", "lr", *WHOLE_NUMBERS)
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
        download=read.download and (dataset in CIFAR_DATASETS or bool(read.weights)),
        checkpoint=None if read.weights else read.checkpoint,  # eval takes one of the two
    )


def _number(text: str, kind: type) -> int | float | str:
    try:
        return kind(text.strip())
    except ValueError:
        return text


def field_problems(request: LaunchRequest, weights_missing: Collection[str] = ()) -> dict[str, str]:
    """The request's problems by the form's field that shows each option; ``weights_missing``:
    the torchvision weight sets not in the torch hub cache (eval fetches them with --download only)."""
    found = {FIELD_OF.get(name, name): problem for name, problem in request.problems().items()}
    if request.weights in weights_missing and not request.download:
        found["weights"] = "not in the torch hub cache: tick Download (needs network), or evaluate a checkpoint"
    return found


# Kept for the model they were chosen for only: a recipe's numbers, a checkpoint, weights.
PER_MODEL = ("epochs", "batch_size", "lr", "optimizer", "checkpoint", "weights")


def values_to_remember(request: LaunchRequest, values: Mapping[str, str | bool]) -> dict[str, str]:
    """What the settings keep of a launch: the fields' values as text, and the model."""
    return {"model": request.model} | {name: str(value) for name, value in values.items()}


def remembered_values(
    request: LaunchRequest,
    stored: Mapping[str, str],
    choices: Mapping[str, Collection[str]],
    weights_missing: Collection[str] = (),
) -> dict[str, str | bool]:
    """The fields of a new form for ``request``: the last launch's ``stored`` values where each
    passes as a typed one would (one of its field's ``choices``, no problem once read), the
    request's own elsewhere. The fields in PER_MODEL come back for the same model only."""
    values = field_values(request)
    same_model = stored.get("model") == request.model
    candidates: dict[str, str | bool] = {}
    for name, text in stored.items():
        if name not in values or (name in PER_MODEL and not same_model):
            continue
        value = {"True": True, "False": False}.get(text) if isinstance(values[name], bool) else text
        if value is not None and (name not in choices or value in choices[name]):
            candidates[name] = value
    while candidates:  # a value dropped can make another wrong (the folder of a dataset dropped)
        wrong = field_problems(read_fields(request, values | candidates), weights_missing).keys() & candidates.keys()
        if not wrong:
            break
        for name in wrong:
            del candidates[name]
    return values | candidates
