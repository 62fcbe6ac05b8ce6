"""Structured (JSON lines) logs, with every registered secret redacted.

Credentials are never passed to a logger on purpose; as a second line of defence, every
token and key the credentials module reads is registered with :func:`redact` and any log
record containing one has it replaced by ``[redacted]`` before it is written.

>>> import io, logging
>>> stream = io.StringIO()
>>> log = configure(level="INFO", stream=stream, fmt="json", logger_name="doctest.logs")
>>> redact("s3cret-token")
>>> log.info("sync done", extra={"link": "east", "note": "s3cret-token"})
>>> record = json.loads(stream.getvalue())
>>> record["message"], record["link"], record["note"], record["level"]
('sync done', 'east', '[redacted]', 'info')
"""

from __future__ import annotations

import datetime
import json
import logging
import threading
from typing import Any, TextIO

__all__ = ["JsonFormatter", "configure", "redact", "scrub", "unconfigure"]

_SECRETS: set[str] = set()
_LOCK = threading.Lock()
# Attributes every LogRecord has: everything else came in through ``extra``.
_STANDARD = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys() | {"message", "asctime"}
)


def redact(secret: str | bytes | None) -> None:
    """Never let ``secret`` reach a log line (short values are ignored: they would
    redact ordinary words)."""
    if not secret:
        return
    text = secret.decode("utf-8", "replace") if isinstance(secret, bytes) else secret
    text = text.strip()
    if len(text) < 8:
        return
    with _LOCK:
        _SECRETS.add(text)
        if "-----BEGIN" in text:  # a PEM block: each base64 line on its own too
            for line in text.splitlines():
                if len(line.strip()) >= 16 and not line.startswith("-----"):
                    _SECRETS.add(line.strip())


def scrub(text: str) -> str:
    """``text`` with every registered secret replaced by ``[redacted]``."""
    with _LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "[redacted]")
    return text


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return scrub(str(value))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time``, ``level``, ``logger``, ``message`` and every
    ``extra`` field; exceptions as ``error``."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, tz=datetime.timezone.utc)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                doc[key] = _plain(value)
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            doc["error"] = scrub(f"{type(exc).__name__}: {exc}")
        return json.dumps(doc, ensure_ascii=False)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extra = {
            k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")
        }
        tail = " ".join(f"{k}={_plain(v)}" for k, v in extra.items())
        line = f"{record.levelname.lower()} {record.name}: {record.getMessage()}"
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            line += f" error={type(exc).__name__}: {exc}"
        return scrub(f"{line} {tail}".rstrip())


def configure(
    *,
    level: str = "INFO",
    stream: TextIO | None = None,
    fmt: str = "json",
    logger_name: str = "meshmirror_k8s",
) -> logging.Logger:
    """Send ``logger_name``'s records to ``stream`` (stderr) as JSON (or ``text``).

    The official client's and urllib3's loggers are kept at WARNING (their DEBUG output
    includes request headers)."""
    logger = logging.getLogger(logger_name)
    for handler in list(logger.handlers):
        if getattr(handler, "_meshmirror", False):
            logger.removeHandler(handler)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if fmt == "json" else _TextFormatter())
    handler._meshmirror = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False
    for noisy in ("kubernetes", "urllib3", "client"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return logger


def unconfigure(logger: logging.Logger) -> None:
    """Undo :func:`configure` (for in-process callers such as tests and notebooks)."""
    for handler in list(logger.handlers):
        if getattr(handler, "_meshmirror", False):
            logger.removeHandler(handler)
    logger.propagate = True
    logger.setLevel(logging.NOTSET)
