"""The Textual explorer app. It renders what the core computes and routes keys; no
analysis logic lives here. Importing this package does not import torch."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cnnexplorer.analysis.cache import AnalysisCache
    from cnnexplorer.app.app import CnnExplorerApp


def make_app(
    initial_model: str | None = None,
    cache: AnalysisCache | None = None,
    zoo_stats: bool = True,
    runs_dir: Path | str = "runs",
) -> CnnExplorerApp:
    """Build the app. ``cache`` lets tests share analyses between app instances;
    ``zoo_stats`` analyses the whole zoo in the background for the list and the chart;
    ``runs_dir`` is where the jobs screen looks for past runs."""
    from cnnexplorer.app.app import CnnExplorerApp

    return CnnExplorerApp(initial_model=initial_model, cache=cache, zoo_stats=zoo_stats, runs_dir=Path(runs_dir))
