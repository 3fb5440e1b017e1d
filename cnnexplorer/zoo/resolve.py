"""Names beyond the curated zoo, resolved in one place (what :func:`cnnexplorer.zoo.get` falls back to).

- any torchvision classification model by its name (``mobilenet_v3_small``, ``vit_b_16``), at
  the input size its first published weights were trained at (their transforms' crop size);
- ``timm:NAME`` when timm is installed, at timm's default input size (never pretrained weights);
- the user's own network: ``path/to/file.py:factory`` or ``package.module:factory``, a function
  or class returning an ``nn.Module`` (``num_classes`` passed when it takes it). This imports and
  runs the user's code.

Nothing here imports torch until a name outside the zoo is asked for.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import msgspec

from cnnexplorer.errors import UsageError
from cnnexplorer.zoo.architecture import CIFAR10, IMAGENET, Architecture
from cnnexplorer.zoo.user_code import build_user_model, default_num_classes, load_factory

TORCHVISION_FAMILY = "torchvision"
TIMM_FAMILY = "timm"
USER_FAMILY = "your model"
DEFAULT_INPUT = (3, 224, 224)
_MODULE_PATH = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")
_SPEC_FORMS = "timm:NAME, path/to/file.py:factory or package.module:factory"
TIMM_MISSING = "timm is not installed: pip install timm (or pip install 'cnnexplorer[timm]')"


def typed_spec(text: str) -> str | None:
    """``text``, stripped, when it is a ``prefix:...`` name (timm:NAME, file.py:factory,
    package.module:factory) that a picker offers to open as typed; else None."""
    spec = text.strip()
    return spec if ":" in spec else None


def missing_package(spec: str) -> str | None:
    """What to install for ``spec`` to open, in one line (timm for ``timm:NAME``); None when nothing is missing."""
    if spec.startswith("timm:") and importlib.util.find_spec("timm") is None:
        return TIMM_MISSING
    return None


def resolve(name: str) -> Architecture | None:
    """The architecture ``name`` stands for outside the curated zoo; None when it is a plain
    name torchvision does not know (raises UsageError for a bad ``prefix:...`` spec)."""
    spec = name.strip()
    if ":" not in spec and (spec.endswith(".py") or "/" in spec or "\\" in spec):
        raise UsageError(f"{spec!r} is a file: name the function or class in it that builds the model, as {spec}:NAME")
    if ":" not in spec:
        return torchvision_architecture(spec.lower().replace("-", "_"))
    prefix, _, rest = spec.rpartition(":")
    if prefix == "timm" or spec.startswith("timm:"):
        return timm_architecture(spec.partition(":")[2])
    if prefix == "torchvision":
        found = torchvision_architecture(rest)
        if found is None:
            raise UsageError(f"torchvision has no classification model {rest!r}: run `cnnexplorer list --all`")
        return found
    if prefix.endswith(".py") or "/" in prefix or "\\" in prefix:
        return _file_architecture(spec, Path(prefix).expanduser(), rest)
    if _MODULE_PATH.match(prefix) and rest.isidentifier():
        return _module_architecture(spec, prefix, rest)
    raise UsageError(f"cannot read the model name {spec!r}: with a ':' it is {_SPEC_FORMS}")


# torchvision -----------------------------------------------------------------------------


# A torchvision model's name as stored: a plain name, never a path or ``module:factory``.
_TorchvisionName = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]*$")]


@dataclass
class _StoredNames:
    names: Annotated[tuple[_TorchvisionName, ...], msgspec.Meta(min_length=1)]


@dataclass(frozen=True)
class _TorchvisionFacts:
    """What the zoo takes from a classifier's first weights."""

    crop: Annotated[int, msgspec.Meta(ge=1)]  # the crop size its transforms use
    weights: str
    recipe: str
    classes: Annotated[int, msgspec.Meta(ge=1)]


@dataclass
class _StoredFacts:
    facts: _TorchvisionFacts


@functools.cache
def torchvision_names() -> tuple[str, ...]:
    """Every classification model torchvision builds, sorted. Read from torchvision once per
    version, then from the disk cache (an unknown name's suggestions import no torch)."""
    from cnnexplorer import disk_cache

    key = {"torchvision": disk_cache.package_version("torchvision")}
    stored = disk_cache.load("names", key, type=_StoredNames)
    if stored is not None:
        return stored.names
    from torchvision import models

    found = tuple(sorted(models.list_models(module=models)))
    disk_cache.save("names", key, {"names": found})
    return found


@functools.cache
def torchvision_architecture(name: str) -> Architecture | None:
    """A torchvision classifier at the crop size of its first weights (None: not one). Read
    from torchvision once per version, then from the disk cache (a warm run imports no torch)."""
    from cnnexplorer import disk_cache

    if name not in torchvision_names():
        return None
    key = {"model": name, "torchvision": disk_cache.package_version("torchvision")}
    stored = disk_cache.load("torchvision", key, type=_StoredFacts)
    if stored is not None:
        facts = stored.facts
    else:
        try:
            facts = _torchvision_facts(name)
        except ValueError:  # a name from a stored list that this torchvision does not know
            return None
        disk_cache.save("torchvision", key, {"facts": facts})
    crop = facts.crop
    return Architecture(
        name=name,
        family=TORCHVISION_FAMILY,
        paper=f"torchvision's {name}" + (f" (recipe: {facts.recipe})" if facts.recipe else ""),
        year=0,
        input_size=(3, crop, crop),
        dataset=IMAGENET,
        num_classes=facts.classes,
        description=f"torchvision's {name}, at the {crop}x{crop} crop its {facts.weights} weights were trained at.",
        builder=f"torchvision:{name}",
        builder_kwargs={"image_size": crop} if name.startswith("vit_") and crop != 224 else {},
    )


def _torchvision_facts(name: str) -> _TorchvisionFacts:
    """The crop size, name, recipe and class count of a model's first weights."""
    from torchvision.models import get_model_weights

    weights = next(iter(get_model_weights(name)))
    classes = len(weights.meta.get("categories") or ()) or 1000
    return _TorchvisionFacts(_crop_size(weights), weights.name, str(weights.meta.get("recipe", "")), classes)


def _crop_size(weights: Any) -> int:
    crop = getattr(weights.transforms, "keywords", {}).get("crop_size", 224)
    return int(crop[0] if isinstance(crop, (list, tuple)) else crop)


# timm ------------------------------------------------------------------------------------


def timm_architecture(name: str) -> Architecture:
    """A timm model at timm's default input size (raises UsageError without timm or for an unknown name)."""
    try:
        import timm
    except ImportError:
        raise UsageError(TIMM_MISSING) from None
    if not timm.is_model(name):
        import difflib

        close = difflib.get_close_matches(name, timm.list_models(), n=3, cutoff=0.6)
        hint = "did you mean " + ", ".join(f"timm:{c}" for c in close) + "?" if close else "see timm.list_models()"
        raise UsageError(f"timm has no model {name!r}: {hint}")
    return _timm_architecture(name)


@functools.cache
def _timm_architecture(name: str) -> Architecture:
    import timm
    import torch

    with torch.device("meta"):
        model = timm.create_model(name, pretrained=False)
    config = getattr(model, "pretrained_cfg", None) or {}
    input_size = tuple(int(d) for d in config.get("input_size", DEFAULT_INPUT))
    num_classes = int(config.get("num_classes") or getattr(model, "num_classes", 1000) or 1000)
    return Architecture(
        name=f"timm:{name}",
        family=TIMM_FAMILY,
        paper=f"timm's {name}" + (f" ({config['paper_ids']})" if config.get("paper_ids") else ""),
        year=0,
        input_size=input_size,  # type: ignore[arg-type]
        dataset=IMAGENET if input_size[1] > 64 else CIFAR10,
        num_classes=num_classes,
        description=f"timm's {name} at its default input {'x'.join(map(str, input_size))} (no pretrained weights).",
        builder=f"timm:{name}",
    )


# The user's own module ---------------------------------------------------------------------


def _file_architecture(spec: str, path: Path, factory: str) -> Architecture:
    if not path.is_file():
        raise UsageError(f"no such file: {path} (from {spec!r})")
    if not factory.isidentifier():
        raise UsageError(f"{spec!r}: {factory!r} is not a Python name (the form is path/to/file.py:factory)")
    path = path.resolve()
    return _user_architecture(spec, f"file:{path}:{factory}", path.stat().st_mtime_ns)


def _module_architecture(spec: str, module: str, factory: str) -> Architecture:
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        found = None
    if found is None:
        raise UsageError(f"no module named {module!r} (a name with ':' is {_SPEC_FORMS})")
    return _user_architecture(spec, f"{module}:{factory}", 0)


@functools.cache
def _user_architecture(spec: str, builder: str, version: int) -> Architecture:
    """Build the user's model once on the meta device to check it and read its input size."""
    factory = load_factory(builder)
    num_classes = default_num_classes(factory)
    model = build_user_model(spec, builder, num_classes)
    input_size = _declared_input_size(model)
    return Architecture(
        name=spec,
        family=USER_FAMILY,
        paper=f"your code: {spec}",
        year=0,
        input_size=input_size,
        dataset=IMAGENET if input_size[1] > 64 else CIFAR10,
        num_classes=num_classes or 1000,
        description=f"{type(model).__name__} from {spec} (your code, run as it is).",
        builder=builder,
    )


def _declared_input_size(model: Any) -> tuple[int, int, int]:
    """The model's ``input_size`` attribute when it has one (C, H, W), else 3x224x224."""
    declared = getattr(model, "input_size", None)
    if isinstance(declared, (tuple, list)) and len(declared) == 3 and all(isinstance(d, int) for d in declared):
        return tuple(declared)  # type: ignore[return-value]
    return DEFAULT_INPUT


def is_user(arch: Architecture) -> bool:
    """Whether ``arch`` is the user's own code (not ours, torchvision's or timm's)."""
    return arch.family == USER_FAMILY
