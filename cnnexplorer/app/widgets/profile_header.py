"""The measured view's header line: where the profile was measured and the whole-model figures
(device, measured peaks, precision, batch, img/s, the timing hooks' overhead), or the progress
of a measurement under way."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Static

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
        f"hooks +{100 * profile.hooks_overhead:.0f}%",
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


def profile_line(profile: Profile, width: int) -> Text:
    """The header's phrases in lines of at most ``width`` cells."""
    phrases = [Text(phrase) for phrase in profile_phrases(profile)]
    phrases[0].stylize("bold")
    return phrase_lines(phrases, width, REQUIRED)


class ProfileHeader(Static):
    """One line (two where a narrow terminal wraps it between phrases) above the workspace."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.profile: Profile | None = None

    def show(self, profile: Profile) -> None:
        self.profile = profile
        self.update(profile_line(profile, self.size.width or 80))

    def show_progress(self, model: str, device: str, step: str) -> None:
        """A measurement under way: what it is doing now."""
        self.profile = None
        text = Text(f"profiling {model} on {device}: ", style="bold")
        text.append(step)
        text.append(" · esc cancels", style="dim")
        self.update(text)

    def on_resize(self) -> None:
        if self.profile is not None:
            self.update(profile_line(self.profile, self.size.width or 80))
