"""Kubernetes name rules and the names the service mirror gives what it writes.

Linkerd builds mirror names by plain concatenation and lets the API server reject what
does not fit (linkerd2 #7390). meshmirror checks first and reports; it never truncates.

>>> mirror_name("web", "east")
'web-east'
>>> federated_name("web")
'web-federated'
>>> service_name_problem("web-east") is None
True
>>> service_name_problem("a" * 64)
'is 64 characters long; a Service name has at most 63'
"""

from __future__ import annotations

import re

__all__ = [
    "DNS1035_LABEL_MAX",
    "DNS1123_LABEL_MAX",
    "DNS1123_SUBDOMAIN_MAX",
    "InvalidNameError",
    "dns1035_label_problem",
    "dns1123_label_problem",
    "dns1123_subdomain_problem",
    "federated_name",
    "is_dns1035_label",
    "is_dns1123_label",
    "is_dns1123_subdomain",
    "mirror_name",
    "pod_mirror_name",
    "service_name_problem",
]

DNS1123_LABEL_MAX = 63
DNS1035_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253

# fullmatch everywhere: Python's `$` would accept a trailing newline, Go's does not.
_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


class InvalidNameError(ValueError):
    """A name that Kubernetes would refuse; carries the name and why."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"invalid name {name!r}: {problem}")
        self.name = name
        self.problem = problem


def dns1123_label_problem(name: str) -> str | None:
    """Why ``name`` is not a DNS-1123 label (namespaces, Endpoints), or None."""
    if len(name) > DNS1123_LABEL_MAX:
        return f"is {len(name)} characters long; a DNS-1123 label has at most {DNS1123_LABEL_MAX}"
    if not _DNS1123_LABEL.fullmatch(name):
        return (
            "must consist of lower case alphanumeric characters or '-', "
            "and start and end with an alphanumeric character"
        )
    return None


def dns1035_label_problem(name: str) -> str | None:
    """Why ``name`` is not a DNS-1035 label (Service names), or None."""
    if len(name) > DNS1035_LABEL_MAX:
        return f"is {len(name)} characters long; a DNS-1035 label has at most {DNS1035_LABEL_MAX}"
    if not _DNS1035_LABEL.fullmatch(name):
        return (
            "must consist of lower case alphanumeric characters or '-', "
            "start with a letter and end with an alphanumeric character"
        )
    return None


def dns1123_subdomain_problem(name: str) -> str | None:
    """Why ``name`` is not a DNS-1123 subdomain, or None."""
    if len(name) > DNS1123_SUBDOMAIN_MAX:
        return (
            f"is {len(name)} characters long; a DNS-1123 subdomain has at most "
            f"{DNS1123_SUBDOMAIN_MAX}"
        )
    if not _DNS1123_SUBDOMAIN.fullmatch(name):
        return (
            "must consist of lower case alphanumeric characters, '-' or '.', "
            "and start and end with an alphanumeric character"
        )
    return None


def is_dns1123_label(name: str) -> bool:
    return dns1123_label_problem(name) is None


def is_dns1035_label(name: str) -> bool:
    return dns1035_label_problem(name) is None


def is_dns1123_subdomain(name: str) -> bool:
    return dns1123_subdomain_problem(name) is None


def service_name_problem(name: str) -> str | None:
    """Why the API server would refuse ``name`` for a Service, or None.

    A Service name is a DNS-1035 label: at most 63 characters, starting with a letter.
    """
    if len(name) > DNS1035_LABEL_MAX:
        return f"is {len(name)} characters long; a Service name has at most {DNS1035_LABEL_MAX}"
    return dns1035_label_problem(name)


def mirror_name(service: str, target: str) -> str:
    """``<service>-<target>``: the mirror of a remote Service (not validated)."""
    return f"{service}-{target}"


def pod_mirror_name(hostname: str, target: str) -> str:
    """``<hostname>-<target>``: a headless mirror's per-pod Service (not validated)."""
    return f"{hostname}-{target}"


def federated_name(service: str, suffix: str = "federated") -> str:
    """``<service>-federated``: the federated Service of a member name (not validated)."""
    return f"{service}-{suffix}"
