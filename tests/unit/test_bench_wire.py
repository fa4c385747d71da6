"""The bench client's parsers: HTTP head, chunked framing and SSE, fed in arbitrary pieces."""

from __future__ import annotations

import pytest

from g6app.bench.clients import sequence_of
from g6app.bench.wire import ChunkedDecoder, ProtocolError, SSEParser, parse_head


def _chunked(*payloads: bytes) -> bytes:
    return b"".join(b"%X\r\n%s\r\n" % (len(p), p) for p in payloads) + b"0\r\n\r\n"


def test_parse_head_waits_for_blank_line_then_splits_body():
    """A head is parsed only once complete; bytes after it are returned as body."""
    assert parse_head(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n") is None
    head, rest = parse_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n")
    assert head.status == 200 and head.chunked and rest == b"5\r\n"


def test_parse_head_rejects_garbage():
    """A response that is not HTTP/1.x is a wire error, not a crash."""
    with pytest.raises(ProtocolError):
        parse_head(b"SSH-2.0-OpenSSH\r\n\r\n")


@pytest.mark.parametrize("step", [1, 2, 3, 7, 1000])
def test_chunked_decoder_reassembles_any_split(step: int):
    """Payload comes out whole and in order however the framed bytes are cut."""
    framed = _chunked(b"event: a\n", b"data: {}\n\n", b"x" * 300)
    decoder = ChunkedDecoder()
    out = b"".join(decoder.feed(framed[i:i + step]) for i in range(0, len(framed), step))
    assert out == b"event: a\ndata: {}\n\n" + b"x" * 300
    assert decoder.done


def test_chunked_decoder_rejects_bad_size_and_missing_crlf():
    """Broken framing raises ProtocolError."""
    with pytest.raises(ProtocolError):
        ChunkedDecoder().feed(b"zz\r\nabc\r\n")
    with pytest.raises(ProtocolError):
        ChunkedDecoder().feed(b"3\r\nabcXX")


@pytest.mark.parametrize("step", [1, 2, 5, 1000])
def test_sse_parser_handles_crlf_comments_and_multiline_data(step: int):
    """Events split at any byte, with CRLF or LF lines, comments and two data lines, parse alike."""
    raw = (b"retry: 3000\r\n\r\n: ping\r\n\r\nevent: hello\r\nid: s1\r\ndata: {\"a\":1}\r\n\r\n"
           b"event: panel_update\ndata: [1,\ndata: 2]\n\n")
    parser = SSEParser(strict=True)
    found = []
    for i in range(0, len(raw), step):
        found += parser.feed(raw[i:i + step])
    assert [(e.type, e.data, e.last_event_id) for e in found] == [
        ("hello", '{"a":1}', "s1"), ("panel_update", "[1,\n2]", "s1")]
    assert parser.comments == 1


def test_sse_parser_keeps_an_unfinished_event():
    """An event without its blank line is not reported until the line arrives."""
    parser = SSEParser()
    assert parser.feed(b"event: x\ndata: 1\n") == []
    assert [e.data for e in parser.feed(b"\n")] == ["1"]


def test_sequence_of_reads_the_nifty_price_not_banknifty():
    """The change number is the NIFTY line's price, with thousands separators removed."""
    data = '{"lines":["BANKNIFTY   9.00","NIFTY      1,234.00 / 19,980.40   +0.10%"]}'
    assert sequence_of(data) == 1234
    assert sequence_of('{"lines":["BANKNIFTY   9.00"]}') is None
