"""Analyses kept on disk between runs, so that a repeated question answers without torch.

An entry (in the cache folder, see :mod:`cnnexplorer.disk_cache`: the key it was stored
under and a digest of the key and the document beside it) holds one encoding of the
:class:`Analysis`: ``analysis``, every field of the result dataclasses as msgspec writes them,
and ``layers``, the execution-ordered layers as indices into ``analysis.root.walk()`` (so that
they read back as the tree's own nodes). The architecture is not stored: it is the one the
caller's request names. An entry reads back equal to the analysis that was stored.

The key is everything that can change a figure: the request (model, input, batch, dtype),
the architecture's registry entry and, for the models defined in ``cnnexplorer/zoo``, a
hash of their source; the versions of cnnexplorer, torch, torchvision and torchinfo (and
timm for its models; from their installed metadata, never imported); and a hash of this package's source, since an
editable install keeps its version while the engine changes.

The user's own models (``file.py:factory``, ``package.module:factory``) bypass the cache:
their code, and whatever it imports, can change with no version to tell.

Stored data is only ever data: decoding builds the result dataclasses from typed values and
resolves no model name (the stored request is only compared with the caller's). An entry that
is missing, damaged, edited, for another key or request, or that does not decode as the types
the results declare is a miss: the engine runs (torch is imported then, and only then) and
the entry is written again.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cnnexplorer import disk_cache
from cnnexplorer.analysis.request import AnalysisRequest
from cnnexplorer.analysis.results import Analysis, Totals
from cnnexplorer.errors import UsageError
from cnnexplorer.zoo import Architecture, get
from cnnexplorer.zoo.published import weights_of
from cnnexplorer.zoo.resolve import TIMM_FAMILY, USER_FAMILY

KIND = "analysis"
STORE_FORMAT = 3  # the layout of an entry; a change makes older entries misses
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
            "source": model_source_hash(arch.builder),
        },
        "engine_source": engine_source_hash(),
        "versions": {name: disk_cache.package_version(name) for name in _packages_of(arch)},
    }


# The entry ------------------------------------------------------------------------------


@dataclass
class _Entry:
    """An entry as read back (its key and digest checked by :mod:`cnnexplorer.disk_cache`)."""

    analysis: Analysis  # stored with no layers and no architecture: see below
    layers: list[int]  # each of ``analysis.layers`` as its index in ``analysis.root.walk()``


@dataclass
class _StoredTotals:
    totals: Totals


@dataclass
class _TotalsEntry:
    """An entry read for its totals alone: the layer tree is skipped, not decoded."""

    analysis: _StoredTotals


def _document(analysis: Analysis) -> dict[str, Any]:
    index = {id(node): i for i, node in enumerate(analysis.root.walk())}
    return {
        "analysis": replace(analysis, layers=[], arch=None),
        "layers": [index[id(node)] for node in analysis.layers],
    }


def _analysis(entry: _Entry, request: AnalysisRequest) -> Analysis | None:
    """The entry's analysis with its layers and architecture restored; None unless it is
    ``request``'s and every layer index is in the tree."""
    analysis = entry.analysis
    nodes = list(analysis.root.walk())
    if analysis.request != request or not all(0 <= i < len(nodes) for i in entry.layers):
        return None
    if analysis.dataflow is None or not analysis.dataflow.valid(len(nodes)):
        return None
    analysis.layers = [nodes[i] for i in entry.layers]
    analysis.request = request  # the caller's, with its own ``own_input``
    analysis.arch = get(request.model)  # the caller's name, already resolved: never a stored one
    return analysis


# Reading and writing ---------------------------------------------------------------------


def cacheable(request: AnalysisRequest) -> bool:
    """Whether ``request``'s analysis may be kept on disk (not for the user's own code)."""
    return get(request.model).family != USER_FAMILY


def load(request: AnalysisRequest) -> Analysis | None:
    """``request``'s analysis from the disk cache (torch-free), or None if absent or unusable."""
    if not cacheable(request):
        return None
    try:
        entry = disk_cache.load(KIND, entry_key(request), type=_Entry)
    except UsageError:  # a stored request that fails its own checks
        return None
    return _analysis(entry, request) if entry is not None else None


def load_totals(request: AnalysisRequest) -> tuple[int, int] | None:
    """``request``'s stored params and MACs, read without decoding the layer tree; None if absent."""
    if not cacheable(request):
        return None
    entry = disk_cache.load(KIND, entry_key(request), type=_TotalsEntry)
    return (entry.analysis.totals.params, entry.analysis.totals.macs) if entry is not None else None


def save(analysis: Analysis) -> bool:
    """Store ``analysis``; False (and nothing written) where the cache is off or unwritable."""
    if not disk_cache.is_enabled() or not cacheable(analysis.request):
        return False
    weights_of(get(analysis.request.model))  # cached beside it, so that every view of a hit stays torch-free
    return disk_cache.save(KIND, entry_key(analysis.request), _document(analysis))


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
