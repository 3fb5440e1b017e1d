"""Asked before stopping a run that another process trains (started from a shell, or left
running by an app that quit): stopping it is SIGINT to that process, which finishes its step
and writes last.pt."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label

from cnnexplorer.app.screens.confirm_quit import DIALOG_CSS


class ConfirmStop(ModalScreen[bool]):
    """Dismisses with True (stop it) or False (keep it running)."""

    DEFAULT_CSS = "ConfirmStop { align: center middle; }" + DIALOG_CSS

    BINDINGS = [
        Binding("y", "answer(True)", "Stop it"),
        Binding("n,escape", "answer(False)", "Keep it running"),
    ]

    def __init__(self, run_name: str, pid: int) -> None:
        super().__init__()
        self.run_name = run_name
        self.pid = pid

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-quit"):
            yield Label(f"{self.run_name} is trained by process {self.pid}, which this app did not start.")
            yield Label("y  stop it: it finishes its step, writes last.pt and exits (resume it later with r)")
            yield Label("n  keep it running")

    def action_answer(self, stop: bool) -> None:
        self.dismiss(stop)
