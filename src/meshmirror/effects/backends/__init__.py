"""Backends: how the reconciler reads and writes clusters (see :mod:`.base`)."""

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
