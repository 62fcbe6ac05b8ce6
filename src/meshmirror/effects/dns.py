"""Gateway hostnames to addresses through the system resolver (network I/O: not pure).

:func:`dns_resolver` is the :data:`~meshmirror.decisions.mirror.Resolver` the CLI and the
controller hand to the planner unless told not to resolve (``--no-resolve``).
"""

from __future__ import annotations

import socket

__all__ = ["dns_resolver"]


def dns_resolver(host: str) -> list[str]:
    """Every address ``host`` resolves to, each once and sorted, as Linkerd resolves a
    Link's gateway name (Go's ``net.LookupIP``); raises ``OSError`` when it cannot."""
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    return sorted({str(info[4][0]) for info in infos})
