"""gunicorn's access log, with credentials removed: ``logger_class = "g6app.accesslog.RedactingLogger"``.

Tokens reach the stream as ``?access_token=`` (browsers' EventSource cannot send headers), as
``X-API-Token`` or as ``Authorization``; none of them may land in a log line. Only the log
formatting is changed; what gunicorn logs and where is configured in gunicorn.conf.py.
"""

from __future__ import annotations

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


class RedactingLogger(Logger):
    """gunicorn's Logger whose access-log atoms never carry a credential."""

    def atoms(self, resp, req, environ, request_time):
        return redact(super().atoms(resp, req, environ, request_time))
