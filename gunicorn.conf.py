# gunicorn configuration for g6app: `gunicorn -c gunicorn.conf.py wsgi:app`.
#
# Plain settings first, then the hooks (they live in g6app.lifecycle). Every value comes from
# the G6_* settings so that one validated object decides; see the README's table.
import os
import sys

from g6app.config import Settings, SettingsError

try:
    _settings = Settings.from_env(os.environ)
except SettingsError as exc:
    sys.exit(f"g6app: {exc}")

# Where to listen: G6_BIND, default 127.0.0.1:9325.
bind = [_settings.bind]

# gevent workers: one greenlet per open stream, so a worker holds thousands of clients.
worker_class = "gevent"
workers = _settings.workers

# Connections per worker: the server-wide stream cap (or 10,000 when uncapped) plus headroom
# for /metrics, health checks and resyncs while every stream is open.
worker_connections = (_settings.sse_max_connections or 10000) + 1000

# Streams are long-lived, so the worker timeout is about a stuck worker, not a slow request.
timeout = 30
# On SIGTERM every stream receives `bye` within a fraction of a second; this is the bound.
graceful_timeout = 15
keepalive = 5

# Workers import the app themselves: metrics must be created inside each worker process.
preload_app = False

# Recycling (optional): G6_MAX_REQUESTS requests per worker, jittered so workers do not all
# restart together. Streams of a recycled worker get `bye` and resume elsewhere.
max_requests = int(os.environ.get("G6_MAX_REQUESTS", "0"))
max_requests_jitter = max(1, max_requests // 10) if max_requests else 0

# No control socket: several instances may run on one machine, and signals suffice.
control_socket_disable = True

accesslog = os.environ.get("G6_ACCESS_LOG", "-")
# The usual combined format plus the request id (the X-Request-ID echoed on every answer);
# the logger class strips tokens from the request line, query string and headers, and gives
# the g6app loggers gunicorn's error-log handlers and level.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" rid=%({x-request-id}o)s'
logger_class = "g6app.logs.GunicornLogger"
errorlog = "-"
loglevel = os.environ.get("G6_LOG_LEVEL", "info")

from g6app.lifecycle import (  # noqa: E402  (hooks after the plain settings)
    child_exit,
    on_exit,
    on_starting,
    post_worker_init,
)

__all__ = ["child_exit", "on_exit", "on_starting", "post_worker_init"]
