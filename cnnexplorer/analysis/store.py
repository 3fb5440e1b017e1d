"""Analyses kept on disk between runs, so that a repeated question answers without torch.

An entry (in the cache folder, see :mod:`cnnexplorer.disk_cache`) is the
``summary --format json`` document of the model (schema 1, every layer) plus two keys:
``cache``, the key it was stored under, and ``analysis``, the :class:`Analysis` itself,
field by field, which reads back equal to the one that was stored.

The key is everything that can change a figure: the request (model, input, batch, dtype),
the architecture's registry entry and, for the models defined in ``cnnexplorer/zoo``, a
hash of their source; the versions of cnnexplorer, torch, torchvision and torchinfo (and
timm for its models; from their installed metadata, never imported); and a hash of this package's source, since an
editable install keeps its version while the engine changes.

The user's own models (``file.py:factory``, ``package.module:factory``) bypass the cache:
their code, and whatever it imports, can change with no version to tell.

An entry that is missing, damaged, for another key or that does not decode field by field
is a miss: the engine runs (torch is imported then, and only then) and the entry is
written again.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.util
import json
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cnnexplorer import disk_cache
from cnnexplorer.analysis.request import AnalysisRequest
from cnnexplorer.analysis.results import Analysis, LayerNode
from cnnexplorer.zoo import Architecture, get
from cnnexplorer.zoo.resolve import TIMM_FAMILY, USER_FAMILY

KIND = "analysis"
STORE_FORMAT = 1  # the layout of the ``analysis`` key; a change makes older entries misses
PACKAGES = ("cnnexplorer", "torch", "torchvision", "torchinfo")


# The key ---------------------------------------------------------------------------------


def _hash_files(paths: list[Path]) -> str | None:
    digest = hashlib.sha256()
    try:
        for path in paths:
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    except OSError:
        return None
    return digest.hexdigest()


@functools.cache
def engine_source_hash() -> str | None:
    """A hash of the analysis package's source files (None where they cannot be read)."""
    return _hash_files(sorted(Path(__file__).parent.glob("*.py")))


@functools.cache
def model_source_hash(builder: str) -> str | None:
    """A hash of the source of one of our own model files (``module:function``); None for
    torchvision's models, which its version covers."""
    module, _, _ = builder.partition(":")
    if not module.startswith("cnnexplorer."):
        return None
    spec = importlib.util.find_spec(module)  # finds the file without importing it (or torch)
    origin = spec.origin if spec else None
    return _hash_files([Path(origin)]) if origin else None


def _packages_of(arch: Architecture) -> tuple[str, ...]:
    return (*PACKAGES, "timm") if arch.family == TIMM_FAMILY else PACKAGES


def entry_key(request: AnalysisRequest) -> dict[str, Any]:
    """Everything that can change the figures of ``request``'s analysis."""
    arch = get(request.model)
    return {
        "format": STORE_FORMAT,
        "model": arch.name,
        "input": list(request.input_size),
        "batch": request.batch,
        "dtype": request.dtype,
        "architecture": {
            "builder": arch.builder,
            "builder_kwargs": json.loads(json.dumps(arch.builder_kwargs, sort_keys=True, default=repr)),
            "num_classes": arch.num_classes,
            "training_only": list(arch.training_only),
            "source": model_source_hash(arch.builder),
        },
        "engine_source": engine_source_hash(),
        "versions": {name: disk_cache.package_version(name) for name in _packages_of(arch)},
    }


# Serialisation ---------------------------------------------------------------------------
#
# Generic over the result dataclasses: every field of every dataclass is written under its
# name, and read back by its declared type (so that a new field round-trips with no change
# here). JSON has no tuples: a list is turned back into one where the field says tuple.
# Three things are not plain values: an Architecture is stored by name, the layer tree is
# stored once under ``root``, and any other LayerNode (``Analysis.layers``) is stored as
# its index in ``root.walk()``, so that it is the same object as the tree's node.

_TREE_FIELD = "root"


class _Mismatch(ValueError):
    """A stored value does not have the type its field declares."""


def encode(value: Any) -> Any:
    """A result dataclass (or any value made of them, tuples, lists, dicts and scalars) as
    JSON-ready values; raises TypeError for anything else."""
    return _encode(value, None)


def decode(hint: Any, value: Any) -> Any:
    """What :func:`encode` wrote, read back as the type ``hint`` (``LayerNode``,
    ``tuple[int, ...] | None``...); raises ValueError where it does not fit."""
    return _decoder(hint)(value, [])


def encode_analysis(analysis: Analysis) -> dict[str, Any]:
    """``analysis`` as JSON-ready values, field by field."""
    index = {id(node): i for i, node in enumerate(analysis.root.walk())}
    return {
        f.name: _encode(getattr(analysis, f.name), None if f.name == _TREE_FIELD else index)
        for f in dataclasses.fields(analysis)
    }


def _encode(value: Any, index: dict[int, int] | None) -> Any:
    if isinstance(value, LayerNode) and index is not None:
        if id(value) not in index:
            raise TypeError(f"cannot store a reference to {value.path!r}, a node outside the tree")
        return index[id(value)]
    if isinstance(value, Architecture):
        return value.name
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name), index) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_encode(item, index) for item in value]
    if isinstance(value, dict):
        return {str(key): _encode(item, index) for key, item in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot store a {type(value).__name__}")


def decode_analysis(data: dict[str, Any]) -> Analysis:
    """The :class:`Analysis` that :func:`encode_analysis` wrote (raises on any mismatch)."""
    hints = _hints(Analysis)
    if not isinstance(data, dict) or set(data) != set(hints):
        raise _Mismatch("the stored analysis has other fields than Analysis")
    root = _decoder(hints[_TREE_FIELD])(data[_TREE_FIELD], [])
    nodes = list(root.walk())
    values = {name: root if name == _TREE_FIELD else _decoder(hints[name])(data[name], nodes) for name in hints}
    return _construct(Analysis, values)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    """The declared type of each of ``cls``'s fields, in order."""
    resolved = typing.get_type_hints(cls)
    return {f.name: resolved[f.name] for f in dataclasses.fields(cls)}


def _construct(cls: type, values: dict[str, Any]) -> Any:
    init = {f.name for f in dataclasses.fields(cls) if f.init}
    made = cls(**{name: value for name, value in values.items() if name in init})
    for name in values.keys() - init:
        object.__setattr__(made, name, values[name])
    return made


Decoder = Callable[[Any, list[LayerNode]], Any]


@functools.cache
def _decoder(hint: Any) -> Decoder:
    """A function that reads a JSON value back as ``hint`` (nodes: the tree, for references)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return _union_decoder(args)
    if origin is list:
        return _list_decoder(args[0])
    if origin is tuple:
        return _tuple_decoder(args)
    if origin is dict:
        return _dict_decoder(args[0], args[1])
    if hint is LayerNode:
        return _node_decoder()
    if hint is Architecture:
        return _architecture
    if dataclasses.is_dataclass(hint):
        return _dataclass_decoder(hint)
    if hint is typing.Any:
        return lambda value, nodes: value
    return _scalar_decoder(hint)


def _scalar_decoder(hint: Any) -> Decoder:
    accepted = {type(None): (type(None),), bool: (bool,), int: (int,), float: (int, float), str: (str,)}.get(hint)
    if accepted is None:
        raise TypeError(f"no decoder for {hint!r}")

    def decode(value: Any, nodes: list[LayerNode]) -> Any:
        if not isinstance(value, accepted) or (isinstance(value, bool) and hint is not bool):
            raise _Mismatch(f"expected {hint.__name__}, found {value!r}")
        return float(value) if hint is float else value

    return decode


def _union_decoder(arms: tuple[Any, ...]) -> Decoder:
    decoders = [_decoder(arm) for arm in arms]

    def decode(value: Any, nodes: list[LayerNode]) -> Any:
        for arm in decoders:
            try:
                return arm(value, nodes)
            except _Mismatch:
                continue
        raise _Mismatch(f"{value!r} fits none of {arms}")

    return decode


def _list_decoder(item: Any) -> Decoder:
    decode_item = _decoder(item)

    def decode(value: Any, nodes: list[LayerNode]) -> list:
        if not isinstance(value, list):
            raise _Mismatch(f"expected a list, found {value!r}")
        return [decode_item(entry, nodes) for entry in value]

    return decode


def _tuple_decoder(items: tuple[Any, ...]) -> Decoder:
    variable = len(items) == 2 and items[1] is Ellipsis
    decoders = [_decoder(items[0])] if variable else [_decoder(item) for item in items]

    def decode(value: Any, nodes: list[LayerNode]) -> tuple:
        if not isinstance(value, list) or (not variable and len(value) != len(decoders)):
            raise _Mismatch(f"expected a tuple of {items}, found {value!r}")
        if variable:
            return tuple(decoders[0](entry, nodes) for entry in value)
        return tuple(item(entry, nodes) for item, entry in zip(decoders, value))

    return decode


def _dict_decoder(key: Any, item: Any) -> Decoder:
    decode_item = _decoder(item)
    decode_key = int if key is int else str

    def decode(value: Any, nodes: list[LayerNode]) -> dict:
        if not isinstance(value, dict):
            raise _Mismatch(f"expected an object, found {value!r}")
        return {decode_key(name): decode_item(entry, nodes) for name, entry in value.items()}

    return decode


def _node_decoder() -> Decoder:
    tree = _dataclass_decoder(LayerNode)

    def decode(value: Any, nodes: list[LayerNode]) -> LayerNode:
        if isinstance(value, int) and not isinstance(value, bool):  # a reference into the tree
            if not 0 <= value < len(nodes):
                raise _Mismatch(f"no node {value} in the tree")
            return nodes[value]
        return tree(value, nodes)

    return decode


def _architecture(value: Any, nodes: list[LayerNode]) -> Architecture:
    if not isinstance(value, str):
        raise _Mismatch(f"expected an architecture name, found {value!r}")
    return get(value)


def _dataclass_decoder(cls: type) -> Decoder:
    def decode(value: Any, nodes: list[LayerNode]) -> Any:
        hints = _hints(cls)
        if not isinstance(value, dict) or value.keys() != hints.keys():
            raise _Mismatch(f"expected the fields of {cls.__name__}, found {value!r:.80}")
        return _construct(cls, {name: _decoder(hints[name])(value[name], nodes) for name in hints})

    return decode


# Reading and writing ---------------------------------------------------------------------


def cacheable(request: AnalysisRequest) -> bool:
    """Whether ``request``'s analysis may be kept on disk (not for the user's own code)."""
    return get(request.model).family != USER_FAMILY


def load(request: AnalysisRequest) -> Analysis | None:
    """``request``'s analysis from the disk cache (torch-free), or None if absent or unusable."""
    if not cacheable(request):
        return None
    document = disk_cache.load(KIND, entry_key(request))
    if document is None:
        return None
    try:
        analysis = decode_analysis(document["analysis"])
        totals = document["totals"]
        consistent = (totals["params"], totals["macs"]) == (analysis.totals.params, analysis.totals.macs)
    except Exception:  # whatever a damaged entry raises, it is a miss
        return None
    if not consistent or analysis.request != request:
        return None
    analysis.request = request  # the caller's, with its own ``own_input``
    return analysis


def load_totals(request: AnalysisRequest) -> tuple[int, int] | None:
    """``request``'s stored params and MACs, read without decoding the layer tree; None if absent."""
    if not cacheable(request):
        return None
    document = disk_cache.load(KIND, entry_key(request))
    totals = document.get("totals") if document is not None else None
    figures = (totals.get("params"), totals.get("macs")) if isinstance(totals, dict) else None
    if figures is None or not all(type(figure) is int for figure in figures):
        return None
    return figures


def save(analysis: Analysis) -> bool:
    """Store ``analysis``; False (and nothing written) where the cache is off or unwritable."""
    if not disk_cache.is_enabled() or not cacheable(analysis.request):
        return False
    from cnnexplorer.analysis.schema import to_dict

    try:
        document = {**to_dict(analysis), "analysis": encode_analysis(analysis)}
    except TypeError:  # a field this module cannot store: no entry rather than a wrong one
        return False
    return disk_cache.save(KIND, entry_key(analysis.request), document)


def analyze_cached(request: AnalysisRequest) -> Analysis:
    """``request``'s analysis: from the disk cache, else from the engine (then stored)."""
    found = load(request)
    if found is None:
        from cnnexplorer.analysis.engine import analyze

        found = analyze(request)
        save(found)
    return found


def analyze_on(request: AnalysisRequest, device: str = "meta") -> Analysis:
    """``request``'s analysis on the meta device (through the disk cache), or run for real on
    ``device`` (``"cpu"``: for a model the meta device cannot run; never cached)."""
    if device == "meta":
        return analyze_cached(request)
    from cnnexplorer.analysis.engine import analyze

    return analyze(request, device=device)
