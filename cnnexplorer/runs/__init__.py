"""The life of a training or evaluation run, free of torch and Textual: its event stream
(:mod:`~cnnexplorer.runs.events`), the state folded from it (:mod:`~cnnexplorer.runs.state`),
the run folder, its lock and its durable writes (:mod:`~cnnexplorer.runs.rundir`,
:mod:`~cnnexplorer.runs.atomic`), the jobs the app starts (:mod:`~cnnexplorer.runs.jobs`)
and the progress lines a run prints (:mod:`~cnnexplorer.runs.progress`).

Nothing here imports :mod:`cnnexplorer.train`: training writes runs, this package reads and
manages them, and the app reaches runs through it alone.
"""
