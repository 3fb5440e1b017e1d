"""Render a :class:`~cnnexplorer.diff.Diff` as a table, Markdown or JSON (Textual-free)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from cnnexplorer import units
from cnnexplorer.diff import MARKERS, STYLES, Diff, DiffRow, visible_rows

if TYPE_CHECKING:
    from cnnexplorer.analysis import LayerNode

JSON_SCHEMA_VERSION = 1
FORMATS = ("table", "md", "json")

LEGEND = "~ changed   + added (right only)   - removed (left only)   (blank) same"

_TOTALS = (
    ("params", "params", units.count),
    ("macs", "MACs", units.count),
    ("activation_bytes", "activations", units.size),
    ("weight_layers", "weight layers", str),
)

_SHORT = {
    "in_channels": "in",
    "out_channels": "out",
    "output_size": "size",
    "input_shape": "input",
    "contents": "children",
}


def row_label(row: DiffRow) -> str:
    """The row's module name; ``left→right`` where the two names differ."""
    left, right = (row.left.name if row.left else None), (row.right.name if row.right else None)
    if left is not None and right is not None and left != right:
        return f"{left}→{right}"
    return row.node.name


def row_type(row: DiffRow) -> str:
    if "type" in row.changes:
        return "{}→{}".format(*row.changes["type"])
    return row.node.type


def _value(name: str, value: Any) -> str:
    if name == "input_shape":
        return units.shape(value)  # without the batch dimension
    if isinstance(value, tuple):
        return units.dims(value)
    return "-" if value is None else str(value)


def change_text(row: DiffRow) -> str:
    """The row's changed attributes with both values: ``out 64→128, kernel 11x11→5x5``."""
    return ", ".join(
        f"{_SHORT.get(name, name)} {_value(name, left)}→{_value(name, right)}"
        for name, (left, right) in row.changes.items()
    )


def _delta(value: int, status: str) -> str:
    return "" if status == "same" else units.signed(value)


def headline(diff: Diff) -> list[str]:
    """Which models, at what input, and how many leaf layers are in each status."""
    left, right = diff.left, diff.right
    sizes = [units.dims(analysis.input_size) for analysis in (left, right)]
    size = sizes[0] if sizes[0] == sizes[1] else " vs ".join(sizes)
    counts = diff.leaf_counts()
    return [
        f"{left.name} (left) vs {right.name} (right)",
        f"input {size}  batch {left.batch}  {left.dtype}",
        "leaf layers: " + ", ".join(f"{counts[s]} {s}" for s in counts),
    ]


def total_rows(diff: Diff) -> list[tuple[str, str, str, str]]:
    """(label, left, right, delta) for each total, formatted."""
    rows = []
    for key, label, fmt in _TOTALS:
        total = diff.totals[key]
        rows.append((label, fmt(total.left), fmt(total.right), units.signed(total.delta, fmt)))
    return rows


def render_totals(diff: Diff) -> Table:
    """Both sides' totals and their deltas (with the change in percent)."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for column in ("total", diff.left.name, diff.right.name, "delta"):
        table.add_column(column, justify="left" if column == "total" else "right")
    for (key, _, _), (label, left, right, delta) in zip(_TOTALS, total_rows(diff)):
        total = diff.totals[key]
        percent = f" ({100 * total.delta / total.left:+.1f}%)" if total.left and total.delta else ""
        table.add_row(label, left, right, delta + percent)
    return table


def render_table(diff: Diff, depth: int | None = None, only_diff: bool = False) -> Group:
    """A rich renderable: headline and totals, then one row per visible aligned pair."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("", width=1, no_wrap=True)
    table.add_column("layer", overflow="fold")
    table.add_column("type", no_wrap=True, overflow="ellipsis", max_width=14)
    table.add_column("output", no_wrap=True)
    table.add_column("Δparams", justify="right", no_wrap=True)
    table.add_column("ΔMACs", justify="right", no_wrap=True)
    table.add_column("changes", overflow="fold")
    for row in visible_rows(diff, depth, only_diff):
        table.add_row(
            MARKERS[row.status],
            "  " * (row.depth - 1) + row_label(row),
            row_type(row),
            units.shape(row.node.output_shape),
            _delta(row.params_delta, row.status),
            _delta(row.macs_delta, row.status),
            change_text(row),
            style=STYLES[row.status],
        )
    notes = Text(
        f"{LEGEND}\noutput: the right side's (the left one's for removed rows); "
        "Δ: right minus left; MACs: multiply-accumulates",
        style="dim",
    )
    return Group(*(Text(line) for line in headline(diff)), render_totals(diff), table, notes)


def _side_cells(node: LayerNode | None) -> list[str]:
    if node is None:
        return ["", "", "", ""]
    return [f"`{node.path}`", units.shape(node.output_shape), units.count(node.params), units.count(node.macs)]


def render_markdown(diff: Diff, depth: int | None = None, only_diff: bool = False) -> str:
    """Markdown: headline, totals, then both sides' figures for every visible row."""
    lines = [f"**{line}**  " if i == 0 else f"{line}  " for i, line in enumerate(headline(diff))]
    lines += ["", f"| total | {diff.left.name} | {diff.right.name} | delta |", "|---|---:|---:|---:|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in total_rows(diff)]
    headers = (
        "",
        "type",
        "left",
        "output",
        "params",
        "MACs",
        "right",
        "output",
        "params",
        "MACs",
        "Δparams",
        "ΔMACs",
        "changes",
    )
    lines += ["", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in visible_rows(diff, depth, only_diff):
        cells = [
            f"`{MARKERS[row.status]}`",
            "&nbsp;&nbsp;" * (row.depth - 1) + row_type(row),
            *_side_cells(row.left),
            *_side_cells(row.right),
            _delta(row.params_delta, row.status),
            _delta(row.macs_delta, row.status),
            change_text(row),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", LEGEND.replace("   ", "; ")]
    return "\n".join(lines) + "\n"


def _side_record(node: LayerNode | None) -> dict[str, Any] | None:
    if node is None:
        return None
    return {
        "path": node.path,
        "type": node.type,
        "output_shape": list(node.output_shape) if node.output_shape else None,
        "params": node.params,
        "macs": node.macs,
    }


def _listed(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def row_record(row: DiffRow) -> dict[str, Any]:
    """One aligned row as a JSON-ready dict (the ``rows`` entries of ``--format json``)."""
    return {
        "status": row.status,
        "depth": row.depth,
        "is_leaf": row.is_leaf,
        "changed": list(row.changes),
        "changes": {name: [_listed(left), _listed(right)] for name, (left, right) in row.changes.items()},
        "left": _side_record(row.left),
        "right": _side_record(row.right),
        "delta": {"params": row.params_delta, "macs": row.macs_delta},
    }


def to_dict(diff: Diff, only_diff: bool = False) -> dict[str, Any]:
    """The stable JSON document of ``cnnexplorer diff --format json``: every row, depth first."""

    def side(analysis) -> dict[str, Any]:
        return {"model": analysis.name, "input": list(analysis.input_size)}

    rows = [row for row in diff.rows if not (only_diff and row.status == "same")]
    return {
        "schema": JSON_SCHEMA_VERSION,
        "left": side(diff.left),
        "right": side(diff.right),
        "batch": diff.left.batch,
        "dtype": diff.left.dtype,
        "totals": {
            key: {"left": total.left, "right": total.right, "delta": total.delta} for key, total in diff.totals.items()
        },
        "leaf_counts": diff.leaf_counts(),
        "rows": [row_record(row) for row in rows],
    }


def render_json(diff: Diff, only_diff: bool = False) -> str:
    return json.dumps(to_dict(diff, only_diff), indent=2) + "\n"


def render(diff: Diff, fmt: str, depth: int | None, only_diff: bool, console: Console) -> None:
    """Print a diff in one of :data:`FORMATS`."""
    if fmt == "table":
        console.print(render_table(diff, depth, only_diff))
    elif fmt == "md":
        console.file.write(render_markdown(diff, depth, only_diff))
    else:
        console.file.write(render_json(diff, only_diff))
