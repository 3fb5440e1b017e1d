"""One architecture: what it is and how to build it (torch-free until built)."""

from __future__ import annotations

import contextlib
import importlib
import warnings
from dataclasses import dataclass, field
from typing import Any

IMAGENET = "ImageNet (ILSVRC-2012)"
CIFAR10 = "CIFAR-10"


@dataclass(frozen=True)
class Architecture:
    """One entry of the zoo."""

    name: str
    family: str
    paper: str
    year: int
    input_size: tuple[int, int, int]  # C, H, W
    dataset: str
    num_classes: int
    description: str
    builder: str  # "package.module:function", or "torchvision:<model name>"
    builder_kwargs: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def torchvision_name(self) -> str | None:
        """The torchvision model name, for the ones torchvision implements."""
        kind, _, target = self.builder.partition(":")
        return target if kind == "torchvision" else None

    def build(self, num_classes: int | None = None) -> Any:
        """Construct the model (on the current default device; use ``torch.device('meta')``
        as a context manager to build it without allocating weights)."""
        kwargs = dict(self.builder_kwargs)
        kwargs["num_classes"] = num_classes or self.num_classes
        kind, _, target = self.builder.partition(":")
        if kind == "torchvision":
            from torchvision import models

            with _regnet_widths_on_cpu() if target.startswith("regnet_") else contextlib.nullcontext():
                with warnings.catch_warnings():  # Inception v3's notice of a future change to its init
                    warnings.filterwarnings("ignore", category=FutureWarning, module=r"torchvision\.")
                    return models.get_model(target, weights=None, **kwargs)
        if kind == "timm":
            import timm

            return timm.create_model(target, pretrained=False, **kwargs)
        if self.builder.startswith("cnnexplorer."):
            module = importlib.import_module(kind)
            return getattr(module, target)(**kwargs)
        from cnnexplorer.zoo.user_code import build_user_model

        return build_user_model(self.name, self.builder, num_classes or self.num_classes, meta=False)


@contextlib.contextmanager
def _regnet_widths_on_cpu():
    """torchvision's RegNet computes its stage widths with tensors and ``.tolist()``, which
    the meta device cannot answer: that small computation runs on the CPU."""
    import torch
    from torchvision.models.regnet import BlockParams

    original = BlockParams.__dict__["from_init_params"]

    def on_cpu(cls, *args, **kwargs):
        with torch.device("cpu"):
            return original.__func__(cls, *args, **kwargs)

    BlockParams.from_init_params = classmethod(on_cpu)
    try:
        yield
    finally:
        BlockParams.from_init_params = original
