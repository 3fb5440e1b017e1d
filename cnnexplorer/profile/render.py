"""``cnnexplorer profile``'s output: a header, the per-layer roofline table, the whole-model
line and the lessons (table); or the schema-1 JSON document; or CSV, one row per leaf."""

from __future__ import annotations

import csv
import io
import json

from rich import box
from rich.console import Console
from rich.table import Table

from cnnexplorer import units
from cnnexplorer.profile.results import LayerProfile, Profile, to_json

CSV_COLUMNS = (
    "path", "type", "calls", "forward_ms", "backward_ms", "percent_of_time", "flops", "bytes", "intensity",
    "achieved_flops_per_s", "bound_flops_per_s", "percent_of_bound", "bound",
)  # fmt: skip


def render(profile: Profile, output_format: str, console: Console) -> None:
    if output_format == "json":
        console.file.write(json.dumps(to_json(profile), indent=2) + "\n")
    elif output_format == "csv":
        console.file.write(to_csv(profile))
    else:
        for line in header_lines(profile):
            console.print(line)
        console.print(layer_table(profile, console.width))
        for line in footer_lines(profile):
            console.print(line)


def header_lines(profile: Profile) -> list[str]:
    """Lines of at most 80 columns (a long device name or model name aside)."""
    peaks = profile.peaks
    when = f"reused from {peaks.measured_at} (--remeasure-peaks: again)" if peaks.reused else "measured now"
    precision = profile.precision + (" (autocast; float32 weights)" if profile.autocast else "")
    return [
        f"{profile.model} on {profile.device} ({peaks.device_name}), {profile.mode}, batch {profile.batch} "
        f"of {units.dims(profile.input_size)}",
        f"precision {precision}, memory format {'channels_last' if profile.channels_last else 'contiguous'}",
        f"{profile.steps} timed steps, medians; timed with {profile.clock}",
        f"peaks at {peaks.dtype}: {peaks.flops_per_s / 1e9:,.1f} GFLOP/s (GEMM), "
        f"{peaks.bytes_per_s / 1e9:,.1f} GB/s (copy), ridge {peaks.ridge_intensity:,.1f} FLOP/B",
        f"peaks {when}",
    ]


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}" if value < 10 else f"{value:,.1f}"


def _rate(value: float) -> str:
    """A count or rate with an SI suffix (4.72M, 57.3G), "-" for none: a small network's
    layers run millions of FLOPs, a large one's billions, and both must read."""
    return units.count(value) if value else "-"


WIDE = 120  # from this width on, the table shows the type and bound GFLOP/s columns too


def layer_table(profile: Profile, width: int = 80) -> Table:
    """One row per leaf; below :data:`WIDE` columns the type and the bound GFLOP/s (in the
    JSON and CSV) are left out so that the rest fits 80 columns."""
    peaks = profile.peaks
    training = profile.mode == "training"
    wide = width >= WIDE
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1), collapse_padding=True)
    table.add_column("layer", overflow="fold", min_width=12)
    if wide:
        table.add_column("type", overflow="fold")
    names = ["fwd ms", *(["bwd ms"] if training else []), "%", "FLOPs", "bytes", "FLOP/B", "FLOP/s"]
    names += [*(["bound"] if wide else []), "%bnd", "roof"]
    for name in names:
        table.add_column(name, justify="left" if name == "roof" else "right", no_wrap=True)
    for layer in profile.layers:
        percent = layer.percent_of_bound(peaks)
        cells = [layer.path, *([layer.type] if wide else []), _ms(layer.forward_ms)]
        if training:
            cells.append(_ms(layer.backward_ms))
        cells += [
            f"{profile.share(layer):.1f}",
            _rate(layer.flops),
            _rate(layer.bytes),
            f"{layer.intensity:,.1f}",
            _rate(layer.achieved_flops_per_s),
            *([_rate(layer.bound_flops_per_s(peaks))] if wide else []),
            "-" if percent is None else f"{percent:.0f}",
            "mem" if layer.bound(peaks) == "memory" else "comp",
        ]
        table.add_row(*cells)
    return table


def footer_lines(profile: Profile) -> list[str]:
    lines = [
        "columns: % of the summed layer time; FLOPs = 2 x MACs (from the engine); bytes moved (weights read, "
        "inputs read, outputs written, at the dtype); FLOP/B = intensity; bound = min(peak FLOP/s, "
        "intensity x peak bytes/s) (its column from 120 columns wide); %bnd = achieved / bound; roof: mem(ory) or "
        "comp(ute); rates from the forward time",
        f"whole model: forward {_ms(profile.forward_ms)} ms"
        + (f", backward {_ms(profile.backward_ms)} ms" if profile.backward_ms is not None else "")
        + f" (no hooks): {profile.img_per_s:,.1f} img/s",
        f"hooks overhead {100 * profile.hooks_overhead:+.1f}%; coverage {100 * profile.coverage:.1f}% "
        "(layers' forward sum / whole forward)",
    ]
    if profile.peak_memory_bytes is None:
        lines.append("peak memory of a step: not measured")
    else:
        how = "max_memory_allocated" if profile.device.startswith("cuda") else "torch.profiler's memory events"
        lines.append(f"peak memory of a step: {units.size(profile.peak_memory_bytes)} measured ({how})")
    lines.append(f"  the engine estimates {units.size(profile.estimated_memory_bytes)} for it (an estimate)")
    lines += profile.lessons()
    return lines


def _csv_row(profile: Profile, layer: LayerProfile) -> list:
    peaks = profile.peaks
    percent = layer.percent_of_bound(peaks)
    return [
        layer.path, layer.type, layer.calls, f"{layer.forward_ms:.6f}",
        "" if layer.backward_ms is None else f"{layer.backward_ms:.6f}", f"{profile.share(layer):.3f}",
        layer.flops, layer.bytes, f"{layer.intensity:.6g}", f"{layer.achieved_flops_per_s:.6g}",
        f"{layer.bound_flops_per_s(peaks):.6g}", "" if percent is None else f"{percent:.3f}", layer.bound(peaks),
    ]  # fmt: skip


def to_csv(profile: Profile) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for layer in profile.layers:
        writer.writerow(_csv_row(profile, layer))
    return buffer.getvalue()
