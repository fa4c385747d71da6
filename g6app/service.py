"""The running parts of one worker: settings, metrics, source and hub, started and stopped.

The app factory builds a Service and starts nothing; gunicorn's ``post_worker_init`` hook (or
the command line) calls ``start``, and shutdown calls ``stop``. Views reach it through
``current_app.extensions["g6app"]``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from .config import Settings
from .hub import Hub
from .metrics import Metrics

logger = logging.getLogger(__name__)


@dataclass
class Service:
    settings: Settings
    metrics: Metrics
    source: Any
    hub: Hub
    limits: Any
    version: str
    active_streams: int = 0  # streams open in this worker
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    @property
    def started(self) -> bool:
        return bool(self._threads)

    def start(self) -> None:
        """Start the hub's poller (a greenlet under gevent's patched threading)."""
        if self._threads:
            return
        self.source.start()
        poller = threading.Thread(target=self.hub.run, args=(self._stop,),
                                  name="g6app-hub", daemon=True)
        self._threads.append(poller)
        poller.start()

    def watch(self, is_alive: Any, interval_seconds: float = 0.2) -> None:
        """Stop (streams say bye) as soon as ``is_alive()`` turns false: gunicorn's SIGTERM."""
        def watcher() -> None:
            while is_alive() and not self._stop.is_set():
                self._stop.wait(interval_seconds)
            self.stop("shutdown")

        thread = threading.Thread(target=watcher, name="g6app-shutdown", daemon=True)
        self._threads.append(thread)
        thread.start()

    def stop(self, reason: str = "shutdown") -> None:
        """Ask every stream to say bye and end, and stop polling."""
        if self.hub.closing is None:
            logger.info("service stopping reason=%s", reason)
        self.hub.close(reason)
        self._stop.set()
        self.source.stop()
