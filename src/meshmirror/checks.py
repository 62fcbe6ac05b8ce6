"""Re-exports :mod:`meshmirror.views.checks`: its stable import path."""

from meshmirror.views.checks import (
    CHECK_IDS,
    GROUPS,
    CheckReport,
    CheckResult,
    CredentialsSecret,
    Status,
    check,
    gateway_endpoints,
)

__all__ = [
    "CHECK_IDS",
    "GROUPS",
    "CheckReport",
    "CheckResult",
    "CredentialsSecret",
    "Status",
    "check",
    "gateway_endpoints",
]
