"""A minimal sse-starlette broadcaster of the same events, for comparison runs of the bench.

It polls the same status file, builds the same states and bytes with g6app's pure modules
(panels, state, events), and fans them out with one coroutine per client on uvicorn. No
admission, metrics, resumes or limits: it is the floor a plain asyncio server sets.

    python bench/starlette_broadcaster.py --status-file data/runtime_status.json --port 0
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import uvicorn  # noqa: E402
from sse_starlette.sse import EventSourceResponse  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.responses import JSONResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from g6app import events  # noqa: E402
from g6app.panels import PANEL_KEYS, build_panels, status_cycle  # noqa: E402
from g6app.source import FileSource  # noqa: E402
from g6app.sse import encode_retry  # noqa: E402
from g6app.state import make_state  # noqa: E402

MAX_EVENT_BYTES = 65536


class Broadcaster:
    """The current state, a per-change wake-up, and each update's bytes built once."""

    def __init__(self, status_file: str, refresh_seconds: float):
        self.source = FileSource(status_file, 4 * 1024 * 1024)
        self.refresh_seconds = refresh_seconds
        self.current = self._state(None, 0)
        self.changed = asyncio.Event()
        self._cache: dict[tuple[str, str], bytes] = {}

    def _state(self, document, seq):
        state, _ = make_state(seq, status_cycle(document), build_panels(document),
                              MAX_EVENT_BYTES - events.ENVELOPE_BYTES)
        return state

    async def poll(self) -> None:
        while True:
            reading = self.source.poll()
            if reading is not None and reading.document is not None:
                state = self._state(reading.document, self.current.seq + 1)
                if state.id != self.current.id:
                    self.current = state
                    previous, self.changed = self.changed, asyncio.Event()
                    previous.set()
            await asyncio.sleep(self.refresh_seconds)

    def update(self, old, new) -> bytes:
        key = (old.id, new.id)
        blob = self._cache.get(key)
        if blob is None:
            if len(self._cache) > 512:
                self._cache.clear()
            blob = self._cache[key] = events.update(old, new, PANEL_KEYS, MAX_EVENT_BYTES)
        return blob

    async def stream(self):
        held = self.current
        yield (encode_retry(3000) + events.hello(held, PANEL_KEYS, "starlette", None)
               + events.snapshot(held, PANEL_KEYS, MAX_EVENT_BYTES))
        while True:
            changed = self.changed
            if self.current is held:
                await changed.wait()
            current = self.current
            yield self.update(held, current)
            held = current


def build_app(broadcaster: Broadcaster) -> Starlette:
    async def summary_events(request):
        return EventSourceResponse(broadcaster.stream(), ping=15)

    async def healthz(request):
        return JSONResponse({"status": "ok"})

    @contextlib.asynccontextmanager
    async def lifespan(app):
        poller = asyncio.get_running_loop().create_task(broadcaster.poll())
        yield
        poller.cancel()

    return Starlette(routes=[Route("/summary/events", summary_events), Route("/healthz", healthz)],
                     lifespan=lifespan)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--status-file", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--refresh-seconds", type=float, default=0.02)
    args = parser.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(2048)
    print(f"Listening at: http://127.0.0.1:{sock.getsockname()[1]} pid={os.getpid()}", flush=True)

    async def serve():
        broadcaster = Broadcaster(args.status_file, args.refresh_seconds)
        config = uvicorn.Config(build_app(broadcaster), log_level="warning", backlog=2048,
                                timeout_keep_alive=5)
        await uvicorn.Server(config).serve(sockets=[sock])

    asyncio.run(serve())


if __name__ == "__main__":
    main()
