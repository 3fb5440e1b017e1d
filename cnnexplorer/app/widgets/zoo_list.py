"""The zoo, grouped by family, with each architecture's params and GMACs once known; under
"more" (folded), every other torchvision classifier and any model opened by name (palette,
command line). A filter line above the list (ctrl+f, or a click) narrows every group."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.events import Key
from textual.message import Message
from textual.widgets import Input, Tree
from textual.widgets.tree import TreeNode

from cnnexplorer import units
from cnnexplorer.app.charts import cut_middle
from cnnexplorer.app.messages import ArchitectureChosen
from cnnexplorer.app.widgets.text_input import TextInput
from cnnexplorer.zoo import by_family

MIN_NAME_WIDTH = 17  # the narrowest pane: 34 columns
FIGURES_WIDTH = 13  # params and MACs, six columns each
CHROME_WIDTH = 2 + FIGURES_WIDTH + 2  # guide before the name; scrollbar and border after the figures
WIDTH_SHARE = 4  # the pane takes at most a quarter of the screen (never under 34 columns)


def matches(name: str, query: str) -> bool:
    """Whether every word of ``query`` is in ``name`` (case-insensitive)."""
    return all(word in name.lower() for word in query.lower().split())


class ZooList(Tree[str]):
    """Families as branches, architectures as leaves (``data`` is the architecture name).

    The tree is rebuilt from its data (families, the "more" names, the figures known, the
    filter) whenever one of these changes; the cursor stays on the architecture shown."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    class FilterCleared(Message):
        """The list dropped its filter to show the model opened (from the palette)."""

    def __init__(self, **kwargs) -> None:
        super().__init__("zoo", **kwargs)
        self.show_root = False
        self.guide_depth = 2
        self.name_width = MIN_NAME_WIDTH
        self.filter_text = ""  # the filter: words every name shown contains
        self.shown_name: str | None = None  # the architecture the explorer shows
        self._families = {family: [arch.name for arch in archs] for family, archs in by_family().items()}
        self._more: list[str] = []  # sorted
        self._figures: dict[str, tuple[int, int]] = {}
        self._leaves: dict[str, TreeNode[str]] = {}
        self._more_branch: TreeNode[str] | None = None
        self._built_filter = ""  # the filter the tree's lines were built with
        self._more_expanded = False
        self._screen_width = 0  # the last fit's (0: not fitted yet)
        self._populate()

    @property
    def names(self) -> list[str]:
        """Every architecture listed, filtered or not."""
        return [name for names in self._families.values() for name in names] + self._more

    @property
    def highlighted(self) -> str | None:
        """The name under the cursor; None where there is no cursor (no name passes the
        filter), since the Tree keeps its last node after the cursor is gone."""
        node = self.cursor_node if self.cursor_line >= 0 else None
        return node.data if node is not None else None

    def _label(self, name: str) -> Text:
        text = Text(f"{cut_middle(name, self.name_width):<{self.name_width}}", no_wrap=True)
        figures = self._figures.get(name)
        if figures is None:
            text.append("     ·      ·", style="dim")
        else:
            text.append(" ".join(f"{units.count(figure):>6}" for figure in figures), style="dim")
        return text

    def _populate(self, cursor: str | None = None) -> None:
        """Rebuild the tree: the families and "more", each with its names that pass the filter;
        the cursor on ``cursor`` if listed, else on the first name listed."""
        if self._more_branch is not None and not self._built_filter:  # unfolded by the user, not by a filter
            self._more_expanded = self._more_branch.is_expanded
        self._built_filter = self.filter_text
        self.unselect()  # the cursor is a line number: none until placed on the new lines
        self.clear()
        self._leaves, self._more_branch = {}, None
        for family, names in self._families.items():
            shown = [name for name in names if matches(name, self.filter_text)]
            if shown:
                branch = self.root.add(family, expand=True)
                for name in shown:
                    self._leaves[name] = branch.add_leaf(self._label(name), data=name)
        shown = [name for name in self._more if matches(name, self.filter_text)]
        if shown:
            count = f"{len(shown)} of {len(self._more)}" if self.filter_text else f"{len(self._more)} · ctrl+f filters"
            self._more_branch = self.root.add(f"more ({count})", expand=self._more_expanded or bool(self.filter_text))
            for name in shown:
                self._leaves[name] = self._more_branch.add_leaf(self._label(name), data=name)
        self._place_cursor(cursor)

    def _place_cursor(self, name: str | None) -> None:
        """The cursor on ``name`` if it is listed, else on the first name listed (without
        announcing either), and in view."""
        node = self._leaves.get(name or "") or next(iter(self._leaves.values()), None)
        if node is None:
            return
        if node.parent is not None and not node.parent.is_expanded:
            node.parent.expand()
        # The Tree lays its lines out lazily, and a node has no line before: lay them out now.
        self.last_line  # noqa: B018
        with self.prevent(Tree.NodeHighlighted):
            self.move_cursor(node)

    def on_resize(self) -> None:
        """A new height (or the tree grew under a pane not yet laid out): the cursor back in view."""
        if self.cursor_node is not None:
            self.scroll_to_node(self.cursor_node, animate=False)

    def fit(self, screen_width: int) -> None:
        """Size the names to the longest listed, within a quarter of the screen (the pane
        never narrower than 34 columns), and the pane to the names."""
        self._screen_width = screen_width
        longest = max(map(len, self.names), default=MIN_NAME_WIDTH)
        room = max(2 * MIN_NAME_WIDTH, screen_width // WIDTH_SHARE) - CHROME_WIDTH
        width = max(MIN_NAME_WIDTH, min(longest, room))
        if width != self.name_width:
            self.name_width = width
            for name, node in self._leaves.items():
                node.set_label(self._label(name))
        if self.parent is not None:
            self.parent.styles.width = width + CHROME_WIDTH

    def _refit(self) -> None:
        """The names listed changed: the longest may be longer."""
        if self._screen_width:
            self.fit(self._screen_width)

    def set_figures(self, name: str, params: int, macs: int) -> None:
        """Show a model's params and MACs (at its default input, batch 1) beside it."""
        self._figures[name] = (params, macs)
        node = self._leaves.get(name)
        if node is not None:
            node.set_label(self._label(name))

    def add_more(self, names: list[str]) -> None:
        """List models beyond the zoo under "more", folded (the palette, ctrl+p, finds them too)."""
        known = set(self.names)
        added = [name for name in names if name not in known]
        if added:
            self._more = sorted({*self._more, *added})
            self._populate(self.highlighted or self.shown_name)
            self._refit()

    def select_architecture(self, name: str) -> None:
        """Move the cursor to an architecture (without re-announcing it); one outside the
        zoo is added under "more" first, and its branch unfolded. A filter that hides it is cleared."""
        self.shown_name = name
        if name not in self.names:
            self._more = sorted({*self._more, name})
        elif name in self._leaves:
            self._place_cursor(name)
            return
        if self.filter_text:  # it hides the model shown
            self.filter_text = ""
            self.post_message(self.FilterCleared())
        self._populate(name)
        self._refit()

    def set_filter(self, query: str) -> None:
        """List only the names that contain every word of ``query``, the cursor on the first
        (enter opens it); no filter: all of them, the cursor on the model shown."""
        if query.strip() != self.filter_text:
            self.filter_text = query.strip()
            self._populate(None if self.filter_text else self.shown_name)

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted) -> None:
        event.stop()
        if event.node.data is not None:
            self.shown_name = event.node.data
            self.post_message(ArchitectureChosen(event.node.data))


class ZooPane(Vertical):
    """The zoo list under its filter line; the pane's width follows the screen's (:meth:`fit`).

    In the filter, enter opens the first match and ↓ goes to the list; escape clears it."""

    BINDINGS = [
        # Out of the footer: the filter line's placeholder names the key.
        Binding("ctrl+f", "open_filter", "Filter", show=False, tooltip="filter the models (enter: open the first)"),
        Binding("escape", "close_filter", "Clear filter", show=False),
    ]

    def compose(self) -> ComposeResult:
        yield TextInput(placeholder="filter models (ctrl+f)", id="zoo-filter", compact=True)
        yield ZooList(id="zoo")

    def on_mount(self) -> None:
        self.border_title = "model · params · MACs"

    @property
    def zoo(self) -> ZooList:
        return self.query_one(ZooList)

    def fit(self, screen_width: int) -> None:
        self.zoo.fit(screen_width)

    def action_open_filter(self) -> None:
        field = self.query_one("#zoo-filter", Input)
        # Focus at once (not after a refresh), so that keys typed in the same burst as
        # ctrl+f are typed into the filter, not run as commands.
        self.screen.set_focus(field)

    @on(ZooList.FilterCleared)
    def empty_filter_line(self, event: ZooList.FilterCleared) -> None:
        event.stop()
        self.query_one("#zoo-filter", Input).value = ""

    @on(Input.Changed, "#zoo-filter")
    def narrow(self, event: Input.Changed) -> None:
        event.stop()
        self.zoo.set_filter(event.value)

    @on(Input.Submitted, "#zoo-filter")
    def open_first(self, event: Input.Submitted) -> None:
        """Enter: the list, with the highlighted match opened."""
        event.stop()
        zoo = self.zoo
        zoo.focus()
        name = zoo.highlighted
        if name is not None and name != zoo.shown_name:
            zoo.shown_name = name
            self.post_message(ArchitectureChosen(name))

    def on_key(self, event: Key) -> None:
        if event.key == "down" and self.screen.focused is self.query_one("#zoo-filter"):
            event.stop()
            self.zoo.focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "close_filter":  # else escape does what the screen makes it do
            field = self.query_one("#zoo-filter", Input)
            return bool(field.value) or self.screen.focused is field
        return True

    def action_close_filter(self) -> None:
        field = self.query_one("#zoo-filter", Input)
        field.value = ""
        self.zoo.set_filter("")
        self.zoo.focus()
