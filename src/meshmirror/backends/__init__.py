"""Re-exports :mod:`meshmirror.effects.backends`: its stable import path."""

from meshmirror.effects.backends import (
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
