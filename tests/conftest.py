import atexit
import functools
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import pytest
import pytest_textual_snapshot
from filelock import FileLock

from cnnexplorer.analysis import AnalysisRequest, analyze
from tests.train_shapes import TRAIN_ARGS, only_run_dir, write_shapes

# The disk cache (cnnexplorer.disk_cache): one empty folder for the whole session, inherited
# by every subprocess, so that tests never read or fill the user's cache nor see an entry
# left by another run.
CACHE_DIR = tempfile.mkdtemp(prefix="cnnexplorer-test-cache-")
os.environ["CNNEXPLORER_CACHE_DIR"] = CACHE_DIR
atexit.register(shutil.rmtree, CACHE_DIR, ignore_errors=True)
# The app's settings (cnnexplorer.settings) likewise: never the user's; a test that needs a
# settings file of its own points CNNEXPLORER_CONFIG_DIR at its tmp_path (monkeypatch.setenv).
CONFIG_DIR = tempfile.mkdtemp(prefix="cnnexplorer-test-config-")
os.environ["CNNEXPLORER_CONFIG_DIR"] = CONFIG_DIR
atexit.register(shutil.rmtree, CONFIG_DIR, ignore_errors=True)


@pytest.fixture(autouse=True)
def own_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no settings: what one test's app remembers (the zoo shown, a
    form's last values) never reaches another's."""
    monkeypatch.setenv("CNNEXPLORER_CONFIG_DIR", tempfile.mkdtemp(dir=CONFIG_DIR))


# Under pytest-xdist every core runs a worker: one torch thread each, as the child processes
# the tests start have (OMP_NUM_THREADS=1 in tests/train_shapes.py), so that the workers'
# in-process training does not oversubscribe the cores.
if os.environ.get("PYTEST_XDIST_WORKER") is not None:
    import torch

    torch.set_num_threads(1)


# The subprocess tier: modules whose tests train or evaluate models end to end (most of them
# in child processes or under torchrun), and single tests elsewhere that do. They are marked
# `slow`; `pytest -m "not slow"` runs the rest in a fraction of the time.
SLOW_MODULES = {
    "test_checkpoint_kills.py",
    "test_jobs_app.py",
    "test_run_safety.py",
    "test_train_ddp.py",
    "test_train_faults.py",
    "test_train_learning.py",
    "test_train_precision.py",
    "test_train_resume.py",
}
SLOW_TESTS = {
    "test_a_user_model_trains_a_few_steps_with_the_generic_recipe",
    "test_a_headless_run_is_stopped_from_the_app_resumably",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in SLOW_MODULES or item.originalname in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)


@functools.cache
def analysed(name: str, input_size: tuple[int, int, int] | None = None, batch: int = 1, dtype: str = "float32"):
    """Analyses are deterministic: share them across tests."""
    return analyze(AnalysisRequest.of(name, input_size, batch, dtype))


@pytest.fixture
def analysis_of():
    return analysed


# Snapshots live in the top-level snapshots/ folder, one sub-folder per test module.
SNAPSHOTS = pathlib.Path(__file__).resolve().parent.parent / "snapshots"


class TopLevelSVGExtension(pytest_textual_snapshot.SVGImageExtension):
    @classmethod
    def dirname(cls, *, test_location) -> str:
        return str(SNAPSHOTS / test_location.basename)


pytest_textual_snapshot.SVGImageExtension = TopLevelSVGExtension


@pytest.fixture(scope="session")
def shared_cache():
    """One analysis cache for every app a test starts (analyses are deterministic)."""
    from cnnexplorer.analysis.cache import AnalysisCache

    return AnalysisCache(capacity=256)


async def settle(pilot) -> None:
    """Wait until every worker (and every worker they start) has finished and painted."""
    for _ in range(200):
        await pilot.pause()
        if not pilot.app.explorer.is_busy and not any(w.is_running for w in pilot.app.workers):
            break
        await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.05)
    await pilot.pause()


async def wait_for_screen(pilot, screen_type) -> None:
    """Wait (up to 5 s) until the screen in front is a ``screen_type``, e.g. after a worker opens it."""
    for _ in range(100):
        await pilot.pause(0.05)
        if isinstance(pilot.app.screen, screen_type):
            return


def run_cli(*args: str, env: dict | None = None):
    """``python -m cnnexplorer ARGS`` as a user runs it, in an 80-column terminal."""
    environment = {**os.environ, "COLUMNS": "80", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "cnnexplorer", *args], capture_output=True, text=True, env=environment, timeout=300
    )


@pytest.fixture(scope="module")
def fork_server(tmp_path_factory: pytest.TempPathFactory):
    """A fork server (tests/fork_cli.py) for a test module's command lines, one torch thread
    in each: ``fork_server.run(argv)``."""
    from tests.kill_at_write import ForkServer

    forks = ForkServer({**os.environ, "OMP_NUM_THREADS": "1"}, tmp_path_factory.mktemp("fork") / "server.log")
    yield forks
    forks.close()


def assert_usage_error(result, needle: str) -> None:
    """Bad input: exit code 2 and one line on stderr that says what was wrong, no traceback."""
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert needle in lines[0]
    assert "Traceback" not in result.stderr


def made_once(tmp_path_factory: pytest.TempPathFactory, name: str, make) -> pathlib.Path:
    """The folder ``make(folder)`` fills, made once per test session: under pytest-xdist the
    first worker makes it in the session's shared temporary folder and the others wait for it
    and read it (a session-scoped fixture alone runs once per worker)."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        folder = tmp_path_factory.mktemp(name)
        make(folder)
        return folder
    shared = tmp_path_factory.getbasetemp().parent  # this session's, above every worker's own
    folder, done = shared / name, shared / f"{name}.done"
    with FileLock(str(shared / f"{name}.lock")):
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # what a worker that failed half-way left
            folder.mkdir()
            make(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def shapes_dir(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """The shapes data set (tests/train_shapes.py) in the ImageFolder layout."""
    return made_once(tmp_path_factory, "shapes", write_shapes)


@pytest.fixture(scope="session")
def trained_run(shapes_dir: pathlib.Path, tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """resnet20 trained for 6 epochs on the shapes (in-process, once per session); its run
    folder, which tests only read."""
    from cnnexplorer.cli import main

    def train(output: pathlib.Path) -> None:
        argv = ["train", "resnet20", "--data", str(shapes_dir), "--epochs", "6", "--output", str(output), *TRAIN_ARGS]
        assert main(argv) == 0

    return only_run_dir(made_once(tmp_path_factory, "trained-run", train))


LR_RUN = ["resnet20", "--dataset", "fake", "--fake-size", "64", "--image-size", "8", "--batch-size", "16"]
LR_RUN += ["--epochs", "2", "--max-steps", "8", "--log-every", "1", "--device", "cpu", "--workers", "0", "--seed", "1"]


@pytest.fixture(scope="session")
def lr_runs(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """Two short runs of resnet20 on synthetic data (4 steps an epoch, 2 epochs) that differ
    only in --lr: 0.05, and 0.02 stopped at step 3 then resumed to its end; each written live
    to TensorBoard too (in-process, once per session). Their runs folder (its sibling ``tb``
    holds the TensorBoard files), which tests only read."""
    from cnnexplorer.cli import main

    def train(folder: pathlib.Path) -> None:
        runs, board = str(folder / "runs"), str(folder / "tb")
        assert main(["train", *LR_RUN, "--lr", "0.05", "--output", runs, "--tensorboard", board]) == 0
        first = set((folder / "runs").iterdir())
        stop = ["--max-steps", "3", "--lr", "0.02", "--output", runs, "--tensorboard", board]
        assert main(["train", *LR_RUN, *stop]) == 0
        (stopped,) = set((folder / "runs").iterdir()) - first
        assert main(["train", "resnet20", "--resume", str(stopped), "--max-steps", "8", "--tensorboard", board]) == 0

    return made_once(tmp_path_factory, "lr-runs", train) / "runs"
