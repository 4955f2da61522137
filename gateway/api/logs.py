"""Structured logs: one JSON object per line, with the request id, and a redaction net.

The gateway's own log calls carry codes, counts, ids and exception *types*, never a
token, an INS, a name or a clinical value (STYLE.md). :class:`Redaction` is the safety
net for what slips through anyway, whatever the logger: it masks bearer tokens and
anything shaped like a JWS, runs of 13 to 15 digits (NIR, INS, NIA), and the values of
extra fields whose names say they hold personal data. Exception messages are never
written (they can quote input): only the exception type and the stack's frames.

``configure_logging`` is called by the CLI and by the uvicorn factory of each worker
process, never at import. It pins loggers that would write SQL parameters or URLs
(SQLAlchemy, httpx) at WARNING whatever the level asked for.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

from gateway.config import TelemetrySettings

REQUEST_ID: ContextVar[str | None] = ContextVar("gateway_request_id", default=None)

REDACTED = "[redacted]"
_PATTERNS = (
    r"(?i:\bbearer\s+\S+)",
    r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*",
    r"(?<![0-9])[0-9]{13,15}(?![0-9])",
)
_MASK = re.compile("|".join(_PATTERNS))  # one pass over each string, not one per pattern
SENSITIVE_FIELDS = frozenset(
    {
        "authorization",
        "token",
        "access_token",
        "password",
        "secret",
        "ins",
        "nir",
        "name",
        "family",
        "given",
        "birthdate",
        "birth_date",
        "address",
        "telecom",
        "value",
        "payload",
        "body",
    }
)
# Loggers that print SQL parameters or request URLs (with identifiers in query strings).
QUIET = ("sqlalchemy", "httpx", "httpcore", "uvicorn.access", "hpack", "multipart")
# Set on a record once :class:`Redaction` has masked it, so the formatter does not again.
_MASKED = "_gateway_masked"
# Attributes every LogRecord has; anything else came in through ``extra=``.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName", _MASKED}


def redact(text: str) -> str:
    return _MASK.sub(REDACTED, text)


def _clean(key: str, value: Any) -> Any:
    if key.lower() in SENSITIVE_FIELDS:
        return REDACTED
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bool | int | float) or value is None:
        return value
    return redact(repr(value))[:200]


class Redaction(logging.Filter):
    """Rewrites each record in place: message rendered and masked, extras masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        for key in list(vars(record)):
            if key not in _STANDARD:
                setattr(record, key, _clean(key, getattr(record, key)))
        setattr(record, _MASKED, True)
        return True


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", "request_id", …extras, "error_type",
    "stack"}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        masked = getattr(record, _MASKED, False)  # by the handler's Redaction filter
        message = record.getMessage()
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": message if masked else redact(message),
        }
        request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        if request_id:
            out["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD and key != "request_id":
                out[key] = value if masked else _clean(key, value)
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            out["error_type"] = type(exc).__name__
            # Frames only (file, line, function): an exception's message, and even a
            # source line, can quote the input that caused it.
            frames = traceback.extract_tb(exc.__traceback__)
            out["stack"] = [f"{f.filename}:{f.lineno} {f.name}" for f in frames][-30:]
        return orjson.dumps(out, default=str).decode("utf-8")


class TextFormatter(logging.Formatter):
    """Plain lines for development; the same masking, no exception messages."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S")
        rid = getattr(record, "request_id", None) or REQUEST_ID.get() or "-"
        line = f"{when} {record.levelname:<7} {record.name} [{rid}] {redact(record.getMessage())}"
        if record.exc_info and record.exc_info[1] is not None:
            line += f" ({type(record.exc_info[1]).__name__})"
        return line


def handler(settings: TelemetrySettings, stream: Any = None) -> logging.Handler:
    out = logging.StreamHandler(stream or sys.stderr)
    out.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    out.addFilter(Redaction())
    return out


def configure_logging(settings: TelemetrySettings, stream: Any = None) -> None:
    """Route every logger through one masked handler at the configured level."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler(settings, stream))
    root.setLevel(settings.log_level)
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.captureWarnings(True)
