"""The event-stream contract: writer, reader, schema."""

import io
import json

import pytest

from cnnexplorer import events
from cnnexplorer.events import (
    EVENT_FIELDS,
    SCHEMA_VERSION,
    EventStreamError,
    EventWriter,
    iter_events,
    make_event,
    read_events,
)


def _sample(event_type):
    return {name: 1 for name in EVENT_FIELDS[event_type]}


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


def test_reader_skips_a_half_written_last_line_but_not_a_broken_middle_one():
    good = events.encode(make_event("done", status="completed", summary={})) + "\n"
    assert len(list(iter_events(io.StringIO(good + good[:20])))) == 1
    with pytest.raises(EventStreamError, match="line 2"):
        list(iter_events(io.StringIO(good + "{oops\n" + good)))


def test_reader_refuses_another_schema_version():
    line = json.dumps({"schema": SCHEMA_VERSION + 1, "event": "done", "time": 0}) + "\n"
    with pytest.raises(EventStreamError, match="schema"):
        list(iter_events(io.StringIO(line)))


def test_a_writer_without_targets_writes_nothing(tmp_path):
    writer = EventWriter()
    assert writer.emit("done", status="completed", summary={})["event"] == "done"
    writer.close()
    assert not list(tmp_path.iterdir())


def test_events_module_does_not_import_torch_or_textual():
    import subprocess
    import sys

    code = "import sys, cnnexplorer.events; print('torch' in sys.modules, 'textual' in sys.modules)"
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
