"""Gateway liveness as Linkerd's probe worker decides it, as pure values and functions.

A Link's ``probeSpec`` (every field a string in the CRD) becomes a :class:`ProbeConfig`
with :func:`probe_config`; durations use Go's syntax (``3s``, ``1m30s``, ``500ms``).
:func:`observe` is the consecutive-failure state machine: ``failureThreshold``
consecutive failed probes make the gateway dead, one success makes it alive again. The
probing itself (HTTP, threads, clocks) lives in the Kubernetes adapter.

>>> from meshmirror.values.model import Link, ProbeSpec
>>> link = Link("linkerd-multicluster", "east", "east", gateway_address="192.0.2.10",
...     probe_spec=ProbeSpec(path="/ready", port="4191", period="3s"))
>>> cfg = probe_config(link)
>>> cfg.period, cfg.timeout, cfg.failure_threshold
(3.0, 30.0, 3)
>>> state = Liveness()
>>> for ok in (False, False, False):
...     state = observe(state, ok, cfg.failure_threshold)
>>> state.alive, state.failures
(False, 3)
>>> observe(state, True, cfg.failure_threshold).alive
True
"""

from __future__ import annotations

import re
import types

import attrs

from meshmirror.values.model import Link

__all__ = [
    "DEFAULT_FAILURE_THRESHOLD",
    "DEFAULT_TIMEOUT",
    "DurationError",
    "Liveness",
    "ProbeConfig",
    "ProbeSpecError",
    "go_duration",
    "observe",
    "parse_duration",
    "probe_config",
]

#: The Link CRD's defaults for ``probeSpec.timeout`` and ``probeSpec.failureThreshold``.
DEFAULT_TIMEOUT = "30s"
DEFAULT_FAILURE_THRESHOLD = "3"

_UNITS = types.MappingProxyType(
    {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
)
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


class DurationError(ValueError):
    """Not a Go duration (``time.ParseDuration``)."""

    def __init__(self, text: str) -> None:
        super().__init__(
            f"{text!r} is not a duration; write a number and a unit, e.g. 3s, 500ms or 1m30s"
        )
        self.text = text


class ProbeSpecError(ValueError):
    """A Link's ``probeSpec`` cannot drive a probe; names the Link and the field."""

    def __init__(self, link: str, field: str, problem: str) -> None:
        super().__init__(f"Link {link}: probeSpec.{field} {problem}")
        self.link = link
        self.field = field


def parse_duration(text: str) -> float:
    """Seconds in a Go duration string (``time.ParseDuration``): an optional sign, then
    number-unit pairs (``ns``, ``us``, ``ms``, ``s``, ``m``, ``h``); ``0`` alone is zero.

    >>> parse_duration("1m30s"), parse_duration("250ms"), parse_duration("0")
    (90.0, 0.25, 0.0)
    """
    body = text
    sign = 1.0
    if body[:1] in ("+", "-"):
        sign = -1.0 if body[0] == "-" else 1.0
        body = body[1:]
    if body == "0":
        return 0.0
    if not body:
        raise DurationError(text)
    total = 0.0
    pos = 0
    while pos < len(body):
        match = _PART.match(body, pos)
        if match is None:
            raise DurationError(text)
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    return sign * total


def go_duration(seconds: int) -> str:
    """Whole seconds as Go's ``time.Duration.String()`` prints them.

    >>> go_duration(3), go_duration(90), go_duration(3600), go_duration(0)
    ('3s', '1m30s', '1h0m0s', '0s')
    """
    if seconds == 0:
        return "0s"
    sign = "-" if seconds < 0 else ""
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{sign}{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{sign}{minutes}m{secs}s"
    return f"{sign}{secs}s"


@attrs.frozen
class ProbeConfig:
    """A usable probe: ``GET http://<gateway address>:<port><path>`` every ``period``
    seconds, each waiting at most ``timeout``; dead after ``failure_threshold``
    consecutive failures."""

    path: str
    port: int
    period: float
    timeout: float
    failure_threshold: int


def probe_config(link: Link) -> ProbeConfig:
    """The probe ``link`` asks for, with the CRD's defaults for an absent timeout and
    failure threshold; :class:`ProbeSpecError` when a field cannot be used (Linkerd's
    probe worker then does not probe at all)."""
    spec = link.probe_spec
    where = f"{link.namespace}/{link.name}"
    path = spec.path or ""
    if not path.startswith("/"):
        raise ProbeSpecError(where, "path", f"{spec.path!r} must be an absolute path, e.g. /ready")
    port_text = spec.port or ""
    if not (port_text.isascii() and port_text.isdigit() and 1 <= int(port_text) <= 65535):
        raise ProbeSpecError(where, "port", f"{spec.port!r} is not a port number")
    durations: list[float] = []
    for field, text in (("period", spec.period), ("timeout", spec.timeout or DEFAULT_TIMEOUT)):
        try:
            seconds = parse_duration(text or "")
        except DurationError as err:
            raise ProbeSpecError(where, field, str(err)) from None
        if seconds <= 0:
            raise ProbeSpecError(where, field, f"{text!r} must be longer than zero")
        durations.append(seconds)
    threshold = spec.failure_threshold or DEFAULT_FAILURE_THRESHOLD
    if not (threshold.isascii() and threshold.isdigit() and int(threshold) >= 1):
        raise ProbeSpecError(where, "failureThreshold", f"{threshold!r} is not a positive integer")
    return ProbeConfig(path, int(port_text), durations[0], durations[1], int(threshold))


@attrs.frozen
class Liveness:
    """A gateway's liveness: ``alive`` and the consecutive failures so far. A new gateway
    is alive (the plan's default) until probes say otherwise."""

    alive: bool = True
    failures: int = 0


def observe(state: Liveness, ok: bool, failure_threshold: int) -> Liveness:
    """The liveness after one probe: a success resets the count and makes the gateway
    alive; a failure counts, and at ``failure_threshold`` consecutive ones the gateway is
    dead (further failures keep it dead)."""
    if ok:
        return Liveness(True, 0)
    failures = state.failures + 1
    return Liveness(state.alive and failures < failure_threshold, failures)
