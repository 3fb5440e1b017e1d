"""The `i` dialog: input size and batch, validated before anything recomputes."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from cnnexplorer import units
from cnnexplorer.analysis.inputs import parse_input
from cnnexplorer.analysis.request import AnalysisRequest
from cnnexplorer.app.widgets.text_input import TextInput
from cnnexplorer.errors import UsageError


class InputDialog(ModalScreen[AnalysisRequest | None]):
    """Returns the request at the new input size and batch, or None if cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, request: AnalysisRequest) -> None:
        super().__init__()
        self._request = request

    def compose(self) -> ComposeResult:
        with Vertical(id="input-dialog"):
            yield Label("Input size (CxHxW, HxW or S; empty: each model's own)")
            yield TextInput(
                value="" if self._request.own_input else units.dims(self._request.input_size),
                placeholder="e.g. 3x224x224",
                id="input-size",
            )
            yield Label("Batch size")
            yield TextInput(value=str(self._request.batch), id="input-batch")
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
            request = self._request.with_input(size, int(batch_text))
        except UsageError as error:
            self.query_one("#input-error", Label).update(str(error))
            self.add_class("invalid")
            return
        self.dismiss(request)

    def action_cancel(self) -> None:
        self.dismiss(None)
