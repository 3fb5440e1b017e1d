"""torchinfo's own view of a model: its summary, run on the meta device, and its Mult-Adds per
layer beside the engine's MACs, with the reason wherever the two differ.

torchinfo (``torchinfo.summary``) runs the model in eval mode with a hook on every module and
counts a leaf layer's Mult-Adds from its parameters (``LayerInfo.calculate_macs``): each
parameter's elements x the output's batch x spatial size for a convolution, x the batch alone
for any other layer; its total is the sum over the leaf layers. The engine counts the aten ops
of the pass instead (FlopCounterMode's formulas). Where they differ, one of these explains it:

- ``bias``: torchinfo counts a convolution's or linear layer's bias as one Mult-Add per output
  element; FlopCounterMode counts no bias additions (nor do the papers or torchvision);
- ``normalisation``: torchinfo counts a normalisation layer's scale and shift as batch x its
  parameters; normalisation is 0 MACs here;
- ``positions``: torchinfo counts a linear layer's weights once per sample; applied at every
  position (a ViT's tokens, a channels-last map) it runs once per position, as counted here;
- ``functional``: torchinfo cannot see ops a forward calls itself (``torch.matmul``,
  ``F.linear``, attention): it counts parameters of modules, so a container lacks them;
- ``eval``: torchinfo runs the model in eval mode, so a layer that runs only in training
  mode is missing from its figures;
- ``formula``: torchinfo's parameter-based formula does not fit the layer (a transposed
  convolution, an embedding).

The summary and the per-layer figures come from torchinfo itself, run on the model as the
engine builds it (:func:`cnnexplorer.analysis.engine.build_model`: no weights, no
initialisation) under the engine's meta shortcuts; never inside the engine's own pass. The
figures are kept in the disk cache (kind ``torchinfo``) as data, keyed as the analysis is.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cnnexplorer import disk_cache
from cnnexplorer.analysis.request import AnalysisRequest
from cnnexplorer.analysis.results import Analysis, LayerNode, inference_macs
from cnnexplorer.errors import UsageError

if TYPE_CHECKING:
    from torch import nn
    from torchinfo import ModelStatistics

KIND = "torchinfo"
FORMAT = 1  # the layout of an entry; a change makes older entries misses
COLUMNS = ("output_size", "num_params", "mult_adds")
COLUMN_WIDTH = 20  # torchinfo's default is 25; 20 holds "[64, 64, 224, 224]" and "118,380,699,648"
DEFAULT_DEPTH = 3  # torchinfo's own default, and the summary table's

# Why a layer's figures may differ, in the order they are named (see the module's docstring).
REASONS = ("bias", "normalisation", "positions", "functional", "eval", "formula")


@dataclass
class TorchinfoLayer:
    """One module torchinfo saw run, by its path in the model (leaf layers with their figures)."""

    path: str
    leaf: bool
    mult_adds: int = 0  # torchinfo's, over every call of the layer
    bias_mult_adds: int = 0  # the part its bias parameter makes
    normalisation: bool = False  # a normalisation layer (batch, layer, group or instance norm)
    positions: int = 1  # a non-convolution's output positions per sample (tokens; 1 for a vector)

    def __post_init__(self) -> None:
        if min(self.mult_adds, self.bias_mult_adds, self.positions - 1) < 0 or self.bias_mult_adds > self.mult_adds:
            raise ValueError(f"torchinfo figures of {self.path!r} out of range")


@dataclass
class TorchinfoFigures:
    """torchinfo's per-layer Mult-Adds for one request's model."""

    layers: list[TorchinfoLayer]
    total_mult_adds: int

    def __post_init__(self) -> None:
        if sum(layer.mult_adds for layer in self.layers if layer.leaf) != self.total_mult_adds:
            raise ValueError("torchinfo's layers do not add up to its total")


@dataclass(frozen=True)
class MultAddsComparison:
    """One layer's MACs here against torchinfo's Mult-Adds; ``reasons``: why they differ."""

    macs: int
    torchinfo: int
    reasons: tuple[str, ...] = ()

    @property
    def differs(self) -> bool:
        return self.macs != self.torchinfo


# Running torchinfo ---------------------------------------------------------------------------


def run_torchinfo(request: AnalysisRequest, depth: int | None = None, device: str = "meta"):
    """torchinfo's summary of ``request``'s model (a ``ModelStatistics``; ``str()`` prints it)
    and the model, built as the engine builds it, in eval mode as torchinfo runs it, at the
    request's input, batch and dtype. Raises UsageError (one line) where torchinfo cannot run it."""
    import torch
    import torchinfo

    from cnnexplorer.analysis.engine import build_model
    from cnnexplorer.analysis.meta_shortcuts import MetaShortcutsMode
    from cnnexplorer.zoo import get

    dtype = getattr(torch, request.dtype)
    model = build_model(get(request.model), device).to(dtype=dtype)
    shape = (request.batch, *request.input_size)
    try:
        # The input as data, not as input_size: torchinfo would make it with torch.rand on the CPU.
        x = torch.empty(shape, device="meta", dtype=dtype) if device == "meta" else torch.randn(shape).to(device, dtype)
        with MetaShortcutsMode() if device == "meta" else contextlib.nullcontext():
            stats = torchinfo.summary(
                model,
                input_data=x,
                device=device,
                col_names=COLUMNS,
                col_width=COLUMN_WIDTH,
                depth=DEFAULT_DEPTH if depth is None else depth,
                row_settings=("var_names",),
                verbose=0,
            )
    except Exception as error:  # too large an input; torchinfo wraps a forward's failure in a RuntimeError
        raise _failure(request, error, device) from None
    finally:
        torchinfo.torchinfo.clear_cached_forward_pass()  # it keeps the last model of each class
    return stats, model


def _failure(request: AnalysisRequest, error: Exception, device: str) -> UsageError:
    """The engine's own message where it fails too (the layer, what it takes), else torchinfo's cause."""
    from cnnexplorer.analysis.store import analyze_on

    try:
        analyze_on(request, device)
    except UsageError as engine_error:
        return engine_error
    cause = error.__cause__ or error
    first_line = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    return UsageError(f"torchinfo cannot summarise {request.model}: {first_line}")


def figures_of(stats: ModelStatistics, model: nn.Module) -> TorchinfoFigures:
    """torchinfo's per-layer figures from its summary of ``model``, each layer by module path."""
    from torch import nn

    norms = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, *_rms_norm(nn))
    paths = {id(module): path for path, module in model.named_modules()}
    layers: dict[str, TorchinfoLayer] = {}
    for info in stats.summary_list:
        path = paths.get(id(info.module))
        if path is None or not info.executed:
            continue
        layer = layers.setdefault(path, TorchinfoLayer(path, info.is_leaf_layer))
        if not info.is_leaf_layer:
            continue
        convolution = "Conv" in info.class_name  # torchinfo's own test
        per_element = math.prod(info.output_size[:1] + info.output_size[2:]) if convolution else info.output_size[0]
        bias = info.module._parameters.get("bias")
        layer.mult_adds += info.macs
        layer.bias_mult_adds += bias.numel() * per_element if bias is not None else 0
        layer.normalisation = isinstance(info.module, norms)
        layer.positions = 1 if convolution else math.prod(info.output_size[1:-1])
    return TorchinfoFigures(list(layers.values()), stats.total_mult_adds)


def _rms_norm(nn) -> tuple[type, ...]:
    return (nn.RMSNorm,) if hasattr(nn, "RMSNorm") else ()


# Cached figures -----------------------------------------------------------------------------


@dataclass
class _Entry:
    figures: TorchinfoFigures


def entry_key(request: AnalysisRequest) -> dict[str, Any]:
    """The cache key of ``request``'s torchinfo figures: the analysis's key (the request, the
    model's definition, the package versions and sources) and this entry's layout."""
    from cnnexplorer.analysis import store

    return {"format": FORMAT, "analysis": store.entry_key(request)}


def torchinfo_figures(request: AnalysisRequest, device: str = "meta") -> TorchinfoFigures:
    """torchinfo's per-layer figures for ``request``: from the disk cache, else run (on the meta
    device, then stored; ``device="cpu"`` runs the model for real and is never stored)."""
    from cnnexplorer.analysis.store import cacheable

    stored = device == "meta" and cacheable(request)
    if stored:
        entry = disk_cache.load(KIND, entry_key(request), type=_Entry)
        if entry is not None:
            return entry.figures
    figures = figures_of(*run_torchinfo(request, device=device))
    if stored:
        disk_cache.save(KIND, entry_key(request), {"figures": figures})
    return figures


# The comparison ---------------------------------------------------------------------------


def compare(analysis: Analysis, figures: TorchinfoFigures) -> dict[str, MultAddsComparison]:
    """Every layer torchinfo saw run (training-only heads, which eval mode skips, left out), by
    path: its MACs here, torchinfo's Mult-Adds (a container's: the sum over its leaf layers, as
    torchinfo's total sums them), and the reasons they differ."""
    seen = {layer.path: layer for layer in figures.layers}
    found: dict[str, MultAddsComparison] = {}
    _compare(analysis.root, seen, found)
    return found


def _compare(
    node: LayerNode, seen: dict[str, TorchinfoLayer], found: dict[str, MultAddsComparison]
) -> tuple[int, set[str]]:
    """torchinfo's Mult-Adds under ``node`` and the reasons that apply there (recording ``node``)."""
    if node.training_only:
        return 0, set()
    if node.is_leaf:
        layer = seen.get(node.path)
        if layer is None:  # not run in eval mode
            return 0, {"eval"} if node.macs else set()
        theirs, reasons = layer.mult_adds, _leaf_reasons(layer, node.macs)
    else:
        theirs, reasons = 0, set()
        for child in node.children:
            child_theirs, child_reasons = _compare(child, seen, found)
            theirs, reasons = theirs + child_theirs, reasons | child_reasons
        if node.macs > sum(child.macs for child in node.children):  # ops of its own forward
            reasons.add("functional")
    ours = inference_macs(node)
    if node.path in seen:
        named = tuple(reason for reason in REASONS if reason in reasons) if ours != theirs else ()
        found[node.path] = MultAddsComparison(ours, theirs, named)
    return theirs, reasons


def _leaf_reasons(layer: TorchinfoLayer, macs: int) -> set[str]:
    """What makes torchinfo's figure for one leaf layer differ from ``macs``: its terms apart."""
    reasons = set()
    if layer.normalisation and layer.mult_adds:
        return {"normalisation"} | ({"functional"} if macs else set())
    if layer.bias_mult_adds:
        reasons.add("bias")
    weights = layer.mult_adds - layer.bias_mult_adds
    if macs != weights:
        if weights == 0:
            reasons.add("functional")
        elif layer.positions > 1 and macs == weights * layer.positions:
            reasons.add("positions")
        else:
            reasons.add("formula")
    return reasons
