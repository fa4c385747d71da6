"""Unit tests for g6app.sse: the SSE wire format, byte for byte."""

from __future__ import annotations

import json

import pytest

from g6app.sse import CONTENT_TYPE, compact_json, encode_comment, encode_event, encode_retry


def test_sse_event_fields_in_order():
    """event, id, retry, data and a blank line, in that order, with compact JSON."""
    blob = encode_event("panel_update", {"a": 1, "b": [1, 2]}, "abc123", 2500)
    assert blob == b'event: panel_update\nid: abc123\nretry: 2500\ndata: {"a":1,"b":[1,2]}\n\n'


def test_sse_event_without_id_or_retry():
    """An event without id or retry has no such lines at all."""
    assert encode_event("hello", {"x": None}) == b'event: hello\ndata: {"x":null}\n\n'


def test_sse_event_keeps_utf8():
    """Non-ASCII text goes out as UTF-8, not as \\u escapes."""
    blob = encode_event("e", {"dash": "\u2014", "rupee": "\u20b9"})
    assert "\u2014".encode() in blob and "\u20b9".encode() in blob
    assert b"\\u" not in blob


def test_sse_event_newline_in_string_stays_one_data_line():
    """A newline inside a string is escaped, so the data is one line and round-trips."""
    blob = encode_event("e", {"text": "line1\nline2\r\nline3"})
    lines = blob.split(b"\n")
    assert lines == [b"event: e", b'data: {"text":"line1\\nline2\\r\\nline3"}', b"", b""]
    assert json.loads(lines[1][len(b"data: "):]) == {"text": "line1\nline2\r\nline3"}


@pytest.mark.parametrize("bad_id", ["a\nb", "a\rb"])
def test_sse_event_id_with_newline_refused(bad_id):
    """An id that would break the framing is refused, not sent."""
    with pytest.raises(ValueError):
        encode_event("e", {}, bad_id)


def test_sse_event_name_with_newline_refused():
    """An event name that would inject a field is refused."""
    with pytest.raises(ValueError):
        encode_event("e\ndata: x", {})


def test_sse_event_nan_refused():
    """NaN is not JSON, so it is refused rather than sent as a bare token."""
    with pytest.raises(ValueError):
        encode_event("e", {"x": float("nan")})


def test_sse_comment_encoding():
    """A comment is ': text' lines ending with a blank line; multi-line text stays comments."""
    assert encode_comment("ping") == b": ping\n\n"
    assert encode_comment("a\nb") == b": a\n: b\n\n"
    assert encode_comment("") == b": \n\n"


def test_sse_retry_line():
    """A lone retry hint is one line and a blank line."""
    assert encode_retry(3000) == b"retry: 3000\n\n"


def test_sse_compact_json_has_no_spaces():
    """compact_json uses no separator spaces and keeps key order."""
    assert compact_json({"b": 1, "a": [1, {"c": "d"}]}) == '{"b":1,"a":[1,{"c":"d"}]}'


def test_sse_content_type():
    """The stream's content type declares UTF-8."""
    assert CONTENT_TYPE == "text/event-stream; charset=utf-8"
