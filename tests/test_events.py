"""The event-stream contract: writer, reader, schema."""

import io
import json
from pathlib import Path

import pytest

from cnnexplorer.runs import events
from cnnexplorer.runs.events import (
    EVENT_FIELDS,
    SCHEMA_VERSION,
    Done,
    EventStreamError,
    EventWriter,
    Start,
    Step,
    iter_events,
    make_event,
    parse_event,
    read_events,
)
from tests.small_disk import file_size_limit, small_disk

_SAMPLE_VALUES = {"config": {"epochs": 1}, "dataset": {}, "summary": {}, "devices": ["cpu"], "message": "m"}
_TEXT_FIELDS = {"command", "model", "family", "device", "run_dir", "resumed_from", "path", "kind", "status"}


def _sample(event_type):
    """Each field of the type with a value of its type."""
    return {name: _SAMPLE_VALUES.get(name, "x" if name in _TEXT_FIELDS else 1) for name in EVENT_FIELDS[event_type]}


def test_every_event_type_round_trips_through_file_and_echo(tmp_path):
    path = tmp_path / "events.jsonl"
    echo = io.StringIO()
    with EventWriter(path, echo) as writer:
        for event_type in EVENT_FIELDS:
            writer.emit(event_type, **_sample(event_type))
    read = read_events(path)
    assert [e["event"] for e in read] == list(EVENT_FIELDS)
    assert all(e["schema"] == SCHEMA_VERSION and isinstance(e["time"], float) for e in read)
    assert echo.getvalue() == path.read_text()
    for event in read:
        assert set(EVENT_FIELDS[event["event"]]) <= set(event)
    assert [event.event for event in events.read_event_log(path).events] == list(EVENT_FIELDS)


def test_a_reader_gets_typed_events_and_the_dicts_keep_what_the_classes_leave_out(tmp_path):
    path = tmp_path / "events.jsonl"
    with EventWriter(path) as writer:
        writer.emit("start", **{**_sample("start"), "config": {"epochs": 4, "lr": 0.1}}, precision="bf16")
        writer.emit("done", status="completed", summary={"steps": 8, "last_val": {"top1": 50.0}, "seconds": 1.5})
    start, done = events.read_event_log(path).events
    assert isinstance(start, Start) and (start.command, start.config.epochs, start.config.max_steps) == ("x", 4, None)
    assert isinstance(done, Done) and (done.summary.steps, done.summary.last_val.top1) == (8, 50.0)
    start_record, done_record = read_events(path)
    assert start_record["config"] == {"epochs": 4, "lr": 0.1} and start_record["precision"] == "bf16"
    assert done_record["summary"]["seconds"] == 1.5


def test_paths_and_float_subclasses_are_written_as_text_and_numbers():
    class Float(float):
        pass

    line = events.encode(make_event("checkpoint", path=Path("x/last.pt"), kind="last", epoch=1, step=Float(2.0)))
    assert json.loads(line)["path"] == "x/last.pt" and json.loads(line)["step"] == 2.0


def test_missing_fields_and_unknown_types_are_refused():
    with pytest.raises(ValueError, match="lacks"):
        make_event("val", epoch=1)
    with pytest.raises(ValueError, match="unknown"):
        make_event("progress")


def test_non_finite_floats_become_null_so_every_line_is_strict_json(tmp_path):
    path = tmp_path / "e.jsonl"
    with EventWriter(path) as writer:
        writer.emit("error", kind="nonfinite_loss", message="m", loss=float("nan"), nested={"x": [float("inf")]})
    line = path.read_text().splitlines()[0]
    record = json.loads(line)  # the default parser would also accept NaN: check the text
    assert "NaN" not in line and "Infinity" not in line
    assert record["loss"] is None and record["nested"] == {"x": [None]}


def test_reader_leaves_out_a_half_written_last_line_and_skips_and_counts_a_broken_middle_one():
    good = events.encode(make_event("done", status="completed", summary={})) + "\n"
    damaged = []
    assert len(list(iter_events(io.StringIO(good + good[:20]), damaged=damaged))) == 1
    assert damaged == []  # a write in progress, not damage
    assert len(list(iter_events(io.StringIO(good + "{oops\n" + good), damaged=damaged))) == 2
    assert damaged == [2]


def test_another_schema_version_is_a_damaged_line():
    line = json.dumps({"schema": SCHEMA_VERSION + 1, "event": "done", "time": 0}) + "\n"
    with pytest.raises(EventStreamError, match="schema"):
        events.parse_event(line)
    damaged = []
    assert list(iter_events(io.StringIO(line), damaged=damaged)) == [] and damaged == [1]


def test_a_writer_without_targets_writes_nothing(tmp_path):
    writer = EventWriter()
    assert writer.emit("done", status="completed", summary={})["event"] == "done"
    writer.close()
    assert not list(tmp_path.iterdir())


def test_events_module_does_not_import_torch_or_textual():
    import subprocess
    import sys

    code = "import sys, cnnexplorer.runs.events; print('torch' in sys.modules, 'textual' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.split() == [
        "False",
        "False",
    ]


def test_tail_returns_only_new_complete_events(tmp_path):
    path = tmp_path / "events.jsonl"
    tail = events.EventTail(path)
    assert tail.poll() == []  # no file yet
    first = events.encode(make_event("step", **_sample("step"))) + "\n"
    second = events.encode(make_event("done", status="completed", summary={})) + "\n"
    path.write_text(first + second[:15])
    assert [e.event for e in tail.poll()] == ["step"]
    assert tail.poll() == []
    with open(path, "a") as stream:
        stream.write(second[15:])
    assert [e.event for e in tail.poll()] == ["done"]


def _line(event_type, **fields):
    return events.encode(make_event(event_type, **{**_sample(event_type), **fields})) + "\n"


def _step_line(**raw):
    """A whole step event's line, with the JSON text of some fields replaced (or added; None: left out)."""
    fields = {"schema": b"1", "event": b'"step"', "time": b"1", "epoch": b"1", "step": b"3", "epoch_step": b"1"}
    fields |= {"steps_per_epoch": b"2", "loss": b"2.0", "lr": b"0.1", "img_per_s": b"10.0", "data_time": b"0.0"}
    fields |= raw
    text = b",".join(b'"%s":%s' % (name.encode(), value) for name, value in fields.items() if value is not None)
    return b"{" + text + b"}\n"


# Lines that once made readers raise for the whole file (or the app crash), and lines that
# lack a field or have one of the wrong type: each is one damaged line.
HOSTILE_LINES = {
    "not UTF-8": _step_line(x=b'"\xff"'),
    "nested 100,000 deep": _step_line(x=b"[" * 100_000 + b"]" * 100_000),
    "a 5,000-digit integer": _step_line(step=b"9" * 5000),
    "NaN": _step_line(loss=b"NaN"),
    "a step that is text": _step_line(step=b'"7"'),
    "a step without its epoch": _step_line(epoch=None),
    "an unknown type": _step_line(event=b'"progress"'),
    "a config that is a list": _line("start", config=[1]).encode(),
    "epochs that are text": _line("start", config={"epochs": "4"}).encode(),
    "a time of 1e999": _step_line(time=b"1e999"),
    "a summary whose steps are negative": _line("done", summary={"steps": -1}).encode(),
    "an array": b"[1, 2]\n",
    "a schema that is true": _step_line(schema=b"true"),
}


def test_lines_that_would_crash_a_reader_are_skipped_and_counted(tmp_path):
    path = tmp_path / "events.jsonl"
    good = _line("step", step=3).encode()
    path.write_bytes(good + b"".join(HOSTILE_LINES.values()) + good)
    log = events.read_event_log(path)
    assert [event.step for event in log.events] == [3, 3]
    assert log.damaged == list(range(2, 2 + len(HOSTILE_LINES)))
    assert [event["step"] for event in read_events(path)] == [3, 3]


def test_a_tail_skips_and_counts_damaged_lines_and_reads_on(tmp_path):
    path = tmp_path / "events.jsonl"
    tail = events.EventTail(path)
    path.write_bytes(
        _line("step", step=1).encode() + HOSTILE_LINES["not UTF-8"] + HOSTILE_LINES["a 5,000-digit integer"]
    )
    assert [event.step for event in tail.poll()] == [1] and tail.damaged == 2
    with open(path, "ab") as stream:
        stream.write(_line("step", step=2).encode())
    assert [event.step for event in tail.poll()] == [2] and tail.damaged == 2


def test_a_named_pipe_called_events_jsonl_is_refused_not_waited_on(tmp_path):
    import os

    path = tmp_path / "events.jsonl"
    os.mkfifo(path)
    with pytest.raises(OSError, match="not a regular file"):
        events.EventTail(path).poll()
    with pytest.raises(OSError, match="not a regular file"):
        read_events(path)


def test_a_writer_ends_a_torn_last_line_before_it_appends(tmp_path):
    """A crash mid-line, then a resume appending its start: the torn line stays one damaged line."""
    path = tmp_path / "events.jsonl"
    first = _line("step", step=1)
    path.write_text(first + _line("step", step=2)[:25])
    with EventWriter(path) as writer:
        writer.emit("start", **_sample("start"))
    log = events.read_event_log(path)
    assert [event.event for event in log.events] == ["step", "start"] and log.damaged == [2]
    assert path.read_text().endswith("\n")


def test_a_writer_whose_file_fails_raises_once_and_goes_on_with_its_stream(tmp_path):
    """A real full disk (a 64 kB tmpfs filled up): the write fails with ENOSPC."""
    import errno

    with small_disk(tmp_path / "disk") as disk:
        (disk / "filler").write_bytes(b"x" * 60_000)  # what is left is less than a page
        echo = io.StringIO()
        writer = EventWriter(disk / "events.jsonl", echo)
        with pytest.raises(OSError) as raised:
            writer.emit("step", **_sample("step") | {"lr": "x" * 8192})  # more than a page
        assert raised.value.errno == errno.ENOSPC and writer.write_error is raised.value
        writer.emit("done", status="failed", summary={})  # the file is dropped: the stream still tells
        writer.close()
    assert [json.loads(line)["event"] for line in echo.getvalue().splitlines()] == ["step", "done"]


_WRITE_PAST_THE_LIMIT = """
import io, json, sys
from cnnexplorer.runs.events import EventWriter

echo, raised = io.StringIO(), None
writer = EventWriter(sys.argv[1], echo)
try:
    writer.emit("step", **json.loads(sys.argv[2]))
except OSError as error:
    raised = error
writer.emit("done", status="failed", summary={})
writer.close()
lines = echo.getvalue().splitlines()
print(json.dumps([raised and raised.errno, str(raised), writer.write_error is raised, lines]))
"""


def test_a_writer_whose_file_hits_the_file_size_limit_raises_once_and_goes_on_with_its_stream(tmp_path):
    """No root needed: a child process limited to 4 kB files (RLIMIT_FSIZE) gets EFBIG from the kernel."""
    import errno
    import subprocess
    import sys

    step = json.dumps(_sample("step") | {"lr": "x" * 8192})  # a line of more than 4 kB
    argv = [sys.executable, "-c", _WRITE_PAST_THE_LIMIT, str(tmp_path / "events.jsonl"), step]
    child = subprocess.run(argv, capture_output=True, text=True, preexec_fn=file_size_limit(4096), timeout=60)
    assert child.returncode == 0, child.stderr
    number, message, kept, echoed = json.loads(child.stdout)
    assert number == errno.EFBIG and kept and len(message.splitlines()) == 1, message
    assert [json.loads(line)["event"] for line in echoed] == ["step", "done"]
    assert (tmp_path / "events.jsonl").stat().st_size <= 4096


def test_a_named_pipe_or_a_folder_as_events_file_is_refused_without_blocking(tmp_path):
    import os
    import threading

    fifo = tmp_path / "events.jsonl"
    os.mkfifo(fifo)
    refusals = []

    def open_them():
        for path in (fifo, tmp_path):
            for opening in (EventWriter, events.read_event_log, lambda path: events.EventTail(path).poll()):
                try:
                    opening(path)
                except OSError as error:
                    refusals.append(error.strerror)

    opener = threading.Thread(target=open_them, daemon=True)
    opener.start()
    opener.join(timeout=30)
    assert not opener.is_alive(), "waited on the named pipe"
    assert refusals == ["not a regular file"] * 6


def test_a_resumed_segment_supersedes_what_earlier_segments_logged_past_its_checkpoint():
    """Killed after step 5 with its checkpoint at step 3: the resume redoes steps 4 and 5."""
    first = [parse_event(_line("step", step=step)) for step in (1, 2, 3, 4, 5)]
    checkpoint = parse_event(_line("checkpoint", path="last.pt", kind="last", epoch=1, step=3))
    resumed = parse_event(_line("start", resumed_from="last.pt", start_step=3))
    second = [parse_event(_line("step", step=step)) for step in (4, 5, 6)]
    history = events.one_history([*first[:3], checkpoint, *first[3:], resumed, *second])
    steps = [event.step for event in history if isinstance(event, Step)]
    assert steps == [1, 2, 3, 4, 5, 6]
    assert history[3].event == "checkpoint" and history[4] is resumed


@pytest.mark.parametrize(
    ("summary", "best"),
    [({"top1": 50.0}, 50.0), ({"best_top1": None, "top1": 50.0}, None), ({"best_top1": 40.0, "top1": 50.0}, 40.0)],
    ids=["eval-top1-is-the-best", "train-without-a-val", "train-best"],
)
def test_a_done_summary_stands_in_for_the_best_only_where_it_has_no_best(summary, best):
    from cnnexplorer.runs.state import fold

    done = {"schema": 1, "event": "done", "time": 0, "status": "completed", "summary": summary}
    assert fold([parse_event(json.dumps(done))]).best_top1 == best
