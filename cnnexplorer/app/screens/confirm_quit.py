"""Asked on quit while jobs run: leave them running, stop them (each writes its checkpoint),
or stay; and, while they stop, what the app waits for and why."""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label

from cnnexplorer.runs.jobs import Job

LEAVE, STOP = "leave", "stop"
CHECK_SECONDS = 0.5  # how often the stopping dialog looks at its jobs
# Sentences wrap inside the dialog; a job's line ends with an ellipsis where it does not fit.
DIALOG_CSS = """
#confirm-quit Label { width: 100%; }
#confirm-quit Label.job { text-wrap: nowrap; text-overflow: ellipsis; }
"""


def job_line(job: Job) -> str:
    """One job as the quit dialogs name it: its run folder (or model) and where it is."""
    state = job.state
    where = state.name or state.model or job.command_line
    steps = f"step {state.step}" + (f"/{state.total_steps}" if state.total_steps else "")
    return f"{where}: epoch {state.epoch}, {steps}"


class ConfirmQuit(ModalScreen[str | None]):
    """Dismisses with LEAVE (quit, the jobs go on headless), STOP (stop them, then quit) or
    None (stay)."""

    DEFAULT_CSS = DIALOG_CSS

    BINDINGS = [
        Binding("l", f"answer('{LEAVE}')", "Leave them running and quit"),
        Binding("y", f"answer('{STOP}')", "Stop them and quit"),
        Binding("n,escape", "answer(None)", "Stay"),
    ]

    def __init__(self, running: list[Job]) -> None:
        super().__init__()
        self.running = running

    def compose(self) -> ComposeResult:
        count = len(self.running)
        with Vertical(id="confirm-quit"):
            yield Label(f"{count} job{'s' if count > 1 else ''} still running:")
            for job in self.running:
                yield Label(f"  {job_line(job)}", classes="job")
            yield Label(
                "l  leave them running and quit: they go on headless, writing their run folders; "
                "open the app again to watch them (J)"
            )
            yield Label("y  stop them and quit: each finishes its step and writes last.pt (resumable)")
            yield Label("n  stay")

    def action_answer(self, choice: str | None) -> None:
        self.dismiss(choice)


class StoppingJobs(ModalScreen[None]):
    """Asks each job to stop (it finishes its step and writes last.pt), says which it waits
    for and why, and quits when none is left. ``l`` leaves the rest running, ``k`` kills
    them (losing what they did since their last checkpoint)."""

    DEFAULT_CSS = "StoppingJobs { align: center middle; }" + DIALOG_CSS

    BINDINGS = [
        Binding("l", "leave", "Leave the rest running and quit"),
        Binding("k", "kill", "Kill them now and quit"),
    ]

    def __init__(self, jobs: list[Job]) -> None:
        super().__init__()
        self.jobs = jobs
        self.asked_at = time.monotonic()

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-quit"):
            yield Label(
                "Stopping: each job finishes its current step, then writes last.pt, so that no work is lost. "
                "A step of a large model can take minutes.",
                id="stopping-why",
            )
            yield Label("", id="stopping-jobs")
            yield Label("l  leave the rest running and quit · k  kill them now (no checkpoint) and quit")

    def on_mount(self) -> None:
        for job in self.jobs:
            job.cancel()
        self._check()
        self.set_interval(CHECK_SECONDS, self._check)

    def waiting(self) -> list[Job]:
        return [job for job in self.jobs if job.running]

    def _check(self) -> None:
        waiting = self.waiting()
        if not waiting:
            self.app.exit()
            return
        seconds = int(time.monotonic() - self.asked_at)
        lines = [f"waiting {seconds} s for {len(waiting)} of {len(self.jobs)}:"]
        lines += [f"  {job_line(job)}: finishing its step, then writing last.pt" for job in waiting]
        self.query_one("#stopping-jobs", Label).update("\n".join(lines))

    def action_leave(self) -> None:
        self.app.exit()

    def action_kill(self) -> None:
        for job in self.waiting():
            job.kill()
        self.app.exit()
