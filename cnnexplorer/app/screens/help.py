"""The `?` screen: every key of the screen in front, read from its bindings."""

from __future__ import annotations

from rich import box
from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Markdown, Static

UNITS = """\
**Units.** MACs are multiply-accumulates of convolution and linear layers (biases
excluded); FLOPs = 2 x MACs. Memory figures are estimates (see the README). Receptive
fields are exact, height and width apart; one marked `≈` is approximate, and the
layer's details say why.

**Measured view** (`r`). Times are per step, medians over the timed steps, measured on the
chosen device with random weights; a block's figures are the sums of its leaves. FLOP/s is
what the layer achieved; "of roof" is that as a share of its roofline bound, min(peak FLOP/s,
intensity x peak bytes/s), with the roof that bounds it: `mem` (memory) or `cmp` (compute).
The peaks are measured too (a large GEMM, a large copy)."""

# Keys of Textual's own widgets that need saying, by the action they run.
WIDGET_KEYS = {
    "select_cursor": "open or fold a block / choose",
    "toggle_node": "open or fold a block",
    "cursor_up": "move up",
    "cursor_down": "move down",
}


def key_rows(screen: Screen) -> list[tuple[str, str]]:
    """(keys, what they do) for every described binding of the screen, its widgets and the
    app, in that order; keys that do the same thing share a row."""
    nodes: list[DOMNode] = [screen, *screen.query("*"), screen.app]
    rows: dict[str, list[str]] = {}
    for node in nodes:
        for key, bindings in node._bindings.key_to_bindings.items():
            for binding in bindings:
                description = binding.tooltip or binding.description or WIDGET_KEYS.get(binding.action, "")
                if not description:
                    continue
                shown = screen.app.get_key_display(Binding(key, binding.action))
                keys = rows.setdefault(description, [])
                if shown not in keys:
                    keys.append(shown)
    return [(" ".join(keys), description) for description, keys in rows.items()]


def help_table(screen: Screen) -> Table:
    """The screen's keys as a two-column table, then the units note."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, expand=True)
    table.add_column("key", style="bold yellow", no_wrap=True)
    table.add_column("does")
    for keys, description in key_rows(screen):
        table.add_row(keys, description)
    return table


class HelpScreen(ModalScreen[None]):
    """Key reference for ``screen``; escape, q or ? closes it."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, screen: Screen) -> None:
        super().__init__()
        self._title = getattr(screen, "HELP_TITLE", type(screen).__name__)
        self._table = help_table(screen)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body") as body:
            body.border_title = f"{self._title}: keys (escape closes)"
            yield Static(self._table)
            yield Markdown(UNITS)
