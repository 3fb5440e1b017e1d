"""The disk cache of analyses: exact round trips, torch-free answers on a hit, and entries
that are damaged, foreign or unwritable costing a recomputation, never a crash or a wrong figure."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pathlib
import subprocess
import sys
import threading

import msgspec
import pytest

from cnnexplorer import disk_cache, zoo
from cnnexplorer.analysis import AnalysisRequest, store
from cnnexplorer.analysis.cache import AnalysisCache
from cnnexplorer.analysis.schema import to_dict
from cnnexplorer.cli import main
from cnnexplorer.diff import diff_analyses
from cnnexplorer.render import diff as render_diff
from cnnexplorer.render import summary as render_summary
from cnnexplorer.runs import atomic
from tests.conftest import CACHE_DIR, run_cli

SMALL = "resnet20"  # a model of our own (CIFAR), quick to analyse


def request_of(name: str) -> AnalysisRequest:
    return AnalysisRequest.of(name)


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    """An empty cache folder of this test's own (the session's stays as it is)."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(disk_cache.CACHE_DIR_VARIABLE, str(folder))
    monkeypatch.setattr(disk_cache, "_enabled", True)  # restored after a test that turns it off
    return folder


@pytest.fixture(scope="module")
def warm_cache():
    """The session's cache holding every zoo model at its own input (and torchvision's
    published figures, which storing an analysis reads, and resnet18's torchinfo figures)."""
    from cnnexplorer.analysis.torchinfo_view import torchinfo_figures
    from cnnexplorer.zoo.published import weights_of
    from tests.conftest import analysed

    weights_of.cache_clear()  # read and stored afresh: earlier tests may have read them into another folder
    for name in zoo.names():
        assert store.save(analysed(name))
    torchinfo_figures(analysed("resnet18").request)  # the summary table's torchinfo column, stored
    return CACHE_DIR


# Round trips -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", zoo.names())
def test_every_zoo_model_reads_back_equal_field_by_field(name, analysis_of, private_cache):
    analysis = analysis_of(name)
    assert store.save(analysis)
    loaded = store.load(analysis.request)
    assert loaded is not None and loaded is not analysis
    assert loaded == analysis  # dataclass equality over the whole tree, layers, totals and memory
    assert loaded.arch is analysis.arch
    in_tree = {id(node) for node in loaded.root.walk()}
    assert all(id(node) in in_tree for node in loaded.layers)  # the same objects as the tree's nodes
    text = store_path(analysis.request).read_text()
    assert set(json.loads(text)) == {"key", "digest", "document"}
    assert set(json.loads(text)["document"]) == {"analysis", "layers"}
    for node in analysis.root.walk():  # one encoding: every layer written once
        assert text.count(f'"path":{json.dumps(node.path)},') == 1, node.path


def store_path(request: AnalysisRequest):
    return disk_cache.entry_path(store.KIND, store.entry_key(request))


def entry_bytes(key: dict, document: bytes) -> bytes:
    """An entry as the README lays it out: the key, the sha256 of the key's canonical JSON, a
    newline and the document's bytes, and the document (what a forger who recomputes the digest writes)."""
    canonical = json.dumps(key, sort_keys=True, separators=(",", ":")).encode()
    digest = hashlib.sha256(canonical + b"\n" + document).hexdigest().encode()
    return b'{"key":' + canonical + b',"digest":"' + digest + b'","document":' + document + b"}"


def stored_document(request: AnalysisRequest) -> dict:
    """The document of ``request``'s entry, as JSON values."""
    return json.loads(store_path(request).read_bytes())["document"]


def store_document(request: AnalysisRequest, document: object) -> None:
    """Write ``document`` as ``request``'s entry with a matching digest: what only the types
    and checks of the reader can refuse."""
    data = json.dumps(document, separators=(",", ":")).encode()
    store_path(request).write_bytes(entry_bytes(store.entry_key(request), data))


# Torch-free answers on a hit -------------------------------------------------------------


def imported_modules(stderr: str) -> set[str]:
    """The modules ``python -X importtime`` reports."""
    return {line.rsplit("|", 1)[-1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


def run_without_torch(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "cnnexplorer", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "80"},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    modules = imported_modules(result.stderr)
    assert "cnnexplorer.cli" in modules  # the report is there
    assert not modules & {"torch", "torchvision", "torchinfo"}, sorted(modules & {"torch", "torchvision"})
    return result


@pytest.mark.parametrize("fmt", render_summary.FORMATS)
def test_summary_on_a_hit_never_imports_torch_and_prints_the_engines_figures(fmt, warm_cache, analysis_of):
    name = "alexnet-2012" if fmt == "course" else "resnet18"
    result = run_without_torch("summary", name, "--format", fmt)
    analysis = analysis_of(name)
    expected = {
        "json": render_summary.render_json,
        "csv": render_summary.render_csv,
        "md": render_summary.render_markdown,
        "course": lambda a, depth=None: render_summary.render_course(a),
    }.get(fmt)
    if expected is None:
        assert result.stdout.startswith("resnet18  input 3x224x224  batch 1  float32")
    else:
        assert result.stdout == expected(analysis, None)


def test_list_on_a_hit_never_imports_torch(warm_cache, analysis_of):
    result = run_without_torch("list", "--format", "json")
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert list(rows) == zoo.names()
    for name in ("densenet201", "googlenet", "resnet20"):
        assert (rows[name]["params"], rows[name]["macs"]) == (
            analysis_of(name).totals.params,
            analysis_of(name).totals.macs,
        )
    assert rows["resnet50"]["acc1"] == 76.13
    assert "vgg19_bn" in run_without_torch("list").stdout


def test_diff_on_a_hit_never_imports_torch(warm_cache, analysis_of):
    result = run_without_torch("diff", "vgg16", "vgg19", "--format", "json")
    assert result.stdout == render_diff.render_json(diff_analyses(analysis_of("vgg16"), analysis_of("vgg19")))
    run_without_torch("diff", "vgg16", "vgg19")


# Damaged, foreign and unwritable entries -------------------------------------------------


def stored_small(analysis_of):
    analysis = analysis_of(SMALL)
    assert store.save(analysis)
    return analysis, store_path(analysis.request)


def test_a_corrupt_entry_is_a_miss_and_is_recomputed_and_rewritten(private_cache, analysis_of):
    analysis, path = stored_small(analysis_of)
    path.write_bytes(b"\x00\xffnot json at all")
    assert store.load(analysis.request) is None
    assert store.analyze_cached(analysis.request) == analysis
    assert store.load(analysis.request) == analysis  # the entry was written again


def test_a_truncated_entry_is_a_miss(private_cache, analysis_of):
    analysis, path = stored_small(analysis_of)
    data = path.read_bytes()
    for length in (0, 1, len(data) // 2, len(data) - 1):
        path.write_bytes(data[:length])
        assert store.load(analysis.request) is None
        assert store.load_totals(analysis.request) is None


def _altered(document: dict, change: str) -> object:
    """The stored document with one thing off."""
    analysis, tree = document["analysis"], document["analysis"]["root"]
    if change == "a count as a string":
        tree["children"][0]["params"] = "464"
    elif change == "a count as true":
        analysis["totals"]["macs"] = True
    elif change == "a field missing":
        del analysis["totals"]["weight_layers"]
    elif change == "a tuple too short":
        tree["children"][0]["field"]["size"] = [3]  # a (height, width) pair
    elif change == "a layer outside the tree":
        document["layers"][-1] = len(document["layers"]) + 1000
    elif change == "a negative layer index":
        document["layers"][0] = -1
    elif change == "another batch":
        analysis["request"]["batch"] = 2
    elif change == "a request failing its checks":
        analysis["request"]["batch"] = 0
    elif change == "no analysis":
        return {"layers": document["layers"]}
    elif change == "a list":
        return [document]
    return document


@pytest.mark.parametrize(
    "change",
    [
        "a count as a string",
        "a count as true",
        "a field missing",
        "a tuple too short",
        "a layer outside the tree",
        "a negative layer index",
        "another batch",
        "a request failing its checks",
        "no analysis",
        "a list",
    ],
)
def test_an_entry_that_does_not_decode_as_the_results_types_is_a_miss(change, private_cache, analysis_of):
    analysis, path = stored_small(analysis_of)
    store_document(analysis.request, _altered(stored_document(analysis.request), change))
    assert store.load(analysis.request) is None
    assert store.analyze_cached(analysis.request) == analysis
    assert store.load(analysis.request) == analysis  # written again


def test_a_stored_total_of_the_wrong_type_is_no_total(private_cache, analysis_of):
    analysis, path = stored_small(analysis_of)
    assert store.load_totals(analysis.request) == (analysis.totals.params, analysis.totals.macs)
    document = stored_document(analysis.request)
    document["analysis"]["totals"]["params"] = 272474.0
    store_document(analysis.request, document)
    assert store.load_totals(analysis.request) is None


def test_an_entry_of_the_previous_format_reads_as_absent(private_cache, analysis_of):
    # What format 1 wrote: the summary JSON document, then the analysis field by field, its
    # layers as indices into the tree and its architecture by name.
    analysis = analysis_of(SMALL)
    index = {id(node): i for i, node in enumerate(analysis.root.walk())}
    fields = msgspec.to_builtins(dataclasses.replace(analysis, layers=[], arch=None))
    fields.update(layers=[index[id(node)] for node in analysis.layers], arch=analysis.arch.name)
    document = {**to_dict(analysis), "analysis": fields}
    key = store.entry_key(analysis.request)
    old_key = {**key, "format": 1}
    assert disk_cache.save(store.KIND, old_key, document)
    assert store.load(analysis.request) is None  # never looked for: the format is in the key
    assert store.load_totals(analysis.request) is None
    assert disk_cache.save(store.KIND, key, document)  # nor read under the current key
    assert store.load(analysis.request) is None


def test_a_stored_model_name_is_data_never_resolved(private_cache, analysis_of, tmp_path):
    # A model file that leaves a mark when imported: decoding an entry naming it must not import it.
    marker = tmp_path / "imported"
    evil = tmp_path / "evil.py"
    evil.write_text(f"import pathlib\npathlib.Path({str(marker)!r}).write_text('')\ndef net(): pass\n")
    analysis, path = stored_small(analysis_of)
    document = stored_document(analysis.request)
    document["analysis"]["arch"] = {
        **dataclasses.asdict(analysis.arch),
        "name": f"{evil}:net",
        "builder": f"{evil}:net",
    }
    store_document(analysis.request, document)
    loaded = store.load(analysis.request)
    assert loaded == analysis and loaded.arch is zoo.get(SMALL)  # the request's architecture, not the stored one
    document["analysis"]["request"]["model"] = f"{evil}:net"
    store_document(analysis.request, document)
    assert store.load(analysis.request) is None
    assert not marker.exists()


def test_an_entry_nested_too_deep_is_a_miss_not_a_recursion_error(private_cache, analysis_of):
    analysis, path = stored_small(analysis_of)
    key = store.entry_key(analysis.request)
    deep = b"[" * 100_000 + b"]" * 100_000
    for nested in (entry_bytes(key, b'{"analysis":' + deep + b"}"), entry_bytes(key, deep), deep):
        path.write_bytes(nested)
        assert store.load(analysis.request) is None
        assert store.load_totals(analysis.request) is None


def test_an_entry_over_the_size_limit_is_a_miss(private_cache, analysis_of, monkeypatch):
    analysis, path = stored_small(analysis_of)
    monkeypatch.setattr(disk_cache, "MAX_ENTRY_BYTES", path.stat().st_size)
    assert store.load(analysis.request) == analysis  # at the limit
    monkeypatch.setattr(disk_cache, "MAX_ENTRY_BYTES", path.stat().st_size - 1)
    assert store.load(analysis.request) is None
    assert store.load_totals(analysis.request) is None


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_an_entry_that_is_not_a_regular_file_is_a_miss_and_never_blocks(private_cache, analysis_of):
    analysis = analysis_of(SMALL)
    path = store_path(analysis.request)
    path.parent.mkdir(parents=True)
    os.mkfifo(path)  # opening a pipe to read would wait for a writer
    assert store.load(analysis.request) is None
    assert store.load_totals(analysis.request) is None


def test_an_entry_of_other_versions_is_never_read(private_cache, analysis_of, monkeypatch):
    analysis, path = stored_small(analysis_of)
    key = store.entry_key(analysis.request)
    key["versions"]["torch"] = "0.0.1"  # stored by another torch, under this name
    path.write_bytes(entry_bytes(key, json.dumps(stored_document(analysis.request)).encode()))
    assert store.load(analysis.request) is None
    assert store.save(analysis)
    monkeypatch.setattr(disk_cache, "package_version", lambda name: "99.0" if name == "torchvision" else "1.0")
    assert store.load(analysis.request) is None  # another torchvision looks under another name
    assert store_path(analysis.request) != path


def test_an_unreadable_entry_is_a_miss_and_storing_over_it_fails_quietly(private_cache, analysis_of):
    analysis = analysis_of(SMALL)
    path = store_path(analysis.request)
    path.mkdir(parents=True)  # a folder where the file should be: reading and replacing both fail
    assert store.load(analysis.request) is None
    assert not store.save(analysis)
    assert store.analyze_cached(analysis.request) == analysis
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind


def test_a_folder_that_cannot_be_created_leaves_the_cache_off(tmp_path, monkeypatch, analysis_of):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(disk_cache.CACHE_DIR_VARIABLE, str(blocker / "cache"))
    analysis = analysis_of(SMALL)
    assert not store.save(analysis)
    assert store.load(analysis.request) is None
    assert store.analyze_cached(analysis.request) == analysis
    assert disk_cache.usage() == {} and disk_cache.clear() == (0, 0, [])


def test_a_folder_refusing_new_files_leaves_the_cache_off(private_cache, analysis_of, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    private_cache.mkdir()
    # What a read-only folder does, even for root: the temporary file cannot be opened.
    monkeypatch.setattr(atomic, "open", refuse, raising=False)
    analysis = analysis_of(SMALL)
    assert not store.save(analysis)
    assert store.analyze_cached(analysis.request) == analysis
    assert list(private_cache.iterdir()) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a user whom permissions stop")
def test_a_read_only_folder_leaves_the_cache_off(private_cache, analysis_of):
    private_cache.mkdir()
    private_cache.chmod(0o500)
    try:
        analysis = analysis_of(SMALL)
        assert not store.save(analysis)
        assert store.analyze_cached(analysis.request) == analysis
    finally:
        private_cache.chmod(0o700)


def test_an_unwritable_cache_gives_the_same_answer_and_no_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = run_cli("summary", SMALL, "--format", "csv", env={disk_cache.CACHE_DIR_VARIABLE: str(blocker / "x")})
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.startswith("path,type,depth")


# Concurrency -----------------------------------------------------------------------------


def test_two_processes_filling_the_same_entry_leave_one_valid_entry(private_cache, analysis_of):
    command = [sys.executable, "-m", "cnnexplorer", "summary", SMALL, "--format", "json"]
    env = {**os.environ, disk_cache.CACHE_DIR_VARIABLE: str(private_cache)}
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) for _ in range(2)]
    outputs = [process.communicate(timeout=300) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    assert outputs[0][0] == outputs[1][0]
    analysis = analysis_of(SMALL)
    assert [path.name for path in disk_cache.files()] == [store_path(analysis.request).name]  # no temporaries
    assert store.load(analysis.request) == analysis


def test_threads_writing_and_reading_one_entry_see_it_whole_or_not_at_all(private_cache, analysis_of):
    analysis = analysis_of(SMALL)
    seen = []

    def write() -> None:
        for _ in range(10):
            assert store.save(analysis)

    def read() -> None:
        for _ in range(30):
            seen.append(store.load(analysis.request))

    threads = [threading.Thread(target=work) for work in (write, write, read, read)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(found is None or found == analysis for found in seen)
    assert len(disk_cache.files()) == 1


# The key, the folder and the command -----------------------------------------------------


def test_the_key_holds_the_request_our_model_sources_and_the_versions():
    key = store.entry_key(AnalysisRequest.of(SMALL, (3, 64, 64), 8, "bfloat16"))
    assert (key["model"], key["input"], key["batch"], key["dtype"]) == (SMALL, [3, 64, 64], 8, "bfloat16")
    source = pathlib.Path(zoo.registry.__file__).with_name("cifar_resnet.py").read_bytes()
    expected = hashlib.sha256(b"cifar_resnet.py\0" + source + b"\0").hexdigest()
    assert key["architecture"]["source"] == expected
    assert key["architecture"]["builder_kwargs"] == {"depth": 20}
    assert store.entry_key(request_of("resnet50"))["architecture"]["source"] is None  # torchvision's version covers it
    assert set(key["versions"]) == {"cnnexplorer", "torch", "torchvision", "torchinfo"}
    assert all(key["versions"].values())
    assert store.entry_key(request_of(SMALL)) != store.entry_key(AnalysisRequest.of(SMALL, batch=2))


def test_the_folder_follows_the_variable_then_xdg_then_home(monkeypatch, tmp_path):
    monkeypatch.setenv(disk_cache.CACHE_DIR_VARIABLE, str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert disk_cache.cache_dir() == tmp_path / "mine"
    monkeypatch.delenv(disk_cache.CACHE_DIR_VARIABLE)
    assert disk_cache.cache_dir() == tmp_path / "xdg" / "cnnexplorer"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")  # the XDG spec: only absolute paths count
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert disk_cache.cache_dir() == tmp_path / "home" / ".cache" / "cnnexplorer"


def test_no_cache_neither_reads_nor_writes(private_cache, analysis_of, capsys):
    assert main(["summary", SMALL, "--format", "json", "--no-cache"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(render_summary.render_json(analysis_of(SMALL)))
    assert not private_cache.exists() or disk_cache.files() == []
    disk_cache.set_enabled(True)
    stored_small(analysis_of)
    store_path(analysis_of(SMALL).request).write_text("{}")  # a damaged entry that --no-cache must not even read
    assert main(["--no-cache", "summary", SMALL, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["totals"]["params"] == analysis_of(SMALL).totals.params


def test_the_cache_command_shows_the_folder_and_clears_only_its_own_files(private_cache, analysis_of, capsys):
    stored_small(analysis_of)
    (private_cache / "notes.txt").write_text("the user's own file")
    (private_cache / f".analysis-{'0' * 64}.abc.tmp").write_text("a killed writer's leftover")
    assert main(["cache"]) == 0
    shown = capsys.readouterr().out
    assert str(private_cache) in shown and "1 analysis" in shown and "1 unfinished write," in shown
    assert main(["cache", "clear"]) == 0
    assert "removed 2 files" in capsys.readouterr().out
    assert [path.name for path in private_cache.iterdir()] == ["notes.txt"]
    assert main(["cache"]) == 0
    assert "empty" in capsys.readouterr().out


# The app ---------------------------------------------------------------------------------


async def test_the_app_shows_stored_analyses_without_running_the_engine(warm_cache, analysis_of, monkeypatch):
    from cnnexplorer.analysis import engine
    from cnnexplorer.app import make_app
    from tests.conftest import settle

    def refuse(request):
        raise AssertionError(f"the engine ran for {request.model}")

    monkeypatch.setattr(engine, "analyze", refuse)
    app = make_app("densenet121", cache=AnalysisCache(), zoo_stats=True)
    async with app.run_test(size=(130, 40)) as pilot:
        await settle(pilot)
        explorer = app.screen
        assert explorer.analysis == analysis_of("densenet121")
        # the zoo first; then any other model the disk cache holds (the "more" rows)
        assert list(explorer.zoo_rows)[: len(zoo.names())] == zoo.names()
        assert explorer.zoo_rows["googlenet"].macs == analysis_of("googlenet").totals.macs
