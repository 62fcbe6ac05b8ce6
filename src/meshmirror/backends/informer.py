"""Re-exports :mod:`meshmirror.effects.backends.informer`: its stable import path."""

from meshmirror.effects.backends.informer import (
    BadLink,
    Delta,
    Informer,
    Key,
    RemoteCache,
    SlicePart,
    read_object,
)

__all__ = ["BadLink", "Delta", "Informer", "Key", "RemoteCache", "SlicePart", "read_object"]
