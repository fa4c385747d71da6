"""gunicorn hooks: prepare the metrics directory, start each worker, account for dead ones.

The master prepares ``PROMETHEUS_MULTIPROC_DIR`` once before any worker exists (never while
workers live) and marks each exited worker dead; a worker starts its service after it is
initialised and says bye on every stream when gunicorn tells it to stop. An exited worker's
metric files are folded into per-type archives (g6app.multiproc) so scrapes stay fast.
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
STATE_ENV = "G6_STATE_DIR"
_CREATED = "G6_PRIVATE_DIRS_CREATED"


def _directory(environ, name: str, prefix: str) -> str:
    """The directory named by ``environ[name]``, or a new private one recorded for on_exit."""
    path = environ.get(name)
    if not path:
        path = tempfile.mkdtemp(prefix=prefix)
        environ[name] = path
        environ[_CREATED] = os.pathsep.join(filter(None, [environ.get(_CREATED), path]))
    os.makedirs(path, exist_ok=True)
    return path


def prepare_multiprocess_dir(environ=os.environ) -> str:
    """Use the configured directory (emptied of stale files) or create a private one.

    Called from ``on_starting``: no worker of this server exists yet, so nothing live is lost."""
    path = _directory(environ, ENV, "g6app-prometheus-")
    for stale in glob.glob(os.path.join(path, "*.db")):
        os.remove(stale)
    return path


def prepare_state_dir(environ=os.environ) -> str:
    """The directory where workers share admission state (connection slots, connect rates)."""
    return _directory(environ, STATE_ENV, "g6app-state-")


def on_starting(server) -> None:
    path = prepare_multiprocess_dir()
    state = prepare_state_dir()
    server.log.info("prometheus multiprocess dir=%s state dir=%s", path, state)


def post_worker_init(worker) -> None:
    service = worker.wsgi.extensions["g6app"]
    service.start()
    service.watch(lambda: worker.alive)


def child_exit(server, worker) -> None:
    """Drop the dead worker's live gauges, then fold its counters and histograms away."""
    from prometheus_client import multiprocess

    from .multiproc import dead_ids, fold

    path = os.environ.get(ENV)
    if not path:
        return
    multiprocess.mark_process_dead(worker.pid, path)
    live = [*server.WORKERS, os.getpid()]  # gunicorn removed the dead worker already
    try:
        folded = fold(path, dead_ids(path, live) | {str(worker.pid)})
    except (OSError, ValueError, RuntimeError) as exc:  # files stay; the next exit retries
        server.log.warning("metrics fold failed pid=%s error=%s", worker.pid, exc)
        return
    server.log.debug("metrics folded pid=%s files=%s", worker.pid, folded)


def on_exit(server) -> None:
    for created in filter(None, os.environ.get(_CREATED, "").split(os.pathsep)):
        shutil.rmtree(created, ignore_errors=True)
