"""The app's text input: Textual's Input, with the cursor blink off when headless."""

from __future__ import annotations

from textual.widgets import Input


class TextInput(Input):
    """An Input whose cursor does not blink in headless runs (tests, benches), so that
    screenshots do not depend on when they are taken."""

    def on_mount(self) -> None:
        if self.app.is_headless:
            self.cursor_blink = False
