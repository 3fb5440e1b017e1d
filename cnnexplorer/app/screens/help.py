"""The `?` screen: every key of the explorer."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# cnnexplorer keys

| key | does |
|---|---|
| `↑` `↓` / `j` `k` | move in the zoo or the layer tree |
| `tab` / `shift+tab` | switch between the zoo and the layer tree |
| `enter` / `space` | expand or fold a block |
| `/` | search layers by name or type (`enter`: next match, `escape`: close) |
| `[` `]` or `1`–`9` | set how deep the layer tree is unfolded |
| `i` | change the input size and batch (everything recomputes) |
| `p` | show or hide the per-stage charts |
| `z` | the zoo chart: published top-5 error against GMACs |
| `d` | diff: pick a second architecture, see both aligned layer by layer |
| `t` / `e` | train / evaluate the current architecture (a form with its recipe) |
| `J` | jobs: running and past training and evaluation runs |
| `ctrl+p` | command palette: open an architecture, diff, train, evaluate, jobs |
| `?` | this help |
| `q` | quit (asks first while jobs run) |

**Units.** MACs are multiply-accumulates of convolution and linear layers (biases
excluded); FLOPs = 2 x MACs. Memory figures are estimates (see the README).
Receptive fields marked as upper bounds come from branching networks, where the
largest field over all paths is shown.
"""


class HelpScreen(ModalScreen[None]):
    """Key reference; any of escape, q or ? closes it."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Markdown(HELP)
