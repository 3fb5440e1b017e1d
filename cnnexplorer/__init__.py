"""cnnexplorer: see how the classic image-classification CNNs are built, what they cost,
how they differ and how they train."""

__version__ = "0.1.0"
