"""The application factory: the one module that knows every other and wires them together.

``create_app`` builds settings, metrics, source, hub and the Flask app, and starts nothing:
no thread, greenlet or socket. gunicorn's hooks (see lifecycle) start the worker's service.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Mapping

from flask import Flask, current_app, g, request
from prometheus_client import CollectorRegistry
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from . import __version__, api, errors, ingest, stream
from .config import Settings
from .dashboard import bp as dashboard_bp
from .hub import Hub
from .limits import make_limits
from .metrics import Metrics, exposition_app
from .redis_source import RedisSource
from .service import Service
from .source import FileSource

REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def create_app(settings: Settings | None = None, *,
               environ: Mapping[str, str] | None = None) -> Flask:
    """Build the app; ``settings`` defaults to ``Settings.from_env(environ or os.environ)``."""
    environ = os.environ if environ is None else environ
    settings = settings if settings is not None else Settings.from_env(environ)
    metrics = Metrics(CollectorRegistry(auto_describe=True))
    source = (RedisSource(settings.redis_url, settings.status_max_bytes) if settings.redis_url
              else FileSource(settings.status_file, settings.status_max_bytes))
    hub = Hub(source, settings, metrics)
    service = Service(settings, metrics, source, hub, make_limits(settings), version=__version__)

    app = Flask(__name__, static_folder=None)  # the dashboard blueprint serves its own files
    app.json.sort_keys = False
    app.extensions["g6app"] = service
    errors.register(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(stream.bp)
    app.register_blueprint(ingest.bp)
    app.register_blueprint(dashboard_bp)
    app.before_request(_assign_request_id)
    app.after_request(_decorate_response)
    if settings.summary_metrics_http:
        app.wsgi_app = DispatcherMiddleware(  # type: ignore[method-assign]
            app.wsgi_app, {"/metrics": exposition_app(metrics, environ)})
    return app


def sanitise_request_id(raw: str | None) -> str:
    """The client's X-Request-ID when it is short and plain, else a fresh one."""
    if raw and REQUEST_ID_RE.match(raw):
        return raw
    return uuid.uuid4().hex


def _assign_request_id() -> None:
    g.request_id = sanitise_request_id(request.headers.get("X-Request-ID"))


def _decorate_response(response):
    response.headers["X-Request-ID"] = g.get("request_id") or sanitise_request_id(None)
    origin = current_app.extensions["g6app"].settings.sse_allow_origin
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers.add("Vary", "Origin")
    return response
