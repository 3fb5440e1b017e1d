"""The `i` dialog: input size and batch, validated before anything recomputes."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from cnnexplorer import units
from cnnexplorer.analysis.inputs import parse_input, validate_batch
from cnnexplorer.app.widgets.text_input import TextInput
from cnnexplorer.errors import UsageError

InputChoice = tuple[tuple[int, int, int] | None, int]


class InputDialog(ModalScreen[InputChoice | None]):
    """Returns (input size or None for each model's own, batch), or None if cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, input_size: tuple[int, int, int] | None, batch: int) -> None:
        super().__init__()
        self._input_size = input_size
        self._batch = batch

    def compose(self) -> ComposeResult:
        with Vertical(id="input-dialog"):
            yield Label("Input size (CxHxW, HxW or S; empty: each model's own)")
            yield TextInput(
                value=units.dims(self._input_size) if self._input_size else "",
                placeholder="e.g. 3x224x224",
                id="input-size",
            )
            yield Label("Batch size")
            yield TextInput(value=str(self._batch), id="input-batch")
            yield Label("", id="input-error")
            yield Label("enter: apply · escape: cancel", classes="hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        size_text = self.query_one("#input-size", Input).value.strip()
        batch_text = self.query_one("#input-batch", Input).value.strip()
        try:
            size = parse_input(size_text) if size_text else None
            if not batch_text.lstrip("-").isdigit():
                raise UsageError(f"invalid batch size {batch_text!r}: it must be a positive integer")
            batch = validate_batch(int(batch_text))
        except UsageError as error:
            self.query_one("#input-error", Label).update(str(error))
            self.add_class("invalid")
            return
        self.dismiss((size, batch))

    def action_cancel(self) -> None:
        self.dismiss(None)
