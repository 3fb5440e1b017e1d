"""The `t`/`e` form: a training or evaluation job, prefilled with the recipe's defaults and
validated field by field before anything launches."""

from __future__ import annotations

from dataclasses import fields, replace

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Label, Select, Static

from cnnexplorer.app.widgets.text_input import TextInput
from cnnexplorer.train.launch import TrainForm, command, validate

_TEXT_FIELDS = {
    "train": [
        ("data", "Data folder (ImageFolder; empty: synthetic)"),
        ("epochs", "Epochs"),
        ("batch_size", "Batch size"),
        ("lr", "Learning rate (empty: the recipe's)"),
        ("max_steps", "Max steps (empty: all)"),
        ("seed", "Seed"),
        ("output", "Output folder"),
    ],
    "eval": [
        ("checkpoint", "Checkpoint (last.pt / best.pt)"),
        ("data", "Data folder (ImageFolder; empty: synthetic)"),
        ("batch_size", "Batch size"),
    ],
}


class LaunchForm(ModalScreen[TrainForm | None]):
    """Returns the validated form, or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "launch", "Launch")]

    def __init__(self, form: TrainForm, devices: list[str], recipe: str = "") -> None:
        super().__init__()
        self.form = form
        self.devices = devices
        self.recipe = recipe

    def compose(self) -> ComposeResult:
        verb = "Train" if self.form.kind == "train" else "Evaluate"
        with VerticalScroll(id="launch-form"):
            yield Label(f"{verb} {self.form.model}", classes="title")
            if self.recipe:
                yield Static(self.recipe, classes="hint")
            for name, label in _TEXT_FIELDS[self.form.kind]:
                yield Label(label)
                yield TextInput(value=str(getattr(self.form, name)), id=f"field-{name}")
                yield Label("", id=f"error-{name}", classes="field-error")
            if self.form.kind == "train":
                yield Label("Optimizer")
                yield Select(
                    [(o, o) for o in ("sgd", "adamw")],
                    value=self.form.optimizer,
                    allow_blank=False,
                    id="field-optimizer",
                )
            yield Label("Device")
            yield Select([(d, d) for d in self.devices], value=self.form.device, allow_blank=False, id="field-device")
            yield Label("", id="error-device", classes="field-error")
            yield Label("Mixed precision")
            yield Select(
                [("off", ""), ("bf16", "bf16"), ("fp16", "fp16")],
                value=self.form.amp,
                allow_blank=False,
                id="field-amp",
            )
            yield Checkbox("channels-last memory format", self.form.channels_last, id="field-channels_last")
            yield Static("", id="command-preview")
            with Horizontal(classes="buttons"):
                yield Button("Launch", variant="primary", id="launch")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self._refresh_preview()

    def _read(self) -> TrainForm:
        values = {}
        for item in fields(TrainForm):
            widgets = self.query(f"#field-{item.name}")
            if widgets:
                value = widgets.first().value
                values[item.name] = value if isinstance(value, bool) else str(value)
        return replace(self.form, **values)

    def _refresh_preview(self) -> None:
        from cnnexplorer.jobs import Job

        self.query_one("#command-preview", Static).update("$ " + Job(command(self._read())).command_line)

    def on_input_changed(self) -> None:
        self._refresh_preview()

    def on_select_changed(self) -> None:
        self._refresh_preview()

    def on_checkbox_changed(self) -> None:
        self._refresh_preview()

    def on_input_submitted(self) -> None:
        self.action_launch()

    @on(Button.Pressed, "#launch")
    def launch_pressed(self) -> None:
        self.action_launch()

    @on(Button.Pressed, "#cancel")
    def cancel_pressed(self) -> None:
        self.action_cancel()

    def action_launch(self) -> None:
        form = self._read()
        errors = validate(form)
        for label in self.query(".field-error"):
            label.update(errors.get(label.id.removeprefix("error-"), ""))
        if errors:
            self.add_class("invalid")
            return
        self.dismiss(form)

    def action_cancel(self) -> None:
        self.dismiss(None)
