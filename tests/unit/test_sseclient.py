"""The terminal client's pure parts: wire parsing, chunked framing, backoff, board and views."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from g6app import events
from g6app.board import Board
from g6app.hashing import panel_hash
from g6app.panels import PANEL_KEYS, build_panels
from g6app.sse import encode_comment, encode_retry
from g6app.sseclient import Backoff, ChunkedDecoder, ProtocolError, SSEParser, parse_head
from g6app.state import make_state
from g6app.watchview import PlainView, Status, plain_text, render
from tests.support import status


def parse_all(blob: bytes, piece_bytes: int) -> list:
    parser = SSEParser()
    out = []
    for start in range(0, len(blob), piece_bytes):
        out.extend(parser.feed(blob[start:start + piece_bytes]))
    return out


def test_sseparser_same_events_whatever_the_chunking():
    """Byte-at-a-time feeding (splitting UTF-8 characters and CRLFs) yields the same events."""
    blob = ("\ufeffretry: 3000\n\n: ping\n\nevent: panel_update\r\nid: abc\r\n"
            "data: {\"t\":\"Storage & Health \u2014 ok\"}\r\n\r\n"
            "event: heartbeat\rdata: 1\rdata: 2\r\r\n").encode()
    whole = parse_all(blob, len(blob))
    assert [(e.type, e.data, e.id) for e in whole] == [
        ("panel_update", '{"t":"Storage & Health \u2014 ok"}', "abc"),
        ("heartbeat", "1\n2", None)]
    for size in (1, 2, 3, 7):
        assert parse_all(blob, size) == whole


def test_sseparser_id_persists_and_retry_and_comments_are_read():
    """The last event id carries over to events without one; retry and comments are noted."""
    parser = SSEParser("start")
    got = parser.feed(b"retry: 1500\n\n: ping\n\ndata: a\n\nid: x1\ndata: b\n\ndata: c\n\n")
    assert [(e.data, e.id, e.last_event_id) for e in got] == [
        ("a", None, "start"), ("b", "x1", "x1"), ("c", None, "x1")]
    assert parser.retry_ms == 1500 and parser.comments == 1
    assert parser.feed(b"retry: soon\nid: bad\0id\ndata: d\n\n")[0].last_event_id == "x1"
    assert parser.retry_ms == 1500


def test_sseparser_event_without_data_is_not_dispatched():
    """A block with only event/id fields dispatches nothing but still moves the last id."""
    parser = SSEParser()
    assert parser.feed(b"event: hello\nid: q\n\n") == []
    assert parser.last_event_id == "q"


def test_sseparser_and_board_read_the_servers_own_encoding():
    """A snapshot the server splits under a small cap, then bye, rebuild the same panels."""
    state, _ = make_state(1, 40105, build_panels(status.load()), 65536)
    blob = (encode_retry(3000) + events.hello(state, PANEL_KEYS, "1", None)
            + events.snapshot(state, PANEL_KEYS, 1500) + encode_comment("ping")
            + events.bye("max_lifetime", state.id, 4000))
    parser = SSEParser()
    got = [e for i in range(0, len(blob), 100) for e in parser.feed(blob[i:i + 100])]
    assert got[0].type == "hello" and got[-1].type == "bye"
    assert len(got) > 3  # the cap forced the snapshot across several events
    board = Board(PANEL_KEYS)
    for event in got:
        board.apply(event, now=0.0)
    assert board.complete and board.verified_count == 8 and board.resume_id == state.id
    assert {k: p.hash for k, p in board.panels.items()} == dict(state.hashes)
    assert board.bye_reason == "max_lifetime" and parser.retry_ms == 4000 and parser.comments == 1


def test_chunked_decoder_joins_pieces_and_sees_the_end():
    """Chunk framing split at every byte decodes to the body; the zero chunk sets done."""
    framed = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n"
    for size in (1, 2, 5, len(framed)):
        decoder = ChunkedDecoder()
        body = b"".join(decoder.feed(framed[i:i + size]) for i in range(0, len(framed), size))
        assert body == b"hello, world" and decoder.done


def test_chunked_decoder_refuses_bad_framing():
    """A size that is not hex, or a chunk without its CRLF, is a protocol error."""
    with pytest.raises(ProtocolError):
        ChunkedDecoder().feed(b"zz\r\n")
    with pytest.raises(ProtocolError):
        ChunkedDecoder().feed(b"2\r\nabXY")


def test_parse_head_reads_status_and_lowercases_headers():
    """Status code and headers come out; a non-HTTP answer is refused."""
    code, headers = parse_head(b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nX-A: b")
    assert code == 429 and headers == {"retry-after": "7", "x-a": "b"}
    with pytest.raises(ProtocolError):
        parse_head(b"SSH-2.0-OpenSSH")


def test_backoff_doubles_with_jitter_up_to_the_cap_and_resets():
    """Delays are half to all of 1, 2, 4, ... seconds, capped, and start over after reset."""
    low, high = Backoff(1.0, 8.0, rand=lambda: 0.0), Backoff(1.0, 8.0, rand=lambda: 1.0)
    assert [low.next_seconds() for _ in range(5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert [high.next_seconds() for _ in range(5)] == [1.0, 2.0, 4.0, 8.0, 8.0]
    high.reset()
    assert high.next_seconds() == 1.0


def _event(kind: str, data: dict, event_id: str | None = None):
    from g6app.sseclient import Event
    return Event(kind, json.dumps(data), event_id, event_id or "")


def _snapshot_entries(document) -> dict:
    return {key: {"hash": panel_hash(p), "title": p["title"], "lines": p["lines"]}
            for key, p in build_panels(document).items()}


def test_board_applies_snapshot_verifies_hashes_and_moves_resume_id_on_final_event():
    """Panels arrive verified; a partial event leaves the resume id, the final one sets it."""
    board = Board(PANEL_KEYS)
    entries = _snapshot_entries(status.load())
    first = dict(list(entries.items())[:3])
    rest = [{"key": k, **v} for k, v in list(entries.items())[3:]]
    board.apply(_event("hello", {"id": "s1", "cycle": 7}), now=1.0)
    board.apply(_event("full_snapshot", {"cycle": 7, "id": "s1", "panels": first,
                                         "partial": True}), now=1.0)
    assert board.resume_id is None and board.in_transfer and not board.complete
    changed = board.apply(_event("panel_update", {"cycle": 7, "id": "s1", "updates": rest}, "s1"),
                          now=1.0)
    assert changed == list(PANEL_KEYS[3:])
    assert board.complete and board.resume_id == "s1" and board.cycle == 7
    assert board.verified_count == 8 and board.mismatches == 0 and board.snapshots == 1


def test_board_flags_a_panel_whose_hash_does_not_match():
    """A panel whose content does not hash to its hash is kept but marked unverified."""
    board = Board(PANEL_KEYS)
    entry = {"key": "alerts", "hash": "0" * 64, "title": "Alerts", "lines": ["tampered"]}
    board.apply(_event("panel_update", {"cycle": 1, "id": "z", "updates": [entry]}, "z"), 2.0)
    assert not board.panels["alerts"].verified and board.mismatches == 1
    assert "!! hash mismatch" in plain_text(board)
    console = Console(record=True, width=100, file=io.StringIO(), color_system=None)
    console.print(render(board, Status("live"), now=3.0, width=100))
    assert "Alerts  [hash mismatch]" in console.export_text()


def test_board_counts_a_resume_only_when_hello_names_the_held_state():
    """hello with an id is a resume (no snapshot follows); without one it is a fresh start."""
    board = Board(PANEL_KEYS)
    board.apply(_event("hello", {"id": "a"}), 0.0)
    board.apply(_event("hello", {"id": "a"}, "a"), 0.0)
    board.apply(_event("resync_required", {"reason": "gone"}, "a"), 0.0)
    assert board.connections == 2 and board.resumes == 1 and board.resume_id is None


def test_views_render_every_panel_title_and_the_connection_state():
    """Plain text and the rich screen show all titles, the state and the counters."""
    board = Board(PANEL_KEYS)
    entries = _snapshot_entries(status.load())
    board.apply(_event("full_snapshot", {"cycle": 40105, "id": "s", "panels": entries}, "s"), 5.0)
    out = io.StringIO()
    PlainView(out).show(board, Status("live"), ["indices"], now=6.0)
    console = Console(record=True, width=160, file=io.StringIO(), color_system=None)
    console.print(render(board, Status("reconnecting", "stream lost"), now=6.0, width=160))
    screen = console.export_text()
    for text in (out.getvalue(), screen):
        assert all(p["title"] in text for p in entries.values())
        assert "cycle 40105" in text and "verified 8/8" in text
    assert out.getvalue().startswith("== live")
    assert "reconnecting (stream lost)" in screen and "19,980.40" in screen
