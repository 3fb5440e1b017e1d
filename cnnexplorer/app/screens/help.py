"""The `?` screen: the project's keys, screen by screen (the screen in front first), read from
the same BINDINGS as the footer; as many columns of them as the width holds."""

from __future__ import annotations

from rich import box
from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.dom import DOMNode
from textual.events import Resize
from textual.screen import ModalScreen, Screen
from textual.widgets import Markdown, Static

from cnnexplorer.app.widgets.key_footer import declared_bindings, keys_label

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

# Keys of Textual's own widgets that the app relies on, said once.
MOVING = [
    ("tab shift+tab", "next / previous pane"),
    ("↑ ↓ j k", "move in a list, the tree or a table"),
    ("⏎ space", "open or fold a block; choose"),
]
MOVES = {"cursor_down", "cursor_up", "move(1)", "move(-1)"}  # j/k and the like: said once, above
SECTION_WIDTH = 56  # columns a section needs to read well: 1 column at 80, 2 at 120, 3 at 200


def sections(app_type: type[DOMNode]) -> list[tuple[str, list[type[DOMNode]]]]:
    """(title, the classes whose keys it lists) for each part of the app whose class is ``app_type``."""
    from cnnexplorer.app.screens.diff_screen import DiffScreen
    from cnnexplorer.app.screens.explorer import ExplorerScreen
    from cnnexplorer.app.screens.input_dialog import InputDialog
    from cnnexplorer.app.screens.jobs import JobsScreen
    from cnnexplorer.app.screens.launch_form import LaunchForm
    from cnnexplorer.app.screens.profile_form import ProfileForm
    from cnnexplorer.app.screens.zoo_chart import ZooChartScreen
    from cnnexplorer.app.widgets.graph_view import GraphView
    from cnnexplorer.app.widgets.layer_tree import LayerTree
    from cnnexplorer.app.widgets.zoo_list import ZooList, ZooPane

    return [
        ("Everywhere", [app_type]),
        ("Explorer", [ExplorerScreen]),
        ("Layer table", [LayerTree]),
        ("Models", [ZooPane, ZooList]),
        ("Graph view", [GraphView]),
        ("Diff", [DiffScreen]),
        ("Jobs", [JobsScreen]),
        ("Forms", [LaunchForm, ProfileForm, InputDialog]),
        ("Zoo chart", [ZooChartScreen]),
    ]


def key_rows(node_types: list[type[DOMNode]], app) -> list[tuple[str, str]]:
    """(keys, what they do) for each described binding the classes declare; keys that do the
    same thing share a row."""
    rows: dict[str, list[str]] = {}
    for node_type in node_types:
        for binding in declared_bindings(node_type):
            does = binding.tooltip or binding.description
            if does and binding.action not in MOVES:
                keys = rows.setdefault(does, [])
                shown = app.get_key_display(binding)
                if shown not in keys:
                    keys.append(shown)
    return [(keys_label(keys), does) for does, keys in rows.items()]


def help_sections(screen: Screen) -> list[tuple[str, list[tuple[str, str]]]]:
    """Every section's (title, rows), the one of ``screen`` first."""
    found = []
    for title, node_types in sections(type(screen.app)):
        rows = key_rows(node_types, screen.app)
        if title == "Everywhere":
            rows += MOVING
        found.append((title, rows, isinstance(screen, tuple(node_types))))
    found.sort(key=lambda section: not section[2])
    return [(title, rows) for title, rows, _here in found]


def section_table(title: str, rows: list[tuple[str, str]]) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD, expand=True)
    table.add_column("key", style="bold yellow", no_wrap=True)
    table.add_column("does", ratio=1)
    for keys, does in rows:
        table.add_row(keys, does)
    return table


def columns_for(width: int) -> int:
    return max(1, width // SECTION_WIDTH)


class HelpScreen(ModalScreen[None]):
    """Key reference, the screen in front's keys first; escape, q or ? closes it."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, screen: Screen) -> None:
        super().__init__()
        self._sections = help_sections(screen)
        self._columns = 0

    def compose(self) -> ComposeResult:
        self._columns = columns_for(self.app.size.width)
        with VerticalScroll(id="help-body") as body:
            body.border_title = "Keys, screen by screen (escape closes)"
            with Horizontal(id="help-columns"):
                for column in self._spread(self._columns):
                    with Vertical(classes="help-column"):
                        for title, rows in column:
                            yield Static(section_table(title, rows))
            yield Markdown(UNITS)

    def _spread(self, columns: int) -> list[list[tuple[str, list[tuple[str, str]]]]]:
        """The sections in ``columns`` columns, each to the shortest so far (in order)."""
        spread: list[list[tuple[str, list[tuple[str, str]]]]] = [[] for _ in range(columns)]
        heights = [0] * columns
        for section in self._sections:
            shortest = heights.index(min(heights))
            spread[shortest].append(section)
            heights[shortest] += len(section[1]) + 4  # title, header, rule, blank line
        return [column for column in spread if column]

    async def on_resize(self, event: Resize) -> None:
        if columns_for(event.size.width) != self._columns:
            await self.recompose()
