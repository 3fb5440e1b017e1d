"""The cnnexplorer Textual application."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import App, SystemCommand
from textual.command import Provider
from textual.screen import Screen

from cnnexplorer.app.screens.explorer import ExplorerScreen
from cnnexplorer.app.widgets.key_footer import Key
from cnnexplorer.runs.jobs import Job, JobRequest
from cnnexplorer.zoo import ARCHITECTURES, more_names

if TYPE_CHECKING:
    from cnnexplorer.analysis.cache import AnalysisCache


def typed_model_provider() -> type[Provider]:
    """The palette's provider for a typed model spec (imported when the palette first opens)."""
    from cnnexplorer.app.commands import TypedModel

    return TypedModel


class CnnExplorerApp(App[None]):
    """Explore the zoo: layer trees, live figures, charts."""

    CSS_PATH = "app.tcss"
    TITLE = "cnnexplorer"
    # Every screen has these (a focused text input takes the printable keys first).
    BINDINGS = [
        Key("question_mark", "help", "Help", rank=0, tooltip="this help: the keys of every screen"),
        Key("J", "show_jobs", "Jobs", rank=2, tooltip="the jobs screen: training and evaluation jobs, past runs"),
        Key("ctrl+p", "command_palette", "Palette", rank=2, tooltip="command palette: any model or command"),
        Key("q", "quit", "Quit", rank=0, tooltip="quit (asks first while a job started here runs)"),
    ]
    COMMANDS = App.COMMANDS | {typed_model_provider}

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
        for name in more_names():
            yield SystemCommand(
                f"Open architecture: {name}",
                "more: torchvision's classifier, at its weights' input size",
                partial(self.open_architecture, name),
            )
        yield SystemCommand(
            "Diff the current architecture against…", "Side by side, aligned layer by layer", self._explorer.action_diff
        )
        yield SystemCommand(
            "Graph of the highlighted block",
            "Its dataflow in the table's place: branches, merges, costs; the arrows follow the edges",
            self.show_graph,
        )
        yield SystemCommand(
            "Profile the shown model on a device",
            "Measured time per layer against the device's roofline: choose the device, then it runs (esc cancels)",
            self.profile_model,
        )
        yield SystemCommand("Jobs", "Training and evaluation jobs and past runs", self.action_show_jobs)
        yield SystemCommand("Train the current architecture…", "Open the training form", self._explorer.action_train)
        yield SystemCommand(
            "Evaluate the current architecture…", "Open the evaluation form", self._explorer.action_evaluate
        )

    def launch(self, request: JobRequest) -> Job:
        """Start a job (a child process running the headless command) and show the jobs screen."""
        job = Job(request)
        job.start()  # the jobs screen polls its state
        self.add_job(job)
        return job

    def add_job(self, job: Job) -> None:
        """List a job on the jobs screen and show that screen."""
        self.jobs.append(job)
        self.action_show_jobs()

    def action_show_jobs(self) -> None:
        """Show the jobs screen (from anywhere; once: back to it where it is open already)."""
        from cnnexplorer.app.screens.jobs import JobsScreen

        if not any(isinstance(screen, JobsScreen) for screen in self.screen_stack):
            self.push_screen(JobsScreen())
            return
        while not isinstance(self.screen, JobsScreen):
            self.pop_screen()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "show_jobs":  # no "J Jobs" on the jobs screen itself
            from cnnexplorer.app.screens.jobs import JobsScreen

            return not isinstance(self.screen, JobsScreen)
        return True

    def action_help(self) -> None:
        """Every key of the screen in front, and what it does."""
        from cnnexplorer.app.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    async def action_quit(self) -> None:
        """Quit; while jobs of this app run, ask first: leave them running (they are headless
        runs, found again under runs/), stop them (each writes last.pt), or stay."""
        running = [job for job in self.jobs if job.running]
        if not running:
            self.exit()
            return
        from cnnexplorer.app.screens.confirm_quit import LEAVE, STOP, ConfirmQuit, StoppingJobs

        def answer(choice: str | None) -> None:
            if choice == LEAVE:
                self.exit()
            elif choice == STOP:
                self.push_screen(StoppingJobs(running))

        self.push_screen(ConfirmQuit(running), answer)

    def open_architecture(self, name: str) -> None:
        """Show an architecture in the explorer, returning to it from any other screen."""
        self._return_to_explorer()
        self._explorer.open_architecture(name)

    def show_graph(self) -> None:
        """Show the graph of the explorer's highlighted block, returning to it from any other screen."""
        self._return_to_explorer()
        self._explorer.show_graph()

    def profile_model(self) -> None:
        """Choose a device and profile the explorer's model there, returning to it from any other screen."""
        self._return_to_explorer()
        self._explorer.choose_profile_device()

    def _return_to_explorer(self) -> None:
        while self.screen is not self._explorer and len(self.screen_stack) > 1:
            self.pop_screen()
