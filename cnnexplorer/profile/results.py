"""What ``cnnexplorer profile`` measured: torch-free result types, the roofline arithmetic,
the lessons, and the JSON document (schema 1) with its validating reader.

Units: times in milliseconds per step (a step is one batch: a forward in inference mode, a
forward and a backward in training mode); FLOPs are floating-point operations (FLOPs = 2 x
MACs, as the engine counts them), bytes are bytes moved at the dtype. The roofline bound of a
layer is ``min(peak FLOP/s, intensity x peak bytes/s)`` with ``intensity = flops / bytes``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from cnnexplorer.errors import UsageError

SCHEMA = 1
MODES = ("inference", "training")
DTYPES = ("float32", "bfloat16", "float16")
MAX_LAYERS = 100_000  # far above any model (densenet201: ~700 leaves)
MAX_TEXT = 1_000


@dataclass(frozen=True)
class Peaks:
    """A device's measured peaks at a dtype: a large GEMM's FLOP/s and a large copy's bytes/s
    (read + write counted). Measured in a run, or reused from an earlier run on the same device."""

    device: str  # "cpu" / "cuda:0"
    device_name: str  # the CPU model or GPU name
    dtype: str  # "float32" / "bfloat16" / "float16"
    flops_per_s: float
    bytes_per_s: float
    measured_at: str = ""  # ISO time of the measurement (UTC)
    reused: bool = False  # True: read from the cache, not measured in this run

    @property
    def ridge_intensity(self) -> float:
        """FLOPs per byte where the two roofs meet: below it a layer is memory-bound."""
        return self.flops_per_s / self.bytes_per_s


@dataclass(frozen=True)
class LayerProfile:
    """One leaf module's (or a container's summed) measured cost per step."""

    path: str
    type: str
    calls: int
    forward_ms: float  # per step, summed over the layer's calls
    backward_ms: float | None  # per step; None in inference mode
    flops: int  # from the engine (2 x MACs), per step
    bytes: int  # weights read + inputs read + outputs written, at the dtype, per step
    params: int = 0

    @property
    def time_ms(self) -> float:
        return self.forward_ms + (self.backward_ms or 0.0)

    @property
    def intensity(self) -> float:
        """FLOPs per byte moved (0 where nothing is moved)."""
        return self.flops / self.bytes if self.bytes else 0.0

    @property
    def achieved_flops_per_s(self) -> float:
        return self.flops / (self.forward_ms / 1e3) if self.forward_ms > 0 else 0.0

    @property
    def achieved_bytes_per_s(self) -> float:
        return self.bytes / (self.forward_ms / 1e3) if self.forward_ms > 0 else 0.0

    def bound_flops_per_s(self, peaks: Peaks) -> float:
        """The roofline: min(peak FLOP/s, intensity x peak bytes/s)."""
        return min(peaks.flops_per_s, self.intensity * peaks.bytes_per_s)

    def bound(self, peaks: Peaks) -> str:
        """Which roof limits the layer: "compute" or "memory"."""
        return "compute" if self.intensity >= peaks.ridge_intensity else "memory"

    def percent_of_bound(self, peaks: Peaks) -> float | None:
        """Achieved FLOP/s as a percentage of the bound (None: a layer with no FLOPs counted)."""
        bound = self.bound_flops_per_s(peaks)
        return 100.0 * self.achieved_flops_per_s / bound if bound > 0 and self.flops else None


@dataclass(frozen=True)
class Profile:
    """A model's measured profile: the whole step and every leaf module, in execution order."""

    model: str
    device: str
    precision: str  # the dtype the layers ran at: "float32", "bfloat16", "float16"
    batch: int
    input_size: tuple[int, int, int]
    mode: str  # "inference" or "training"
    channels_last: bool
    steps: int
    peaks: Peaks
    forward_ms: float  # whole model, median over steps, no hooks
    forward_ms_with_hooks: float  # the same run with the timing hooks on
    backward_ms: float | None  # whole model, median, no hooks (training mode)
    img_per_s: float  # batch / step time (inference: forward; training: forward + backward)
    peak_memory_bytes: int | None  # measured; None where not measured (the CPU)
    estimated_memory_bytes: int  # the engine's estimate for the mode
    layers: list[LayerProfile] = field(default_factory=list)
    autocast: bool = False  # True: the reduced precision came from torch.autocast
    params: int = 0
    clock: str = ""  # what timed the layers: "CUDA events", "wall clock", "thread CPU time (1 thread)"

    @property
    def step_ms(self) -> float:
        return self.forward_ms + (self.backward_ms or 0.0)

    @property
    def hooks_overhead(self) -> float:
        """Whole forward with the timing hooks / without them - 1."""
        return self.forward_ms_with_hooks / self.forward_ms - 1 if self.forward_ms > 0 else 0.0

    @property
    def coverage(self) -> float:
        """Sum of the leaves' forward times / the whole forward without hooks."""
        return sum(layer.forward_ms for layer in self.layers) / self.forward_ms if self.forward_ms > 0 else 0.0

    @property
    def layers_ms(self) -> float:
        return sum(layer.time_ms for layer in self.layers)

    def share(self, layer: LayerProfile) -> float:
        """The layer's share of the summed leaf time (forward + backward), in percent."""
        total = self.layers_ms
        return 100.0 * layer.time_ms / total if total > 0 else 0.0

    def leaves_of(self, path: str) -> list[LayerProfile]:
        prefix = path + "."
        return [layer for layer in self.layers if not path or layer.path == path or layer.path.startswith(prefix)]

    def container(self, path: str) -> LayerProfile:
        """A container (or the model, path "") as the sum of its leaves."""
        leaves = self.leaves_of(path)
        if not leaves:
            raise KeyError(path)
        backward = None if self.mode == "inference" else sum(leaf.backward_ms or 0.0 for leaf in leaves)
        return LayerProfile(
            path=path,
            type="(container)" if len(leaves) > 1 or leaves[0].path != path else leaves[0].type,
            calls=sum(leaf.calls for leaf in leaves),
            forward_ms=sum(leaf.forward_ms for leaf in leaves),
            backward_ms=backward,
            flops=sum(leaf.flops for leaf in leaves),
            bytes=sum(leaf.bytes for leaf in leaves),
            params=sum(leaf.params for leaf in leaves),
        )

    def top_level(self) -> list[str]:
        """The model's direct children that hold leaves, in first-execution order."""
        seen: dict[str, None] = {}
        for layer in self.layers:
            seen.setdefault(layer.path.split(".", 1)[0], None)
        return list(seen)

    def memory_bound_share(self) -> float:
        """Percent of the summed leaf time spent in memory-bound layers (layers with no FLOPs
        counted, such as a ReLU, move bytes only: memory-bound)."""
        total = self.layers_ms
        memory = sum(layer.time_ms for layer in self.layers if layer.bound(self.peaks) == "memory")
        return 100.0 * memory / total if total > 0 else 0.0

    def lessons(self) -> list[str]:
        """Teaching lines, computed from the measurement."""
        lines = []
        params = sum(layer.params for layer in self.layers)
        if params and self.layers_ms > 0:
            heaviest = max(self.top_level(), key=lambda name: self.container(name).params)
            part = self.container(heaviest)
            lines.append(f"{heaviest}: {100 * part.params / params:.1f}% of params, {self.share(part):.1f}% of time")
        costliest = sorted(self.layers, key=lambda layer: layer.time_ms, reverse=True)[:3]
        if costliest and self.layers_ms > 0:
            named = ", ".join(f"{layer.path} ({self.share(layer):.1f}%)" for layer in costliest)
            lines.append(f"costliest layers: {named}")
        if self.layers_ms > 0:
            lines.append(f"memory-bound layers: {self.memory_bound_share():.0f}% of the time")
        if self.peaks.flops_per_s > 0 and self.step_ms > 0:
            flops = sum(layer.flops for layer in self.layers) * (3 if self.mode == "training" else 1)
            achieved = flops / (self.step_ms / 1e3)
            lines.append(
                f"achieved over the step: {achieved / 1e9:,.1f} GFLOP/s, "
                f"{100 * achieved / self.peaks.flops_per_s:.1f}% of the measured GEMM peak"
                + (" (training: backward counted as 2 x forward FLOPs)" if self.mode == "training" else "")
            )
        return lines


def to_json(profile: Profile) -> dict:
    """The profile as a JSON-able document (schema 1, documented in the README)."""
    peaks = profile.peaks
    return {
        "schema": SCHEMA,
        "model_name": profile.model,
        "device": profile.device,
        "precision": profile.precision,
        "autocast": profile.autocast,
        "batch": profile.batch,
        "input_size": list(profile.input_size),
        "mode": profile.mode,
        "channels_last": profile.channels_last,
        "steps": profile.steps,
        "clock": profile.clock,
        "peaks": {
            "device": peaks.device,
            "device_name": peaks.device_name,
            "dtype": peaks.dtype,
            "flops_per_s": peaks.flops_per_s,
            "bytes_per_s": peaks.bytes_per_s,
            "measured_at": peaks.measured_at,
            "reused": peaks.reused,
        },
        "model": {
            "forward_ms": profile.forward_ms,
            "forward_ms_with_hooks": profile.forward_ms_with_hooks,
            "backward_ms": profile.backward_ms,
            "img_per_s": profile.img_per_s,
            "hooks_overhead": profile.hooks_overhead,
            "coverage": profile.coverage,
            "params": profile.params,
            "peak_memory_bytes": profile.peak_memory_bytes,
            "estimated_memory_bytes": profile.estimated_memory_bytes,
        },
        "layers": [_layer_json(layer, peaks) for layer in profile.layers],
    }


def _layer_json(layer: LayerProfile, peaks: Peaks) -> dict:
    return {
        "path": layer.path,
        "type": layer.type,
        "calls": layer.calls,
        "params": layer.params,
        "forward_ms": layer.forward_ms,
        "backward_ms": layer.backward_ms,
        "flops": layer.flops,
        "bytes": layer.bytes,
        "intensity": layer.intensity,
        "achieved_flops_per_s": layer.achieved_flops_per_s,
        "achieved_bytes_per_s": layer.achieved_bytes_per_s,
        "bound_flops_per_s": layer.bound_flops_per_s(peaks),
        "bound": layer.bound(peaks),
    }


class ProfileDocumentError(UsageError):
    """A stored profile document that is not a valid schema-1 profile."""


def from_json(document: object) -> Profile:
    """A :class:`Profile` from a document written by :func:`to_json`, every value checked
    (types, bounds, sizes); raises :class:`ProfileDocumentError` on anything else. Derived
    fields (intensity, bound, ...) are recomputed, not trusted."""
    top = _mapping(document, "document")
    if top.get("schema") != SCHEMA or type(top.get("schema")) is not int:
        raise ProfileDocumentError(f"not a profile of schema {SCHEMA}")
    peaks_doc = _mapping(top.get("peaks"), "peaks")
    model_doc = _mapping(top.get("model"), "model")
    mode = _choice(top, "mode", MODES)
    training = mode == "training"
    peaks = Peaks(
        device=_text(peaks_doc, "device"),
        device_name=_text(peaks_doc, "device_name"),
        dtype=_choice(peaks_doc, "dtype", DTYPES),
        flops_per_s=_number(peaks_doc, "flops_per_s", positive=True),
        bytes_per_s=_number(peaks_doc, "bytes_per_s", positive=True),
        measured_at=_text(peaks_doc, "measured_at"),
        reused=_flag(peaks_doc, "reused"),
    )
    layers_doc = top.get("layers")
    if not isinstance(layers_doc, list) or len(layers_doc) > MAX_LAYERS:
        raise ProfileDocumentError(f"layers: a list of at most {MAX_LAYERS} layers expected")
    input_size = top.get("input_size")
    if not (isinstance(input_size, list) and len(input_size) == 3 and all(_is_count(v) and v > 0 for v in input_size)):
        raise ProfileDocumentError("input_size: three positive whole numbers expected")
    return Profile(
        model=_text(top, "model_name"),
        device=_text(top, "device"),
        precision=_choice(top, "precision", DTYPES),
        batch=_count(top, "batch", positive=True),
        input_size=tuple(input_size),
        mode=mode,
        channels_last=_flag(top, "channels_last"),
        steps=_count(top, "steps", positive=True),
        peaks=peaks,
        forward_ms=_number(model_doc, "forward_ms", positive=True),
        forward_ms_with_hooks=_number(model_doc, "forward_ms_with_hooks", positive=True),
        backward_ms=_number(model_doc, "backward_ms", positive=True) if training else _none(model_doc, "backward_ms"),
        img_per_s=_number(model_doc, "img_per_s", positive=True),
        peak_memory_bytes=_optional_count(model_doc, "peak_memory_bytes"),
        estimated_memory_bytes=_count(model_doc, "estimated_memory_bytes"),
        layers=[_layer(_mapping(item, "layer"), training) for item in layers_doc],
        autocast=_flag(top, "autocast"),
        params=_count(model_doc, "params"),
        clock=_text(top, "clock") if "clock" in top else "",  # absent from documents of the first commits
    )


def _layer(doc: dict, training: bool) -> LayerProfile:
    return LayerProfile(
        path=_text(doc, "path"),
        type=_text(doc, "type"),
        calls=_count(doc, "calls"),
        forward_ms=_number(doc, "forward_ms"),
        backward_ms=_number(doc, "backward_ms") if training else _none(doc, "backward_ms"),
        flops=_count(doc, "flops"),
        bytes=_count(doc, "bytes"),
        params=_count(doc, "params"),
    )


def _mapping(value: object, name: str) -> dict:
    if not isinstance(value, dict):
        raise ProfileDocumentError(f"{name}: an object expected")
    return value


def _text(doc: dict, key: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise ProfileDocumentError(f"{key}: a string of at most {MAX_TEXT} characters expected")
    return value


def _choice(doc: dict, key: str, choices: tuple[str, ...]) -> str:
    value = doc.get(key)
    if value not in choices or not isinstance(value, str):
        raise ProfileDocumentError(f"{key}: one of {', '.join(choices)} expected")
    return value


def _flag(doc: dict, key: str) -> bool:
    value = doc.get(key)
    if not isinstance(value, bool):
        raise ProfileDocumentError(f"{key}: true or false expected")
    return value


def _is_count(value: object) -> bool:
    return type(value) is int and 0 <= value < 2**63


def _count(doc: dict, key: str, positive: bool = False) -> int:
    value = doc.get(key)
    if not _is_count(value) or (positive and value == 0):
        raise ProfileDocumentError(f"{key}: a {'positive' if positive else 'non-negative'} whole number expected")
    return value


def _optional_count(doc: dict, key: str) -> int | None:
    return None if doc.get(key) is None else _count(doc, key)


def _number(doc: dict, key: str, positive: bool = False) -> float:
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ProfileDocumentError(f"{key}: a finite non-negative number expected")
    if positive and value == 0:
        raise ProfileDocumentError(f"{key}: a positive number expected")
    return float(value)


def _none(doc: dict, key: str) -> None:
    if doc.get(key) is not None:
        raise ProfileDocumentError(f"{key}: null expected in inference mode")
    return None
