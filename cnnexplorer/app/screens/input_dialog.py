"""The `i` dialog: input size and batch, validated before anything recomputes."""

from __future__ import annotations

import re

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
            yield Label("Input size (CxHxW or S; empty: each model's own)")
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
            request = self._request.with_input(_size(size_text), _batch(batch_text))
        except UsageError as error:
            self.query_one("#input-error", Label).update(str(error))
            self.add_class("invalid")
            return
        self.dismiss(request)

    def action_cancel(self) -> None:
        self.dismiss(None)


# Whole numbers as typed: ASCII digits only ('²' is a digit to str.isdigit, not to int), and
# short enough to convert (Python refuses to read integers of more than 4,300 digits).
_WHOLE = re.compile(r"[0-9]{1,100}")


def _size(text: str) -> tuple[int, int, int] | None:
    """The input size typed (None: each model's own); UsageError in the app's words."""
    if not text:
        return None
    if any(len(part) > 100 for part in re.findall(r"[0-9]+", text)):
        raise UsageError(f"input size {text[:20]}… has a number too long to be a size")
    try:
        return parse_input(text)
    except ValueError:  # a digit that int() does not read
        raise UsageError(f"malformed input size {text!r}: write CxHxW, e.g. 3x224x224") from None


def _batch(text: str) -> int:
    if not _WHOLE.fullmatch(text) or int(text) < 1:
        shown = text if len(text) <= 20 else text[:20] + "…"
        raise UsageError(f"invalid batch size {shown!r}: it must be a whole number of 1 or more")
    return int(text)
