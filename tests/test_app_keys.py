"""Keys and their discoverability (issue 24, items 5, 6 and 13): the help lists the project's
own keys by screen across the terminal's width; the footer grows with the width and follows
the focus (the search, the graph); the palette opens a typed model spec, or says what to
install; the pane titles are readable (WCAG contrast from the colours rendered)."""

import re
import sys

import pytest

from cnnexplorer.app import make_app
from tests.conftest import settle
from tests.test_any_model import SMALL_CNN

SIZES = {"80x24": (80, 24), "120x40": (120, 40), "200x60": (200, 60)}
SMALL_NET_PARAMS = (3 * 16 * 9 + 16) + (16 * 32 * 9 + 32) + 2 * (16 + 32) + (32 * 10 + 10)  # its convs, BNs, linear

# Explorer keys the footer must show at 200 columns (at 80: the first eight, help and quit).
EXPLORER_FOOTER = [
    "/ Search", "c Cost", "g Graph", "i Input", "m Models", "v Details", "d Diff", "t Train", "e Eval",
    "p Plots", "z Zoo chart", "[ ] Fold/Unfold", "1-9 Depth", "r Profile", "? Help", "J Jobs", "^p Palette", "q Quit",
]  # fmt: skip


def screen_lines(app) -> list[str]:
    return [strip.text for strip in app.screen._compositor.render_strips()]


def footer_labels(app, line: str) -> list[str]:
    """The footer's ``line`` read as whole labels, those of the keys that work now (at any
    width); fails on anything else (a label cut short, or text that is no label)."""
    from cnnexplorer.app.widgets.key_footer import KeyFooter, footer_items, keys_label

    labels = [f"{keys_label(item.keys)} {item.description}" for item in footer_items(app.screen.query_one(KeyFooter))]
    rest, found = line.strip(), []
    for label in labels:
        if rest == label or rest.startswith(label + " "):
            found.append(label)
            rest = rest[len(label) :].lstrip(" ")
    assert rest == "", f"not whole labels: {line.strip()!r} (left: {rest!r})"
    return found


async def test_the_footer_grows_with_the_width_and_keeps_its_labels_whole(shared_cache):
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        lines = {}
        for width, height in SIZES.values():
            await pilot.resize_terminal(width, height)
            await pilot.pause()
            lines[width] = screen_lines(app)[-1]
        assert all(label in lines[200] for label in EXPLORER_FOOTER), lines[200]
        shown = {width: footer_labels(app, line) for width, line in lines.items()}
        assert EXPLORER_FOOTER[:8] + ["? Help", "q Quit"] == shown[80]
        assert set(shown[80]) < set(shown[120]) < set(shown[200])  # at 200 J, e, p, z, [ ], 1-9 and ^p too


async def test_the_footer_shows_the_search_keys_while_typing_and_the_graph_keys_in_the_graph(shared_cache):
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"conv")
        search_keys = ["enter/↓ Next", "↑ Previous", "esc Close", "^p Palette"]
        footer = screen_lines(app)[-1]
        assert all(label in footer for label in search_keys), footer
        assert footer_labels(app, footer) == search_keys  # c, g...: typed into the search
        await pilot.press("down")  # the footer's ↓: the second match
        assert app.screen.query_one("#search").border_subtitle.startswith("2 of ")
        await pilot.press("escape", "g")
        await settle(pilot)
        graph_keys = ["↓ ↑ Follow", "← → Branch", "⏎ In", "⌫ Out", "[ ] Depth", "esc Table"]
        footer = screen_lines(app)[-1]
        assert footer_labels(app, footer)[: len(graph_keys)] == graph_keys


async def test_help_lists_the_projects_keys_by_screen_across_the_width(shared_cache):
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=(200, 60)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        text = "\n".join(screen_lines(app))
        for builtin in ("super+c", "^⌫", "shift+^a", "Copy selected text", "Cursor Up", "Scroll Left", "Screen: keys"):
            assert builtin not in text  # Textual's own editing and scrolling keys, a class name
        for title in ("Everywhere", "Explorer", "Graph view", "Diff", "Jobs", "Forms", "Zoo chart"):
            assert re.search(rf"(│|  ){title}  ", text), title  # a section's title, alone
        assert max(len(line.rstrip("│ ")) for line in text.splitlines()) > 160  # sections side by side
        for line in text.splitlines():
            assert line.count("↑") <= 1  # no key listed again for another widget's "up"


async def test_the_palette_opens_a_typed_model_file_first(shared_cache, tmp_path, monkeypatch):
    from textual.command import CommandList, CommandPalette

    (tmp_path / "mynet.py").write_text(SMALL_CNN)
    monkeypatch.chdir(tmp_path)  # a short name to type: the palette searches again at every key
    spec = "./mynet.py:SmallNet"
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p", *spec)
        first = await first_option(pilot)
        assert spec in first and "open as typed" in first
        assert isinstance(app.screen, CommandPalette) and app.screen.query_one(CommandList).highlighted == 0
        await pilot.press("enter")
        await settle(pilot)
        assert app.explorer.analysis.name == spec and app.explorer.analysis.totals.params == SMALL_NET_PARAMS


async def test_the_palette_says_what_to_install_for_a_timm_model_without_timm(shared_cache, monkeypatch):
    monkeypatch.setitem(sys.modules, "timm", None)  # as where timm is not installed: `import timm` fails
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p", *"timm:resnet50d")
        first = await first_option(pilot)
        assert "timm:resnet50d" in first and "timm is not installed: pip install timm" in first


async def first_option(pilot) -> str:
    """The command palette's first option, as text, once its search has answered."""
    from textual.command import CommandList

    options = pilot.app.screen.query_one(CommandList)
    for _ in range(50):
        await pilot.pause(0.05)
        if options.option_count:
            break
    assert options.option_count, "the palette offered nothing"
    return str(options.get_option_at_index(0).prompt)


def contrast(foreground, background) -> float:
    """WCAG 2 contrast ratio of two rich colours."""

    def luminance(color) -> float:
        channels = [c / 255 for c in color.get_truecolor()]
        r, g, b = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    lighter, darker = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def style_at(strip, x: int):
    """The rich style of the cell at column ``x`` of a rendered line."""
    start = 0
    for segment in strip:
        if start <= x < start + segment.cell_length:
            return segment.style
        start += segment.cell_length
    raise AssertionError(f"no cell at {x}")


async def test_pane_titles_are_readable(shared_cache):
    app = make_app("resnet20", cache=shared_cache, zoo_stats=False)
    async with app.run_test(size=(200, 60)) as pilot:
        await settle(pilot)
        strips = app.screen._compositor.render_strips()
        titled = [w for w in app.screen.query("*") if w.border_title and w.display and w.region.height]
        assert len(titled) >= 3  # the zoo, the layer table, the details
        for widget in titled:
            title = str(widget.border_title)[:8]
            line = strips[widget.region.y]
            x = line.text.find(title, widget.region.x)
            assert x >= 0, f"{title!r} not drawn"
            style = style_at(line, x)
            assert contrast(style.color, style.bgcolor) >= 4.5, (title, str(style))


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_help_screen(snap_compare, shared_cache, size):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    app = make_app("resnet20", cache=shared_cache, zoo_stats=False)
    assert snap_compare(app, terminal_size=size, run_before=run_before)
