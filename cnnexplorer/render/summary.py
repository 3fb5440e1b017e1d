"""Render an :class:`~cnnexplorer.analysis.Analysis` as a table, Markdown, CSV, JSON or the
course text's AlexNet table."""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from cnnexplorer import units
from cnnexplorer.analysis import Analysis, LayerNode, Totals
from cnnexplorer.analysis.inputs import DTYPE_BYTES
from cnnexplorer.analysis.results import ReceptiveField, shown_figures
from cnnexplorer.analysis.schema import layer_record, to_dict, visible_layers
from cnnexplorer.analysis.torchinfo_view import MultAddsComparison
from cnnexplorer.render.torchinfo import torchinfo_cell, torchinfo_legend
from cnnexplorer.zoo.published import paper_result, published

FORMATS = ("table", "md", "csv", "json", "course")
DEFAULT_TABLE_DEPTH = 3


def rf_cell(field: ReceptiveField | None) -> str:
    """A receptive field in a table cell: ``81``, ``81x65`` (height x width) where the axes
    differ, ``≈`` before an approximate one, ``global`` past an op that mixed all positions,
    ``-`` without spatial axes."""
    if field is None:
        return "-"
    if field.whole:
        return "global"
    return ("" if field.exact else "≈") + _pixels(field.size)


def _pixels(sizes: tuple[int, int]) -> str:
    """One number where both axes agree, else height x width."""
    return str(sizes[0]) if sizes[0] == sizes[1] else units.dims(sizes)


def field_summary(field: ReceptiveField) -> str:
    """``81px, jump 4px (exact)``, the axes apart where they differ and what is approximate."""
    if field.whole:
        return "global (every unit sees the whole input)"
    quality = "exact" if field.exact else f"approximate: {field.note}"
    return f"{_pixels(field.size)}px, jump {_pixels(field.jump)}px ({quality})"


_COLUMNS = ("layer", "type", "output", "params", "MACs", "MACs%", "RF")
_TORCHINFO_COLUMN = 5  # beside the MACs


def _rows(analysis: Analysis, depth: int | None) -> list[list[str]]:
    rows = []
    for node in visible_layers(analysis, depth):
        indent = "  " * (node.depth - 1)
        label = node.name + (" (train only)" if node.training_only else "")
        params, macs = shown_figures(node)
        rows.append(
            [
                indent + label,
                node.type,
                units.shape(node.output_shape),
                units.count(params) if params else "-",
                units.count(macs) if macs else "-",
                units.percent(macs, analysis.totals.macs) if macs and not node.training_only else "-",
                rf_cell(node.field),
            ]
        )
    return rows


def _headline(analysis: Analysis) -> list[str]:
    t, m = analysis.totals, analysis.memory
    size = units.dims(analysis.input_size)
    lines = [
        f"{analysis.name}  input {size}  batch {analysis.batch}  {analysis.dtype}",
        f"params {t.params:,} ({units.size(t.params * DTYPE_BYTES['float32'])} in float32, "
        f"{units.size(t.params * DTYPE_BYTES['bfloat16'])} in bf16/fp16)  "
        + ("all trainable" if t.trainable_params == t.params else f"trainable {t.trainable_params:,}"),
        f"MACs {t.macs:,} ({units.count(t.macs)})  FLOPs {t.flops:,} ({units.count(t.flops)}; FLOPs = 2 x MACs)",
    ]
    if t.training_only_params:
        macs = (
            f"+{units.count(t.training_only_macs)} MACs"
            if t.training_only_macs
            else "cannot run at this input and batch"
        )
        lines.append(
            f"training-only heads: +{t.training_only_params:,} params ({t.params_with_training_only:,} with them), "
            f"{macs}"
        )
    if analysis.receptive_field is not None:
        lines.append(f"receptive field {field_summary(analysis.receptive_field)}")
    lines += [
        f"memory (estimate): inference {units.size(m.inference_bytes)}",
        f"  training {units.size(m.training_bytes('sgd'))} with SGD-momentum, "
        f"{units.size(m.training_bytes('adam'))} with Adam",
    ]
    reference = published(analysis.arch) if analysis.arch else None
    if reference is not None:
        assert analysis.arch is not None
        lines += [
            f"published (torchvision {reference.weights}, {units.dims(analysis.arch.input_size[1:])}): "
            f"top-1 {reference.acc1:.2f}%, top-5 {reference.acc5:.2f}%",
            f"  {reference.num_params:,} params, {reference.gmacs} GMACs",
        ]
    paper = paper_result(analysis.arch) if analysis.arch else None
    if paper is not None:
        lines.append(f"published ({paper.source}): {paper.dataset} test error {paper.top1_error:.2f}%, {paper.detail}")
    return lines


def render_table(
    analysis: Analysis,
    depth: int | None = None,
    torchinfo: dict[str, MultAddsComparison] | None = None,
    width: int | None = None,
) -> Group:
    """A rich renderable: headline figures, then one row per layer down to ``depth``. With
    ``torchinfo`` (:func:`~cnnexplorer.analysis.torchinfo_view.compare`) and some shown layer
    whose figures differ: a torchinfo column beside the MACs and a legend of the reasons; where
    that column would not fit ``width`` (the names would be cut), the legend alone, saying so."""
    depth = DEFAULT_TABLE_DEPTH if depth is None else depth
    nodes, rows = visible_layers(analysis, depth), _rows(analysis, depth)
    table = _layer_table(list(_COLUMNS), rows)
    footer: list[str] = []
    comparisons = [torchinfo[node.path] for node in nodes if node.path in torchinfo] if torchinfo else []
    if torchinfo and any(comparison.differs for comparison in comparisons):
        cells = [torchinfo_cell(torchinfo.get(node.path)) for node in nodes]
        columns = [*_COLUMNS[:_TORCHINFO_COLUMN], "torchinfo", *_COLUMNS[_TORCHINFO_COLUMN:]]
        wider = _layer_table(
            columns, [[*r[:_TORCHINFO_COLUMN], c, *r[_TORCHINFO_COLUMN:]] for r, c in zip(rows, cells)]
        )
        needed = Console(width=10_000).measure(wider).maximum
        if width is None or needed <= width:
            table, footer = wider, torchinfo_legend(comparisons)
        else:
            footer = torchinfo_legend(comparisons, needed)
    legend = Text(
        "MACs: multiply-accumulates (FLOPs = 2 x MACs); RF: receptive field in input pixels "
        "(height x width where they differ), ≈ marks an approximation",
        style="dim",
    )
    return Group(
        *(Text(line) for line in _headline(analysis)), table, legend, *(Text(line, style="dim") for line in footer)
    )


def _layer_table(columns: list[str], rows: list[list[str]]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, collapse_padding=True)
    for column in columns:
        table.add_column(
            column, justify="left" if column in ("layer", "type", "output") else "right", no_wrap=column != "layer"
        )
    for row in rows:
        table.add_row(*row)
    return table


def render_markdown(analysis: Analysis, depth: int | None = None) -> str:
    lines = [f"**{line}**  " if i == 0 else f"{line}  " for i, line in enumerate(_headline(analysis))]
    lines += ["", "| " + " | ".join(_COLUMNS) + " |", "|" + "---|" * len(_COLUMNS)]
    for row in _rows(analysis, depth):
        row[0] = row[0].replace("  ", "&nbsp;&nbsp;")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


_CSV_FIELDS = (
    "path",
    "type",
    "depth",
    "input_shape",
    "output_shape",
    "kernel_size",
    "stride",
    "padding",
    "groups",
    "params",
    "trainable_params",
    "macs",
    "flops",
    "params_share",
    "macs_share",
    "activation_bytes",
    "receptive_field",
    "jump",
)


def render_csv(analysis: Analysis, depth: int | None = None) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(_CSV_FIELDS)
    for node in visible_layers(analysis, depth):
        record = layer_record(node, analysis.totals)
        writer.writerow(
            units.dims(value) if isinstance(value, list) else ("" if value is None else value)
            for value in (record[f] for f in _CSV_FIELDS)
        )
    return out.getvalue()


def render_json(analysis: Analysis, depth: int | None = None) -> str:
    return json.dumps(to_dict(analysis, depth), indent=2) + "\n"


def course_rows(analysis: Analysis) -> list[dict[str, Any]]:
    """The rows of the course text's AlexNet table for a plain chain network.

    Activations and dropout are folded into the ``activation`` column of the layer they
    follow, as in the text. MACs and FLOPs are both given, in their own columns.
    """
    rows: list[dict[str, Any]] = []
    element = DTYPE_BYTES[analysis.dtype]
    c, h, w = analysis.input_size
    rows.append(
        {
            "layer": "input",
            "type": "Input",
            "input": "-",
            "kernel": "-",
            "filters": "-",
            "stride": "-",
            "padding": "-",
            "output": f"{h}x{w}x{c}",
            "params": 0,
            "memory_bytes": analysis.batch * c * h * w * element,
            "macs": 0,
            "flops": 0,
            "activation": "-",
        }
    )
    for node in analysis.layers:
        if not node.is_leaf:
            continue
        if node.type in ("ReLU", "Dropout") and rows[-1]["layer"] != "input":
            label = "ReLU" if node.type == "ReLU" else f"Dropout ({node.name})"
            rows[-1]["activation"] = label if rows[-1]["activation"] == "-" else rows[-1]["activation"] + " + " + label
            continue
        filters = node.output_shape[1] if node.type in ("Conv2d", "Linear") and node.output_shape else "-"
        rows.append(
            {
                "layer": node.name,
                "type": node.type,
                "input": _hwc(node.input_shape),
                "kernel": units.dims(node.kernel_size) if node.kernel_size else "-",
                "filters": filters,
                "stride": node.stride[0] if node.stride else "-",
                "padding": node.padding[0] if isinstance(node.padding, tuple) else "-",
                "output": _hwc(node.output_shape),
                "params": node.params,
                "memory_bytes": node.activation_bytes,
                "macs": node.macs,
                "flops": node.flops,
                "activation": "-",
            }
        )
    return rows


def _hwc(dims: tuple[int, ...] | None) -> str:
    if not dims:
        return "-"
    return f"{dims[2]}x{dims[3]}x{dims[1]}" if len(dims) == 4 else units.dims(dims[1:])


def render_course(analysis: Analysis) -> str:
    """The course text's AlexNet table as Markdown, with correct figures and a true total row."""
    headers = (
        "Layer",
        "Type",
        "Input",
        "Kernel",
        "Filters/Units",
        "Stride",
        "Padding",
        "Output",
        "Parameters",
        "Memory (MiB)",
        "MACs",
        "FLOPs",
        "Activation",
    )
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    rows = course_rows(analysis)
    for row in rows:
        cells = (
            row["layer"],
            row["type"],
            row["input"],
            row["kernel"],
            row["filters"],
            row["stride"],
            row["padding"],
            row["output"],
            f"{row['params']:,}",
            f"{row['memory_bytes'] / 2**20:.2f}",
            _mega(row["macs"]),
            _mega(row["flops"]),
            row["activation"],
        )
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    total_macs = sum(r["macs"] for r in rows)
    total = (
        "**total**",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        f"**{sum(r['params'] for r in rows):,}**",
        f"**{sum(r['memory_bytes'] for r in rows) / 2**20:.2f}**",
        f"**{_mega(total_macs)}**",
        f"**{_mega(2 * total_macs)}**",
        "",
    )
    lines.append("| " + " | ".join(total) + " |")
    lines += [
        "",
        f"{analysis.name}, input {'x'.join(map(str, analysis.input_size))}, batch {analysis.batch}, {analysis.dtype}. "
        "Memory: output activations (MiB = 2^20 bytes). MACs: multiply-accumulates of the conv/FC weights "
        "(biases, pooling and LRN not counted); FLOPs = 2 x MACs. The total row is the sum of the rows above.",
    ]
    return "\n".join(lines) + "\n"


def _mega(value: int) -> str:
    return f"{value / 1e6:.1f}M" if value else "0"


def render(
    analysis: Analysis,
    fmt: str,
    depth: int | None,
    console: Console,
    torchinfo: dict[str, MultAddsComparison] | None = None,
) -> None:
    """Print an analysis in one of :data:`FORMATS` (the table with ``torchinfo``'s comparison)."""
    if fmt == "table":
        console.print(render_table(analysis, depth, torchinfo, console.width))
    elif fmt == "course":
        console.file.write(render_course(analysis))
    else:
        text = {"md": render_markdown, "csv": render_csv, "json": render_json}[fmt](analysis, depth)
        console.file.write(text)


def node_facts(analysis: Analysis, node: LayerNode, torchinfo: str | None = None) -> list[tuple[str, str]]:
    """Label/value rows describing one node, for the app's details panel: shapes, geometry,
    params and MACs with their formulas filled in (and ``torchinfo``'s line after them, see
    :func:`cnnexplorer.render.torchinfo.torchinfo_fact`), memory and receptive field."""
    from cnnexplorer.analysis.structure import repeat_label

    totals = analysis.totals
    facts: list[tuple[str, str]] = [("path", node.path or analysis.name), ("type", repeat_label(node) or node.type)]
    if node.training_only:
        facts.append(("note", "runs in training only: not in the model's totals"))
    if not node.executed:
        facts.append(("note", "not executed in this pass"))
    facts += [
        ("input", units.shape(node.input_shape, batch=True)),
        ("output", units.shape(node.output_shape, batch=True)),
    ]
    for label, value in (
        ("kernel", node.kernel_size),
        ("stride", node.stride),
        ("padding", node.padding),
        ("dilation", node.dilation),
    ):
        if value is not None and not (label == "dilation" and set(value) == {1}):
            facts.append((label, units.dims(value) if isinstance(value, tuple) else str(value)))
    if node.groups not in (None, 1):
        facts.append(("groups", str(node.groups)))
    facts += _cost_facts(node, totals)
    if torchinfo is not None:
        facts.append(("torchinfo", torchinfo))
    outputs = " (its layers' outputs)" if node.children else ""
    facts.append(("activations", units.size(node.activation_bytes) + outputs))
    facts += _field_facts(node)
    if node.calls > 1:
        facts.append(("calls per pass", str(node.calls)))
    if node.children:
        facts.append(("children", str(len(node.children))))
    return facts


def _field_facts(node: LayerNode) -> list[tuple[str, str]]:
    """Receptive field (height x width) and jump, and what is approximate if anything."""
    field = node.field
    if field is None:
        return [("receptive field", "whole input (no spatial axes)" if node.executed else "-")]
    facts = [
        ("receptive field", f"{units.dims(field.size)}px" + ("" if field.exact else " (approximate)")),
        ("jump", f"{_pixels(field.jump)}px (effective stride)"),
    ]
    if not field.exact:
        facts.append(("approximate", field.note or ""))
    return facts


def _cost_facts(node: LayerNode, totals: Totals) -> list[tuple[str, str]]:
    """Params and MACs with the formula that gives them; nothing but one line for a layer
    without either. Shares are of the inference path, so that they never pass 100%."""
    if not node.params and not node.macs:
        return [("cost", "no parameters, no MACs")]
    params, macs = shown_figures(node)
    facts = []
    formula = param_formula(node)
    share = "" if node.training_only else f" · {units.percent(params, totals.params)} of model"
    facts.append(("params", f"{formula} = {node.params:,}{share}" if formula else f"{params:,}{share}"))
    if params != node.params:
        facts.append(("", f"+{node.params - params:,} in training-only heads"))
    if node.buffers:
        facts.append(("buffers", f"{node.buffers:,} (running statistics)"))
    if node.macs:
        formula = mac_formula(node)
        share = "" if node.training_only else f" · {units.percent(macs, totals.macs)} of model"
        facts.append(("MACs", f"{formula} = {node.macs:,}{share}" if formula else f"{macs:,}{share}"))
        if macs != node.macs:
            facts.append(("", f"+{node.macs - macs:,} in training-only heads"))
        facts.append(("FLOPs", f"2 × MACs = {units.count(2 * macs)}"))
    return facts


def param_formula(node: LayerNode) -> str | None:
    """How a convolution's, linear layer's or batch norm's parameters add up, e.g.
    ``(3·3·64)·128 + 128`` (kernel area x input channels per group, x output channels,
    plus one bias per output channel); None for other nodes."""
    if not node.is_leaf or node.input_shape is None or node.output_shape is None:
        return None
    if node.kernel_size is not None and node.groups is not None:  # a convolution
        c_in, c_out = node.input_shape[1], node.output_shape[1]
        per_group = c_in // node.groups
        weights = math.prod(node.kernel_size) * per_group * c_out
        terms = "·".join(map(str, (*node.kernel_size, per_group)))
        return _plus_bias(f"({terms})·{c_out}", weights, node.params)
    if node.type == "Linear":
        features_in, features_out = node.input_shape[-1], node.output_shape[-1]
        return _plus_bias(f"{features_in}·{features_out}", features_in * features_out, node.params)
    if node.type.startswith("BatchNorm"):
        return f"2·{node.output_shape[1]} (scale and shift per channel)"
    return None


def _plus_bias(weights_text: str, weights: int, params: int) -> str:
    bias = params - weights
    return f"{weights_text} + {bias}" if bias else weights_text


def mac_formula(node: LayerNode) -> str | None:
    """How a convolution's or linear layer's MACs add up: output elements x the
    multiply-accumulates per output, e.g. ``56·56·128 × 3·3·64``; None for other nodes."""
    if not node.is_leaf or node.calls != 1 or node.input_shape is None or node.output_shape is None:
        return None
    if node.kernel_size is not None and node.groups is not None:
        per_output = (*node.kernel_size, node.input_shape[1] // node.groups)
        return f"{_elements(node.output_shape)} × {'·'.join(map(str, per_output))}"
    if node.type == "Linear":
        return f"{_elements(node.output_shape)} × {node.input_shape[-1]}"
    return None


def _elements(shape: tuple[int, ...]) -> str:
    """An output's elements as a product, the batch left out when it is 1."""
    dims = shape[1:] if shape[0] == 1 else shape
    return "·".join(map(str, dims))
