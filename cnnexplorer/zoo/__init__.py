"""The architecture zoo (torch-free metadata; models are built on demand)."""

from cnnexplorer.zoo.registry import (
    ARCHITECTURES,
    FAMILIES,
    Architecture,
    all_names,
    by_family,
    get,
    more_architectures,
    more_names,
    names,
)

__all__ = [
    "ARCHITECTURES",
    "FAMILIES",
    "Architecture",
    "all_names",
    "by_family",
    "get",
    "more_architectures",
    "more_names",
    "names",
]
