"""gunicorn hooks: prepare the metrics directory, start each worker, account for dead ones.

The master prepares ``PROMETHEUS_MULTIPROC_DIR`` once before any worker exists (never while
workers live) and marks each exited worker dead; a worker starts its service after it is
initialised and says bye on every stream when gunicorn tells it to stop.
prometheus_client is imported inside the hooks only, after the directory is decided, because
it picks its multiprocess mode when first imported.
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import tempfile

logger = logging.getLogger(__name__)

ENV = "PROMETHEUS_MULTIPROC_DIR"
_CREATED_MARK = "G6_PROMETHEUS_DIR_CREATED"


def prepare_multiprocess_dir(environ=os.environ) -> str:
    """Use the configured directory (emptied of stale files) or create a private one.

    Called from ``on_starting``: no worker of this server exists yet, so nothing live is lost."""
    path = environ.get(ENV)
    if not path:
        path = tempfile.mkdtemp(prefix="g6app-prometheus-")
        environ[ENV] = path
        environ[_CREATED_MARK] = path
    os.makedirs(path, exist_ok=True)
    for stale in glob.glob(os.path.join(path, "*.db")):
        os.remove(stale)
    return path


def on_starting(server) -> None:
    path = prepare_multiprocess_dir()
    server.log.info("prometheus multiprocess dir=%s", path)


def post_worker_init(worker) -> None:
    service = worker.wsgi.extensions["g6app"]
    service.start()
    service.watch(lambda: worker.alive)


def child_exit(server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:
    created = os.environ.get(_CREATED_MARK)
    if created:
        shutil.rmtree(created, ignore_errors=True)
