"""The dataflow of the engine's pass: which step fed which, as the pass ran.

The engine records it in its one meta-device pass (:mod:`cnnexplorer.analysis.engine`):

- a **step** is one call of an *atomic* module (one without children, or one of torch.nn's
  own, such as ``nn.MultiheadAttention``, whose insides are its business: torch.fx's leaf
  rule), or one aten op run outside every atomic module call (a residual ``add_``, a ``cat``,
  the ``view`` that ``torch.flatten`` is, a functional ``avg_pool2d``). A module called three
  times is three steps. An op whose tensors none of the pass made (a factory, an op on
  parameters alone) is no step, and neither is one that only renames a tensor (``detach``,
  ``alias``, a view to the same shape): its output carries its input's source on;
- a step's **sources** are the steps whose tensors it read, in order; ``INPUT`` (-1) stands
  for the model's input;
- a **span** is one call of a container (every other module): the steps it ran lie inside it,
  and its **results** are the sources of the tensors it returned.

:mod:`cnnexplorer.analysis.graph` turns this into the graph of one block at a depth. Steps and
spans refer to modules by their index in ``analysis.root.walk()``, which keeps an entry small
and lets :meth:`Dataflow.valid` check a stored one against its tree.
"""

from __future__ import annotations

from typing import NamedTuple

INPUT = -1  # a source that is the model's input
NO_NODE = -1  # a step that is an op, not a module call


class Step(NamedTuple):
    """One atomic module call or op outside them, in the order the pass ran them."""

    node: int  # the module's index in ``root.walk()``; NO_NODE for an op
    op: str  # the aten op's name (``add_``, ``cat``, ``view``); "" for a module call
    shape: tuple[int, ...]  # of its output (the first tensor of a tuple)
    macs: int  # of this call alone
    span: int  # the innermost container call it ran in (an index into ``spans``); -1: none
    sources: tuple[int, ...]  # the earlier steps whose tensors it read; INPUT: the model's input


class Span(NamedTuple):
    """One container call: where it sits, what it returned, and what it cost."""

    node: int  # the module's index in ``root.walk()``
    parent: int  # the span it ran in; -1 for the outermost
    shape: tuple[int, ...]  # of its output (the first tensor of a tuple)
    macs: int  # of this call, all its steps together
    results: tuple[int, ...]  # the sources of the tensors it returned


class Dataflow(NamedTuple):
    """The steps and container calls of one pass, and what the model returned."""

    steps: list[Step]
    spans: list[Span]
    results: tuple[int, ...]  # the sources of the model's output

    def valid(self, nodes: int) -> bool:
        """Whether every reference points where it must: modules into a tree of ``nodes``
        nodes, spans to earlier spans, sources to earlier steps (so that the graph is acyclic).
        A stored dataflow that fails is treated as absent."""
        for index, span in enumerate(self.spans):
            if not (0 <= span.node < nodes and -1 <= span.parent < index):
                return False
            if any(not (INPUT <= s < len(self.steps)) for s in span.results):
                return False
        for index, step in enumerate(self.steps):
            if not (NO_NODE <= step.node < nodes and -1 <= step.span < len(self.spans)):
                return False
            if (step.node == NO_NODE) != bool(step.op) or any(not (INPUT <= s < index) for s in step.sources):
                return False
        return all(INPUT <= s < len(self.steps) for s in self.results)
