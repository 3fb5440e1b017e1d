"""The analysis engine: a layer tree with shapes, parameters, MACs, memory and receptive
field for a model, computed on the meta device (no weights, no real forward pass).

Method, per node of the module tree:

- shapes and execution order come from torchinfo's layer records (one per call);
- parameters and buffers are counted from each module's own tensors;
- MACs are counted by formula for convolutions (output elements x input channels per
  group x kernel area) and linear layers (output elements x input features), biases
  excluded, as in the papers and torchvision's published figures; pooling,
  normalisation and activations count zero MACs. FLOPs = 2 x MACs. The total is
  cross-checked against FlopCounterMode's count of the same pass (its formulas,
  ``torch.utils.flop_counter.flop_registry``, applied by the receptive-field mode to
  every aten op; a test compares it with a real ``FlopCounterMode`` run);
- containers never use torchinfo's own container figures: they sum their descendants;
- the pass runs in training mode with autograd on, so that training-only heads get
  shapes and the tensors autograd saves for the backward pass can be counted (the
  training-memory estimate); receptive fields follow every aten op of the same pass.
"""

from __future__ import annotations

import contextlib
import gc
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torchinfo
from torch import nn
from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook
from torch.utils._device import DeviceContext  # torch.device's context mode (torch 2.0 on)
from torch.utils.hooks import RemovableHandle

from cnnexplorer import units
from cnnexplorer.analysis.inputs import DTYPE_BYTES
from cnnexplorer.analysis.memory import SavedTensors, estimate_memory, shares_input_memory
from cnnexplorer.analysis.receptive_field import ReceptiveFieldMode
from cnnexplorer.analysis.request import AnalysisRequest
from cnnexplorer.analysis.results import Analysis, LayerNode, ReceptiveField, Totals
from cnnexplorer.errors import InputSizeError, UsageError
from cnnexplorer.zoo import get

_INIT_FUNCTIONS = (
    "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_", "dirac_", "xavier_uniform_",
    "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_", "sparse_",
)  # fmt: skip

# The pass installs process-wide module hooks and dispatch modes: one pass at a time.
_TRACE_LOCK = threading.Lock()


def analyze(request: AnalysisRequest, device: str = "meta") -> Analysis:
    """Analyse the architecture a request names, at its input, batch and dtype: on the meta
    device (no weights, no arithmetic), or with ``device="cpu"`` for real (random weights and
    input), for a model whose forward needs values (``.item()``, data-dependent branches)."""
    arch = get(request.model)
    with _cyclic_gc_paused():
        if device == "meta":
            with _MetaBuild():
                model = arch.build()
        else:
            with torch.device(device):
                model = arch.build()
        analysis = _analyze(model, request, arch.training_only, device)
    analysis.arch = arch
    return analysis


def analyze_module(
    model: nn.Module,
    input_size: tuple[int, int, int],
    batch: int = 1,
    dtype: str = "float32",
    name: str | None = None,
    training_only: tuple[str, ...] = (),
) -> Analysis:
    """Analyse any module (built on the meta device) for a ``batch`` of ``input_size``."""
    request = AnalysisRequest(name or type(model).__name__, input_size, batch, dtype)
    with _cyclic_gc_paused():
        return _analyze(model, request, training_only)


class _MetaBuild(DeviceContext):
    """``with torch.device("meta")`` for a model's constructor, without its weight initialisation.

    Meta tensors hold no values, so initialisation changes nothing; yet it is a third of
    building a model there: ``normal_`` (Kaiming's init) is a Python decomposition on the
    meta device costing 0.2-0.5 ms a call, and each initialiser works out fans and gains
    first. The initialisers, and the fills they use, return their meta tensor untouched.
    This is torch.device's own mode (every torch call of a constructor goes through it)
    with the skip added: one mode on the stack instead of two.
    """

    _INITIALISERS = frozenset(
        {
            *(getattr(nn.init, name) for name in _INIT_FUNCTIONS if hasattr(nn.init, name)),
            torch.Tensor.normal_,
            torch.Tensor.uniform_,
            torch.Tensor.fill_,
            torch.Tensor.zero_,
        }
    )

    def __init__(self) -> None:
        super().__init__("meta")

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in self._INITIALISERS:
            tensor = args[0] if args else kwargs.get("tensor")  # nn.init passes it by name
            if isinstance(tensor, torch.Tensor) and tensor.is_meta:
                return tensor
        return super().__torch_function__(func, types, args, kwargs)


@contextlib.contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a model is built and analysed.

    An analysis makes many objects that live through the pass; with the collector on they
    trigger collections of the oldest generation, each a scan of every object the process
    holds (some 400,000 once torch is imported: 0.1-0.3 s on a 2-core machine). The pass
    makes little cyclic garbage; the collector takes it once switched back on. Safe with
    concurrent callers: one that found the collector on switches it back on.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _analyze(
    model: nn.Module, request: AnalysisRequest, training_only: tuple[str, ...], device: str = "meta"
) -> Analysis:
    torch_dtype = getattr(torch, request.dtype)
    model = model.to(device=device, dtype=torch_dtype)

    paths = {id(module): path for path, module in model.named_modules()}
    try:
        shape = (request.batch, *request.input_size)
        real = device != "meta"
        x = torch.randn(shape).to(device, torch_dtype) if real else torch.empty(shape, device="meta", dtype=torch_dtype)
    except (RuntimeError, OverflowError, TypeError) as error:  # sizes past what a tensor can index
        raise InputSizeError(
            f"batch {request.batch} of {units.dims(request.input_size)} is too large for a tensor: "
            f"{str(error).splitlines()[0]}"
        ) from None
    try:
        # Training mode: the training-only heads run, and autograd saves what a training step saves.
        trace = _trace(model, x, paths, "train", training_only)
    except _PassError as failure:
        if "more than 1 value per channel" not in str(failure.cause):
            raise _input_error(request, failure) from None
        # Batch norm cannot train on one value per channel (a tiny input at batch 1):
        # analyse the inference graph; the training-only heads stay without shapes.
        try:
            trace = _trace(model, x, paths, "eval", training_only)
        except _PassError as eval_failure:
            raise _input_error(request, eval_failure) from None

    nodes = _build_tree(model, training_only)
    _record_calls(nodes, trace, paths, DTYPE_BYTES[request.dtype])
    root = nodes[""]
    _aggregate(root)
    layers = _execution_order(nodes, trace.summary.summary_list, paths)
    totals = _totals(root, [nodes[p] for p in training_only if p in nodes], request.dtype)
    input_bytes = x.numel() * x.element_size()
    memory = estimate_memory(root, totals, input_bytes + trace.saved_bytes, request.dtype)
    return Analysis(
        request=request,
        root=root,
        layers=layers,
        totals=totals,
        memory=memory,
        flop_counter_flops=trace.flops - trace.training_only_flops,
        training_only_flop_counter_flops=trace.training_only_flops,
        receptive_field=trace.final_field,
    )


@dataclass
class _Trace:
    """What one pass records."""

    summary: Any  # torchinfo's ModelStatistics
    fields: dict[str, ReceptiveField | None]  # of each module's output (first call), by path
    input_shapes: dict[str, tuple[int, ...] | None]
    flops: int  # FlopCounterMode's formulas over the pass
    own_flops: dict[str, int]  # the part each module runs itself (matmuls, attention, ...), by path
    training_only_flops: int  # the part of it inside training-only heads
    saved_bytes: int  # tensors autograd saved for the backward pass (parameters and input excluded)
    final_field: ReceptiveField | None  # of the last feature map before global pooling or flattening


class _PassError(Exception):
    """The forward pass failed; ``running`` holds the modules it was inside."""

    def __init__(self, cause: Exception, running: list[tuple[str, nn.Module, tuple]]) -> None:
        super().__init__(str(cause))
        self.cause = cause.__cause__ or cause
        self.running = running


class _Recorder:
    """The module hooks of one pass: each module's input shape and output field, the modules
    the pass is inside (to name a failing layer), autograd switched on inside the model, and
    the training-only heads kept apart (their FLOPs; their pooling is not the network's)."""

    def __init__(self, paths: dict[int, str], training_only: tuple[str, ...], tracker: ReceptiveFieldMode) -> None:
        self.paths, self.training_only, self.tracker = paths, training_only, tracker
        self.fields: dict[str, ReceptiveField | None] = {}
        self.input_shapes: dict[str, tuple[int, ...] | None] = {}
        self.running: list[tuple[str, nn.Module, tuple]] = []
        self.head_flops = 0
        self.own_flops: dict[str, int] = {}  # FLOPs of the ops each module runs itself, not in a child
        self._frames: list[list[int]] = []  # per running module: [FLOPs at its start, its children's FLOPs]
        self._heads: dict[str, tuple[int, int]] = {}  # head -> (FLOPs, final fields) at its start
        self._grad_mode: list[bool] = []

    def pre(self, module: nn.Module, inputs: tuple) -> None:
        path = self.paths[id(module)]
        self.running.append((path, module, inputs))
        self._frames.append([self.tracker.flops, 0])
        self.input_shapes.setdefault(path, _input_shape(inputs))
        if path == "":  # torchinfo runs the model under no_grad: autograd on, to see what it saves
            self._grad_mode.append(torch.is_grad_enabled())
            torch.set_grad_enabled(True)
        if path in self.training_only:
            self._heads[path] = (self.tracker.flops, len(self.tracker.final))

    def post(self, module: nn.Module, inputs: tuple, output: object) -> None:
        path, _, _ = self.running.pop()
        start, in_children = self._frames.pop()
        inclusive = self.tracker.flops - start
        self.own_flops[path] = self.own_flops.get(path, 0) + inclusive - in_children
        if self._frames:
            self._frames[-1][1] += inclusive
        self.fields.setdefault(path, self.tracker.field(output))
        if path in self._heads:
            flops_before, finals_before = self._heads.pop(path)
            self.head_flops += self.tracker.flops - flops_before
            del self.tracker.final[finals_before:]
        if path == "":
            torch.set_grad_enabled(self._grad_mode.pop())


class _TorchinfoHookUntraced:
    """torchinfo's hook after each module, run outside the receptive-field mode.

    The hook reads the module's input through ``.data`` four times, and under a dispatch
    mode each read is an aten ``detach`` through Python that nothing uses (3,000 of them on
    a DenseNet, 5-9% of its analysis). Python dispatch is switched off from the end of our
    global forward hook (global hooks run before a module's own) to a hook of ours added
    after torchinfo's: only while torchinfo's hook runs, on modules whose one hook is its.
    """

    def __init__(self) -> None:
        self._resumers: dict[int, RemovableHandle | None] = {}  # by module id; None: left traced
        self._guard: Any = None

    def watch(self, module: nn.Module) -> None:
        """At a module's first call: add our hook after torchinfo's, if its is the only one."""
        if id(module) not in self._resumers:
            hooks = list(module._forward_hooks.values())
            alone = len(hooks) == 1 and getattr(hooks[0], "__module__", None) == torchinfo.torchinfo.__name__
            self._resumers[id(module)] = module.register_forward_hook(self._resume) if alone else None

    def pause(self, module: nn.Module) -> None:
        if self._resumers.get(id(module)) is not None:
            self._guard = torch._C._DisableTorchDispatch()
            self._guard.__enter__()

    def _resume(self, module: nn.Module, inputs: tuple, output: object) -> None:
        self.resume()

    def resume(self) -> None:
        if self._guard is not None:
            self._guard.__exit__(None, None, None)
            self._guard = None

    def remove(self) -> None:
        """Dispatch on again (a hook that raised leaves it off) and our hooks removed."""
        self.resume()
        for handle in self._resumers.values():
            if handle is not None:
                handle.remove()


def _trace(model: nn.Module, x: torch.Tensor, paths: dict[int, str], mode: str, training_only: tuple[str, ...]):
    """One meta-device pass under torchinfo, the receptive-field mode (which also counts
    FLOPs) and a saved-tensor hook."""
    tracker = ReceptiveFieldMode()
    saved = SavedTensors(excluded=[x, *model.parameters(), *model.buffers()])
    recorder, untraced = _Recorder(paths, training_only, tracker), _TorchinfoHookUntraced()

    def pre(module: nn.Module, inputs: tuple) -> None:
        if id(module) in paths:  # a module of another model, run meanwhile, is not ours
            untraced.watch(module)
            recorder.pre(module, inputs)

    def post(module: nn.Module, inputs: tuple, output: object) -> None:
        if id(module) in paths:
            recorder.post(module, inputs, output)
            untraced.pause(module)

    with _TRACE_LOCK:
        # Global module hooks: two registrations instead of two per module (each costs ~50 us);
        # they are removed below.
        handles = [register_module_forward_pre_hook(pre), register_module_forward_hook(post)]
        tracker.mark_input(x)
        try:
            with tracker, torch.autograd.graph.saved_tensors_hooks(saved.pack, saved.unpack):
                # No device: model and input are on the meta device already (with one, torchinfo
                # would move both again, a walk over every module).
                summary = torchinfo.summary(model, input_data=x, mode=mode, depth=10_000, verbose=0)
        except Exception as error:  # the pass failed: keep where, to name the layer
            raise _PassError(error, recorder.running) from None
        finally:
            untraced.remove()
            for handle in handles:
                handle.remove()
    return _Trace(
        summary=summary,
        fields=recorder.fields,
        input_shapes=recorder.input_shapes,
        flops=int(tracker.flops),
        own_flops=recorder.own_flops,
        training_only_flops=recorder.head_flops,
        saved_bytes=saved.bytes,
        # No global pooling or flattening (a fully convolutional model): the output's field.
        final_field=tracker.final[-1] if tracker.final else recorder.fields.get(""),
    )


_NEEDS_VALUES = ("meta tensor", "meta device", "data-dependent", "data dependent")


def _input_error(request: AnalysisRequest, failure: _PassError) -> UsageError:
    """Why the pass failed, in the user's terms: the layer, what it takes and what it got."""
    name, size = request.model, units.dims(request.input_size)
    cause, running = failure.cause, failure.running
    if any(phrase in str(cause).lower() for phrase in _NEEDS_VALUES):  # the forward needs real values
        where = f"{running[-1][0] or name} ({type(running[-1][1]).__name__})" if running else name
        return UsageError(
            f"{name} cannot run on the meta device: {where} needs values ({str(cause).splitlines()[0]}); "
            "--device cpu analyses it for real (slower)"
        )
    if not running:
        return InputSizeError(f"{name} cannot run on input {size}: {str(cause).splitlines()[0]}")
    path, module, inputs = running[-1]
    shape = tuple(inputs[0].shape[1:]) if inputs and isinstance(inputs[0], torch.Tensor) else ()
    layer = f"{path or name} ({type(module).__name__})"
    where = f"{layer}, whose input is {units.dims(shape)}"
    message = str(cause).lower()
    if "too small" in message or "greater than actual input size" in message or "output size" in message:
        return InputSizeError(f"input {size} is too small for {name}: the feature map vanishes at {where}")
    if isinstance(module, nn.Linear) and shape and shape[-1] != module.in_features:
        return InputSizeError(
            f"{name} cannot take input {size}: {layer} takes {module.in_features:,} features but gets "
            f"{shape[-1]:,} (no adaptive pooling before it: the input size is fixed)"
        )
    if isinstance(module, nn.modules.conv._ConvNd) and shape and shape[0] != module.in_channels:
        return InputSizeError(
            f"{name} cannot take input {size}: {layer} takes {module.in_channels} channels, the input has {shape[0]}"
        )
    return InputSizeError(f"{name} cannot take input {size}: it fails at {where}: {str(cause).splitlines()[0]}")


def _tuple(value: object, spatial_dims: int) -> tuple[int, ...] | str | None:
    """A kernel, stride, padding or dilation with one entry per spatial axis (a pooling
    layer's ``3`` is ``(3, 3)``, as a convolution's); ``"same"``-style strings as they are."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return (value,) * spatial_dims
    return tuple(value)  # type: ignore[arg-type]


def _build_tree(model: nn.Module, training_only: tuple[str, ...]) -> dict[str, LayerNode]:
    nodes: dict[str, LayerNode] = {}
    for path, module in model.named_modules():
        is_leaf = not any(True for _ in module.children())
        own = list(module.parameters(recurse=False))
        own_buffers = list(module.buffers(recurse=False))
        node = LayerNode(
            path=path,
            type=type(module).__name__,
            depth=path.count(".") + 1 if path else 0,
            is_leaf=is_leaf,
            params=sum(p.numel() for p in own),
            trainable_params=sum(p.numel() for p in own if p.requires_grad),
            buffers=sum(b.numel() for b in own_buffers),
            # Each buffer at its own dtype: batch norm's num_batches_tracked is int64 at any dtype.
            buffer_bytes=sum(b.numel() * b.element_size() for b in own_buffers),
            training_only=any(path == p or path.startswith(p + ".") for p in training_only),
            inplace=bool(getattr(module, "inplace", False)),
        )
        if isinstance(module, (nn.modules.conv._ConvNd, nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd)):
            dims = _SPATIAL_DIMS.get(type(module).__name__[-2:], 2)
            node.kernel_size = _tuple(module.kernel_size, dims)  # type: ignore[assignment]
            node.stride = _tuple(module.stride or module.kernel_size, dims)  # type: ignore[assignment]
            node.padding = _tuple(module.padding, dims)
            node.dilation = _tuple(getattr(module, "dilation", 1), dims)  # type: ignore[assignment]
        if isinstance(module, nn.modules.conv._ConvNd):
            node.groups = module.groups
        nodes[path] = node
        if path:
            parent = path.rsplit(".", 1)[0] if "." in path else ""
            nodes[parent].children.append(node)
    return nodes


def _input_shape(inputs: tuple) -> tuple[int, ...] | None:
    """The shape a module reads: its first argument, or for a list of feature maps (a
    DenseNet layer's input) the shape of their concatenation along the channels."""
    first = inputs[0] if inputs else None
    if isinstance(first, torch.Tensor):
        return tuple(first.shape)
    if isinstance(first, (list, tuple)) and first and all(isinstance(t, torch.Tensor) for t in first):
        shape = list(first[0].shape)
        if all(t.dim() == len(shape) and t.shape[2:] == first[0].shape[2:] for t in first) and len(shape) > 1:
            shape[1] = sum(t.shape[1] for t in first)
        return tuple(shape)
    return None


def _record_calls(nodes, trace: _Trace, paths, element_bytes: int) -> None:
    for record in trace.summary.summary_list:
        if not record.executed:
            continue
        node = nodes[paths[record.layer_id]]
        output_shape = tuple(record.output_size)
        if node.calls == 0:
            node.input_shape = trace.input_shapes.get(node.path) or tuple(record.input_size)
            node.output_shape = output_shape
            node.input_bytes = math.prod(node.input_shape) * element_bytes
            node.output_bytes = math.prod(output_shape) * element_bytes
            node.field = trace.fields.get(node.path)
        node.calls += 1
        if node.is_leaf:
            node.activation_bytes += math.prod(output_shape) * element_bytes
    # MACs from the aten-level count, each op to the innermost module running it: a convolution
    # or linear layer's own, and the matmuls, attention and functional layers a forward calls.
    for path, flops in trace.own_flops.items():
        nodes[path].macs = flops // 2


def _aggregate(node: LayerNode) -> None:
    for child in node.children:
        _aggregate(child)
        node.params += child.params
        node.trainable_params += child.trainable_params
        node.buffers += child.buffers
        node.buffer_bytes += child.buffer_bytes
        node.macs += child.macs
        if not (child.is_leaf and shares_input_memory(child)):  # in-place ops and views add no memory
            node.activation_bytes += child.activation_bytes


def _execution_order(nodes, summary_list, paths) -> list[LayerNode]:
    seen: dict[str, LayerNode] = {}
    for record in summary_list:
        if record.executed:
            path = paths[record.layer_id]
            seen.setdefault(path, nodes[path])
    return list(seen.values())


def _totals(root: LayerNode, heads: list[LayerNode], dtype: str) -> Totals:
    aux_params = sum(n.params for n in heads)
    aux_macs = sum(n.macs for n in heads)
    params = root.params - aux_params
    leaves = [n for n in root.walk() if n.is_leaf and not n.training_only]
    return Totals(
        params=params,
        trainable_params=root.trainable_params - sum(n.trainable_params for n in heads),
        buffers=root.buffers - sum(n.buffers for n in heads),
        buffer_bytes=root.buffer_bytes - sum(n.buffer_bytes for n in heads),
        macs=root.macs - aux_macs,
        param_bytes=params * DTYPE_BYTES[dtype],
        activation_bytes=sum(n.activation_bytes for n in leaves if not shares_input_memory(n)),
        weight_layers=sum(1 for n in leaves if n.type in _WEIGHT_LAYERS and n.executed),
        training_only_params=aux_params,
        training_only_macs=aux_macs,
    )


_WEIGHT_LAYERS = {"Conv1d", "Conv2d", "Conv3d", "Linear"}
_SPATIAL_DIMS = {"1d": 1, "2d": 2, "3d": 3}
