"""The analysis engine: a layer tree with shapes, parameters, MACs, memory and receptive
field for a model, computed on the meta device (no weights, no real forward pass).

Method, per node of the module tree:

- shapes and execution order come from two global module hooks (one record per call);
- parameters and buffers are counted from each module's own tensors;
- MACs are FlopCounterMode's FLOPs halved (FLOPs = 2 x MACs, the project's convention):
  the receptive-field mode applies its formulas (``torch.utils.flop_counter.flop_registry``)
  to every aten op of the pass, each op's count going to the innermost module running it.
  They count convolutions (output elements x input channels per group x kernel area) and
  matrix products (linear layers, matmuls, attention), biases excluded, as the papers and
  torchvision's published figures do; pooling, normalisation and activations count zero.
  The tests check them against independent counts: torchvision's published ``_ops``, a real
  ``FlopCounterMode`` run, and the convolution and linear formulas layer by layer;
- containers sum their descendants;
- the dataflow (which module call or op fed which, :mod:`cnnexplorer.analysis.dataflow`) is
  recorded in the same pass: the module hooks and the receptive-field mode's ``observer``
  report each call and op to a :class:`~cnnexplorer.analysis.flow_recorder.FlowRecorder`;
- the pass runs in training mode with autograd on, so that training-only heads get
  shapes and the tensors autograd saves for the backward pass can be counted (the
  training-memory estimate); receptive fields follow every aten op of the same pass;
- training-only heads are found, not listed: a plain inference-mode pass first records which
  modules run; a module the training pass runs beyond them (GoogLeNet's and Inception v3's
  auxiliary classifiers) is a training-only head, kept out of the inference figures. A head
  that cannot run at the input (it pools to nothing) is skipped in the training pass: the
  inference analysis stands, and the summary says the heads did not run. A head failing
  for another reason (it needs values) is the model's error. Limit: every figure comes from
  the training-mode pass, so a branch that runs only in eval mode
  (``x if self.training else self.eval_head(x)``) is not counted, and a module run only in
  training (a Dropout under ``if self.training``) shows as training-only.
"""

from __future__ import annotations

import contextlib
import gc
import math
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn
from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook
from torch.utils._device import DeviceContext, _device_constructors  # torch.device's context mode (torch 2.0 on)
from torch.utils.hooks import RemovableHandle

from cnnexplorer import units
from cnnexplorer.analysis.attention import cpu_attention
from cnnexplorer.analysis.dataflow import Dataflow
from cnnexplorer.analysis.flow_recorder import FlowRecorder, is_atomic
from cnnexplorer.analysis.inputs import DTYPE_BYTES
from cnnexplorer.analysis.memory import SavedTensors, estimate_memory, shares_input_memory
from cnnexplorer.analysis.meta_shortcuts import MetaShortcuts, MetaShortcutsMode
from cnnexplorer.analysis.receptive_field import ReceptiveFieldMode
from cnnexplorer.analysis.request import AnalysisRequest
from cnnexplorer.analysis.results import Analysis, LayerNode, ReceptiveField, Totals
from cnnexplorer.errors import BatchSizeError, InputSizeError, NeedsValuesError, UsageError
from cnnexplorer.zoo import Architecture, get
from cnnexplorer.zoo.user_code import has_lazy_modules, materialise_lazy_modules, one_line

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
    with _cyclic_gc_paused():
        arch = get(request.model)
        model = build_model(arch, device)
        analysis = _analyze(model, request, device)
    analysis.arch = arch
    return analysis


def build_model(arch: Architecture, device: str = "meta") -> nn.Module:
    """The architecture's model: on the meta device without weight initialisation (see
    :class:`_MetaBuild`), or built on ``device`` for real."""
    if device == "meta":
        with _MetaBuild(), MetaShortcutsMode():
            return arch.build()
    with torch.device(device):
        return arch.build()


def analyze_module(
    model: nn.Module,
    input_size: tuple[int, int, int],
    batch: int = 1,
    dtype: str = "float32",
    name: str | None = None,
    device: str = "meta",
) -> Analysis:
    """Analyse any module (built on the meta device, or on ``device`` for a real forward) for a
    ``batch`` of ``input_size``."""
    request = AnalysisRequest(name or type(model).__name__, input_size, batch, dtype)
    with _cyclic_gc_paused():
        return _analyze(model, request, device)


class _MetaBuild(DeviceContext):
    """``with torch.device("meta")`` for a model's constructor, without its weight initialisation.

    Meta tensors hold no values, so initialisation changes nothing; yet it is a third of
    building a model there: ``normal_`` (Kaiming's init) is a Python decomposition on the
    meta device costing 0.2-0.5 ms a call, and each initialiser works out fans and gains
    first. The initialisers, and the fills they use, return their meta tensor untouched.
    This is torch.device's own mode (every torch call of a constructor goes through it)
    with the skip added: one mode on the stack instead of two.

    Under a dispatch mode (the build's :class:`MetaShortcutsMode`), the factories layers make
    their parameters and buffers with (``empty``, ``zeros``, ``ones``, ``full``) run outside
    it: a model of 1,400 modules makes 1,300 such tensors, at 1-5 us each alone and 8 us
    through a Python dispatch mode. Other factories stay under it: their meta kernels are
    Python decompositions (``arange``, ``eye``: 60-300 us) whose repeats the mode re-makes.
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
    _CONSTRUCTORS = _device_constructors()  # the functions torch.device's mode gives a device
    _PARAMETER_FACTORIES = frozenset({torch.empty, torch.zeros, torch.ones, torch.full})
    _SPECIAL = _INITIALISERS | _CONSTRUCTORS
    _PYTHON_DISPATCH = torch._C.DispatchKeySet(torch._C.DispatchKey.Python) | torch._C.DispatchKeySet(
        torch._C.DispatchKey.PythonTLSSnapshot
    )

    def __init__(self) -> None:
        super().__init__("meta")

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func not in self._SPECIAL:  # most calls: grad mode switches, sizes, attribute reads
            return func(*args, **kwargs)
        if func in self._INITIALISERS:
            tensor = args[0] if args else kwargs.get("tensor")  # nn.init passes it by name
            if isinstance(tensor, torch.Tensor) and tensor.is_meta:
                return tensor
        if func in self._CONSTRUCTORS and kwargs.get("device") is None:
            kwargs["device"] = self.device
        if func in self._PARAMETER_FACTORIES:
            with torch._C._ExcludeDispatchKeyGuard(self._PYTHON_DISPATCH):
                return func(*args, **kwargs)
        return func(*args, **kwargs)


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


def _analyze(model: nn.Module, request: AnalysisRequest, device: str = "meta") -> Analysis:
    torch_dtype = getattr(torch, request.dtype)
    try:
        shape = (request.batch, *request.input_size)
        real = device != "meta"
        x = torch.randn(shape).to(device, torch_dtype) if real else torch.empty(shape, device="meta", dtype=torch_dtype)
    except (RuntimeError, OverflowError, TypeError) as error:  # sizes past what a tensor can index
        raise _too_large_error(request, error) from None
    if has_lazy_modules(model):  # nn.LazyConv2d and the like: their shapes come from a forward
        model.to(device=device, dtype=torch_dtype)
        try:
            materialise_lazy_modules(model, x)
        except Exception as error:
            raise _input_error(request, _PassError(error, [])) from None
    modules = _build_tree(model)
    if not _already_on(modules.tensors, device, torch_dtype):
        model.to(device=device, dtype=torch_dtype)
        modules = _build_tree(model)
    nodes = modules.nodes
    try:
        shortcuts = MetaShortcuts()  # one analysis's recipes: its passes repeat the same ops
        inference = _inference_paths(model, x, modules, shortcuts)
    except _PassError as failure:
        raise _input_error(request, failure) from None
    trace = _training_trace(model, x, modules, inference, request, shortcuts)
    heads = _outermost(trace.heads)
    _mark_training_only(nodes, heads)
    _record_calls(nodes, trace, DTYPE_BYTES[request.dtype])
    root = nodes[""]
    _aggregate(root)
    layers = _execution_order(nodes, trace.calls)
    totals = _totals(root, [nodes[p] for p in heads], request.dtype)
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
        dataflow=trace.dataflow,
    )


@dataclass
class _Call:
    """One call of a module of the model, in the order the calls began."""

    path: str
    input_shape: tuple[int, ...] | None = None  # of its first argument (a DenseNet layer's list: concatenated)
    output_shape: tuple[int, ...] = ()
    executed: bool = False  # it returned


@dataclass
class _Trace:
    """What one pass records."""

    calls: list[_Call]
    fields: dict[str, ReceptiveField | None]  # of each module's output (first call), by path
    flops: int  # FlopCounterMode's formulas over the pass
    own_flops: dict[str, int]  # the part each module runs itself (matmuls, attention, ...), by path
    training_only_flops: int  # the part of it inside training-only heads
    heads: set[str]  # the training-only heads (modules the inference-mode pass does not run)
    saved_bytes: int  # tensors autograd saved for the backward pass (parameters and input excluded)
    final_field: ReceptiveField | None  # of the last feature map before global pooling or flattening
    dataflow: Dataflow  # which module call or op fed which


class _PassError(Exception):
    """The forward pass failed; ``running`` holds the modules it was inside, ``heads`` the
    training-only heads it had begun."""

    def __init__(
        self, cause: Exception, running: list[tuple[str, nn.Module, tuple]], heads: frozenset[str] = frozenset()
    ) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.running = running
        self.heads = heads


class _Recorder:
    """The module hooks of one pass: each call's input and output shapes, each module's
    output field, the modules the pass is inside (to name a failing layer), and the
    training-only heads kept apart (their FLOPs; their pooling is not the network's).

    ``pre`` and ``post`` are global module hooks: two registrations instead of two per
    module (each costs ~50 us). Global hooks run before a module's own, which can replace
    its output: a module with hooks of its own gets one more, after them, that records
    the output they leave.
    """

    def __init__(
        self,
        paths: dict[int, str],
        inference: set[str],
        skipped: set[str],
        tracker: ReceptiveFieldMode,
        flow: FlowRecorder,
    ) -> None:
        self.paths, self.inference, self.skipped, self.tracker, self.flow = paths, inference, skipped, tracker, flow
        self.heads: set[str] = set()  # the outermost modules run that the inference-mode pass did not run
        self.calls: list[_Call] = []
        self.fields: dict[str, ReceptiveField | None] = {}
        self.running: list[tuple[str, nn.Module, tuple]] = []
        self.head_flops = 0
        self.own_flops: dict[str, int] = {}  # FLOPs of the ops each module runs itself, not in a child
        self._frames: list[list[int]] = []  # per running module: [FLOPs at its start, its children's FLOPs]
        self._open: list[_Call] = []  # the calls running, innermost last
        self._after_own_hooks: dict[int, RemovableHandle] = {}  # by module id
        # Returned calls whose module's own hooks run next, with the pass's FLOPs when they returned.
        self._awaiting_own_hooks: list[tuple[_Call, int]] = []
        self._heads: dict[str, tuple[int, int]] = {}  # head -> (FLOPs, final fields) at its start

    def pre(self, module: nn.Module, inputs: tuple) -> None:
        path = self.paths.get(id(module))
        if path is None or path in self.skipped:  # a module of another model, run meanwhile, is not ours
            return
        if module._forward_hooks and id(module) not in self._after_own_hooks:
            self._after_own_hooks[id(module)] = module.register_forward_hook(self._after_own)
        call = _Call(path, _input_shape(inputs) or _output_shape(inputs))
        self.calls.append(call)
        self._open.append(call)
        self.running.append((path, module, inputs))
        self._frames.append([self.tracker.flops, 0])
        if path not in self.inference and not self._heads:
            self._heads[path] = (self.tracker.flops, len(self.tracker.final))
            self.heads.add(path)
        self.flow.enter(module, inputs, self.tracker.flops)

    def post(self, module: nn.Module, inputs: tuple, output: object) -> torch.Tensor | None:
        """Returns what the module's caller gets instead of ``output`` (see FlowRecorder.leave)."""
        path = self.paths.get(id(module))
        if path is None or path in self.skipped:
            return None
        replaced = None
        call = self._open.pop()
        if id(module) in self._after_own_hooks:
            self._awaiting_own_hooks.append((call, self.tracker.flops))
        else:
            self._returned(call, output)
            replaced = self.flow.leave(output, self.tracker.flops)
        path, _, _ = self.running.pop()
        start, in_children = self._frames.pop()
        inclusive = self.tracker.flops - start
        self.own_flops[path] = self.own_flops.get(path, 0) + inclusive - in_children
        if self._frames:
            self._frames[-1][1] += inclusive
        if path in self._heads:
            flops_before, finals_before = self._heads.pop(path)
            self.head_flops += self.tracker.flops - flops_before
            del self.tracker.final[finals_before:]
        return replaced

    def _after_own(self, module: nn.Module, inputs: tuple, output: object) -> torch.Tensor | None:
        call, flops = self._awaiting_own_hooks.pop()
        self._returned(call, output)
        return self.flow.leave(output, flops)  # the module's own hooks' ops were the call's

    def _returned(self, call: _Call, output: object) -> None:
        call.output_shape, call.executed = _output_shape(output), True
        self.fields.setdefault(call.path, self.tracker.field(output))

    def remove_hooks(self) -> None:
        for handle in self._after_own_hooks.values():
            handle.remove()


def _training_trace(
    model: nn.Module,
    x: torch.Tensor,
    modules: _Modules,
    inference: set[str],
    request: AnalysisRequest,
    shortcuts: MetaShortcuts,
) -> _Trace:
    """The training-mode pass: the training-only heads run, and autograd saves what a training
    step saves. A head too small for this input is skipped and the pass run again without it;
    a head failing otherwise (it needs values, it moves tensors) is the model's error. Where
    the inference path cannot train (batch norm on one value per channel: a tiny input at
    batch 1), the inference-mode pass; the heads stay without shapes."""
    skipped: set[str] = set()
    head_errors: list[UsageError] = []
    while True:
        try:
            trace = _trace(model, x, modules, "train", inference, skipped, shortcuts)
        except _PassError as failure:
            error = _input_error(request, failure)
            head = next((path for path, _, _ in failure.running if path not in inference), None)
            if head is not None and isinstance(error, InputSizeError):
                skipped.add(head)
                head_errors.append(error)
                continue
            if head is not None or "more than 1 value per channel" not in str(failure.cause):
                # Failing past a skipped head: its output fed the rest (its empty stand-in did not fit).
                raise (head_errors[0] if head is None and head_errors else error) from None
            try:
                trace = _trace(model, x, modules, "eval", inference, skipped, shortcuts)
            except _PassError as eval_failure:
                raise _input_error(request, eval_failure) from None
            trace.heads |= failure.heads
        trace.heads |= skipped
        return trace


def _inference_paths(model: nn.Module, x: torch.Tensor, modules: _Modules, shortcuts: MetaShortcuts) -> set[str]:
    """The modules an inference-mode forward runs: a pass with two global module hooks (on the
    meta device under the meta shortcuts, some 15% of the analysis)."""
    run: set[str] = set()
    running: list[tuple[str, nn.Module, tuple]] = []

    def pre(module: nn.Module, inputs: tuple) -> None:
        path = modules.paths.get(id(module))
        if path is not None:
            run.add(path)
            running.append((path, module, inputs))

    def post(module: nn.Module, inputs: tuple, output: object) -> None:
        if id(module) in modules.paths:
            running.pop()

    was_training = model.training
    switch = modules.training != {False}
    with _TRACE_LOCK:
        handles = [register_module_forward_pre_hook(pre), register_module_forward_hook(post)]
        try:
            if switch:
                model.eval()
            if x.is_meta:  # no fast paths on the meta device: autograd off, under the shortcuts
                with torch.no_grad(), MetaShortcutsMode(shortcuts):
                    model(x)
            else:
                # Autograd on and an input that needs grad (a frozen model's parameters do not):
                # in eval mode without them, PyTorch's CPU and CUDA fast path runs a whole
                # nn.TransformerEncoderLayer (or nn.MultiheadAttention) as one op, calling none
                # of its modules, which would then count as training-only.
                with torch.enable_grad():
                    model(x.detach().requires_grad_())
        except Exception as error:
            raise _PassError(error, running) from None
        finally:
            if switch:
                model.train(was_training)
            for handle in handles:
                handle.remove()
    return run


@contextlib.contextmanager
def _skipped_heads(model: nn.Module, skipped: set[str], x: torch.Tensor) -> Iterator[None]:
    """The training-only heads in ``skipped`` return an empty tensor instead of running: a
    head's output only joins the model's training outputs, which the pass does not read."""
    heads = [model.get_submodule(path) for path in sorted(skipped)]
    own = [vars(head).get("forward") for head in heads]  # an instance's own forward, if it has one
    for head in heads:
        head.forward = lambda *args, **kwargs: x.new_empty(0)
    try:
        yield
    finally:
        for head, forward in zip(heads, own):
            del head.forward
            if forward is not None:
                head.forward = forward


def _outermost(paths: set[str]) -> list[str]:
    """The paths that lie inside no other of them."""
    return sorted(p for p in paths if not any(p.startswith(q + ".") for q in paths))


def _mark_training_only(nodes: dict[str, LayerNode], heads: list[str]) -> None:
    for node in nodes.values():
        node.training_only = any(node.path == head or node.path.startswith(head + ".") for head in heads)


def _trace(
    model: nn.Module,
    x: torch.Tensor,
    modules: _Modules,
    mode: str,
    inference: set[str],
    skipped: set[str],
    shortcuts: MetaShortcuts,
) -> _Trace:
    """One meta-device pass, in training or inference mode, with autograd on (to see what it
    saves), under the receptive-field mode (which also counts FLOPs), a saved-tensor hook and
    two global module hooks that record every call; the heads in ``skipped`` do not run."""
    tracker = ReceptiveFieldMode(shortcuts)
    saved = SavedTensors(excluded=[x, *modules.tensors])
    flow = FlowRecorder(x, {module_id: i for i, module_id in enumerate(modules.paths)}, modules.atomic)
    tracker.observer = flow.op
    recorder = _Recorder(modules.paths, inference, skipped, tracker, flow)
    was_training = model.training
    switch = modules.training != {mode == "train"}  # train() is a walk that sets every module
    with _TRACE_LOCK:
        handles = [register_module_forward_pre_hook(recorder.pre), register_module_forward_hook(recorder.post)]
        tracker.mark_input(x)
        try:
            if switch:
                model.train(mode == "train")
            with _skipped_heads(model, skipped, x), cpu_attention(), tracker, torch.enable_grad():
                with torch.autograd.graph.saved_tensors_hooks(saved.pack, saved.unpack):
                    output = model(x)
        except Exception as error:  # the pass failed: keep where, to name the layer
            raise _PassError(error, recorder.running, frozenset(recorder.heads)) from None
        finally:
            if switch:
                model.train(was_training)
            recorder.remove_hooks()
            for handle in handles:
                handle.remove()
    return _Trace(
        calls=recorder.calls,
        fields=recorder.fields,
        flops=int(tracker.flops),
        own_flops=recorder.own_flops,
        training_only_flops=recorder.head_flops,
        heads=recorder.heads,
        saved_bytes=saved.bytes,
        # No global pooling or flattening (a fully convolutional model): the output's field.
        final_field=tracker.final[-1] if tracker.final else recorder.fields.get(""),
        dataflow=flow.dataflow(output),
    )


_NEEDS_VALUES = ("meta tensor", "meta device", "data-dependent", "data dependent")
# A forward that puts tensors on a device itself: .cuda() without a GPU, .cpu() of a meta tensor, mixed devices.
_MOVES_ITSELF = ("cuda", "nvidia", "copy out of meta tensor")
# The words of torch's (and torchvision's, timm's) refusals of a tensor's shape.
_SHAPE_WORDS = re.compile(r"\b(sizes?|shapes?|height|width|dimensions?|spatial)\b")


def _input_error(request: AnalysisRequest, failure: _PassError) -> UsageError:
    """Why the pass failed, in the user's terms: the layer, what it takes and what it got. Only
    a failure about sizes or shapes blames the input; any other is the model's own error."""
    name, size = request.model, units.dims(request.input_size)
    cause, running = failure.cause, failure.running
    message = str(cause).lower()
    layer = f"{running[-1][0] or name} ({type(running[-1][1]).__name__})" if running else name
    if any(phrase in message for phrase in _MOVES_ITSELF):
        return UsageError(
            f"{name} moves its tensors to a device itself ({layer}: {_first_line(cause).split('. ')[0]}): "
            "the analysis places "
            "the model and its input; take the .cuda()/.to(device) call out of its forward"
        )
    if any(phrase in message for phrase in _NEEDS_VALUES):  # the forward needs real values
        return NeedsValuesError(
            f"{name} cannot run on the meta device: {layer} needs values ({_first_line(cause)}); "
            "--device cpu analyses it for real (slower)"
        )
    if isinstance(cause, OverflowError) or "overflow" in message:
        return _too_large_error(request, cause)
    if isinstance(cause, RecursionError):
        return UsageError(f"{name} fails in its forward at {layer}: {one_line(cause)}")
    where = layer
    if running:
        _, module, inputs = running[-1]
        shape = tuple(inputs[0].shape[1:]) if inputs and isinstance(inputs[0], torch.Tensor) else ()
        where = f"{layer}, whose input is {units.dims(shape)}"
        if "too small" in message or "greater than actual input size" in message or "output size" in message:
            return InputSizeError(f"input {size} is too small for {name}: the feature map vanishes at {where}")
        if isinstance(module, nn.Linear) and shape and shape[-1] != module.in_features:
            return InputSizeError(
                f"{name} cannot take input {size}: {layer} takes {module.in_features:,} features but gets "
                f"{shape[-1]:,} (no adaptive pooling before it: the input size is fixed)"
            )
        if isinstance(module, nn.modules.conv._ConvNd) and shape and shape[0] != module.in_channels:
            return InputSizeError(
                f"{name} cannot take input {size}: {layer} takes {module.in_channels} channels, "
                f"the input has {shape[0]}"
            )
    if _SHAPE_WORDS.search(message):
        return InputSizeError(f"{name} cannot take input {size}: it fails at {where}: {_first_line(cause)}")
    return UsageError(f"{name} fails in its forward at {where}: {one_line(cause)}")


def _too_large_error(request: AnalysisRequest, cause: BaseException) -> UsageError:
    """A batch (or input) past what a tensor can hold: its element count overflows."""
    size, detail = units.dims(request.input_size), _first_line(cause)
    if request.batch > 1:
        return BatchSizeError(f"batch {request.batch:,} of {size} is too large for a tensor ({detail})")
    return InputSizeError(f"input {size} is too large for a tensor ({detail})")


def _first_line(error: BaseException) -> str:
    """An exception's message, its first line (its type's name when it has none)."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


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


class _Modules(NamedTuple):
    """What one walk over a model's modules gathers."""

    nodes: dict[str, LayerNode]  # the layer tree, each module with its own figures, by path
    paths: dict[int, str]  # by module id
    tensors: list[torch.Tensor]  # every parameter and buffer
    training: set[bool]  # the modules' training flags
    atomic: set[int]  # the ids of the modules whose calls are dataflow steps (see flow_recorder)


def _build_tree(model: nn.Module) -> _Modules:
    """The layer tree, paths, tensors and modes in one walk over the modules (each of
    ``parameters()``, ``buffers()``, ``children()`` and ``train()`` is a walk of its own,
    2-5 ms each on a model of 1,400 modules)."""
    nodes: dict[str, LayerNode] = {}
    paths: dict[int, str] = {}
    tensors: list[torch.Tensor] = []
    training: set[bool] = set()
    atomic: set[int] = set()
    for path, module in model.named_modules():
        paths[id(module)] = path
        training.add(module.training)
        if is_atomic(module):
            atomic.add(id(module))
        # A module's own tensors as parameters(recurse=False) and buffers(recurse=False) give them.
        own = _distinct(module._parameters)
        own_buffers = _distinct(module._buffers)
        tensors += own + own_buffers
        node = LayerNode(
            path=path,
            type=type(module).__name__,
            depth=path.count(".") + 1 if path else 0,
            is_leaf=all(child is None for child in module._modules.values()),
            params=sum([p.numel() for p in own]),
            trainable_params=sum([p.numel() for p in own if p.requires_grad]),
            buffers=sum([b.numel() for b in own_buffers]),
            # Each buffer at its own dtype: batch norm's num_batches_tracked is int64 at any dtype.
            buffer_bytes=sum([b.numel() * b.element_size() for b in own_buffers]),
            # From the instance's own attributes: Module.__getattr__ raises for a missing one (slow).
            inplace=bool(vars(module).get("inplace", False)),
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
    return _Modules(nodes, paths, tensors, training, atomic)


def _distinct(registered: dict) -> list[torch.Tensor]:
    """A module's registered tensors, each once (one registered under two names counts once)."""
    if not registered:
        return []
    return list({id(t): t for t in registered.values() if t is not None}.values())


def _already_on(tensors: list[torch.Tensor], device: str, dtype: torch.dtype) -> bool:
    """Whether ``Module.to(device, dtype)`` would leave every parameter and buffer as it is (a
    meta model built at float32, the usual case: then the walk that moves nothing is skipped)."""
    target = torch.device(device)
    return all(
        t.device == target and (t.dtype == dtype or not (t.is_floating_point() or t.is_complex())) and t.grad is None
        for t in tensors
    )


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


def _output_shape(value: object) -> tuple[int, ...]:
    """The shape of a module's output as torchinfo gives it: a tensor's; of a list or tuple
    (GoogLeNet's training outputs, attention's output and weights), its first item's; of a
    dict, its last value's; () for anything else."""
    if isinstance(value, torch.Tensor):
        return tuple(value.shape)
    if isinstance(value, (list, tuple)) and value:
        return _output_shape(value[0])
    if isinstance(value, dict) and value:
        return _output_shape(list(value.values())[-1])
    return ()


def _record_calls(nodes, trace: _Trace, element_bytes: int) -> None:
    for call in trace.calls:
        if not call.executed:
            continue
        node = nodes[call.path]
        output_shape = call.output_shape
        if node.calls == 0:
            node.input_shape = call.input_shape or ()
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


def _execution_order(nodes, calls: list[_Call]) -> list[LayerNode]:
    seen: dict[str, LayerNode] = {}
    for call in calls:
        if call.executed:
            seen.setdefault(call.path, nodes[call.path])
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
