"""The `t`/`e` form: a training or evaluation job, prefilled with the recipe's defaults (and
the last launch's values, read back as if typed) and validated field by field before anything
launches. One row per field; `enter` moves to the next field and only `ctrl+s` (or the Launch
button) launches."""

from __future__ import annotations

from pathlib import Path

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import HorizontalGroup, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from cnnexplorer import zoo
from cnnexplorer.app.access import explorer_app
from cnnexplorer.app.widgets.text_input import TextInput
from cnnexplorer.runs.jobs import Job, known_checkpoints
from cnnexplorer.settings import load_settings, remember
from cnnexplorer.train.choices import CIFAR_DATASETS, OPTIMIZERS, PRECISIONS, TRAIN_PRECISIONS
from cnnexplorer.train.form import field_problems, read_fields, remembered_values, values_to_remember
from cnnexplorer.train.request import LaunchRequest, dataset_choices
from cnnexplorer.zoo.published import Published, weights_of

LAUNCH_KEY = "ctrl+s"  # free in Textual 8; Textual turns terminal flow control (XOFF) off
HINT = f"{LAUNCH_KEY} launch · enter/tab next field · esc cancel"

DATASET_LABELS = {
    "imagefolder": "ImageFolder tree (train/, val/)",
    "cifar10": "CIFAR-10",
    "cifar100": "CIFAR-100",
    "fake": "synthetic images",
}
# What the data folder holds, by dataset.
DATA_PLACEHOLDERS = {
    "imagefolder": "DIR holding train/<class>/ and val/<class>/",
    "cifar10": "DIR holding (or to receive) the CIFAR-10 files",
    "cifar100": "DIR holding (or to receive) the CIFAR-100 files",
    "fake": "none: the images are made up",
}
# The train form's channels-last and precision choices (the CLI's --[no-]channels-last, --precision).
TRAIN_MEMORY_FORMATS = {
    "auto": "auto: on with bf16/fp16 on a GPU, else off",
    "on": "on: NHWC",
    "off": "off: NCHW",
}
EVAL_MEMORY_FORMATS = ("off", "on")  # eval's --channels-last: off (the default) or on
PRECISION_LABELS = {
    "auto": "auto: bf16 on a GPU with bf16, else fp32",
    "fp32": "fp32",
    "bf16": "bf16 autocast",
    "fp16": "fp16 autocast (gradient scaler)",
}
# Text fields: name, label, placeholder.
_TRAIN_TEXT = [
    ("epochs", "Epochs", ""),
    ("batch_size", "Batch size", ""),
    ("lr", "Learning rate", "the recipe's"),
]
_RUN_TEXT = [
    ("max_steps", "Max steps", "all"),
    ("seed", "Seed", ""),
    ("output", "Output folder", ""),
]


class LaunchForm(ModalScreen[LaunchRequest | None]):
    """Shows ``request`` (see :func:`~cnnexplorer.train.form.new_request`) field by field, with
    the values of the last launch of its kind that still pass (see
    :func:`~cnnexplorer.train.form.remembered_values`); returns the request of the fields once it
    has no problems (and remembers them), or None when cancelled. ``runs_dir`` (default: the
    app's) is where the eval form looks for checkpoints; ``recipe`` is shown on the train form."""

    BINDINGS = [
        Binding(LAUNCH_KEY, "launch", "Launch the job"),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(
        self, request: LaunchRequest, devices: list[str], recipe: str = "", runs_dir: Path | None = None
    ) -> None:
        super().__init__()
        self.request = request
        self.devices = devices
        self.recipe = recipe if request.command == "train" else ""  # evaluation follows no recipe
        self.runs_dir = runs_dir
        self._checkpoints_found = False  # the eval form's, once composed
        arch = zoo.get(request.model)
        self.weights = weights_of(arch) if request.command == "eval" else ()
        self.weights_missing = _weights_not_downloaded(arch) if self.weights else set()
        stored = getattr(load_settings(), f"{request.command}_form")
        choices = {name: [value for _, value in self._options(name)] for name in self._choice_names()}
        self.values = remembered_values(request, stored, choices, self.weights_missing)

    def _choice_names(self) -> list[str]:
        names = ["dataset", "device", "precision", "channels_last"]
        if self.request.command == "train":
            names.append("optimizer")
        elif self.weights:
            names.append("weights")
        return names

    def _options(self, name: str) -> list[tuple[str, str]]:
        """The (label, value) choices of the select of field ``name``."""
        train = self.request.command == "train"
        if name == "dataset":
            return [(DATASET_LABELS[d], d) for d in dataset_choices(self.request.model)]
        if name == "device":
            return [(device, device) for device in self.devices]
        if name == "optimizer":
            return [(optimizer, optimizer) for optimizer in OPTIMIZERS]
        if name == "precision":
            return [(PRECISION_LABELS[p], p) for p in TRAIN_PRECISIONS] if train else [(p, p) for p in PRECISIONS]
        if name == "channels_last":
            modes = list(TRAIN_MEMORY_FORMATS) if train else EVAL_MEMORY_FORMATS
            return [(TRAIN_MEMORY_FORMATS[mode], mode) for mode in modes]
        return [("none: a checkpoint (below)", "")] + [self._weights_option(found) for found in self.weights]

    def _weights_option(self, weights: Published) -> tuple[str, str]:
        """A torchvision weight set as the select offers it: its published ImageNet top-1, and
        whether the torch hub cache has its file (else launching needs Download)."""
        where = "not cached" if weights.weights in self.weights_missing else "cached"
        return f"{weights.weights} · top-1 {weights.acc1:.2f}% · {where}", weights.weights

    def compose(self) -> ComposeResult:
        verb = "Train" if self.request.command == "train" else "Evaluate"
        with VerticalScroll(id="launch-form") as dialog:
            dialog.can_focus = False  # the fields take the focus; the dialog scrolls to them
            dialog.border_title = f"{verb} {self.request.model}"
            dialog.border_subtitle = HINT
            if self.recipe:
                yield Static(self.recipe, classes="hint")
            if self.request.command == "eval":
                if self.weights:
                    yield from self._row("weights", "Weights", self._select("weights"))
                yield from self._checkpoint_fields()
            yield from self._data_fields()
            if self.request.command == "train":
                yield from self._text_fields(_TRAIN_TEXT)
                yield from self._row("optimizer", "Optimizer", self._select("optimizer"))
                yield from self._text_fields(_RUN_TEXT)
            else:
                yield from self._text_fields([("batch_size", "Batch size", "")])
            yield from self._device_fields()
            yield Static("", id="command-preview")
            with HorizontalGroup(classes="buttons"):
                yield Button(f"Launch ({LAUNCH_KEY})", variant="primary", id="launch", compact=True)
                yield Button("Cancel (esc)", id="cancel", compact=True)

    def _row(self, name: str, label: str, widget: Widget) -> ComposeResult:
        """One field: its label, its one-row widget, and its error line (shown when there is one)."""
        with HorizontalGroup(classes="field"):
            yield Label(label, classes="field-label")
            yield widget
        yield Label("", id=f"error-{name}", classes="field-error")

    def _text_fields(self, specs: list[tuple[str, str, str]]) -> ComposeResult:
        for name, label, placeholder in specs:
            field = TextInput(str(self.values[name]), placeholder=placeholder, id=f"field-{name}", compact=True)
            yield from self._row(name, label, field)

    def _select(self, name: str) -> Select:
        return Select(self._options(name), value=self.values[name], allow_blank=False, id=f"field-{name}", compact=True)

    def _checkpoint_fields(self) -> ComposeResult:
        runs_dir = self.runs_dir if self.runs_dir is not None else explorer_app(self).runs_dir
        found = known_checkpoints(runs_dir, self.request.model)
        self._checkpoints_found = bool(found)
        checkpoint = self.values["checkpoint"] or (str(found[0]) if found else "")
        picker = Select(
            [(_relative(path, runs_dir), str(path)) for path in found],
            value=checkpoint if checkpoint in map(str, found) else Select.NULL,
            prompt=f"{len(found)} found under {runs_dir}/" if found else f"none under {runs_dir}/",
            id="known-checkpoints",
            compact=True,
            disabled=not found,
        )
        yield from self._row("known-checkpoints", "Checkpoint", picker)
        path = TextInput(checkpoint, placeholder="or a .pt file", id="field-checkpoint", compact=True)
        yield from self._row("checkpoint", "Checkpoint path", path)

    def _data_fields(self) -> ComposeResult:
        yield from self._row("dataset", "Dataset", self._select("dataset"))
        data = TextInput(str(self.values["data"]), id="field-data", compact=True)
        yield from self._row("data", "Data folder", data)
        cifar = bool(set(dataset_choices(self.request.model)) & set(CIFAR_DATASETS))
        if cifar or self.weights:
            what = "the CIFAR files" if cifar else "the weights"
            download = Checkbox(f"fetch {what} if missing", bool(self.values["download"]), id="field-download")
            download.compact = True
            yield from self._row("download", "Download", download)

    def _device_fields(self) -> ComposeResult:
        yield from self._row("device", "Device", self._select("device"))
        yield from self._row("precision", "Precision", self._select("precision"))
        yield from self._row("channels_last", "Channels-last", self._select("channels_last"))

    def on_mount(self) -> None:
        self._follow_choices()
        self._refresh_preview()
        self.query(".field-error").set(display=False)
        self._first_field().focus()

    def _first_field(self, among: dict[str, str] | None = None) -> Widget:
        """The first field on the form that can take the focus (of those named in ``among``)."""
        return next(
            widget
            for widget in self.query(".field > *")
            if widget.focusable and (among is None or str(widget.id).removeprefix("field-") in among)
        )

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """Mark the focused field's row, whose label then stands out (compact widgets barely change)."""
        for row in self.query(".field"):
            row.set_class(row is event.widget.parent, "-current")

    def _field_values(self) -> dict[str, str | bool]:
        """The values of the fields shown, as they are now."""
        values = {}
        for name in self.values:
            for widget in self.query(f"#field-{name}"):
                values[name] = widget.value if isinstance(widget.value, bool) else str(widget.value)
        return values

    def _read(self) -> LaunchRequest:
        """The request of the fields as they are now."""
        return read_fields(self.request, self._field_values())

    def _follow_choices(self) -> None:
        """The data folder applies to some datasets only, the download box to CIFAR and to
        torchvision's weights, the checkpoint to evaluations without those weights."""
        dataset = self.query_one("#field-dataset", Select).value
        data = self.query_one("#field-data", Input)
        data.placeholder = DATA_PLACEHOLDERS[str(dataset)]
        data.disabled = dataset == "fake"
        weights = any(select.value for select in self.query("#field-weights").results(Select))
        for download in self.query("#field-download"):
            download.disabled = dataset not in CIFAR_DATASETS and not weights
        for checkpoint in self.query("#known-checkpoints, #field-checkpoint"):
            checkpoint.disabled = weights or (checkpoint.id == "known-checkpoints" and not self._checkpoints_found)

    def _refresh_preview(self) -> None:
        self.query_one("#command-preview", Static).update("$ " + Job(self._read()).command_line)

    def on_input_changed(self) -> None:
        self._refresh_preview()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "known-checkpoints" and event.value != Select.NULL:
            self.query_one("#field-checkpoint", Input).value = str(event.value)
        if event.select.id in ("field-dataset", "field-weights"):
            self._follow_choices()
        self._refresh_preview()

    def on_checkbox_changed(self) -> None:
        self._refresh_preview()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.focus_next()

    @on(Button.Pressed, "#launch")
    def launch_pressed(self) -> None:
        self.action_launch()

    @on(Button.Pressed, "#cancel")
    def cancel_pressed(self) -> None:
        self.action_cancel()

    def action_launch(self) -> None:
        request = self._read()
        errors = field_problems(request, self.weights_missing)
        for label in self.query(".field-error").results(Label):
            message = errors.get(label.id.removeprefix("error-"), "")
            label.update(message)
            label.display = bool(message)
        if errors:
            self._first_field(errors).focus()
            return
        failure = remember(**{f"{request.command}_form": values_to_remember(request, self._field_values())})
        if failure is not None:
            self.app.notify(failure, severity="warning")
        self.dismiss(request)

    def action_cancel(self) -> None:
        self.dismiss(None)


def _weights_not_downloaded(arch: zoo.Architecture) -> set[str]:
    from cnnexplorer.train.eval_command import weights_not_downloaded  # torch: only for a torchvision model

    return weights_not_downloaded(arch)


def _relative(path: Path, root: Path) -> str:
    """A checkpoint's path as the picker shows it: from inside the runs folder."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
