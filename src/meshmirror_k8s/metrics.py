"""Prometheus metrics of one controller (``prometheus_client``), served on the health port
at ``/metrics``.

Linkerd's service-mirror gateway metrics keep Linkerd's names and label names
(``multicluster/service-mirror/metrics.go``): ``gateway_alive``, ``gateway_enabled``,
``gateway_latency`` (gauges), ``gateway_probe_latency_ms`` (a histogram with Linkerd's
buckets), all labelled ``target_cluster_name``, and ``gateway_probes`` labelled
``target_cluster_name`` and ``probe_successful``. Go exposes that counter without a
``_total`` suffix; so that the series keeps Linkerd's name, it is exposed untyped.

meshmirror's own are prefixed ``meshmirror_``: events handled (by cluster and kind),
writes (by verb and result), Link status writes (by result), skipped objects (by code,
as of the last full sync), watch restarts and re-lists (by cluster and kind), cache
sizes (by cluster and kind), and sync and event-to-write latency histograms.

Every controller gets its own :class:`~prometheus_client.CollectorRegistry`: nothing is
registered globally, so several controllers (tests) never share counters.

>>> m = ControllerMetrics()
>>> m.probe("east", ok=True, latency_ms=12.0, alive=True)
>>> b'gateway_probes{probe_successful="true",target_cluster_name="east"} 1.0' in m.render()
True
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from meshmirror.backends import (
    Backend,
    BackendError,
    ListResult,
    Manifest,
    WatchEvent,
    WriteConflict,
)
from meshmirror_k8s.health import METRICS_CONTENT_TYPE

__all__ = ["CONTENT_TYPE", "LINKERD_LATENCY_BUCKETS", "ControllerMetrics", "MeteredBackend"]

_T = TypeVar("_T")

CONTENT_TYPE = METRICS_CONTENT_TYPE

#: ``gateway_probe_latency_ms`` buckets, as Linkerd's metrics.go has them.
LINKERD_LATENCY_BUCKETS: tuple[float, ...] = (
    1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500,
    1000, 2000, 3000, 4000, 5000, 10000, 20000, 30000, 40000, 50000,
)  # fmt: skip

_TARGET = "target_cluster_name"
_SUCCESS = "probe_successful"


class _UntypedCounter(Collector):
    """A monotonically increasing value exposed under exactly its name (no ``_total``)."""

    def __init__(self, name: str, documentation: str, labels: tuple[str, ...]) -> None:
        self._name = name
        self._doc = documentation
        self._labels = labels
        self._values: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()

    def inc(self, *values: str) -> None:
        with self._lock:
            self._values[values] = self._values.get(values, 0.0) + 1.0

    def value(self, *values: str) -> float:
        with self._lock:
            return self._values.get(values, 0.0)

    def remove(self, keep: int, value: str) -> None:
        """Forget every series whose label number ``keep`` equals ``value``."""
        with self._lock:
            for key in [k for k in self._values if k[keep] == value]:
                del self._values[key]

    def collect(self) -> Iterator[Metric]:
        metric = Metric(self._name, self._doc, "unknown")
        with self._lock:
            items = sorted(self._values.items())
        for values, total in items:
            metric.add_sample(self._name, dict(zip(self._labels, values, strict=True)), total)
        yield metric


class ControllerMetrics:
    """Every metric of one controller, in :attr:`registry`."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry if registry is not None else CollectorRegistry()
        self._skip_codes: set[str] = set()
        # Linkerd's gateway metrics.
        self.gateway_enabled = Gauge(
            "gateway_enabled",
            "A gauge which is 1 if the gateway is enabled, and 0 if it is not",
            [_TARGET],
            registry=r,
        )
        self.gateway_alive = Gauge(
            "gateway_alive",
            "A gauge which is 1 if the gateway is alive and 0 if it is not.",
            [_TARGET],
            registry=r,
        )
        self.gateway_latency = Gauge(
            "gateway_latency",
            "A gauge which is the latency of the last probe to the gateway.",
            [_TARGET],
            registry=r,
        )
        self.gateway_probe_latency_ms = Histogram(
            "gateway_probe_latency_ms",
            "A histogram of latencies to a gateway in a target cluster.",
            [_TARGET],
            buckets=LINKERD_LATENCY_BUCKETS,
            registry=r,
        )
        self.gateway_probes = _UntypedCounter(
            "gateway_probes",
            "A counter for the number of actual performed probes to a gateway",
            (_TARGET, _SUCCESS),
        )
        r.register(self.gateway_probes)
        # meshmirror's own.
        self.events = Counter(
            "meshmirror_events",
            "Watch events handled, by cluster and kind",
            ["cluster", "kind"],
            registry=r,
        )
        self.writes = Counter(
            "meshmirror_writes",
            "Writes to the source cluster, by verb and result (ok, conflict, error)",
            ["verb", "result"],
            registry=r,
        )
        self.status_writes = Counter(
            "meshmirror_link_status_writes",
            "Link status writes (links/status), by result",
            ["result"],
            registry=r,
        )
        self.skipped = Gauge(
            "meshmirror_skipped_objects",
            "Objects not mirrored, by skip code, as of the last full sync",
            ["code"],
            registry=r,
        )
        self.watch_restarts = Counter(
            "meshmirror_watch_restarts",
            "Watches started again after ending or failing, by cluster and kind",
            ["cluster", "kind"],
            registry=r,
        )
        self.relists = Counter(
            "meshmirror_relists",
            "Lists after a watch could not resume (410 Gone), by cluster and kind",
            ["cluster", "kind"],
            registry=r,
        )
        self.cache_objects = Gauge(
            "meshmirror_cache_objects",
            "Objects held per cluster and kind, as of the last read",
            ["cluster", "kind"],
            registry=r,
        )
        self.sync_seconds = Histogram(
            "meshmirror_sync_duration_seconds",
            "Time of one full sync (read, plan, write)",
            registry=r,
        )
        self.event_to_write_seconds = Histogram(
            "meshmirror_event_to_write_seconds",
            "Time from a watch event to the end of the sync that wrote its changes",
            registry=r,
        )

    # -- Linkerd's gateway metrics ------------------------------------------------------

    def gateway(self, target: str, *, enabled: bool) -> None:
        """A Link's gateway is probed (enabled) or not."""
        self.gateway_enabled.labels(target).set(1 if enabled else 0)

    def probe(self, target: str, *, ok: bool, latency_ms: float, alive: bool) -> None:
        """One probe's outcome, as Linkerd's probe worker records it: a success sets
        the latency gauges and counts; a failure counts only once the gateway is dead
        (failures under the threshold are not counted)."""
        self.gateway_alive.labels(target).set(1 if alive else 0)
        if ok:
            self.gateway_latency.labels(target).set(latency_ms)
            self.gateway_probe_latency_ms.labels(target).observe(latency_ms)
            self.gateway_probes.inc(target, "true")
        elif not alive:
            self.gateway_probes.inc(target, "false")

    def forget_gateway(self, target: str) -> None:
        """A Link is gone: its gateway series are removed (as Linkerd unregisters)."""
        for metric in (
            self.gateway_enabled,
            self.gateway_alive,
            self.gateway_latency,
            self.gateway_probe_latency_ms,
        ):
            with contextlib.suppress(KeyError):
                metric.remove(target)
        self.gateway_probes.remove(0, target)

    # -- meshmirror's -------------------------------------------------------------------

    def set_skipped(self, counts: Mapping[str, int]) -> None:
        """The skip counts of the last full sync (codes no longer seen drop to 0)."""
        for code in list(self._skip_codes):
            if code not in counts:
                self.skipped.labels(code).set(0)
        for code, count in counts.items():
            self.skipped.labels(code).set(count)
            self._skip_codes.add(code)

    def render(self) -> bytes:
        """The registry in the text exposition format."""
        return generate_latest(self.registry)


class MeteredBackend:
    """A backend whose requests are counted in ``metrics``: list sizes as cache sizes,
    writes by verb and result, Link status writes by result. Everything else (``get``,
    ``close``, attributes) passes through."""

    def __init__(self, inner: Backend, metrics: ControllerMetrics) -> None:
        self.inner = inner
        self._metrics = metrics

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @property
    def name(self) -> str:
        return self.inner.name

    def list(self, kind: str, namespace: str | None = None) -> ListResult:
        result = self.inner.list(kind, namespace)
        self._metrics.cache_objects.labels(self.inner.name, kind).set(len(result.items))
        return result

    def watch(
        self, kind: str, resource_version: str, namespace: str | None = None
    ) -> Iterator[WatchEvent]:
        return self.inner.watch(kind, resource_version, namespace)

    def _write(self, verb: str, call: Callable[[], _T], counter: Counter | None = None) -> _T:
        try:
            out = call()
        except BackendError as err:
            result = "conflict" if isinstance(err, WriteConflict) else "error"
            if counter is None:
                self._metrics.writes.labels(verb, result).inc()
            else:
                counter.labels(result).inc()
            raise
        if counter is None:
            self._metrics.writes.labels(verb, "ok").inc()
        else:
            counter.labels("ok").inc()
        return out

    def create(self, manifest: Manifest) -> Manifest:
        return self._write("create", lambda: self.inner.create(manifest))

    def update(self, manifest: Manifest) -> Manifest:
        return self._write("update", lambda: self.inner.update(manifest))

    def update_status(self, manifest: Manifest) -> Manifest:
        update: Callable[[Manifest], Manifest] = getattr(self.inner, "update_status")  # noqa: B009
        return self._write("update", lambda: update(manifest), self._metrics.status_writes)

    def delete(
        self,
        kind: str,
        namespace: str,
        name: str,
        *,
        resource_version: str | None = None,
        uid: str | None = None,
    ) -> None:
        self._write(
            "delete",
            lambda: self.inner.delete(
                kind, namespace, name, resource_version=resource_version, uid=uid
            ),
        )
