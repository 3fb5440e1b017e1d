"""The cnnexplorer Textual application."""

from __future__ import annotations

from functools import partial
from typing import Any, Iterable

from textual.app import App, SystemCommand
from textual.screen import Screen

from cnnexplorer.app.screens.explorer import ExplorerScreen
from cnnexplorer.zoo import ARCHITECTURES


class CnnExplorerApp(App[None]):
    """Explore the zoo: layer trees, live figures, charts."""

    CSS_PATH = "app.tcss"
    TITLE = "cnnexplorer"

    def __init__(self, initial_model: str | None = None, cache: Any = None, zoo_stats: bool = True) -> None:
        super().__init__()
        self._explorer = ExplorerScreen(initial_model, cache, zoo_stats)

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

    def open_architecture(self, name: str) -> None:
        """Show an architecture in the explorer, returning to it from any other screen."""
        while self.screen is not self._explorer and len(self.screen_stack) > 1:
            self.pop_screen()
        self._explorer.open_architecture(name)
