"""The architecture zoo (torch-free metadata; models are built on demand)."""

from cnnexplorer.zoo.registry import ARCHITECTURES, FAMILIES, Architecture, by_family, get, names

__all__ = ["ARCHITECTURES", "FAMILIES", "Architecture", "by_family", "get", "names"]
