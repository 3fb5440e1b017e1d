"""The `r` dialog: where (and how) to measure the shown model's profile. The devices are the
launch form's (each CUDA device found, then the CPU; not several GPUs at once: a profile runs
on one); `enter` on one starts the measurement, `escape` cancels."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import HorizontalGroup, Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList, Select, Static

# The profile's own rule for auto (cnnexplorer.profile.measure.resolve_dtype), not training's.
PRECISIONS = {
    "auto": "auto: fp32 on a CPU; bf16 (or fp16) on a GPU",
    "fp32": "fp32",
    "bf16": "bf16 autocast",
    "fp16": "fp16 autocast",
}
MODES = {"inference": "inference: forward only", "training": "training: forward and backward"}
HINT = "enter: measure on the highlighted device · tab: precision, mode · esc: cancel"


@dataclass(frozen=True)
class ProfileChoice:
    """What the dialog returns: the device and how to run the model there."""

    device: str
    precision: str = "auto"
    mode: str = "inference"


def profile_devices(devices: list[str]) -> list[str]:
    """The launch form's device choices that a profile can run on (one device each)."""
    return [device for device in devices if device == "cpu" or device.startswith("cuda")] or ["cpu"]


class ProfileForm(ModalScreen[ProfileChoice | None]):
    """Choose a device (and the precision and mode) for a profile of ``title``'s model."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, devices: list[str]) -> None:
        super().__init__()
        self._title = title
        self.devices = profile_devices(devices)

    def compose(self) -> ComposeResult:
        with Vertical(id="profile-form") as dialog:
            dialog.border_title = self._title
            yield Static("Measure each layer's time on a device, against its roofline.", classes="hint")
            yield Label("Device (enter measures on it)", classes="title")
            yield OptionList(*self.devices, id="profile-device", compact=True)
            with HorizontalGroup(classes="field"):
                yield Label("Precision", classes="field-label")
                yield Select(
                    [(label, value) for value, label in PRECISIONS.items()],
                    value="auto",
                    allow_blank=False,
                    id="profile-precision",
                    compact=True,
                )
            with HorizontalGroup(classes="field"):
                yield Label("Mode", classes="field-label")
                yield Select(
                    [(label, value) for value, label in MODES.items()],
                    value="inference",
                    allow_blank=False,
                    id="profile-mode",
                    compact=True,
                )
            yield Static(HINT, classes="hint")

    def on_mount(self) -> None:
        devices = self.query_one("#profile-device", OptionList)
        devices.highlighted = 0
        devices.focus()

    @on(OptionList.OptionSelected, "#profile-device")
    def measure(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(
            ProfileChoice(
                self.devices[event.option_index],
                str(self.query_one("#profile-precision", Select).value),
                str(self.query_one("#profile-mode", Select).value),
            )
        )

    def action_cancel(self) -> None:
        self.dismiss(None)
