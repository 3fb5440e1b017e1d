"""The zoo, grouped by family, with each architecture's params and GMACs once known; a
model opened from outside the zoo (palette, command line) is added under "more"."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.binding import Binding
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from cnnexplorer import units
from cnnexplorer.app.messages import ArchitectureChosen
from cnnexplorer.zoo import by_family

if TYPE_CHECKING:
    from cnnexplorer.overview import ZooRow


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
                self._leaves[arch.name] = branch.add_leaf(self._label(arch.name, None), data=arch.name)

    @staticmethod
    def _label(name: str, row: ZooRow | None) -> Text:
        text = Text(f"{name:<17}", no_wrap=True, overflow="ellipsis")
        if row is None:
            text.append("     ·      ·", style="dim")
        else:
            text.append(f"{units.count(row.params):>6} {units.count(row.macs):>6}", style="dim")
        return text

    def set_stats(self, row: ZooRow) -> None:
        """Show an overview row's params and GMACs beside its architecture."""
        self._leaves[row.name].set_label(self._label(row.name, row))

    def select_architecture(self, name: str) -> None:
        """Move the cursor to an architecture (without re-announcing it); one outside the
        zoo is added under "more" first."""
        node = self._leaves.get(name)
        if node is None:  # a new leaf has its line once the tree has redrawn
            self.call_after_refresh(self._move_quietly, self._add_more(name))
        else:
            self._move_quietly(node)

    def _move_quietly(self, node: TreeNode[str]) -> None:
        with self.prevent(Tree.NodeHighlighted):
            self.move_cursor(node)

    def _add_more(self, name: str) -> TreeNode[str]:
        if self._more is None:
            self._more = self.root.add("more", expand=True)
        self._leaves[name] = self._more.add_leaf(self._label(name, None), data=name)
        return self._leaves[name]

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted) -> None:
        event.stop()
        if event.node.data is not None:
            self.post_message(ArchitectureChosen(event.node.data))
