"""The measured view's header line: where the profile was measured and the whole-model figures
(device, measured peaks, precision, batch, img/s, the timing hooks' overhead), or the progress
of a measurement under way."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.geometry import Size
from textual.widget import Widget

if TYPE_CHECKING:
    from cnnexplorer.profile import Profile

KEYS = "r: table only"
REQUIRED = 7  # phrases always shown


def profile_phrases(profile: Profile) -> list[str]:
    """The header's phrases, most important first."""
    peaks = profile.peaks
    precision = profile.precision + (" autocast" if profile.autocast else "")
    steps = f"{profile.mode}, median of {profile.steps}"
    return [
        f"measured on {profile.device}",
        f"peaks {peaks.flops_per_s / 1e12:.3g} TFLOP/s, {peaks.bytes_per_s / 1e9:.3g} GB/s"
        + (" (kept from an earlier run)" if peaks.reused else ""),
        precision,
        f"batch {profile.batch}",
        f"{profile.img_per_s:,.0f} img/s",
        f"hooks {100 * profile.hooks_overhead:+.0f}%",  # the whole forward with them / without them
        steps,
        peaks.device_name,
        KEYS,
    ]


def phrase_lines(phrases: list[Text], width: int, required: int | None = None) -> Text:
    """The phrases joined by " · " in lines of at most ``width`` cells, broken between phrases
    (never inside a figure): the first ``required`` (all: None) on as many lines as they take,
    the others only where they fit on the last line."""
    required = len(phrases) if required is None else required
    lines: list[list[Text]] = [[phrases[0]]]
    for index, phrase in enumerate(phrases[1:], start=1):
        if sum(part.cell_len + 3 for part in lines[-1]) + phrase.cell_len <= width:
            lines[-1].append(phrase)
        elif index < required:
            lines.append([phrase])
    return Text("\n").join(Text(" · ").join(line) for line in lines)


class PhraseLines(Widget):
    """Phrases laid out by :func:`phrase_lines` at the width the widget has when it is drawn
    (and measured at the width offered, so that its height follows: one layout pass)."""

    DEFAULT_CSS = "PhraseLines { height: auto; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.phrases: list[Text] = []
        self.required: int | None = None

    def show_phrases(self, phrases: list[Text], required: int | None = None) -> None:
        self.phrases, self.required = phrases, required
        self.refresh(layout=True)

    def lines(self, width: int) -> Text:
        return phrase_lines(self.phrases, max(1, width), self.required) if self.phrases else Text()

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self.lines(width).split())

    def render(self) -> Text:
        return self.lines(self.content_region.width)


class ProfileHeader(PhraseLines):
    """The profile's phrases in one line (more where the width runs out) above the workspace,
    or one line of progress while a profile is measured."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.profile: Profile | None = None

    def show(self, profile: Profile) -> None:
        self.profile = profile
        phrases = [Text(phrase) for phrase in profile_phrases(profile)]
        phrases[0].stylize("bold")
        self.show_phrases(phrases, REQUIRED)

    def show_progress(self, model: str, device: str, step: str) -> None:
        """A measurement under way: what it is doing now."""
        self.profile = None
        self.show_phrases([Text(f"profiling {model} on {device}: ", style="bold") + Text(step), Text("esc cancels")])
