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

import ipaddress
import re

__all__ = [
    "DNS1035_LABEL_MAX",
    "DNS1123_LABEL_MAX",
    "DNS1123_SUBDOMAIN_MAX",
    "InvalidNameError",
    "dns1035_label_problem",
    "dns1123_label_problem",
    "dns1123_subdomain_problem",
    "endpoint_ip_problem",
    "federated_name",
    "ip_address_problem",
    "is_dns1035_label",
    "is_dns1123_label",
    "is_dns1123_subdomain",
    "mirror_name",
    "pod_mirror_name",
    "port_name_problem",
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


# A dotted IPv4 address without leading zeros: most addresses in a dump, checked by one
# regular expression rather than ipaddress (run for every address of a large load).
IPV4 = re.compile(
    r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}"
    r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
)


def ip_address_problem(text: str) -> str | None:
    """Why ``text`` is not an IP address as Kubernetes parses one, or None.

    >>> ip_address_problem("10.0.0.1") is None, ip_address_problem("::1") is None
    (True, True)
    >>> ip_address_problem("")
    'is not an IP address (it is empty)'
    """
    if IPV4.fullmatch(text):
        return None
    if not text:
        return "is not an IP address (it is empty)"
    if "%" not in text:  # Go's ParseIP takes no IPv6 zone
        try:
            ipaddress.ip_address(text)
            return None
        except ValueError:
            pass
    return "is not an IP address"


def endpoint_ip_problem(text: str) -> str | None:
    """Why the API server refuses ``text`` as an Endpoints address, or None: it must be
    an IP address, and not unspecified, loopback or link-local.

    >>> endpoint_ip_problem("192.0.2.10") is None
    True
    >>> endpoint_ip_problem("127.0.0.1")
    'is a loopback address (127.0.0.0/8, ::1), which Endpoints may not hold'
    """
    problem = ip_address_problem(text)
    if problem is not None:
        return problem
    ip = ipaddress.ip_address(text)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # Go checks a mapped address as the IPv4 it maps
    if ip.is_unspecified:
        return "is the unspecified address, which Endpoints may not hold"
    if ip.is_loopback:
        return "is a loopback address (127.0.0.0/8, ::1), which Endpoints may not hold"
    if ip.is_link_local:
        return "is a link-local address (169.254.0.0/16, fe80::/10), which Endpoints may not hold"
    link_local_multicast = (
        ip in ipaddress.ip_network("224.0.0.0/24")
        if isinstance(ip, ipaddress.IPv4Address)
        else ip.packed[0] == 0xFF and ip.packed[1] & 0x0F == 0x02
    )
    if link_local_multicast:
        return (
            "is a link-local multicast address (224.0.0.0/24, ff02::/16), which Endpoints "
            "may not hold"
        )
    return None


_IANA_SVC_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")


def port_name_problem(name: str, *, service_port: bool) -> str | None:
    """Why the API server refuses ``name`` as a port name, or None: a Service port's
    name is a DNS-1123 label; a named ``targetPort`` (``service_port=False``) an IANA
    service name (at most 15 characters, a letter among them, no ``--``).

    >>> port_name_problem("http-metrics", service_port=False) is None
    True
    >>> port_name_problem("8080", service_port=False)
    'must contain at least one letter (a-z)'
    """
    if service_port:
        return dns1123_label_problem(name)
    if len(name) > 15:
        return f"is {len(name)} characters long; a port name has at most 15"
    if not _IANA_SVC_NAME.fullmatch(name):
        return (
            "must consist of lowercase alphanumeric characters or '-', starting and "
            "ending alphanumeric"
        )
    if "--" in name:
        return "must not contain '--'"
    if not any("a" <= c <= "z" for c in name):
        return "must contain at least one letter (a-z)"
    return None
