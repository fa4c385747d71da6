"""gunicorn's logger for g6app: ``logger_class = "g6app.logs.GunicornLogger"``.

Two jobs: the package's own loggers (``g6app.*``) write through gunicorn's error log handlers
at gunicorn's level, and the access log never carries a credential (tokens arrive as
``?access_token=``, ``X-API-Token`` or ``Authorization``). Where logs go is gunicorn's config.
"""

from __future__ import annotations

import logging
import re

from gunicorn.glogging import Logger

REDACTED = "[redacted]"
QUERY_TOKEN_RE = re.compile(r"(access_token=)[^&\s\"]*", re.IGNORECASE)
SECRET_ATOMS = ("authorization", "x-api-token", "http_authorization", "http_x_api_token")


def redact(atoms: dict) -> dict:
    """Atoms with every token value replaced; other values untouched."""
    clean = {}
    for key, value in atoms.items():
        if any(key in (f"{{{name}}}i", f"{{{name}}}e") for name in SECRET_ATOMS):
            clean[key] = REDACTED
        elif isinstance(value, str) and "access_token" in value.lower():
            clean[key] = QUERY_TOKEN_RE.sub(r"\1" + REDACTED, value)
        else:
            clean[key] = value
    return clean


class GunicornLogger(Logger):
    """gunicorn's Logger, shared with the ``g6app`` loggers, with credential-free access logs."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        package = logging.getLogger("g6app")
        package.handlers = list(self.error_log.handlers)
        package.setLevel(self.error_log.level)
        package.propagate = False

    def atoms(self, resp, req, environ, request_time):
        return redact(super().atoms(resp, req, environ, request_time))
