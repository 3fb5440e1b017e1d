"""The footer: the keys that work where the focus is, as many as the width holds, the most
useful first. It reads the screens' BINDINGS, as the help does (screens/help.py), and only
this project's: Textual's own editing and scrolling keys are left out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from rich.cells import cell_len
from rich.text import Text
from textual.binding import Binding
from textual.dom import DOMNode
from textual.events import Click
from textual.keys import _character_to_key
from textual.widget import Widget

# A key that types a character into a focused input (which takes it first).
_TYPED_KEYS = frozenset(_character_to_key(chr(code)) for code in range(32, 127))


@dataclass(frozen=True)
class Key(Binding):
    """A binding with its place in the footer: ``rank`` 0 shows at any width, then 1, 2, 3 as
    the width allows (at a tie the focused widget's first, then in the order declared); None:
    only in the help, and in the footer while typing (when it is not a typed character)."""

    rank: int | None = 1

    def __post_init__(self) -> None:
        # Textual's own Footer, where a screen still has one, shows what this one shows at 80 columns.
        object.__setattr__(self, "show", self.rank is not None and self.rank <= 1)


def declared_bindings(node_type: type[DOMNode]) -> list[Binding]:
    """The bindings this project's classes declare for ``node_type`` (base classes first), one
    per key, as declared (a :class:`Key` keeps its rank); Textual's own are left out."""
    found: dict[tuple[str, str], Binding] = {}
    for cls in reversed(node_type.__mro__):
        if not cls.__module__.startswith("cnnexplorer.") or "BINDINGS" not in vars(cls):
            continue
        for declared in vars(cls)["BINDINGS"]:
            for one in Binding.make_bindings([declared]):
                found[(one.key, one.action)] = _with_key(declared, one.key)
    return list(found.values())


def _with_key(declared: Binding, key: str) -> Binding:
    return declared if declared.key == key else declared.with_key(key, declared.key_display)


def rank(binding: Binding) -> int | None:
    """The footer rank of a declared binding: a plain binding shows at 1 when ``show``, else never."""
    if isinstance(binding, Key):
        return binding.rank
    return 1 if binding.show and binding.description else None


def keys_label(keys: list[str], compact: bool = False) -> str:
    """Keys shown together: ``1-9`` for a run of more than two, else side by side."""
    if len(keys) > 2:
        return f"{keys[0]}-{keys[-1]}"
    return ("" if compact else " ").join(keys)


class FooterItem(NamedTuple):
    """One entry of the footer: its keys, what they do, and the binding a click on it runs."""

    keys: list[str]
    description: str
    compact: bool
    rank: int
    order: int  # where it is shown: the focused widget's first, the app's last
    owner: DOMNode
    binding: Binding
    enabled: bool

    @property
    def width(self) -> int:
        return cell_len(keys_label(self.keys, self.compact)) + 1 + cell_len(self.description)


def footer_items(node: DOMNode) -> list[FooterItem]:
    """The project's keys with a description that work now on ``node``'s screen, grouped, in
    the order shown: from the focused widget out to the app, each in the order declared."""
    screen = node.screen
    focused = screen.focused
    typing = focused is not None and focused.check_consume_key("a", "a")
    chain = list(focused.ancestors_with_self) if focused is not None else [screen, screen.app]
    bound = [(owner, binding) for owner in chain for binding in declared_bindings(type(owner))]
    claimed: set[str] = set()  # a key runs the first binding that takes it: priority ones, then the focused widget's
    items: dict[object, FooterItem] = {}
    for owner, binding in sorted(bound, key=lambda pair: not pair[1].priority):
        if binding.key in claimed or (typing and binding.key in _TYPED_KEYS):
            continue  # taken by an earlier binding, or typed into the focused input
        state = node.app._check_action_state(binding.action, owner)  # as Screen.active_bindings asks
        if state is False:
            continue
        claimed.add(binding.key)
        place = rank(binding)
        if not binding.description or (place is None and not typing):
            continue
        group = binding.group
        name = (id(owner), group or binding.action)
        if name not in items:
            items[name] = FooterItem(
                keys=[],
                description=group.description if group is not None else binding.description,
                compact=group.compact if group is not None else False,
                rank=place if place is not None else 1,
                order=chain.index(owner),
                owner=owner,
                binding=binding,
                enabled=bool(state),
            )
        items[name].keys.append(node.app.get_key_display(binding))
    return sorted(items.values(), key=lambda item: item.order)


def fit(items: list[FooterItem], width: int) -> list[FooterItem]:
    """The items that fit in ``width`` columns, taken by rank (then as listed), in the order listed."""
    chosen: set[int] = set()
    used = -1
    for position, item in sorted(enumerate(items), key=lambda pair: (pair[1].rank, pair[0])):
        if used + 1 + item.width <= width:
            chosen.add(position)
            used += 1 + item.width
    return [item for position, item in enumerate(items) if position in chosen]


class KeyFooter(Widget):
    """One line of keys at the bottom of a screen; clicking a key runs it."""

    DEFAULT_CSS = """
    KeyFooter {
        dock: bottom;
        height: 1;
        background: $footer-background;
        color: $footer-description-foreground;
    }
    KeyFooter > .key-footer--key {
        color: $footer-key-foreground;
        text-style: bold;
    }
    """
    COMPONENT_CLASSES = {"key-footer--key"}

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._spans: list[tuple[int, int, DOMNode, Binding]] = []

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, lambda _screen: self.refresh())

    def render(self) -> Text:
        key_style = self.get_component_rich_style("key-footer--key")
        line = Text(no_wrap=True, overflow="crop")
        self._spans = []
        for item in fit(footer_items(self), self.size.width):
            if line:
                line.append(" ")
            label = keys_label(item.keys, item.compact)
            start = len(line)
            line.append(label, key_style if item.enabled else "dim")
            line.append(" " + item.description, None if item.enabled else "dim")
            self._spans.append((start, len(line), item.owner, item.binding))
        return line

    async def on_click(self, event: Click) -> None:
        for start, end, owner, binding in self._spans:
            if start <= event.x < end:
                await self.app.run_action(binding.action, owner)
                return
