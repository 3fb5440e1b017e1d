"""Records the :class:`~cnnexplorer.analysis.dataflow.Dataflow` of one engine pass.

The engine's module hooks call :meth:`FlowRecorder.enter` and :meth:`FlowRecorder.leave`
around each module call (``leave`` after the module's own forward hooks, if it has any: their
ops, and the output they leave, are the call's), and its dispatch mode calls
:meth:`FlowRecorder.op` after each aten op. Each tensor the pass makes is tagged with the step
that made it (by id: the tensors are kept alive for the pass, so that no id is reused); a
step's sources are the tags of what it reads. A container call tags nothing: what it returns
keeps the tag of the step inside it. An in-place op or module (``relu_``, ``nn.ReLU(inplace=True)``,
the ``copy_`` of ``out[:, :c] = y``) tags the tensor it changed and, where that is a view, the
tensor it views: whatever reads either next reads the changed values.

An atomic module that returns its input itself, untouched (``nn.Identity``, a dropout of
p=0), would leave one tensor with two tags; :meth:`FlowRecorder.leave` hands back an alias of
it instead (the same values, a new tensor), which the engine's hook returns in its place: the
module's readers read the alias, and a later reader of its input still reads the input's source.
"""

from __future__ import annotations

import torch
from torch import nn

from cnnexplorer.analysis.dataflow import INPUT, NO_NODE, Dataflow, Span, Step
from cnnexplorer.analysis.meta_shortcuts import tensor_arguments

aten = torch.ops.aten

# Ops whose output is their input under another name: no step, the output keeps the source.
_RENAMES = frozenset({aten.detach.default, aten.alias.default, aten.lift_fresh.default})
# Views that are a step only where they change the shape (``torch.flatten`` of a 1x1 map is).
_VIEWS = frozenset(
    {aten.view.default, aten._unsafe_view.default, aten.reshape.default, aten.expand.default, aten.squeeze.dim}
)
# New tensors whose values owe nothing to their argument's: they carry no source.
_FRESH = frozenset(
    {
        aten.new_zeros.default,
        aten.new_empty.default,
        aten.new_ones.default,
        aten.new_full.default,
        aten.new_empty_strided.default,
        aten.empty_like.default,
        aten.zeros_like.default,
        aten.ones_like.default,
    }
)
_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)


def is_atomic(module: nn.Module) -> bool:
    """Whether a module's calls are steps: one without children, or one of torch.nn's own
    layers (``nn.MultiheadAttention``, ``nn.TransformerEncoderLayer``), which torch.fx's
    ``symbolic_trace`` keeps whole too."""
    if not module._modules:
        return True
    return type(module).__module__.startswith(("torch.nn.", "torch.ao.nn.")) and not isinstance(module, _CONTAINERS)


class FlowRecorder:
    """The steps and spans of one pass as it runs."""

    def __init__(self, model_input: torch.Tensor, index: dict[int, int], atomic: set[int]) -> None:
        self.index, self.atomic = index, atomic  # module id -> index in root.walk(); the atomic ones
        self.steps: list[Step] = []
        self.spans: list[Span] = []
        self._source: dict[int, int] = {id(model_input): INPUT}  # tensor id -> the step that made it
        self._alive: list[torch.Tensor] = [model_input]
        # Per module call: (is a step, index, FLOPs at start, the versions of a step's input tensors).
        self._open: list[tuple[bool, int, int, dict[int, int]] | None] = []
        self._inside_step = False  # in an atomic module's call: its insides are its own
        self._span = -1  # the innermost container call running

    def enter(self, module: nn.Module, inputs: tuple, flops: int) -> None:
        """A module call begins (``flops``: the pass's count so far)."""
        if self._inside_step:
            self._open.append(None)
            return
        node = self.index[id(module)]
        if id(module) in self.atomic:
            tensors = tensors_in(inputs)
            self._open.append((True, len(self.steps), flops, {id(t): t._version for t in tensors}))
            self.steps.append(Step(node, "", (), 0, self._span, self._sources(tensors)))
            self._inside_step = True
        else:
            self._open.append((False, len(self.spans), flops, {}))
            self.spans.append(Span(node, self._span, (), 0, ()))
            self._span = len(self.spans) - 1

    def leave(self, output: object, flops: int) -> torch.Tensor | None:
        """The innermost module call returned ``output`` (``flops``: the pass's count when its
        forward returned). An alias to return in its place where it is its input, untouched."""
        opened = self._open.pop()
        if opened is None:
            return None
        is_step, index, start, versions = opened
        macs = (flops - start) // 2
        tensors = tensors_in(output)
        shape = tuple(tensors[0].shape) if tensors else ()
        alias = None
        if is_step:
            if isinstance(output, torch.Tensor) and versions.get(id(output)) == output._version:
                alias = tensors[0] = aten.alias.default(output)  # an op of this call: not a step
            self.steps[index] = self.steps[index]._replace(shape=shape, macs=macs)
            changed = [t for t in tensors if versions.get(id(t), t._version) != t._version]
            self._tag(tensors + _bases(changed), index)
            self._inside_step = False
        else:
            span = self.spans[index]
            self.spans[index] = span._replace(shape=shape, macs=macs, results=self._sources(tensors))
            self._span = span.parent
        return alias

    def op(self, func, args: tuple, out: object, flops: int) -> None:
        """An aten op ran (``flops``: its own count)."""
        if self._inside_step:
            return
        outputs = tensors_in(out)
        if func in _FRESH:
            return
        inputs = tensor_arguments(args)
        sources = self._sources(inputs)
        if not sources or not outputs:
            return
        if func in _RENAMES or (func in _VIEWS and outputs[0].shape == inputs[0].shape):
            self._tag(outputs, self._source[id(inputs[0])] if id(inputs[0]) in self._source else sources[0])
            return
        name = func.overloadpacket.__name__
        self.steps.append(Step(NO_NODE, name, tuple(outputs[0].shape), flops // 2, self._span, sources))
        written = _bases(outputs[:1]) if outputs[0] is inputs[0] else []  # in place: into a view's base too
        self._tag(outputs + written, len(self.steps) - 1)

    def dataflow(self, output: object) -> Dataflow:
        """What was recorded, with the sources of the model's ``output``."""
        return Dataflow(self.steps, self.spans, self._sources(tensors_in(output)))

    def _sources(self, values: object) -> tuple[int, ...]:
        found: dict[int, None] = {}
        for tensor in tensors_in(values):
            source = self._source.get(id(tensor))
            if source is not None:
                found[source] = None
        return tuple(found)

    def _tag(self, tensors: list[torch.Tensor], step: int) -> None:
        for tensor in tensors:
            self._source[id(tensor)] = step
            self._alive.append(tensor)


def _bases(tensors: list[torch.Tensor]) -> list[torch.Tensor]:
    """The tensors that those among ``tensors`` that are views look into."""
    return [t._base for t in tensors if t._base is not None]


def tensors_in(value: object) -> list[torch.Tensor]:
    """The tensors in a value: itself, or those in a (nested) list, tuple or dict, or in a
    named output's fields (GoogLeNet's training outputs)."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in tensors_in(item)]
    if isinstance(value, dict):
        return [t for item in value.values() for t in tensors_in(item)]
    return []
