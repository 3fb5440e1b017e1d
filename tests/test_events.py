"""The event-stream contract: writer, reader, schema."""

import io
import json
from pathlib import Path

import pytest

from cnnexplorer.runs import events
from cnnexplorer.runs.events import (
    EVENT_FIELDS,
    SCHEMA_VERSION,
    EventStreamError,
    EventWriter,
    iter_events,
    make_event,
    read_events,
)

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
    assert [e["event"] for e in tail.poll()] == ["step"]
    assert tail.poll() == []
    with open(path, "a") as stream:
        stream.write(second[15:])
    assert [e["event"] for e in tail.poll()] == ["done"]


def _line(event_type, **fields):
    return events.encode(make_event(event_type, **{**_sample(event_type), **fields})) + "\n"


# Lines that once made readers raise for the whole file (or the app crash): each is now one damaged line.
HOSTILE_LINES = {
    "not UTF-8": b'{"schema":1,"event":"step","x":"\xff"}\n',
    "nested 100,000 deep": b'{"schema":1,"event":"step","x":' + b"[" * 100_000 + b"]" * 100_000 + b"}\n",
    "a 5,000-digit integer": b'{"schema":1,"event":"step","step":' + b"9" * 5000 + b"}\n",
    "NaN": b'{"schema":1,"event":"step","time":1,"loss":NaN}\n',
    "a step that is text": b'{"schema":1,"event":"step","epoch":1,"step":"7","epoch_step":1}\n',
    "a config that is a list": b'{"schema":1,"event":"start","command":"train","config":[1]}\n',
    "epochs that are text": b'{"schema":1,"event":"start","command":"train","config":{"epochs":"4"}}\n',
    "a time of 1e999": b'{"schema":1,"event":"done","time":1e999,"status":"completed"}\n',
    "a summary whose steps are negative": b'{"schema":1,"event":"done","status":"completed","summary":{"steps":-1}}\n',
    "an array": b"[1, 2]\n",
    "a schema that is true": b'{"schema":true,"event":"done"}\n',
}


def test_lines_that_would_crash_a_reader_are_skipped_and_counted(tmp_path):
    path = tmp_path / "events.jsonl"
    good = _line("step", step=3).encode()
    path.write_bytes(good + b"".join(HOSTILE_LINES.values()) + good)
    log = events.read_event_log(path)
    assert [event["step"] for event in log.events] == [3, 3]
    assert log.damaged == list(range(2, 2 + len(HOSTILE_LINES)))
    assert read_events(path) == log.events


def test_a_tail_skips_and_counts_damaged_lines_and_reads_on(tmp_path):
    path = tmp_path / "events.jsonl"
    tail = events.EventTail(path)
    path.write_bytes(
        _line("step", step=1).encode() + HOSTILE_LINES["not UTF-8"] + HOSTILE_LINES["a 5,000-digit integer"]
    )
    assert [event["step"] for event in tail.poll()] == [1] and tail.damaged == 2
    with open(path, "ab") as stream:
        stream.write(_line("step", step=2).encode())
    assert [event["step"] for event in tail.poll()] == [2] and tail.damaged == 2


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
    assert [event["event"] for event in log.events] == ["step", "start"] and log.damaged == [2]
    assert path.read_text().endswith("\n")


def test_a_writer_whose_file_fails_raises_once_and_goes_on_with_its_stream(tmp_path):
    """/dev/full: every write fails with ENOSPC, as on a full disk."""
    import errno
    import os

    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    echo = io.StringIO()
    writer = EventWriter(Path("/dev/full"), echo)
    with pytest.raises(OSError) as raised:
        writer.emit("step", **_sample("step"))
    assert raised.value.errno == errno.ENOSPC and writer.write_error is raised.value
    writer.emit("done", status="failed", summary={})  # the file is dropped: the stream still tells
    writer.close()
    assert [json.loads(line)["event"] for line in echo.getvalue().splitlines()] == ["step", "done"]


def test_a_resumed_segment_supersedes_what_earlier_segments_logged_past_its_checkpoint():
    """Killed after step 5 with its checkpoint at step 3: the resume redoes steps 4 and 5."""
    first = [make_event("step", **{**_sample("step"), "step": step}) for step in (1, 2, 3, 4, 5)]
    checkpoint = make_event("checkpoint", path="last.pt", kind="last", epoch=1, step=3)
    resumed = make_event("start", **{**_sample("start"), "resumed_from": "last.pt", "start_step": 3})
    second = [make_event("step", **{**_sample("step"), "step": step}) for step in (4, 5, 6)]
    history = events.one_history([*first[:3], checkpoint, *first[3:], resumed, *second])
    steps = [event["step"] for event in history if event["event"] == "step"]
    assert steps == [1, 2, 3, 4, 5, 6]
    assert history[3]["event"] == "checkpoint" and history[4] is resumed
