"""The JSON document of an analysis (``cnnexplorer summary --format json``, schema 1): the
model's totals, receptive field, memory estimate and published figures, and one record
per layer."""

from __future__ import annotations

from typing import Any

from cnnexplorer.analysis.inputs import DTYPE_BYTES
from cnnexplorer.analysis.memory import OPTIMIZER_STATES
from cnnexplorer.analysis.results import Analysis, LayerNode, ReceptiveField, Totals, inference_macs, inference_params
from cnnexplorer.zoo.published import paper_result, published

JSON_SCHEMA_VERSION = 1

UNITS = {
    "macs": "multiply-accumulates (convolution and linear layers, biases excluded)",
    "flops": "floating-point operations, 2 x MACs",
    "bytes": "bytes at the analysed dtype",
    "memory": "estimate; see the README for the method",
}


def visible_layers(analysis: Analysis, depth: int | None) -> list[LayerNode]:
    """Executed nodes down to ``depth`` (the root excluded), in execution order."""
    return [n for n in analysis.layers if n.path and (depth is None or n.depth <= depth)]


def layer_record(node: LayerNode, totals: Totals) -> dict[str, Any]:
    """One layer as a JSON-ready dict (the ``layers`` entries of ``--format json``)."""

    def listed(value: Any) -> Any:
        return list(value) if isinstance(value, tuple) else value

    return {
        "path": node.path,
        "type": node.type,
        "depth": node.depth,
        "is_leaf": node.is_leaf,
        "training_only": node.training_only,
        "input_shape": listed(node.input_shape),
        "output_shape": listed(node.output_shape),
        "kernel_size": listed(node.kernel_size),
        "stride": listed(node.stride),
        "padding": listed(node.padding),
        "dilation": listed(node.dilation),
        "groups": node.groups,
        "params": node.params,
        "trainable_params": node.trainable_params,
        "buffers": node.buffers,
        "macs": node.macs,
        "flops": node.flops,
        # Of the inference path: training-only heads have no share; containers holding one
        # count without it, so that no share passes 1.
        "params_share": None if node.training_only else _share(inference_params(node), totals.params),
        "macs_share": None if node.training_only else _share(inference_macs(node), totals.macs),
        "activation_bytes": node.activation_bytes,
        "receptive_field": node.receptive_field,
        "jump": node.jump,
        "receptive_field_exact": node.receptive_field_exact,
        **_field_axes(node.field),
    }


def _field_axes(field: ReceptiveField | None) -> dict[str, Any]:
    """The per-axis receptive field (height, width) of a JSON record, and what is approximate."""
    return {
        "receptive_field_hw": list(field.size) if field else None,
        "jump_hw": list(field.jump) if field else None,
        "receptive_field_centre": list(field.centre) if field else None,
        "receptive_field_note": field.note if field else None,
        "receptive_field_global": field.whole if field else False,
    }


def _share(part: int, whole: int) -> float | None:
    """A node's fraction of the model's total (training-only heads are outside the total)."""
    return round(part / whole, 6) if whole else None


def to_dict(analysis: Analysis, depth: int | None = None) -> dict[str, Any]:
    """The stable JSON document of ``cnnexplorer summary --format json``."""
    totals, memory = analysis.totals, analysis.memory
    reference = published(analysis.arch) if analysis.arch else None
    paper = paper_result(analysis.arch) if analysis.arch else None
    field = analysis.receptive_field
    return {
        "schema": JSON_SCHEMA_VERSION,
        "model": analysis.name,
        "input": list(analysis.input_size),
        "batch": analysis.batch,
        "dtype": analysis.dtype,
        "units": UNITS,
        "totals": {
            "params": totals.params,
            "trainable_params": totals.trainable_params,
            "buffers": totals.buffers,
            "macs": totals.macs,
            "flops": totals.flops,
            "param_bytes": totals.param_bytes,
            "param_bytes_by_dtype": {name: totals.params * size for name, size in DTYPE_BYTES.items()},
            "activation_bytes": totals.activation_bytes,
            "weight_layers": totals.weight_layers,
            "training_only_params": totals.training_only_params,
            "training_only_macs": totals.training_only_macs,
            "buffer_bytes": totals.buffer_bytes,
            "flop_counter_flops": analysis.flop_counter_flops,
            "training_only_flop_counter_flops": analysis.training_only_flop_counter_flops,
        },
        "receptive_field": {
            "size": field.largest if field else None,
            "jump": field.largest_jump if field else None,
            "exact": analysis.receptive_field_exact,
            "size_hw": list(field.size) if field else None,
            "jump_hw": list(field.jump) if field else None,
            "centre": list(field.centre) if field else None,
            "note": field.note if field else None,
            "global": field.whole if field else False,
        },
        "memory_estimate": {
            "inference_bytes": memory.inference_bytes,
            "training_bytes": {opt: memory.training_bytes(opt) for opt in OPTIMIZER_STATES},
            "weight_bytes": memory.weight_bytes,
            "buffer_bytes": memory.buffer_bytes,
            "training_weight_bytes": memory.training_weight_bytes,
            "training_buffer_bytes": memory.training_buffer_bytes,
            "gradient_bytes": memory.gradient_bytes,
            "optimizer_state_bytes": memory.optimizer_state_bytes,
            "inference_activation_bytes": memory.inference_activation_bytes,
            "training_activation_bytes": memory.training_activation_bytes,
        },
        "published": None
        if reference is None
        else {
            "source": f"torchvision {reference.weights}",
            "num_params": reference.num_params,
            "gmacs": reference.gmacs,
            "acc1": reference.acc1,
            "acc5": reference.acc5,
        },
        "paper_result": None
        if paper is None
        else {"source": paper.source, "dataset": paper.dataset, "top1_error": paper.top1_error, "detail": paper.detail},
        "layers": [layer_record(n, totals) for n in visible_layers(analysis, depth)],
    }
