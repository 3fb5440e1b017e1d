"""A filterable list of the zoo, then every other torchvision classifier ("more"), to pick
the second architecture of a diff; a typed ``timm:NAME`` or ``file.py:factory`` is offered as is."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from cnnexplorer.app.widgets.text_input import TextInput
from cnnexplorer.zoo import ARCHITECTURES, more_names
from cnnexplorer.zoo.resolve import typed_spec


class PickArchitecture(ModalScreen[str | None]):
    """Type to filter, arrows to move, enter to pick, escape to cancel."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("down", "move(1)", show=False),
        Binding("up", "move(-1)", show=False),
    ]

    def __init__(self, title: str, exclude: str | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.names = [arch.name for arch in ARCHITECTURES if arch.name != exclude]
        self.more = [name for name in more_names() if name != exclude]

    def compose(self) -> ComposeResult:
        with Vertical(id="pick-architecture"):
            yield Label(self.title_text, classes="title")
            yield TextInput(placeholder="filter", id="pick-filter")
            yield OptionList(*self._options(""), id="pick-options")

    def _options(self, query: str) -> list[Option]:
        needle = query.strip().lower().replace("-", "_")
        options = [Option(name, id=name) for name in self.names if needle in name.replace("-", "_")]
        options += [Option(Text.assemble(name, ("  more", "dim")), id=name) for name in self.more if needle in name]
        spec = typed_spec(query)
        if spec is not None:
            options.append(Option(Text.assemble(spec, ("  open as typed", "dim")), id=spec))
        return options

    def on_mount(self) -> None:
        self.query_one(OptionList).highlighted = 0

    def on_input_changed(self, event: Input.Changed) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options(self._options(event.value))
        options.highlighted = 0 if options.option_count else None

    def action_move(self, delta: int) -> None:
        options = self.query_one(OptionList)
        if options.option_count:
            options.highlighted = ((options.highlighted or 0) + delta) % options.option_count

    def on_input_submitted(self) -> None:
        options = self.query_one(OptionList)
        if options.highlighted is not None and options.option_count:
            self.dismiss(options.get_option_at_index(options.highlighted).id)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
