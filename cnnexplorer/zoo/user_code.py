"""The user's own model code: import it, call its factory, check what comes back.

Whatever the user's code raises becomes one :class:`UsageError` line (exit 2 on the command line).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import re
import sys
from pathlib import Path
from typing import Any

from cnnexplorer.errors import UsageError


def load_factory(builder: str) -> Any:
    """The callable a ``file:PATH:factory`` or ``module:factory`` builder names (UsageError on any failure)."""
    if builder.startswith("file:"):
        location, _, name = builder[len("file:") :].rpartition(":")
        module = _import_file(Path(location))
    else:
        location, _, name = builder.rpartition(":")
        module = _guarded(location, lambda: importlib.import_module(location))
    factory = getattr(module, name, None)
    if not callable(factory):
        raise UsageError(f"{location} has no function or class {name!r}")
    return factory


def _import_file(path: Path) -> Any:
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    stem = re.sub(r"\W", "_", path.stem)
    module_name = f"cnnexplorer_user_{stem}_{digest}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"cannot import {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    folder = str(path.parent)
    if folder not in sys.path:  # as `python file.py` would: its siblings import
        sys.path.append(folder)
    sys.modules[module_name] = module
    _guarded(str(path), lambda: spec.loader.exec_module(module))
    return module


def _guarded(where: str, action: Any) -> Any:
    try:
        return action()
    except UsageError:
        raise
    except BaseException as error:  # the user's code: whatever it raises becomes one line
        if isinstance(error, KeyboardInterrupt):
            raise
        raise UsageError(f"{where}: {one_line(error)}") from None


def one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def takes_num_classes(factory: Any) -> bool:
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False
    return "num_classes" in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


def default_num_classes(factory: Any) -> int | None:
    try:
        parameter = inspect.signature(factory).parameters.get("num_classes")
    except (TypeError, ValueError):
        return None
    default = parameter.default if parameter is not None else None
    return default if isinstance(default, int) and not isinstance(default, bool) else None


def build_user_model(name: str, builder: str, num_classes: int | None, meta: bool = True) -> Any:
    """Build the user's model (on the meta device, or the current default one); UsageError
    when the factory raises or returns something that is not an ``nn.Module``."""
    import contextlib

    import torch

    factory = load_factory(builder)
    kwargs = {"num_classes": num_classes} if num_classes and takes_num_classes(factory) else {}
    with torch.device("meta") if meta else contextlib.nullcontext():
        model = _guarded(name, lambda: factory(**kwargs))
    if not isinstance(model, torch.nn.Module):
        raise UsageError(f"{name}: the factory returned {_shown(model)}, not a torch.nn.Module")
    return model


def _shown(value: Any) -> str:
    """A value as an error names it: its repr when short, else its type's name."""
    text = repr(value)
    return text if len(text) <= 40 and "\n" not in text else f"a {type(value).__name__}"


def has_lazy_modules(model: Any) -> bool:
    """Whether ``model`` has lazy modules (``nn.LazyConv2d``, ``nn.LazyLinear``, ...) whose
    parameters have no shape yet."""
    from torch.nn.modules.lazy import LazyModuleMixin

    return any(isinstance(m, LazyModuleMixin) and m.has_uninitialized_params() for m in model.modules())


def materialise_lazy_modules(model: Any, example: Any) -> None:
    """Give a model's lazy modules their parameters: PyTorch's "dry run", one forward of
    ``example`` without autograd, in the model's current mode, on ``example``'s device. The
    model must be on that device and dtype already (lazy parameters take the ones they have)."""
    import torch

    if has_lazy_modules(model):
        with torch.no_grad():
            model(example)
