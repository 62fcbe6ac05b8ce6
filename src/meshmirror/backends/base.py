"""Re-exports :mod:`meshmirror.effects.backends.base`: its stable import path."""

from meshmirror.effects.backends.base import (
    KINDS,
    AlreadyExists,
    Backend,
    BackendError,
    Conflict,
    Gone,
    ListResult,
    Manifest,
    NotFound,
    ServerError,
    Timeout,
    TooManyRequests,
    Unreachable,
    WatchEvent,
    WriteConflict,
)

__all__ = [
    "KINDS",
    "AlreadyExists",
    "Backend",
    "BackendError",
    "Conflict",
    "Gone",
    "ListResult",
    "Manifest",
    "NotFound",
    "ServerError",
    "Timeout",
    "TooManyRequests",
    "Unreachable",
    "WatchEvent",
    "WriteConflict",
]
