"""Re-exports :mod:`meshmirror.effects.dns`: its stable import path."""

from meshmirror.effects.dns import (
    dns_resolver,
)

__all__ = [
    "dns_resolver",
]
