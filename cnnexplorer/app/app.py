"""The cnnexplorer Textual application."""

from __future__ import annotations

import time
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from cnnexplorer.app.screens.explorer import ExplorerScreen
from cnnexplorer.jobs import Job
from cnnexplorer.zoo import ARCHITECTURES

if TYPE_CHECKING:
    from cnnexplorer.analysis.cache import AnalysisCache

STOP_SECONDS = 60  # how long quitting waits for jobs to write their checkpoints


class CnnExplorerApp(App[None]):
    """Explore the zoo: layer trees, live figures, charts."""

    CSS_PATH = "app.tcss"
    TITLE = "cnnexplorer"
    # Every screen has these (a focused text input takes the printable keys first).
    BINDINGS = [
        Binding("question_mark", "help", "Help"),
        Binding("J", "show_jobs", "Jobs", show=False),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        initial_model: str | None = None,
        cache: AnalysisCache | None = None,
        zoo_stats: bool = True,
        runs_dir: Path = Path("runs"),
    ) -> None:
        super().__init__()
        self._explorer = ExplorerScreen(initial_model, cache, zoo_stats)
        self.runs_dir = runs_dir
        self.jobs: list[Job] = []  # every job started since the app opened

    @property
    def explorer(self) -> ExplorerScreen:
        return self._explorer

    def on_mount(self) -> None:
        self.push_screen(self._explorer)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for arch in ARCHITECTURES:
            yield SystemCommand(
                f"Open architecture: {arch.name}",
                f"{arch.family}, {arch.year}: {arch.description}",
                partial(self.open_architecture, arch.name),
            )
        yield SystemCommand(
            "Diff the current architecture against…", "Side by side, aligned layer by layer", self._explorer.action_diff
        )
        yield SystemCommand("Jobs", "Training and evaluation jobs and past runs", self.action_show_jobs)
        yield SystemCommand("Train the current architecture…", "Open the training form", self._explorer.action_train)
        yield SystemCommand(
            "Evaluate the current architecture…", "Open the evaluation form", self._explorer.action_evaluate
        )

    def launch(self, argv: list[str]) -> Job:
        """Start a job (a child process running the headless command) and show the jobs screen."""
        job = Job(argv)
        job.start()  # the jobs screen polls its state
        self.add_job(job)
        return job

    def add_job(self, job: Job) -> None:
        """List a job on the jobs screen and show that screen."""
        self.jobs.append(job)
        self.action_show_jobs()

    def action_show_jobs(self) -> None:
        """Show the jobs screen (from anywhere; once)."""
        from cnnexplorer.app.screens.jobs import JobsScreen

        if not isinstance(self.screen, JobsScreen):
            self.push_screen(JobsScreen())

    def action_help(self) -> None:
        """Every key of the screen in front, and what it does."""
        from cnnexplorer.app.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    async def action_quit(self) -> None:
        running = [job for job in self.jobs if job.running]
        if not running:
            self.exit()
            return

        def answer(stop: bool | None) -> None:
            if stop:
                self.stop_jobs_and_exit(running)

        from cnnexplorer.app.screens.confirm_quit import ConfirmQuit

        self.push_screen(ConfirmQuit(len(running)), answer)

    @work(thread=True, group="quit")
    def stop_jobs_and_exit(self, running: list[Job]) -> None:
        """SIGINT every running job (each finishes its step and writes last.pt); whatever is
        still running after STOP_SECONDS in all is killed; then exit."""
        self.call_from_thread(self.notify, f"Stopping {len(running)} job(s): each writes its last.pt…")
        for job in running:
            job.cancel()
        deadline = time.monotonic() + STOP_SECONDS
        for job in running:
            if job.wait(timeout=max(0.0, deadline - time.monotonic())) is None:
                job.kill()
        self.call_from_thread(self.exit)

    def on_unmount(self) -> None:
        # Leaving by any other way (ctrl+c, a crash): ask the jobs to stop cleanly.
        for job in self.jobs:
            job.cancel()

    def open_architecture(self, name: str) -> None:
        """Show an architecture in the explorer, returning to it from any other screen."""
        while self.screen is not self._explorer and len(self.screen_stack) > 1:
            self.pop_screen()
        self._explorer.open_architecture(name)
