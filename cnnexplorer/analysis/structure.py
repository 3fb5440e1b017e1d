"""Structural views of an analysis shared by the app and the CLI: repeated-block labels,
per-stage breakdowns and layer search."""

from __future__ import annotations

from dataclasses import dataclass

from cnnexplorer.analysis.results import Analysis, LayerNode

_POOLS = {"MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d"}
_GENERIC = {"Sequential", "ModuleList", "ModuleDict"}


def repeat_label(node: LayerNode) -> str | None:
    """``6 × Bottleneck`` for a container whose children are all blocks of one type."""
    types = {child.type for child in node.children}
    if len(node.children) > 1 and len(types) == 1 and not types & _GENERIC and not node.children[0].is_leaf:
        return f"{len(node.children)} × {node.children[0].type}"
    return None


@dataclass(frozen=True)
class Stage:
    """A contiguous slice of the network, for the per-stage charts."""

    label: str
    params: int
    macs: int


def stages(analysis: Analysis) -> list[Stage]:
    """The model cut into stages for the per-stage charts: each block-level module is a
    stage, and runs of plain layers (a ResNet stem, VGG's and AlexNet's ``features``) are
    cut after each pooling layer. torchvision's ``features`` containers are opened up;
    training-only heads are left out."""
    return _stages_in(analysis.root)


def _stages_in(container: LayerNode) -> list[Stage]:
    result: list[Stage] = []
    run: list[LayerNode] = []
    for child in container.children:
        if child.training_only or not child.executed:
            continue
        if child.is_leaf:
            run.append(child)
            if child.type in _POOLS:
                result.extend(_flush(run))
                run = []
            continue
        result.extend(_flush(run))
        run = []
        if child.name == "features" and container.path == "":
            result.extend(_stages_in(child))
        else:
            result.append(Stage(child.path, child.params, child.macs))
    return result + _flush(run)


def _flush(run: list[LayerNode]) -> list[Stage]:
    weighted = [n for n in run if n.params or n.macs]
    if not weighted:
        return []
    first, last = weighted[0].path, run[-1].name
    label = first if run[-1] is weighted[0] else f"{first}-{last}"
    return [Stage(label, sum(n.params for n in run), sum(n.macs for n in run))]


def find_layers(analysis: Analysis, query: str) -> list[LayerNode]:
    """Nodes whose path or type contains ``query`` (case-insensitive), in execution order,
    then nodes that never ran."""
    needle = query.strip().lower()
    if not needle:
        return []
    ordered = analysis.layers + [n for n in analysis.root.walk() if not n.executed]
    return [n for n in ordered if n.path and (needle in n.path.lower() or needle in n.type.lower())]
