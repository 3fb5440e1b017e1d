"""Cache files made to hurt (issue 21): an entry that names code, has edited figures, is
another model's, is malformed, nests 100,000 deep, is a named pipe or is too large. Each is a
miss: nothing is imported, the command prints exactly what ``--no-cache`` prints, and the
entry is written again. The same for torchvision's facts, published figures and names.
Also: ``cache clear`` on a folder that refuses it says so, and an unknown name is answered
from the stored name lists without torch."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cnnexplorer import disk_cache, zoo
from cnnexplorer.analysis import store
from cnnexplorer.analysis.cache import AnalysisCache
from cnnexplorer.zoo import resolve
from tests.kill_at_write import ForkServer
from tests.test_cache import entry_bytes, imported_modules

MODEL = "resnet20"  # one of our own models (CIFAR), quick to analyse
OTHER = "resnet32"
TORCHVISION_MODEL = "mobilenet_v3_small"
SUMMARY = ("summary", MODEL, "--format", "json")
TORCHVISION_SUMMARY = ("summary", TORCHVISION_MODEL, "--format", "json", "--depth", "1")
DEEP = b"[" * 100_000 + b"]" * 100_000
TORCHVISION_VERSION = disk_cache.package_version("torchvision")


@pytest.fixture(scope="module", autouse=True)
def fork_server(tmp_path_factory):
    """One tests/fork_cli.py server for the module's command lines: each runs in a forked child
    of an interpreter that imported torch once (a fresh process per command, without its seconds
    of imports). A command must leave no state behind in the server: the children are forks."""
    global _server
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    _server = ForkServer(env, tmp_path_factory.mktemp("fork") / "server.log")
    yield _server
    _server.close()


_server: ForkServer | None = None


def cli(cache: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """``cnnexplorer ARGS`` in a fresh (forked) process with ``cache`` as the cache folder; a
    hang fails the test."""
    return _server.run(list(args), env={disk_cache.CACHE_DIR_VARIABLE: str(cache), "COLUMNS": "80"}, timeout=timeout)


def entry_name(kind: str, key: dict) -> str:
    return disk_cache.entry_path(kind, key).name


TORCHVISION_KEY = {"model": TORCHVISION_MODEL, "torchvision": TORCHVISION_VERSION}
NAMES = entry_name("names", {"torchvision": TORCHVISION_VERSION})
FACTS = entry_name("torchvision", TORCHVISION_KEY)
WEIGHTS = entry_name("weights", TORCHVISION_KEY)


class Filled:
    """A cache folder holding the entries of MODEL, OTHER and TORCHVISION_MODEL (with
    torchvision's facts and published figures), and what ``--no-cache`` prints for each."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.analysis: dict[str, str] = {}  # model -> its analysis entry's file name
        self.expected: dict[tuple[str, ...], str] = {}
        for model, args in ((MODEL, SUMMARY), (OTHER, ("summary", OTHER)), (TORCHVISION_MODEL, TORCHVISION_SUMMARY)):
            fresh = cli(folder, *args, "--no-cache")
            assert fresh.returncode == 0 and fresh.stderr == "", fresh.stderr
            self.expected[args] = fresh.stdout
            before = set(os.listdir(folder)) if folder.exists() else set()
            assert cli(folder, *args).stdout == fresh.stdout
            (self.analysis[model],) = [n for n in set(os.listdir(folder)) - before if n.startswith("analysis-")]
        assert {FACTS, WEIGHTS} <= set(os.listdir(folder))

    def copy(self, to: Path) -> Path:
        shutil.copytree(self.folder, to)
        return to


@pytest.fixture(scope="module")
def filled(tmp_path_factory) -> Filled:
    return Filled(tmp_path_factory.mktemp("filled") / "cache")


def replace_with_pipe(path: Path) -> None:
    path.unlink(missing_ok=True)
    os.mkfifo(path)  # opening it to read would wait for a writer forever


def stored_json(path: Path) -> tuple[dict, dict]:
    """An entry file as JSON, and its document (where the layout keeps it)."""
    entry = json.loads(path.read_bytes())
    return entry, entry.get("document", entry)


def stored_key(entry: object) -> dict:
    """The key an entry was stored under (where its layout keeps it), {} where it has none."""
    if not isinstance(entry, dict):
        return {}
    return entry["key"] if "key" in entry else entry.get("cache", {}).get("key", {})


def forge(folder: Path, kind: str, key: dict, document: object, monkeypatch) -> None:
    """Write ``document`` for ``key`` as the cache itself writes entries (a matching digest):
    what only the reader's types and checks can refuse."""
    monkeypatch.setenv(disk_cache.CACHE_DIR_VARIABLE, str(folder))
    monkeypatch.setattr(disk_cache, "_enabled", True)
    assert disk_cache.save(kind, key, document)


def evil_module(tmp_path: Path) -> tuple[Path, Path]:
    """A model file that leaves a marker file when it is imported."""
    marker, evil = tmp_path / "imported", tmp_path / "evil.py"
    evil.write_text(f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\ndef f():\n    pass\n")
    return evil, marker


def assert_same_as_no_cache(filled: Filled, cache: Path, args: tuple[str, ...]) -> None:
    result = cli(cache, *args)
    assert (result.returncode, result.stderr) == (0, ""), result.stderr[-2000:]
    assert result.stdout == filled.expected[args]


# Analysis entries ---------------------------------------------------------------------------


def keep_layout_and_digest(path: Path, document: dict) -> None:
    """Put an edited ``document`` in an entry as the cache lays it out, keeping the entry's key
    and its digest: only the digest tells the edit."""
    data = path.read_bytes()
    head = data[: data.index(b',"document":') + len(b',"document":')]
    path.write_bytes(head + json.dumps(document, separators=(",", ":")).encode() + b"}")


def _named(document: dict, name: str) -> None:
    analysis = document["analysis"]
    analysis["request"]["model"] = name
    analysis["arch"] = {**dict.fromkeys(("family", "paper", "dataset", "description"), "x"), "year": 0}
    analysis["arch"].update(name=name, builder=name, input_size=[3, 32, 32], num_classes=10)


def _edited_totals(document: dict) -> None:
    document["analysis"]["totals"]["params"] += 1000


def _edited_layer(document: dict) -> None:
    first = document["analysis"]["root"]["children"][0]
    first["params"], first["macs"] = first["params"] * 2, first["macs"] * 2


@pytest.mark.parametrize("edit", [_edited_totals, _edited_layer], ids=["totals", "a layer"])
def test_an_edited_analysis_entry_is_a_miss_and_is_rewritten(edit, filled, tmp_path):
    cache = filled.copy(tmp_path / "cache")
    path = cache / filled.analysis[MODEL]
    original = path.read_bytes()
    _, document = stored_json(path)
    edit(document)
    keep_layout_and_digest(path, document)
    assert_same_as_no_cache(filled, cache, SUMMARY)
    assert path.read_bytes() == original  # written again


def test_another_models_entry_in_its_place_is_a_miss(filled, tmp_path):
    cache = filled.copy(tmp_path / "cache")
    (cache / filled.analysis[MODEL]).write_bytes((cache / filled.analysis[OTHER]).read_bytes())
    assert_same_as_no_cache(filled, cache, SUMMARY)


@pytest.mark.parametrize("forged", [False, True], ids=["edited", "with its digest"])
@pytest.mark.parametrize("name", ["this:s", "evil.py:f"])
def test_a_model_name_in_an_entry_is_never_imported(name, forged, filled, tmp_path, monkeypatch):
    evil, marker = evil_module(tmp_path)
    name = f"{evil}:f" if name == "evil.py:f" else name
    cache = filled.copy(tmp_path / "cache")
    path = cache / filled.analysis[MODEL]
    entry, document = stored_json(path)
    _named(document, name)
    if forged:
        forge(cache, store.KIND, stored_key(entry), document, monkeypatch)
    else:
        keep_layout_and_digest(path, document)
    assert_same_as_no_cache(filled, cache, SUMMARY)  # no Zen of Python in it
    assert not marker.exists()


HOSTILE_FILES = {
    "truncated": lambda path: path.write_bytes(path.read_bytes()[: path.stat().st_size // 2]),
    "not JSON": lambda path: path.write_bytes(b"\x00\xffnot json"),
    "an empty object": lambda path: path.write_bytes(b"{}"),
    "100,000 deep": lambda path: path.write_bytes(DEEP),
    "100,000 deep with its digest": None,  # needs the key: see _make_hostile
    "a named pipe": replace_with_pipe,
    "over the size limit": lambda path: path.write_bytes(path.read_bytes() + b" " * disk_cache.MAX_ENTRY_BYTES),
    "a folder": lambda path: (path.unlink(), path.mkdir()),
}


def _make_hostile(path: Path, how: str) -> None:
    if how == "100,000 deep with its digest":
        key = stored_key(json.loads(path.read_bytes()))
        path.write_bytes(entry_bytes(key, b'{"analysis":' + DEEP + b',"facts":' + DEEP + b"}"))
    else:
        HOSTILE_FILES[how](path)


@pytest.mark.parametrize("how", list(HOSTILE_FILES))
def test_a_hostile_analysis_entry_is_a_miss_and_is_rewritten(how, filled, tmp_path):
    cache = filled.copy(tmp_path / "cache")
    path = cache / filled.analysis[MODEL]
    original = path.read_bytes()
    _make_hostile(path, how)
    assert_same_as_no_cache(filled, cache, SUMMARY)
    if how != "a folder":  # a folder is not replaced by a file
        assert path.read_bytes() == original


# torchvision's facts, published figures and names --------------------------------------------


def _crop_64(path: Path) -> None:
    # mobilenet_v3_small's crop, 224, as 64: the summary would read "input 3x64x64 ... published ... 64x64"
    text, count = re.subn(r'("facts":\s*(?:\[|\{"crop":))224\b', r"\g<1>64", path.read_text())
    assert count == 1
    path.write_text(text)


def _better_accuracy(path: Path) -> None:
    text = path.read_text()
    assert text.count('"acc1":67.668') == 1
    path.write_text(text.replace('"acc1":67.668', '"acc1":99.9'))


@pytest.mark.parametrize(
    "file, edit", [(FACTS, _crop_64), (WEIGHTS, _better_accuracy)], ids=["torchvision's facts", "published figures"]
)
def test_edited_torchvision_figures_are_a_miss(file, edit, filled, tmp_path):
    cache = filled.copy(tmp_path / "cache")
    original = (cache / file).read_bytes()
    edit(cache / file)
    assert_same_as_no_cache(filled, cache, TORCHVISION_SUMMARY)
    assert (cache / file).read_bytes() == original  # written again


@pytest.mark.parametrize(
    "kind, document",
    [
        ("torchvision", {"facts": [224, "IMAGENET1K_V1", "", "1000"]}),
        ("torchvision", {"facts": [0, "IMAGENET1K_V1", "", 1000]}),
        ("torchvision", {"facts": {"crop": True, "weights": "IMAGENET1K_V1", "recipe": "", "classes": 1000}}),
        ("torchvision", {"facts": {"crop": -3, "weights": "IMAGENET1K_V1", "recipe": "", "classes": 1000}}),
        ("weights", {"weights": [{"weights": 5}]}),
        ("weights", {"weights": "IMAGENET1K_V1"}),
    ],
)
def test_malformed_torchvision_facts_are_a_miss(kind, document, filled, tmp_path, monkeypatch):
    cache = filled.copy(tmp_path / "cache")
    forge(cache, kind, TORCHVISION_KEY, document, monkeypatch)
    assert_same_as_no_cache(filled, cache, TORCHVISION_SUMMARY)


@pytest.mark.parametrize("how", ["not JSON", "100,000 deep", "100,000 deep with its digest", "a named pipe"])
def test_hostile_torchvision_files_are_a_miss(how, filled, tmp_path):
    cache = filled.copy(tmp_path / "cache")
    for file in (FACTS, WEIGHTS, NAMES):  # the summary reads all three
        if not (cache / file).exists():
            (cache / file).write_bytes(b"{}")
        _make_hostile(cache / file, how)
    assert_same_as_no_cache(filled, cache, TORCHVISION_SUMMARY)
    assert all((cache / file).is_file() for file in (FACTS, WEIGHTS, NAMES))  # written again


@pytest.fixture
def fresh_name_caches():
    """The process's memory of torchvision's names and facts, emptied before and after."""
    resolve.torchvision_names.cache_clear()
    resolve.torchvision_architecture.cache_clear()
    yield
    resolve.torchvision_names.cache_clear()
    resolve.torchvision_architecture.cache_clear()


@pytest.mark.parametrize("stored", [["{evil}:f"], ["this:s", "alexnet"], ["Resnet50"], []])
def test_a_stored_name_list_naming_code_is_refused(stored, tmp_path, monkeypatch, fresh_name_caches):
    # `list --all` and the app's zoo pass resolve every name of the list: a path or a
    # module:factory in it would import and run that code.
    evil, marker = evil_module(tmp_path)
    names = [name.format(evil=evil) for name in stored]
    forge(tmp_path / "cache", "names", {"torchvision": TORCHVISION_VERSION}, {"names": names}, monkeypatch)
    for name in zoo.all_names():  # what `list --all` resolves
        zoo.get(name)
    for name in zoo.more_names():  # what the app's zoo pass resolves
        resolve.resolve(name)
    assert not marker.exists()
    from torchvision import models

    assert zoo.more_names() == [n for n in sorted(models.list_models(module=models)) if n not in zoo.names()]


def test_a_stored_plain_name_torchvision_does_not_know_resolves_to_nothing(tmp_path, monkeypatch, fresh_name_caches):
    forge(tmp_path / "cache", "names", {"torchvision": TORCHVISION_VERSION}, {"names": ["not_a_model"]}, monkeypatch)
    assert zoo.more_names() == ["not_a_model"]  # a well-formed list with its digest: read as it is
    assert resolve.resolve("not_a_model") is None  # the app's zoo pass skips it


# The app ------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", [MODEL, TORCHVISION_MODEL])
@pytest.mark.parametrize("how", ["100,000 deep with its digest", "a named pipe"])
async def test_the_app_opens_a_model_past_hostile_entries_and_quits(
    how, model, filled, tmp_path, monkeypatch, analysis_of
):
    from cnnexplorer.app import make_app
    from tests.conftest import settle

    cache = filled.copy(tmp_path / "cache")
    for file in (filled.analysis[MODEL], filled.analysis[TORCHVISION_MODEL], FACTS, WEIGHTS, NAMES):
        if not (cache / file).exists():
            (cache / file).write_bytes(b"{}")
        _make_hostile(cache / file, how)
    monkeypatch.setenv(disk_cache.CACHE_DIR_VARIABLE, str(cache))
    monkeypatch.setattr(disk_cache, "_enabled", True)
    resolve.torchvision_names.cache_clear()
    resolve.torchvision_architecture.cache_clear()

    async def open_then_quit() -> int | None:
        app = make_app(model, cache=AnalysisCache(), zoo_stats=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            assert app.screen.analysis == analysis_of(model)
            await pilot.press("m")  # the zoo pane: the names list was read for its "more" rows
            await settle(pilot)
            await pilot.press("q")
            await pilot.pause()
        return app.return_code

    assert await asyncio.wait_for(open_then_quit(), timeout=240) == 0
    resolve.torchvision_names.cache_clear()
    resolve.torchvision_architecture.cache_clear()


# cache clear on a folder that refuses it ----------------------------------------------------


def _refuse_unlinking(folder: Path) -> bool:
    """Make removing files from ``folder`` fail, even for root; False where that cannot be done."""
    if os.geteuid() != 0:
        folder.chmod(0o500)
        return True
    attribute = subprocess.run(["chattr", "+i", str(folder)], capture_output=True)  # immutable: root is refused too
    return attribute.returncode == 0


def _allow_unlinking(folder: Path) -> None:
    if os.geteuid() != 0:
        folder.chmod(0o700)
    else:
        subprocess.run(["chattr", "-i", str(folder)], capture_output=True)


def test_cache_clear_says_what_it_could_not_remove_and_fails(filled, tmp_path):
    cache = filled.copy(tmp_path / "cache")
    before = sorted(os.listdir(cache))
    if shutil.which("chattr") is None or not _refuse_unlinking(cache):
        pytest.skip("cannot make a folder refuse unlinking here")
    try:
        result = cli(cache, "cache", "clear")
        assert sorted(os.listdir(cache)) == before  # the check is real: nothing could be removed
    finally:
        _allow_unlinking(cache)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"could not remove {len(before)} files from {cache}" in lines[0]
    assert ("Operation not permitted" if os.geteuid() == 0 else "Permission denied") in lines[0]
    assert cli(cache, "cache", "clear").returncode == 0 and os.listdir(cache) == []


# Unknown names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, suggested",
    [
        (("summary", "resnt50"), "resnet50"),
        (("summary", "mobilenet_v3_smal"), "mobilenet_v3_small"),
        (("diff", "vgg16", "vgg91"), "vgg19"),
    ],
)
def test_an_unknown_name_is_answered_from_the_stored_names_without_torch(args, suggested, filled, tmp_path):
    cache = filled.copy(tmp_path / "cache")
    first = cli(cache, *args)  # cold, where the names are not yet stored
    assert first.returncode == 2 and suggested in first.stderr
    env = {**os.environ, disk_cache.CACHE_DIR_VARIABLE: str(cache)}
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "cnnexplorer", *args], capture_output=True, text=True, env=env
    )
    assert result.returncode == 2
    assert [line for line in result.stderr.splitlines() if not line.startswith("import time:")] == [
        first.stderr.strip()
    ]
    assert not imported_modules(result.stderr) & {"torch", "torchvision"}
