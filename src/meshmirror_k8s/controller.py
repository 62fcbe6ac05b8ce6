"""The controller: Links and credentials Secrets in, a :class:`Reconciler` driven over HTTP.

Each sync reads the Links in the controller's namespace and, for each, its credentials
Secret (``spec.clusterCredentialsSecret``, by name), builds one read-only
:class:`KubernetesBackend` per target cluster (reused while the Secret is unchanged),
and runs :meth:`meshmirror.reconcile.Reconciler.run_once` against the source. A Link
whose credentials are refused or unreadable gets no backend: the reconciler then keeps
its mirrors exactly as they are, and the Link counts as failed.

:meth:`Controller.run` is the long-running loop (asyncio): leader election, a sync every
``resync_period`` (sooner when the reconciler has pending writes), and watches on the
source and every target that wake it up early (a watch is only a trigger: every sync
lists). Syncs run in a worker thread, so Lease renewals and health probes are never
blocked by a slow cluster. ``dry_run`` wraps the source in :class:`DryRunBackend`:
every planned write is printed and none is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

from meshmirror import LINKERD, Link, ManifestError, PlanOptions
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
from meshmirror.linkstatus import LinkStatusWriter
from meshmirror.manifest import from_manifest
from meshmirror.reconcile import Reconciler, RunReport
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
]

log = logging.getLogger("meshmirror_k8s.controller")

#: The only kinds ever read from a linked cluster.
REMOTE_KINDS = frozenset({"Service", "Endpoints", "EndpointSlice"})
_SOURCE_WATCH_KINDS = ("Namespace", "Service", "Endpoints", "Link")
_REMOTE_WATCH_KINDS = ("Service", "Endpoints", "EndpointSlice")

RemoteFactory = Callable[[str, ClusterCredentials], Backend]


def dns_resolver(host: str) -> list[str]:
    """Every address ``host`` resolves to, sorted (as Linkerd resolves gateway names)."""
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    return sorted({str(info[4][0]) for info in infos})


@dataclass(frozen=True)
class ControllerConfig:
    """The controller's settings (the command line's flags)."""

    namespace: str = LINKERD.link_namespace
    options: PlanOptions = field(default_factory=PlanOptions)
    policy: CredentialPolicy = field(default_factory=CredentialPolicy)
    unreachable_grace: float = 300.0
    resync_period: float = 60.0
    debounce: float = 0.5
    dry_run: bool = False
    watch: bool = True
    probe_gateways: bool = True  # HOOK(probes): each Link's probeSpec, while run() runs
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

    def update_status(self, manifest: Manifest) -> Manifest:  # HOOK(link-status)
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

    def update_status(self, manifest: Manifest) -> Manifest:  # HOOK(link-status)
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

    def update_status(self, manifest: Manifest) -> Manifest:  # HOOK(link-status)
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


# -- the controller ------------------------------------------------------------------------


@dataclass
class _RemoteEntry:
    target: str
    version: tuple[str, str, str]  # (secret uid, secret resourceVersion, link)
    backend: _Recording


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
        # HOOK(metrics): one registry per controller; writes and reads counted.
        self.metrics = ControllerMetrics()
        writer: Backend = DryRunBackend(source, self._out) if config.dry_run else source
        writer = MeteredBackend(writer, self.metrics)
        self._writer = _Fenced(writer, leader or (lambda: True))
        self._remotes: dict[str, _RemoteEntry] = {}
        self._problems: dict[str, LinkProblem] = {}
        self._findings: dict[tuple[str, str, str, str], tuple[str, str]] = {}
        self._reconciler: Reconciler | None = None
        self.ready = False
        self.leader = leader is None  # no election: always the one writer
        self.last: SyncOutcome | None = None
        self._beat = time.monotonic()
        self._watch_stop = threading.Event()
        self._watchers: dict[tuple[str, str, int], threading.Thread] = {}
        # HOOK(link-status): Link status through links/status (none in a dry run).
        self.link_status = (
            None if config.dry_run else LinkStatusWriter(time.time, options=config.options)
        )
        # HOOK(probes): gateway probes from each Link's probeSpec (started by run()).
        self.prober = GatewayProber(resolve=config.resolve, metrics=self.metrics)
        self._first_event: float | None = None  # HOOK(metrics): event-to-write latency

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
        if isinstance(inner, MeteredBackend):  # HOOK(metrics)
            inner = inner.inner
        return inner if isinstance(inner, DryRunBackend) else None

    def refresh(self) -> None:
        """Read Links and their Secrets; (re)build the remotes and, when they changed,
        the reconciler. Source errors propagate (the caller reports them)."""
        ns = self.config.namespace
        links = sorted(
            self.source.list("Link", ns).items,
            key=lambda d: str((d.get("metadata") or {}).get("name")),
        )
        wanted: dict[str, _RemoteEntry] = {}
        problems: dict[str, LinkProblem] = {}
        for doc in links:
            meta = doc.get("metadata") or {}
            spec = doc.get("spec") or {}
            key = f"{meta.get('namespace') or ns}/{meta.get('name')}"
            target = spec.get("targetClusterName") if isinstance(spec, dict) else None
            if not isinstance(target, str) or not target:
                continue  # the reconciler reports a malformed Link
            if target in wanted:
                continue  # another Link to the same cluster already supplies it
            secret_name = spec.get("clusterCredentialsSecret")
            if not isinstance(secret_name, str) or not secret_name:
                problems[key] = LinkProblem(key, target, f"Link {key} names no credentials Secret")
                continue
            try:
                secret = self.source.get("Secret", ns, secret_name)
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
            remote = MeteredBackend(self._factory(target, creds), self.metrics)  # HOOK(metrics)
            wanted[target] = _RemoteEntry(target, version, _Recording(remote))
            log.info("built a client for a linked cluster", extra={"link": key, "cluster": target})
        changed = {t: e.version for t, e in wanted.items()} != {
            t: e.version for t, e in self._remotes.items()
        }
        for target, entry in self._remotes.items():
            if wanted.get(target) is not entry:
                _close(entry.backend.inner)
        self._remotes = wanted
        self._problems = problems
        self.prober.set_links(_links(links))  # HOOK(probes)
        if changed or self._reconciler is None:
            self._reconciler = Reconciler(
                source=self._writer,
                remotes={t: e.backend for t, e in wanted.items()},
                clock=self._clock,
                unreachable_grace=self.config.unreachable_grace,
                options=self.config.options,
                resolve=self.config.resolve,
                link_namespace=ns,
                link_status=self.link_status,  # HOOK(link-status)
                dead_gateways=self.prober.dead,  # HOOK(probes)
            )

    # -- syncing ------------------------------------------------------------------------

    def _outcome(self, reports: tuple[RunReport, ...], source_error: str | None) -> SyncOutcome:
        problems = dict(self._problems)
        if self._reconciler is not None:
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
            for report in reports:
                for failure in report.failed:  # refused for good (e.g. a 422), per object
                    log.warning(
                        "write refused",
                        extra={"object": failure.partition(" in cluster ")[0], "error": failure},
                    )
            if last.ok:  # a run that could not read the source planned nothing
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
        # (kind, code, object, cluster) -> (message, winner); a skip names its cluster,
        # since the same remote name can be skipped in two clusters.
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

    def sync_once(self) -> SyncOutcome:
        """Refresh the remotes and run one full sync."""
        try:
            self.refresh()
        except BackendError as err:
            return self._outcome((), f"cannot read Links or Secrets: {err}")
        assert self._reconciler is not None
        started = time.monotonic()  # HOOK(metrics)
        report = self._reconciler.run_once()
        self._sync_metrics(started, report)  # HOOK(metrics)
        return self._outcome((report,), None)

    def _sync_metrics(self, started: float, report: RunReport) -> None:
        """HOOK(metrics): sync time, skips of the last plan, event-to-write latency."""
        now = time.monotonic()
        self.metrics.sync_seconds.observe(now - started)
        planned = self._reconciler.last_plan if self._reconciler is not None else None
        if planned is not None:
            counts: dict[str, int] = {}
            for skip in planned.skipped:
                counts[skip.code.value] = counts.get(skip.code.value, 0) + 1
            self.metrics.set_skipped(counts)
        first = self._first_event
        if first is not None and report.ok:
            self._first_event = None
            if report.writes:
                self.metrics.event_to_write_seconds.observe(now - first)

    def sync_until_idle(self, max_rounds: int = 20) -> SyncOutcome:
        """``--once``: refresh, then run until nothing is pending (409s and 5xx retried)."""
        try:
            self.refresh()
        except BackendError as err:
            return self._outcome((), f"cannot read Links or Secrets: {err}")
        assert self._reconciler is not None
        runs: list[RunReport] = []
        for _ in range(max_rounds):
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

    # -- watches ------------------------------------------------------------------------

    def _watch_targets(self) -> list[tuple[str, _Recording, str]]:
        out: list[tuple[str, _Recording, str]] = [
            ("source", self._writer, kind) for kind in _SOURCE_WATCH_KINDS
        ]
        for target, entry in sorted(self._remotes.items()):
            for kind in _REMOTE_WATCH_KINDS:
                inner = entry.backend.inner
                if (
                    kind == "EndpointSlice"
                    and getattr(inner, "endpoint_slices_served", None) is False
                ):
                    continue
                out.append((target, entry.backend, kind))
        return out

    def ensure_watches(self, trigger: Callable[[], None]) -> None:
        """One watch thread per (cluster, kind) of the current backends; threads of
        replaced backends end at their next timeout."""
        wanted = {(c, k, id(b)): b for c, b, k in self._watch_targets()}
        for key, thread in list(self._watchers.items()):
            if key not in wanted or not thread.is_alive():
                del self._watchers[key]
        for key, backend in wanted.items():
            if key in self._watchers:
                continue
            cluster, kind, _ = key
            alive = lambda k=key: k in self._watchers  # noqa: E731
            thread = threading.Thread(
                target=self._watch_loop,
                args=(cluster, backend, kind, trigger, alive),
                daemon=True,
                name=f"watch-{cluster}-{kind}",
            )
            self._watchers[key] = thread
            thread.start()

    def _own_status(self, cluster: str, kind: str, event: WatchEvent) -> bool:
        """HOOK(link-status): the Link event our own status write caused (no sync)."""
        writer = self.link_status
        return (
            cluster == "source"
            and kind == "Link"
            and event.type == "MODIFIED"
            and writer is not None
            and writer.is_own(event.object)
        )

    def stop_watches(self) -> None:
        self._watch_stop.set()
        self._watchers.clear()

    def _watch_loop(
        self,
        cluster: str,
        backend: _Recording,
        kind: str,
        trigger: Callable[[], None],
        alive: Callable[[], bool],
    ) -> None:
        stop = self._watch_stop
        rv = ""
        failures = 0
        started = False
        while not stop.is_set() and alive():
            if started:  # HOOK(metrics)
                self.metrics.watch_restarts.labels(cluster, kind).inc()
            started = True
            rv = rv or backend.resource_version(kind)
            if not rv:
                stop.wait(1.0)
                continue
            try:
                for event in backend.watch(kind, rv):
                    new_rv = (event.object.get("metadata") or {}).get("resourceVersion")
                    if new_rv:
                        rv = str(new_rv)
                    if event.type != "BOOKMARK":
                        self.metrics.events.labels(cluster, kind).inc()  # HOOK(metrics)
                        if self._own_status(cluster, kind, event):  # HOOK(link-status)
                            continue
                        if self._first_event is None:
                            self._first_event = time.monotonic()
                        trigger()
                    if stop.is_set():
                        return
                failures = 0
            except Gone:
                self.metrics.relists.labels(cluster, kind).inc()  # HOOK(metrics)
                log.info("watch expired; re-listing", extra={"cluster": cluster, "kind": kind})
                rv = ""  # re-listed by the next sync
                trigger()
                stop.wait(1.0)
            except BackendError as err:
                failures += 1
                log.debug(
                    "watch failed", extra={"cluster": cluster, "kind": kind, "error": err.message}
                )
                stop.wait(min(30.0, 0.5 * 2**failures))

    # -- the long-running loop ----------------------------------------------------------

    async def run(self, stop: asyncio.Event, *, elector: LeaderElector | None = None) -> None:
        """Sync until ``stop`` is set: leader election (when ``elector``), a sync every
        ``resync_period`` or sooner (pending writes, a watch event), graceful exit
        (the Lease released, watches and clients closed)."""
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()

        def trigger() -> None:
            loop.call_soon_threadsafe(wake.set)

        self.prober.on_change = trigger  # HOOK(probes): a gateway flip wakes a sync
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
                try:
                    while not stop.is_set():
                        if elector is not None and not elector.is_leader:
                            log.warning("lost the lease; standing by")
                            break
                        wake.clear()  # a change seen during the sync wakes the next one
                        try:
                            outcome = await asyncio.to_thread(self.sync_once)
                        except Exception:  # a bug must not end the controller
                            log.exception("sync failed")
                            self.ready = False
                            await _wait(stop, min(30.0, self.config.resync_period))
                            continue
                        if self.config.watch:
                            self.ensure_watches(trigger)
                        delay = self.config.resync_period
                        last = outcome.last
                        if last is not None and last.retry_at is not None:
                            delay = min(delay, max(0.0, last.retry_at - self._clock()))
                        await _wait_any(stop, wake, delay)
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
            self.prober.stop()  # HOOK(probes)
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
            _close(entry.backend.inner)
        self._remotes = {}


def _links(docs: Iterable[Manifest]) -> list[Link]:
    """HOOK(probes): the Links that parse (the reconciler reports the others)."""
    out: list[Link] = []
    for doc in docs:
        try:
            link = from_manifest(doc)
        except ManifestError:
            continue
        if isinstance(link, Link):
            out.append(link)
    return out


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
