"""What to analyse: one frozen, validated value (torch-free).

The same request is the cache key, what a worker receives and what an analysis
carries back, so that (model, input, batch, dtype) never changes shape on the way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cnnexplorer.analysis.inputs import parse_input, validate_batch, validate_dtype, validate_input
from cnnexplorer.zoo import get


@dataclass(frozen=True)
class AnalysisRequest:
    """A model name, a (C, H, W) input size, a batch size and a dtype name, all checked.

    ``own_input`` records that the size is the model's default rather than one the user
    chose; it is not part of the request's identity (equality, hash).
    """

    model: str
    input_size: tuple[int, int, int]
    batch: int = 1
    dtype: str = "float32"
    own_input: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_size", validate_input(tuple(self.input_size)))
        validate_batch(self.batch)
        validate_dtype(self.dtype)

    @classmethod
    def of(
        cls, model: str, input_size: tuple[int, int, int] | None = None, batch: int = 1, dtype: str = "float32"
    ) -> AnalysisRequest:
        """The request for a zoo architecture (any spelling of its name); no size: its own."""
        arch = get(model)
        return cls(arch.name, input_size or arch.input_size, batch, dtype, own_input=input_size is None)

    @classmethod
    def from_text(cls, model: str, input_text: str | None, batch: int, dtype: str) -> AnalysisRequest:
        """The request as a command line gives it (``--input 3x224x224`` or none)."""
        return cls.of(model, parse_input(input_text) if input_text is not None else None, batch, dtype)

    def for_model(self, model: str) -> AnalysisRequest:
        """The same settings for another architecture (its own input if this one used its own)."""
        return AnalysisRequest.of(model, None if self.own_input else self.input_size, self.batch, self.dtype)

    def with_input(self, input_size: tuple[int, int, int] | None, batch: int) -> AnalysisRequest:
        """This model at another input size (``None``: its own) and batch."""
        return AnalysisRequest.of(self.model, input_size, batch, self.dtype)
