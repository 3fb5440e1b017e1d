"""What the app remembers between sessions: a small JSON file in the user's config folder.

Where: ``$CNNEXPLORER_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/cnnexplorer``, else
``~/.config/cnnexplorer``; the file is ``settings.json``. It is data, never a name to resolve:
it is read as a regular file of bounded size and depth into :class:`Settings`, and a file that
is missing, damaged or of another shape reads as the defaults. Every value read is a plain
bool or string; whoever uses a remembered form value validates it as if it had been typed.
Writes replace the file whole (:func:`cnnexplorer.runs.atomic.write_atomic`).
"""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

from cnnexplorer.runs.atomic import write_atomic
from cnnexplorer.runs.safe_read import read_json

CONFIG_DIR_VARIABLE = "CNNEXPLORER_CONFIG_DIR"
MAX_SETTINGS_BYTES = 64 * 1024


class Settings(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """The remembered choices; a field left at its default was never chosen."""

    zoo_shown: bool | None = None  # the explorer's zoo pane (None: the app decides by width)
    train_form: dict[str, str] = {}  # the training form's last launched values, by field id
    eval_form: dict[str, str] = {}  # the evaluation form's last launched values, by field id


def config_dir() -> Path:
    """The config folder (it may not exist yet)."""
    override = os.environ.get(CONFIG_DIR_VARIABLE)
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CONFIG_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".config"
    return base / "cnnexplorer"


def settings_path() -> Path:
    return config_dir() / "settings.json"


def load_settings() -> Settings:
    """The saved settings, or the defaults when there are none or they cannot be read."""
    try:
        return read_json(settings_path(), Settings, limit=MAX_SETTINGS_BYTES)
    except (OSError, ValueError):
        return Settings()


def save_settings(settings: Settings) -> None:
    """Replace the saved settings with ``settings``; raises OSError when it cannot."""
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, msgspec.json.format(msgspec.json.encode(settings)) + b"\n")


def remember(**changes: object) -> str | None:
    """Save the current settings with ``changes`` made; returns None, or the one-line reason
    it could not be saved (the app shows it and goes on)."""
    try:
        save_settings(msgspec.structs.replace(load_settings(), **changes))
    except OSError as error:
        return f"could not save settings to {settings_path()}: {error.strerror or error}"
    return None
