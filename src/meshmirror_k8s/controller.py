"""The controller: Links and credentials Secrets in, one :class:`Reconciler` driven over HTTP.

The :class:`Reconciler` keeps a cache per (cluster, kind), fed by one list and then a
watch (docs/design.md, section 2; ``docs/kubernetes.md`` lists which requests are made when).
The Links come from its Link cache; for each, the credentials Secret
(``spec.clusterCredentialsSecret``) is read by name when a Link changes and at every
full comparison, and one read-only :class:`KubernetesBackend` is built per target
(reused, cache and all, while the Secret is unchanged). A Link whose credentials are
refused or unreadable gets no backend: the reconciler then keeps its mirrors exactly as
they are, and the Link counts as failed.

Every backend the reconciler reads is wrapped so that ``watch`` never blocks: a thread
per (cluster, kind) keeps the real watch open (resuming from the last resourceVersion
after each end, with a backoff after errors; stopping at a 410, which makes the
informer list again) and queues its events, and each event wakes the loop.

:meth:`Controller.run` is the long-running loop (asyncio): leader election, a full
comparison from the caches every ``resync_period``, and in between
:meth:`Reconciler.run_events` for what the watches delivered (sooner when writes are
pending). Runs happen in a worker thread and writes in a pool of
``write_concurrency`` threads (:func:`thread_pool_runner`), so Lease renewals and
health probes are never blocked by a slow cluster. :meth:`Controller.sync_until_idle`
(``--once``) lists everything and runs until nothing is pending. ``dry_run`` wraps the
source in :class:`DryRunBackend`: every planned write is printed and none is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TextIO

import attrs

from meshmirror import LINKERD, PlanOptions
from meshmirror.backends import (
    AlreadyExists,
    Backend,
    BackendError,
    Gone,
    ListResult,
    Manifest,
    NotFound,
    WatchEvent,
)
from meshmirror.decide import Write
from meshmirror.dns import dns_resolver
from meshmirror.linkstatus import LinkStatusWriter
from meshmirror.reconcile import (
    Outcome,
    Reconciler,
    RunReport,
    WriteRunner,
    run_chain,
    run_sequentially,
)
from meshmirror_k8s.backend import Backoff, KubernetesBackend, Timeouts
from meshmirror_k8s.credentials import (
    ClusterCredentials,
    CredentialPolicy,
    CredentialsError,
    api_client,
    credentials_from_secret,
)
from meshmirror_k8s.leader import LeaderElector
from meshmirror_k8s.metrics import ControllerMetrics, MeteredBackend
from meshmirror_k8s.probes import GatewayProber

__all__ = [
    "REMOTE_KINDS",
    "Controller",
    "ControllerConfig",
    "DryRunBackend",
    "LinkProblem",
    "SyncOutcome",
    "dns_resolver",
    "thread_pool_runner",
]

log = logging.getLogger("meshmirror_k8s.controller")

#: The only kinds ever read from a linked cluster.
REMOTE_KINDS = frozenset({"Service", "Endpoints", "EndpointSlice"})
_SOURCE_WATCH_KINDS = ("Namespace", "Service", "Endpoints", "Link")
_REMOTE_WATCH_KINDS = ("Service", "Endpoints", "EndpointSlice")

RemoteFactory = Callable[[str, ClusterCredentials], Backend]


@dataclass(frozen=True)
class ControllerConfig:
    """The controller's settings (the command line's flags)."""

    namespace: str = LINKERD.link_namespace
    options: PlanOptions = field(default_factory=PlanOptions)
    policy: CredentialPolicy = field(default_factory=CredentialPolicy)
    unreachable_grace: float = 300.0
    resync_period: float = 60.0
    #: Seconds after an event run that changed something before a full comparison
    #: brings skips, conflicts and Link status up to date (they need the whole plan).
    status_delay: float = 5.0
    #: Seconds after which a cluster is listed again although its watches resume.
    relist_period: float | None = 3600.0
    #: Chains of writes (a mirror's Service, then its Endpoints) sent side by side.
    write_concurrency: int = 8
    #: Seconds to wait after a watch event before following it, so that a burst is
    #: followed in one run (an event run costs milliseconds: keep it short).
    debounce: float = 0.02
    dry_run: bool = False
    watch: bool = True
    probe_gateways: bool = True  # each Link's probeSpec, while run() runs
    timeouts: Timeouts = field(default_factory=Timeouts)
    backoff: Backoff = field(default_factory=Backoff)
    resolve: Callable[[str], list[str]] | None = dns_resolver


@dataclass(frozen=True)
class LinkProblem:
    """Why a Link failed this sync (``mechanism`` for refused credentials)."""

    link: str
    target: str
    message: str
    mechanism: str | None = None


@dataclass(frozen=True)
class SyncOutcome:
    """One sync: the reconciler's report(s) and every failed Link."""

    reports: tuple[RunReport, ...]
    problems: tuple[LinkProblem, ...]
    source_error: str | None = None

    @property
    def ok(self) -> bool:
        return self.source_error is None and not self.problems

    @property
    def last(self) -> RunReport | None:
        return self.reports[-1] if self.reports else None


# -- backend wrappers ----------------------------------------------------------------------


class _Recording:
    """Passes everything through; remembers each kind's latest list resourceVersion (the
    watches start from it)."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self._rv: dict[str, str] = {}
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.inner.name

    def resource_version(self, kind: str) -> str:
        with self._lock:
            return self._rv.get(kind, "")

    def list(self, kind: str, namespace: str | None = None) -> ListResult:
        result = self.inner.list(kind, namespace)
        with self._lock:
            self._rv[kind] = result.resource_version
        return result

    def watch(
        self, kind: str, resource_version: str, namespace: str | None = None
    ) -> Iterator[WatchEvent]:
        return self.inner.watch(kind, resource_version, namespace)

    def create(self, manifest: Manifest) -> Manifest:
        return self.inner.create(manifest)

    def update(self, manifest: Manifest) -> Manifest:
        return self.inner.update(manifest)

    def update_status(self, manifest: Manifest) -> Manifest:
        update: Callable[[Manifest], Manifest] = getattr(self.inner, "update_status")  # noqa: B009
        return update(manifest)

    def delete(
        self,
        kind: str,
        namespace: str,
        name: str,
        *,
        resource_version: str | None = None,
        uid: str | None = None,
    ) -> None:
        self.inner.delete(kind, namespace, name, resource_version=resource_version, uid=uid)


class NotLeader(BackendError):
    """A write attempted while this replica does not hold the Lease (nothing sent)."""

    retryable = False


class _Fenced(_Recording):
    """Writes only while ``allowed()`` (the Lease is held)."""

    def __init__(self, inner: Backend, allowed: Callable[[], bool]) -> None:
        super().__init__(inner)
        self._allowed = allowed

    def _check(self, verb: str) -> None:
        if not self._allowed():
            raise NotLeader(self.name, f"{verb}: this replica does not hold the lease")

    def create(self, manifest: Manifest) -> Manifest:
        self._check("create")
        return super().create(manifest)

    def update(self, manifest: Manifest) -> Manifest:
        self._check("update")
        return super().update(manifest)

    def update_status(self, manifest: Manifest) -> Manifest:
        self._check("update")
        return super().update_status(manifest)

    def delete(
        self,
        kind: str,
        namespace: str,
        name: str,
        *,
        resource_version: str | None = None,
        uid: str | None = None,
    ) -> None:
        self._check("delete")
        super().delete(kind, namespace, name, resource_version=resource_version, uid=uid)


def _key(obj: Manifest) -> tuple[str, str, str]:
    meta = obj.get("metadata") or {}
    return (str(obj.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name")))


class DryRunBackend(_Recording):
    """Reads pass through; writes are printed (``create Service ns/name``), remembered in
    an overlay that later lists reflect, and never sent."""

    def __init__(self, inner: Backend, out: TextIO) -> None:
        super().__init__(inner)
        self._out = out
        self._overlay: dict[tuple[str, str, str], Manifest | None] = {}
        self.planned: list[tuple[str, str, str, str]] = []
        self._n = 0

    def _say(self, verb: str, kind: str, namespace: str, name: str) -> None:
        self.planned.append((verb, kind, namespace, name))
        where = f"{namespace}/{name}" if namespace else name
        print(f"{verb} {kind} {where}", file=self._out, flush=True)

    def list(self, kind: str, namespace: str | None = None) -> ListResult:
        real = super().list(kind, namespace)
        items: list[Manifest] = []
        seen: set[tuple[str, str, str]] = set()
        for item in real.items:
            key = _key({**item, "kind": kind})
            seen.add(key)
            if key in self._overlay:
                replaced = self._overlay[key]
                if replaced is not None:
                    items.append(replaced)
            else:
                items.append(item)
        for key, obj in self._overlay.items():
            if obj is None or key in seen or key[0] != kind:
                continue
            if namespace is None or key[1] == namespace:
                items.append(obj)
        return ListResult(items=tuple(items), resource_version=real.resource_version)

    def _store(self, manifest: Manifest) -> Manifest:
        self._n += 1
        stored = dict(manifest)
        meta = dict(stored.get("metadata") or {})
        meta["resourceVersion"] = f"dry-run-{self._n}"
        meta.setdefault("uid", f"dry-run-{self._n}")
        stored["metadata"] = meta
        self._overlay[_key(stored)] = stored
        return stored

    def create(self, manifest: Manifest) -> Manifest:
        key = _key(manifest)
        if self._overlay.get(key) is not None:
            raise AlreadyExists(self.name, f"{key[0]} {key[1]}/{key[2]} already exists")
        self._say("create", *key)
        return self._store(manifest)

    def update(self, manifest: Manifest) -> Manifest:
        self._say("update", *_key(manifest))
        return self._store(manifest)

    def update_status(self, manifest: Manifest) -> Manifest:
        return manifest  # a dry run writes no status (the controller sends none)

    def delete(
        self,
        kind: str,
        namespace: str,
        name: str,
        *,
        resource_version: str | None = None,
        uid: str | None = None,
    ) -> None:
        key = (kind, namespace, name)
        if key in self._overlay and self._overlay[key] is None:
            raise NotFound(self.name, f"{kind} {namespace}/{name} not found")
        self._say("delete", kind, namespace, name)
        self._overlay[key] = None


# -- watches: a thread per (cluster, kind) keeps the real watch open ------------------------


def _innermost(backend: Any) -> Any:
    while hasattr(backend, "inner"):
        backend = backend.inner
    return backend


class _Stream:
    """One long-running watch in a thread: resumes from the last resourceVersion seen
    after every end or error (with a backoff after errors); stops at a 410, which the
    next :meth:`drain` raises (the informer then lists again)."""

    def __init__(
        self,
        inner: Backend,
        kind: str,
        namespace: str | None,
        resource_version: str,
        wake: Callable[[], None],
        stop: threading.Event,
        metrics: ControllerMetrics | None = None,
    ) -> None:
        self._inner = inner
        self._metrics = metrics
        self._kind = kind
        self._namespace = namespace
        self._rv = resource_version
        self.handed = resource_version  # the newest resourceVersion handed out
        self._wake = wake
        self._stop = stop
        self._lock = threading.Lock()
        self._events: deque[WatchEvent] = deque()
        self._error: BackendError | None = None
        self._gone: Gone | None = None
        self.cancelled = False
        self.thread = threading.Thread(
            target=self._run, daemon=True, name=f"watch-{inner.name}-{kind}"
        )

    @property
    def ended(self) -> bool:
        return not self.thread.is_alive() and not self._events and self._gone is None

    def _done(self) -> bool:
        return self.cancelled or self._stop.is_set()

    def _run(self) -> None:
        failures = 0
        cluster, kind = self._inner.name, self._kind
        metrics = self._metrics
        opened = False
        while not self._done():
            if metrics is not None and opened:
                metrics.watch_restarts.labels(cluster, kind).inc()
            opened = True
            started = time.monotonic()
            seen = 0
            try:
                for event in self._inner.watch(self._kind, self._rv, self._namespace):
                    if self._done():
                        return
                    rv = (event.object.get("metadata") or {}).get("resourceVersion")
                    with self._lock:
                        self._events.append(event)
                        if rv:
                            self._rv = str(rv)
                        self._error = None
                    seen += 1
                    if event.type != "BOOKMARK":
                        if metrics is not None:
                            metrics.events.labels(cluster, kind).inc()
                        self._wake()
                with self._lock:
                    self._error = None
                failures = 0
                if not seen and time.monotonic() - started < 1.0:
                    self._stop.wait(1.0)  # an empty answer at once: do not spin
            except Gone as err:
                if metrics is not None:
                    metrics.relists.labels(cluster, kind).inc()
                log.info("watch expired; re-listing", extra={"cluster": cluster, "kind": kind})
                with self._lock:
                    self._gone = err
                self._wake()
                return
            except BackendError as err:
                failures += 1
                with self._lock:
                    self._error = err
                self._wake()
                log.debug(
                    "watch failed",
                    extra={"cluster": self._inner.name, "kind": self._kind, "error": err.message},
                )
                self._stop.wait(min(30.0, 0.5 * 2**failures))

    def drain(self) -> list[WatchEvent]:
        """The events queued since the last drain; raises the 410 once they are out,
        or the current error while the watch cannot reconnect."""
        with self._lock:
            events = list(self._events)
            self._events.clear()
            for event in reversed(events):
                rv = (event.object.get("metadata") or {}).get("resourceVersion")
                if rv:
                    self.handed = str(rv)
                    break
            if not events and self._gone is not None:
                gone, self._gone = self._gone, None
                raise gone
            if not events and self._error is not None:
                raise self._error
            return events


class _Streamed(_Recording):
    """Passes everything through, except that ``watch`` never blocks: a thread per
    (kind, namespace) keeps the real watch open and queues its events, and each call
    hands out what arrived since the last one (starting the thread on the first call,
    and again from a new resourceVersion after a re-list)."""

    def __init__(
        self,
        inner: Backend,
        wake: Callable[[], None],
        stop: threading.Event,
        enabled: Callable[[], bool],
        metrics: ControllerMetrics | None = None,
    ) -> None:
        super().__init__(inner)
        self._metrics = metrics
        self._wake = wake
        self._stop = stop
        self._enabled = enabled
        self._streams: dict[tuple[str, str | None], _Stream] = {}

    def watch(
        self, kind: str, resource_version: str, namespace: str | None = None
    ) -> Iterator[WatchEvent]:
        if not self._enabled():
            return iter(())  # a one-shot run: it lists, and has no watch to keep open
        if kind == "EndpointSlice" and (
            getattr(_innermost(self.inner), "endpoint_slices_served", None) is False
        ):
            return iter(())
        key = (kind, namespace)
        with self._lock:
            stream = self._streams.get(key)
            if stream is None or stream.ended or stream.handed != resource_version:
                if stream is not None:
                    stream.cancelled = True
                    if self._metrics is not None:  # a new watch (after a re-list, say)
                        self._metrics.watch_restarts.labels(self.name, kind).inc()
                stream = _Stream(
                    self.inner,
                    kind,
                    namespace,
                    resource_version,
                    lambda: self._wake(),
                    self._stop,
                    self._metrics,
                )
                self._streams[key] = stream
                stream.thread.start()
                return iter(())
        return iter(stream.drain())

    def get(self, kind: str, namespace: str | None, name: str) -> Manifest:
        """One object read by name from the backend underneath (after a 409)."""
        getter = getattr(_innermost(self.inner), "get", None)
        if not callable(getter):
            raise BackendError(self.name, f"cannot read {kind} {namespace}/{name} by name")
        result: Manifest = getter(kind, namespace, name)
        return result

    def close(self) -> None:
        with self._lock:
            for stream in self._streams.values():
                stream.cancelled = True
            self._streams.clear()


# -- the controller ------------------------------------------------------------------------


@dataclass
class _RemoteEntry:
    target: str
    version: tuple[str, str, str]  # (secret uid, secret resourceVersion, link)
    backend: _Recording
    streamed: _Streamed


class Controller:
    """See the module docstring. ``source`` must offer ``get`` (a
    :class:`KubernetesBackend` does) to read credentials Secrets by name."""

    def __init__(
        self,
        source: KubernetesBackend,
        config: ControllerConfig = ControllerConfig(),
        *,
        remote_factory: RemoteFactory | None = None,
        clock: Callable[[], float] = time.monotonic,
        out: TextIO | None = None,
        leader: Callable[[], bool] | None = None,
    ) -> None:
        self.source = source
        self.config = config
        self._clock = clock
        self._factory = remote_factory or self._default_factory
        self._out = out or sys.stdout
        # One metrics registry per controller; writes and reads counted.
        self.metrics = ControllerMetrics()
        writer: Backend = DryRunBackend(source, self._out) if config.dry_run else source
        writer = MeteredBackend(writer, self.metrics)
        self._writer = _Fenced(writer, leader or (lambda: True))
        self._wake: Callable[[], None] = lambda: None
        self._watch_stop = threading.Event()
        self._streaming = False  # watches are opened only by the long-running loop
        self._streamed_source = self._streamed(self._writer)
        self._remotes: dict[str, _RemoteEntry] = {}
        self._problems: dict[str, LinkProblem] = {}
        self._links_seen: tuple[object, ...] | None = None
        # Skips and conflicts logged when they appear or change: (kind, code, object,
        # cluster) -> (message, winner), and the plan they were last read from.
        self._findings: dict[tuple[str, str, str, str], tuple[str, str]] = {}
        self._findings_plan: object = None
        self._metrics_plan: object = None  # the plan whose skips the metrics show
        # Link status through links/status (none in a dry run).
        self.link_status = (
            None if config.dry_run else LinkStatusWriter(time.time, options=config.options)
        )
        # Gateway probes from each Link's probeSpec (started by run()).
        self.prober = GatewayProber(resolve=config.resolve, metrics=self.metrics)
        self._first_event: float | None = None  # event-to-write latency
        self._reconciler = Reconciler(
            source=self._streamed_source,
            remotes={},
            clock=self._clock,
            unreachable_grace=config.unreachable_grace,
            options=config.options,
            resolve=config.resolve,
            link_namespace=config.namespace,
            relist_period=config.relist_period,
            write_runner=thread_pool_runner(config.write_concurrency),
            link_status=self.link_status,
            dead_gateways=self.prober.dead,
        )
        self.ready = False
        self.leader = leader is None  # no election: always the one writer
        self.last: SyncOutcome | None = None
        self._beat = time.monotonic()

    def _trigger(self) -> None:
        if self._first_event is None:
            self._first_event = time.monotonic()
        self._wake()

    def _streamed(self, backend: Backend) -> _Streamed:
        return _Streamed(
            backend, self._trigger, self._watch_stop, lambda: self._streaming, self.metrics
        )

    @property
    def reconciler(self) -> Reconciler:
        return self._reconciler

    # -- remotes ------------------------------------------------------------------------

    def _default_factory(self, target: str, creds: ClusterCredentials) -> Backend:
        return KubernetesBackend(
            target,
            api_client(creds),
            timeouts=self.config.timeouts,
            backoff=self.config.backoff,
            read_only=True,
            kinds=REMOTE_KINDS,
        )

    @property
    def dry_run_backend(self) -> DryRunBackend | None:
        inner = self._writer.inner
        if isinstance(inner, MeteredBackend):
            inner = inner.inner
        return inner if isinstance(inner, DryRunBackend) else None

    def refresh(self, *, full: bool = True) -> None:
        """Read the Links (from the reconciler's cache: a watch, no list after the
        first) and, when they changed or ``full``, their Secrets by name; (re)build the
        remotes whose credentials changed. Source errors propagate (the caller reports
        them)."""
        ns = self.config.namespace
        links = self._reconciler.links()
        # A status write changes only a Link's resourceVersion: not a reason to read
        # its Secret again.
        seen = tuple(attrs.evolve(link, resource_version="") for link in links)
        if not full and seen == self._links_seen:
            return
        wanted: dict[str, _RemoteEntry] = {}
        problems: dict[str, LinkProblem] = {}
        for link in sorted(links, key=lambda link: link.name):
            key = f"{link.namespace}/{link.name}"
            target = link.target_cluster_name
            if not target or target in wanted:
                continue  # another Link to the same cluster already supplies it
            secret_name = link.cluster_credentials_secret
            if not secret_name:
                problems[key] = LinkProblem(key, target, f"Link {key} names no credentials Secret")
                continue
            try:
                secret = self.source.get("Secret", link.namespace or ns, secret_name)
            except NotFound:
                problems[key] = LinkProblem(
                    key, target, f"Link {key}: credentials Secret {ns}/{secret_name} not found"
                )
                continue
            except BackendError as err:
                problems[key] = LinkProblem(
                    key, target, f"Link {key}: cannot read Secret {ns}/{secret_name}: {err}"
                )
                if target in self._remotes:  # a passing failure: keep the client we have
                    wanted[target] = self._remotes[target]
                continue
            smeta = secret.get("metadata") or {}
            version = (str(smeta.get("uid")), str(smeta.get("resourceVersion")), key)
            current = self._remotes.get(target)
            if current is not None and current.version == version:
                wanted[target] = current
                continue
            try:
                creds = credentials_from_secret(secret, link=key, policy=self.config.policy)
            except CredentialsError as err:
                problems[key] = LinkProblem(key, target, str(err), mechanism=err.mechanism)
                log.error(
                    "credentials refused; the Link's mirrors are left as they are",
                    extra={"link": key, "cluster": target, "mechanism": err.mechanism},
                )
                continue
            backend = _Recording(MeteredBackend(self._factory(target, creds), self.metrics))
            wanted[target] = _RemoteEntry(target, version, backend, self._streamed(backend))
            log.info("built a client for a linked cluster", extra={"link": key, "cluster": target})
        for target, entry in self._remotes.items():
            if wanted.get(target) is not entry:
                entry.streamed.close()
                _close(entry.backend.inner)
        self._remotes = wanted
        self._problems = problems
        self._links_seen = seen
        self.prober.set_links(links)
        self._reconciler.set_remotes({t: e.streamed for t, e in wanted.items()})

    # -- syncing ------------------------------------------------------------------------

    def _outcome(self, reports: tuple[RunReport, ...], source_error: str | None) -> SyncOutcome:
        problems = dict(self._problems)
        for key, status in self._reconciler.status().items():
            if status.last_error and key not in problems:
                problems[key] = LinkProblem(key, status.target, status.last_error)
        if source_error is None and reports and not reports[-1].ok:
            source_error = reports[-1].error
        outcome = SyncOutcome(reports, tuple(problems[k] for k in sorted(problems)), source_error)
        self.last = outcome
        self.ready = source_error is None
        last = outcome.last
        if last is not None:
            # What every round of this sync did (``--once`` runs several), not only its
            # last; pending and unreachable are as the last round left them.
            log.info(
                "sync",
                extra={
                    "creates": sum(len(r.created) for r in reports),
                    "updates": sum(len(r.updated) for r in reports),
                    "deletes": sum(len(r.deleted) for r in reports),
                    "rounds": len(reports),
                    "pending": len(last.pending),
                    "unreachable": list(last.unreachable),
                    "failed_links": [p.link for p in outcome.problems],
                    "dry_run": self.config.dry_run,
                },
            )
            refused: dict[str, str] = {}  # per object, its first refusal of this sync
            for report in reports:
                for failure in report.failed:  # refused for good (e.g. a 422)
                    refused.setdefault(failure.partition(" in cluster ")[0], failure)
            for obj, failure in refused.items():
                log.warning("write refused", extra={"object": obj, "error": failure})
            planned = self._reconciler.last_plan
            # Only a full comparison re-reads every skip and conflict; a run that could
            # not read the source planned nothing.
            if last.ok and planned is not None and planned is not self._findings_plan:
                self._findings_plan = planned
                self._report_plan_findings(last)
        for problem in outcome.problems:
            log.warning(
                "link failed",
                extra={"link": problem.link, "cluster": problem.target, "error": problem.message},
            )
        if source_error:
            log.error("cannot read the source cluster", extra={"error": source_error})
        return outcome

    def _report_plan_findings(self, report: RunReport) -> None:
        """Log each skip and conflict when it first appears or its message changes
        (not on every sync), and when it is gone."""
        # A skip names its cluster: the same remote name can be skipped in two clusters.
        seen: dict[tuple[str, str, str, str], tuple[str, str]] = {}
        for skip in report.skipped:
            key = ("skip", str(skip.code.value), str(skip.ref), skip.cluster)
            seen[key] = (skip.message, "")
        for conflict in report.conflicts:
            key = ("conflict", str(conflict.code.value), str(conflict.ref), "")
            seen[key] = (conflict.message, conflict.winner)
        for key, (message, winner) in sorted(seen.items()):
            if self._findings.get(key) == (message, winner):
                continue
            kind, code, ref, cluster = key
            extra = {"code": code, "object": ref, "detail": message}
            extra.update({"cluster": cluster} if kind == "skip" else {"winner": winner})
            log.warning(kind, extra=extra)
        for kind, code, ref, cluster in sorted(set(self._findings) - set(seen)):
            extra = {"code": code, "object": ref}
            if cluster:
                extra["cluster"] = cluster
            log.info(f"{kind} resolved", extra=extra)
        self._findings = seen

    def _sync(self, run: Callable[[], RunReport], *, full: bool) -> SyncOutcome:
        try:
            self.refresh(full=full)
        except BackendError as err:
            return self._outcome((), f"cannot read Links or Secrets: {err}")
        started = time.monotonic()
        report = run()
        self._sync_metrics(started, report)
        return self._outcome((report,), None)

    def _sync_metrics(self, started: float, report: RunReport) -> None:
        """Sync time, skips of the last full plan, event-to-write latency, cache sizes."""
        now = time.monotonic()
        self.metrics.sync_seconds.observe(now - started)
        planned = self._reconciler.last_plan
        # Skips change only with a full comparison's plan: not recounted per event run.
        if planned is not None and planned is not self._metrics_plan:
            self._metrics_plan = planned
            counts: dict[str, int] = {}
            for skip in planned.skipped:
                counts[skip.code.value] = counts.get(skip.code.value, 0) + 1
            self.metrics.set_skipped(counts)
        for (cluster, kind), size in self._reconciler.cache_sizes().items():
            self.metrics.cache_objects.labels(cluster, kind).set(size)
        first = self._first_event
        if first is not None and report.ok:
            self._first_event = None
            if report.writes:
                self.metrics.event_to_write_seconds.observe(now - first)

    def sync_once(self) -> SyncOutcome:
        """Refresh the remotes and run one full comparison from the caches (the
        caches catch up through their watches; nothing is listed again)."""
        return self._sync(self._reconciler.run_once, full=True)

    def sync_events(self) -> SyncOutcome:
        """Follow what the watches delivered: only the affected objects are compared
        and written (Secrets are read again only when a Link changed)."""
        return self._sync(self._reconciler.run_events, full=False)

    def sync_until_idle(self, max_rounds: int = 20) -> SyncOutcome:
        """``--once``: refresh, then list everything and run until nothing is pending
        (409s and 5xx retried). Each round lists again: a one-shot run has no watch
        to wait for."""
        try:
            self.refresh()
        except BackendError as err:
            return self._outcome((), f"cannot read Links or Secrets: {err}")
        runs: list[RunReport] = []
        for _ in range(max_rounds):
            self._reconciler.invalidate()
            report = self._reconciler.run_once()
            runs.append(report)
            # Idle, or the source unreadable even after the backend's own retries.
            if report.idle or not report.ok:
                break
        return self._outcome(tuple(runs), None)

    def alive(self, stale_after: float = 60.0) -> bool:
        """The event loop is turning (a heartbeat in the last ``stale_after`` seconds)."""
        return time.monotonic() - self._beat < stale_after

    async def _heartbeat(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._beat = time.monotonic()
            await _wait(stop, 1.0)

    def health_state(self) -> dict[str, Any]:
        last = self.last
        return {
            "ready": self.ready,
            "leader": self.leader,
            "links": {
                p.link: {"cluster": p.target, "error": p.message}
                for p in (last.problems if last else ())
            },
        }

    def stop_watches(self) -> None:
        self._watch_stop.set()
        self._streamed_source.close()
        for entry in self._remotes.values():
            entry.streamed.close()

    # -- the long-running loop ----------------------------------------------------------

    async def run(self, stop: asyncio.Event, *, elector: LeaderElector | None = None) -> None:
        """Sync until ``stop`` is set: leader election (when ``elector``), a full
        comparison every ``resync_period``, and in between the events the watches
        deliver (each wakes the loop, after ``debounce``); pending writes retried after
        their backoff; graceful exit (the Lease released, watches and clients closed)."""
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()

        def trigger() -> None:
            loop.call_soon_threadsafe(wake.set)

        if self.config.watch:
            self._wake = trigger
            self._streaming = True
        self.prober.on_change = trigger  # a gateway flip wakes a run
        if self.config.probe_gateways:
            self.prober.enable()
        heartbeat = asyncio.create_task(self._heartbeat(stop))
        try:
            while not stop.is_set():
                if elector is not None:
                    self.leader = False
                    while not stop.is_set():
                        held = await asyncio.to_thread(elector.try_acquire_or_renew)
                        # A standby is ready while it can talk to the API server.
                        self.ready = elector.last_error is None
                        if held:
                            self.leader = True
                            break
                        await _wait(stop, elector.retry_period)
                    if stop.is_set():
                        break
                done = asyncio.Event()  # ends the renewer (after its current attempt)
                renewer = (
                    asyncio.create_task(self._renew(elector, done, wake))
                    if elector is not None
                    else None
                )
                last_full: float | None = None
                stale_since: float | None = None  # findings_stale seen first then
                status_delay = min(self.config.status_delay, self.config.resync_period)
                try:
                    while not stop.is_set():
                        if elector is not None and not elector.is_leader:
                            log.warning("lost the lease; standing by")
                            break
                        wake.clear()  # a change seen during the sync wakes the next one
                        now = self._clock()
                        full = (
                            last_full is None
                            or now - last_full >= self.config.resync_period
                            or not self.config.watch
                            or (stale_since is not None and now - stale_since >= status_delay)
                        )
                        if not self.config.watch:
                            self._reconciler.invalidate()  # no watch: each sync lists
                        step = self.sync_once if full else self.sync_events
                        try:
                            began = self._clock()
                            outcome = await asyncio.to_thread(step)
                        except Exception:  # a bug must not end the controller
                            log.exception("sync failed")
                            self.ready = False
                            await _wait(stop, min(30.0, self.config.resync_period))
                            continue
                        if full:
                            last_full = now
                            stale_since = None
                            if outcome.last is not None and outcome.last.writes == 0:
                                # Full comparisons for status take at most a fifth of
                                # the time, however large the fleet (each plans every
                                # object); timed when it wrote nothing, unlike a cold start.
                                taken = 4 * (self._clock() - began)
                                status_delay = min(
                                    max(self.config.status_delay, taken),
                                    self.config.resync_period,
                                )
                        elif self._reconciler.findings_stale and stale_since is None:
                            stale_since = now
                        assert last_full is not None
                        delay = self.config.resync_period - (self._clock() - last_full)
                        if stale_since is not None:
                            delay = min(delay, stale_since + status_delay - self._clock())
                        last = outcome.last
                        if last is not None and last.retry_at is not None:
                            delay = min(delay, last.retry_at - self._clock())
                        await _wait_any(stop, wake, max(0.0, delay))
                        if wake.is_set() and not stop.is_set():
                            await _wait(stop, self.config.debounce)
                finally:
                    done.set()
                    if renewer is not None:
                        # Awaited, not cancelled: a renewal in flight in its thread must
                        # finish before the Lease is released.
                        await renewer
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            self.prober.stop()
            self.stop_watches()
            if elector is not None:
                await asyncio.to_thread(elector.release)
            self.close()

    async def _renew(
        self, elector: LeaderElector, done: asyncio.Event, wake: asyncio.Event
    ) -> None:
        while not done.is_set():
            await _wait(done, elector.retry_period)
            if done.is_set():
                return
            await asyncio.to_thread(elector.try_acquire_or_renew)
            if not elector.is_leader:
                wake.set()  # the sync loop notices and stands by
                return

    def close(self) -> None:
        for entry in self._remotes.values():
            entry.streamed.close()
            _close(entry.backend.inner)
        self._remotes = {}


def thread_pool_runner(workers: int) -> WriteRunner:
    """A :data:`~meshmirror.reconcile.WriteRunner` that runs up to ``workers`` chains
    of writes side by side (each chain in order: a mirror's Service before its
    Endpoints); 1 runs them one at a time."""
    if workers < 1:
        raise ValueError(f"write concurrency must be >= 1, not {workers}")
    if workers == 1:
        return run_sequentially

    def run(chains: Sequence[Sequence[Write]], do: Callable[[Write], Outcome]) -> list[Outcome]:
        if len(chains) <= 1:
            return run_sequentially(chains, do)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="write") as pool:
            results = list(pool.map(lambda chain: run_chain(chain, do), chains))
        return [o for chain in results for o in chain]

    return run


def _close(backend: Backend) -> None:
    closer = getattr(backend, "close", None)
    if callable(closer):
        with contextlib.suppress(Exception):
            closer()


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=max(0.0, seconds))


async def _wait_any(stop: asyncio.Event, wake: asyncio.Event, seconds: float) -> None:
    tasks = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(tasks, timeout=max(0.0, seconds), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
