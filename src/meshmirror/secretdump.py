"""Re-exports :mod:`meshmirror.effects.secretdump`: its stable import path."""

from meshmirror.effects.secretdump import (
    credentials_secrets,
    secrets_in,
)

__all__ = ["credentials_secrets", "secrets_in"]
