"""The selected architecture as a layer tree whose children are built when expanded."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.binding import Binding
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from cnnexplorer import units

if TYPE_CHECKING:
    from cnnexplorer.analysis import Analysis, LayerNode


class LayerTree(Tree["LayerNode"]):
    """Tree of :class:`~cnnexplorer.analysis.LayerNode`; ``data`` is the layer node."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__("(no model)", **kwargs)
        self.guide_depth = 2
        self._items: dict[str, TreeNode[LayerNode]] = {}

    def show(self, analysis: Analysis, depth: int = 1) -> None:
        """Replace the tree with ``analysis``, expanded down to ``depth``."""
        self.clear()
        self._items = {"": self.root}
        self.root.data = analysis.root
        self.root.set_label(self._label(analysis.root, analysis.name))
        self.root.allow_expand = True
        self._populate(self.root)
        self.root.expand()
        self.set_depth(depth)
        self.move_cursor(self.root)

    def _populate(self, item: TreeNode[LayerNode]) -> None:
        if item.children or not item.data.children:
            return
        for child in item.data.children:
            node = item.add(self._label(child), data=child, allow_expand=bool(child.children))
            self._items[child.path] = node

    @staticmethod
    def _label(node: LayerNode, name: str | None = None) -> Text:
        from cnnexplorer.analysis.structure import repeat_label

        text = Text(name or node.name, style="bold")
        repeated = repeat_label(node)
        text.append(
            f" · {repeated}" if repeated else f" {node.type}", style="not bold cyan" if repeated else "not bold"
        )
        if node.training_only:
            text.append(" [train only]", style="yellow")
        text.append(f"  {units.shape(node.output_shape)}", style="not bold green")
        if node.params:
            text.append(f"  {units.count(node.params)} params", style="not bold dim")
        if node.macs:
            text.append(f"  {units.count(node.macs)} MACs", style="not bold dim")
        return text

    def on_tree_node_expanded(self, event: Tree.NodeExpanded) -> None:
        self._populate(event.node)

    def set_depth(self, depth: int) -> None:
        """Expand every node above ``depth`` and collapse the rest."""

        def visit(item: TreeNode[LayerNode], level: int) -> None:
            if level < depth and item.data.children:
                self._populate(item)
                item.expand()
                for child in item.children:
                    visit(child, level + 1)
            elif item.data.children:
                item.collapse()

        visit(self.root, 0)

    def reveal(self, path: str) -> None:
        """Expand the ancestors of the node at ``path`` and move the cursor onto it."""
        parts = path.split(".")
        item = self.root
        for index in range(len(parts)):
            self._populate(item)
            item.expand()
            item = self._items[".".join(parts[: index + 1])]

        def move() -> None:  # tree lines of the newly expanded nodes exist after a refresh
            self.move_cursor(item)
            self.scroll_to_node(item)

        self.call_after_refresh(move)

    @property
    def highlighted_path(self) -> str | None:
        node = self.cursor_node
        return None if node is None or node.data is None else node.data.path
