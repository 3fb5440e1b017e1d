"""The zoo, grouped by family, with each architecture's params and GMACs once known; under
"more" (folded), every other torchvision classifier and any model opened by name (palette,
command line)."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from cnnexplorer import units
from cnnexplorer.app.messages import ArchitectureChosen
from cnnexplorer.zoo import by_family

NAME_WIDTH = 17  # the pane is 33 columns: guide, name, params and MACs


class ZooList(Tree[str]):
    """Families as branches, architectures as leaves (``data`` is the architecture name)."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__("zoo", **kwargs)
        self.border_title = "model · params · MACs"
        self.show_root = False
        self.guide_depth = 2
        self._leaves: dict[str, TreeNode[str]] = {}
        self._more: TreeNode[str] | None = None
        for family, archs in by_family().items():
            branch = self.root.add(family, expand=True)
            for arch in archs:
                self._leaves[arch.name] = branch.add_leaf(self._label(arch.name), data=arch.name)

    @staticmethod
    def _label(name: str, figures: tuple[int, int] | None = None) -> Text:
        half = (NAME_WIDTH - 1) // 2  # cut in the middle: both ends tell shufflenet_v2_x1_0 from x1_5
        shown = name if len(name) <= NAME_WIDTH else f"{name[:half]}…{name[-half:]}"
        text = Text(f"{shown:<{NAME_WIDTH}}", no_wrap=True)
        if figures is None:
            text.append("     ·      ·", style="dim")
        else:
            text.append(" ".join(f"{units.count(figure):>6}" for figure in figures), style="dim")
        return text

    def set_figures(self, name: str, params: int, macs: int) -> None:
        """Show a model's params and MACs (at its default input, batch 1) beside it."""
        node = self._leaves.get(name)
        if node is not None:
            node.set_label(self._label(name, (params, macs)))

    def add_more(self, names: list[str]) -> None:
        """List models beyond the zoo under "more", folded (the palette, ctrl+p, finds them too)."""
        opened = {leaf.data: leaf for leaf in self._more.children} if self._more is not None else {}
        for name in names:
            if name not in self._leaves:  # in order, around those opened already
                self._add_more(name, before=next((leaf for data, leaf in sorted(opened.items()) if data > name), None))
        if self.cursor_node is not None:  # the list grew under it: keep the cursor in view
            self.call_after_refresh(self.scroll_to_node, self.cursor_node, animate=False)

    def select_architecture(self, name: str) -> None:
        """Move the cursor to an architecture (without re-announcing it); one outside the
        zoo is added under "more" first, and its branch unfolded."""
        node = self._leaves.get(name) or self._add_more(name)
        branch = node.parent
        if branch is not None and not branch.is_expanded:
            branch.expand()
        if node.line < 0:  # a new or unfolded leaf has its line once the tree has redrawn
            self.call_after_refresh(self._move_quietly, node)
        else:
            self._move_quietly(node)

    def _move_quietly(self, node: TreeNode[str]) -> None:
        with self.prevent(Tree.NodeHighlighted):
            self.move_cursor(node)

    def _add_more(self, name: str, before: TreeNode[str] | None = None) -> TreeNode[str]:
        if self._more is None:
            self._more = self.root.add("more", expand=False)
        self._leaves[name] = self._more.add_leaf(self._label(name), data=name, before=before)
        self._more.set_label(f"more ({len(self._more.children)}: ctrl+p finds one)")
        return self._leaves[name]

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted) -> None:
        event.stop()
        if event.node.data is not None:
            self.post_message(ArchitectureChosen(event.node.data))
