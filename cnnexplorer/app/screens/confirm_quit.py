"""Asked on quit while jobs run: stop them (each writes its checkpoint) or stay."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label


class ConfirmQuit(ModalScreen[bool]):
    """Dismisses with True (stop the jobs and quit) or False (stay)."""

    BINDINGS = [Binding("y", "answer(True)", "Stop and quit"), Binding("n,escape", "answer(False)", "Stay")]

    def __init__(self, running: int) -> None:
        super().__init__()
        self.running = running

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-quit"):
            yield Label(f"{self.running} job{'s' if self.running > 1 else ''} still running.")
            yield Label("y: stop them (each writes last.pt, resumable) and quit · n: stay")

    def action_answer(self, stop: bool) -> None:
        self.dismiss(stop)
