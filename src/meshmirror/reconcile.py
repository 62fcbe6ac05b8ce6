"""The reconciler: drives the plan into the source cluster, level-triggered (DESIGN.md §4).

Every run re-reads the source and every linked cluster with a plain ``list`` (watches
are not used: correctness never depends on them), plans with
:func:`meshmirror.plan.plan`, diffs semantically with :func:`meshmirror.diff.diff` and
writes exactly the owned objects whose planned content differs: creates from
:func:`~meshmirror.manifest.to_manifest`, updates carrying the current
``resourceVersion`` (and the server's fields), deletes with ``resource_version=`` and
``uid=`` preconditions. Nothing is ever written to a remote, Link status only through a
:class:`~meshmirror.linkstatus.LinkStatusWriter` when one is given (``links/status``,
only when it changes), and no Namespace unless namespace creation is on.

Time is a parameter (``clock``: a callable returning seconds). The core is synchronous
and thread-free: :meth:`Reconciler.run_once` is one full sync,
:meth:`Reconciler.run_until_idle` repeats it for tests and notebooks (a failed write is
"pending" and retried by the next round, no sleeping), and
:meth:`Reconciler.run_forever` is the asyncio driver (pending writes retried after an
exponential backoff).

A linked cluster that cannot be read is planned from its last known state (a Reconciler
that never saw it plans without it). Either way the owned objects derived from it are
never deleted while its Link stands, and when its state is unknown they are not updated
either (federated Services listing one of its members included). After
``unreachable_grace`` seconds, counted from the first run that failed to reach it, its
gateway Endpoints' addresses move to ``notReadyAddresses``, once. A removed Link's
mirrors are deleted all the same, and one sync after the cluster returns restores the
plan.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import Callable, Collection, Mapping
from typing import Any, TypeAlias

import attrs

from meshmirror.backends.base import (
    AlreadyExists,
    Backend,
    BackendError,
    Manifest,
    NotFound,
    Unreachable,
)
from meshmirror.codes import Conflict, Skip
from meshmirror.diff import Update, diff, same
from meshmirror.linkstatus import LinkStatusWriter
from meshmirror.manifest import ManifestError, cluster_state, from_manifest, to_manifest
from meshmirror.mirror import Resolver
from meshmirror.model import (
    AnyObject,
    ClusterState,
    Endpoints,
    EndpointSubset,
    Link,
    ObjectRef,
    Service,
)
from meshmirror.plan import Plan, PlannedObject, PlanOptions, plan
from meshmirror.scheme import LINKERD, Scheme

__all__ = [
    "Clock",
    "IdleReport",
    "LinkStatus",
    "ManualClock",
    "Reconciler",
    "RunReport",
]

#: Seconds (as a float) since any fixed origin; the reconciler's only notion of time.
Clock: TypeAlias = Callable[[], float]

_SOURCE_KINDS = ("Namespace", "Service", "Endpoints")
_REMOTE_KINDS = ("Service", "Endpoints")
_OPTIONAL_REMOTE_KINDS = ("EndpointSlice",)  # read where the remote serves them
# Fields the API server assigns to a Service and an update must carry over.
_SERVICE_SERVER_FIELDS = (
    "clusterIP",
    "clusterIPs",
    "ipFamilies",
    "ipFamilyPolicy",
    "internalTrafficPolicy",
)
_META_SERVER_FIELDS = ("resourceVersion", "uid", "creationTimestamp")


class ManualClock:
    """A clock that moves only when told to: for tests, notebooks and FakeCluster.

    >>> clock = ManualClock(100.0)
    >>> clock()
    100.0
    >>> clock.advance(2.5)
    102.5
    >>> clock()
    102.5
    """

    __slots__ = ("_now",)

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)

    def __call__(self) -> float:
        return self._now

    @property
    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (never backwards); the new time."""
        if seconds < 0:
            raise ValueError(f"a clock only moves forward; cannot advance by {seconds!r}")
        self._now += float(seconds)
        return self._now

    def __repr__(self) -> str:
        return f"ManualClock({self._now!r})"


@attrs.frozen
class LinkStatus:
    """How one Link is doing, as :meth:`Reconciler.status` reports it.

    ``last_sync`` is the clock time of the last run that read the Link's target and
    applied every write derived from it (None: never). ``mirrored`` counts the mirrors
    (mirror Services, per-pod Services not counted) the Link has: planned when the
    target's state is known, else the ones kept. ``last_error`` names the Link and the
    cluster (None when the last run was clean). ``unreachable_since`` is when the
    current partition was first seen (None: reachable). ``gateway_dead``: the grace has
    passed, so its gateway Endpoints list their addresses as not ready. ``pending``:
    writes for this Link's objects that failed in the last run (the retryable ones are
    retried by the next run; the report says which).
    """

    link: ObjectRef
    target: str
    last_sync: float | None = None
    mirrored: int = 0
    last_error: str | None = None
    unreachable_since: float | None = None
    gateway_dead: bool = False
    pending: int = 0

    @property
    def ok(self) -> bool:
        return self.last_error is None and self.pending == 0


@attrs.frozen
class RunReport:
    """What one :meth:`Reconciler.run_once` did.

    ``ok`` is False when the source could not be read (then nothing was written and
    ``error`` says why). ``created``/``updated``/``deleted`` are the writes the source
    confirmed; ``pending`` the ones that failed with a retryable error (or whose outcome
    is unknown, as after a timeout) and are retried by the next run, not before
    ``retry_at`` when paced by :meth:`Reconciler.run_forever`; ``failed`` the writes
    refused for good (with why). ``unreachable`` names the linked clusters not read this
    run (their last known state was used) and ``errors`` every error, each naming its
    Link or cluster. ``skipped`` and ``conflicts`` are the run's plan's (what it
    deliberately left out, and federated disagreements), for callers to report.
    """

    time: float
    ok: bool
    error: str | None = None
    created: tuple[ObjectRef, ...] = ()
    updated: tuple[ObjectRef, ...] = ()
    deleted: tuple[ObjectRef, ...] = ()
    pending: tuple[ObjectRef, ...] = ()
    failed: tuple[str, ...] = ()
    unreachable: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    retry_at: float | None = None
    skipped: tuple[Skip, ...] = ()
    conflicts: tuple[Conflict, ...] = ()

    @property
    def writes(self) -> int:
        """Confirmed writes (creates, updates and deletes)."""
        return len(self.created) + len(self.updated) + len(self.deleted)

    @property
    def idle(self) -> bool:
        """The source was read, nothing was written and nothing is pending."""
        return self.ok and self.writes == 0 and not self.pending

    @property
    def settled(self) -> bool:
        """Idle, and every linked cluster was read."""
        return self.idle and not self.unreachable


@attrs.frozen
class IdleReport:
    """What :meth:`Reconciler.run_until_idle` did: every run, in order."""

    runs: tuple[RunReport, ...]

    @property
    def rounds(self) -> int:
        return len(self.runs)

    @property
    def last(self) -> RunReport:
        return self.runs[-1]

    @property
    def idle(self) -> bool:
        return self.last.idle

    @property
    def settled(self) -> bool:
        return self.last.settled

    @property
    def writes(self) -> int:
        return sum(r.writes for r in self.runs)


@attrs.frozen
class _Remote:
    """How one linked cluster stands in this run."""

    target: str
    state: ClusterState | None  # fresh, or the last known; None: unknown
    read: bool  # listed this run
    error: str | None = None
    dead: bool = False  # past the grace
    timed: bool = True  # the grace applies (False: no backend, or a Link we cannot read)


@attrs.frozen
class _Write:
    verb: str  # "create", "update", "delete"
    ref: ObjectRef
    planned: PlannedObject | None = None
    current: Manifest | None = None


class Reconciler:
    """A level-triggered service mirror for one source cluster and its Links.

    ``source`` is the cluster mirrors are written to; its Links (only those in
    ``link_namespace`` when given) say what to mirror, and ``remotes`` maps a Link's
    ``targetClusterName`` to that cluster's backend (only ever read). ``clock`` returns
    seconds; ``options``, ``scheme`` and ``resolve`` are :func:`meshmirror.plan.plan`'s.
    A Link whose target has no backend, or that cannot be read, keeps its mirrors
    exactly as they are (and says so in :meth:`status`).

    >>> from meshmirror.backends.memory import FakeCluster
    >>> ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
    >>> link = {"apiVersion": "multicluster.linkerd.io/v1alpha3", "kind": "Link",
    ...     "metadata": {"name": "east", "namespace": "shop"},
    ...     "spec": {"targetClusterName": "east", "gatewayAddress": "192.0.2.10",
    ...              "gatewayPort": "4143",
    ...              "selector": {"matchLabels": {"mirror.linkerd.io/exported": "true"}}}}
    >>> web = {"apiVersion": "v1", "kind": "Service",
    ...     "metadata": {"name": "web", "namespace": "shop",
    ...                  "labels": {"mirror.linkerd.io/exported": "true"}},
    ...     "spec": {"ports": [{"name": "http", "port": 80}]}}
    >>> clock = ManualClock(0.0)
    >>> west = FakeCluster.from_manifests("west", [ns, link], clock=clock)
    >>> east = FakeCluster.from_manifests("east", [ns, web], clock=clock)
    >>> r = Reconciler(source=west, remotes={"east": east}, clock=clock)
    >>> done = r.run_until_idle()
    >>> done.writes, done.idle, done.rounds
    (2, True, 2)
    >>> west.writes
    [('create', 'Service', 'shop', 'web-east'), ('create', 'Endpoints', 'shop', 'web-east')]
    >>> Reconciler(source=west, remotes={"east": east}, clock=clock).run_once().writes
    0
    >>> east.set_reachable(False)
    >>> r.run_once().unreachable
    ('east',)
    >>> r.status()["shop/east"].last_error
    "Link shop/east: cannot read cluster 'east': unreachable (set_reachable(False))"
    >>> west.get("Service", "shop", "web-east") is not None  # kept during the partition
    True
    """

    def __init__(
        self,
        source: Backend,
        remotes: Mapping[str, Backend],
        clock: Clock,
        unreachable_grace: float = 300.0,
        options: PlanOptions | None = None,
        scheme: Scheme = LINKERD,
        resolve: Resolver = None,
        link_namespace: str | None = None,
        *,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        link_status: LinkStatusWriter | None = None,
        dead_gateways: Callable[[], Collection[str]] | None = None,
    ) -> None:
        if unreachable_grace < 0:
            raise ValueError(f"unreachable_grace must be >= 0, not {unreachable_grace!r}")
        if backoff_base <= 0 or backoff_max < backoff_base:
            raise ValueError("backoff needs 0 < backoff_base <= backoff_max")
        self._source = source
        self._remotes = dict(remotes)
        self._clock = clock
        self._grace = float(unreachable_grace)
        self._options = options or PlanOptions()
        self._scheme = scheme
        self._resolve = resolve
        self._link_namespace = link_namespace
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        # The last state read from each linked cluster, and when it stopped answering.
        self._known: dict[str, ClusterState] = {}
        self._since: dict[str, float] = {}
        self._status: dict[str, LinkStatus] = {}
        self._attempts: dict[ObjectRef, int] = {}
        self._source_attempts = 0
        self._source_error: str | None = None
        self._source_unreachable = False
        self._last: RunReport | None = None
        # HOOK(link-status): Link status written after each full sync (None: never).
        self.link_status = link_status
        # HOOK(probes): target clusters whose gateway probe says dead, asked each sync.
        self.dead_gateways = dead_gateways
        # HOOK(metrics): the plan of the last full sync (skips by code).
        self.last_plan: Plan | None = None

    # -- public ---------------------------------------------------------------------------

    @property
    def source_error(self) -> str | None:
        """Why the last run could not read the source cluster (None: it could)."""
        return self._source_error

    @property
    def last_report(self) -> RunReport | None:
        return self._last

    def status(self) -> Mapping[str, LinkStatus]:
        """Per Link (keyed ``namespace/name``), as of the last run."""
        return dict(sorted(self._status.items()))

    def run_once(self) -> RunReport:
        """One full sync: list the source and every reachable linked cluster, plan,
        diff, write. Never raises for a cluster's errors: they are in the report and in
        :meth:`status`."""
        now = self._clock()
        try:
            source, raw, links, bad_links = self._read_source()
        except BackendError as err:
            return self._source_failed(now, err)
        self._source_error = None
        self._source_attempts = 0
        self._source_unreachable = False

        good_targets = sorted({link.target_cluster_name for link in links})
        remotes = {t: self._read_remote(t, now) for t in good_targets}
        for target in sorted({t for t, _ in bad_links.values()} - set(good_targets)):
            remotes[target] = _Remote(target, None, read=False, error=None, timed=False)
        # Forget clusters no Link targets any more.
        for target in set(self._known) - set(remotes):
            del self._known[target]
        for target in set(self._since) - set(remotes):
            del self._since[target]

        dead = frozenset(t for t, r in remotes.items() if r.dead and r.state is not None)
        if self.dead_gateways is not None:  # HOOK(probes)
            dead |= frozenset(self.dead_gateways())
        options = attrs.evolve(self._options, dead_gateways=self._options.dead_gateways | dead)
        planned = plan(
            source,
            {t: r.state for t, r in remotes.items() if r.state is not None},
            scheme=self._scheme,
            resolve=self._resolve,
            options=options,
        )
        self.last_plan = planned  # HOOK(metrics)
        held = self._held(source, planned, remotes)
        writes = self._writes(planned, source, raw, held, remotes)
        created, updated, deleted, pending, failed, write_errors = self._apply(writes)

        retry_at = None
        if pending:
            worst = max(self._attempts.get(ref, 1) for ref in pending)
            retry_at = now + self._backoff(worst)
        self._update_status(now, links, bad_links, remotes, planned, source, write_errors)
        if self.link_status is not None:  # HOOK(link-status)
            self.link_status.sync(
                self._source,
                links,
                raw,
                planned,
                source,
                {t: r.state for t, r in remotes.items() if r.state is not None},
                read={t for t, r in remotes.items() if r.read},
                errors=write_errors,
            )
        errors: list[str] = []
        for link in links:
            problem = remotes[link.target_cluster_name].error
            if problem is not None:
                errors.append(f"Link {link.namespace}/{link.name}: {problem}")
        errors.extend(
            f"Link {ref.namespace}/{ref.name}: {problem}" for ref, (_, problem) in bad_links.items()
        )
        errors.extend(msg for _, msg in write_errors)
        report = RunReport(
            time=now,
            ok=True,
            created=tuple(created),
            updated=tuple(updated),
            deleted=tuple(deleted),
            pending=tuple(pending),
            failed=tuple(failed),
            unreachable=tuple(sorted(t for t, r in remotes.items() if not r.read)),
            errors=tuple(errors),
            retry_at=retry_at,
            skipped=tuple(planned.skipped),
            conflicts=tuple(planned.conflicts),
        )
        self._last = report
        return report

    def run_until_idle(self, max_rounds: int = 20) -> IdleReport:
        """Run until a run writes nothing and nothing is pending (at most
        ``max_rounds`` runs). Returns normally when a cluster is unreachable: its
        errors are in the reports and in :meth:`status`. Pending writes are retried by
        the next round at once (no sleeping)."""
        if max_rounds < 1:
            raise ValueError(f"max_rounds must be >= 1, not {max_rounds}")
        runs: list[RunReport] = []
        for _ in range(max_rounds):
            report = self.run_once()
            runs.append(report)
            if report.idle:
                break
            if not report.ok and self._source_unreachable:
                break
        return IdleReport(tuple(runs))

    async def run_forever(self, *, interval: float, stop: asyncio.Event) -> None:
        """Run a sync every ``interval`` seconds until ``stop`` is set; after a run
        with pending writes, the next comes after the backoff (from the injected
        clock) when that is sooner. No threads: backend calls run in the event loop."""
        if interval <= 0:
            raise ValueError(f"interval must be > 0, not {interval!r}")
        while not stop.is_set():
            report = self.run_once()
            delay = interval
            if report.retry_at is not None:
                delay = min(interval, report.retry_at - self._clock())
            if delay <= 0:
                await asyncio.sleep(0)  # the retry is due: still let other tasks run
                continue
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)

    # -- reading --------------------------------------------------------------------------

    def _read_source(
        self,
    ) -> tuple[
        ClusterState, dict[ObjectRef, Manifest], list[Link], dict[ObjectRef, tuple[str, str]]
    ]:
        """The source's state, its objects as listed, its Links, and the Links that
        cannot be read (ref -> (target, why))."""
        docs: list[Manifest] = []
        for kind in _SOURCE_KINDS:
            docs.extend(self._source.list(kind).items)
        link_docs = self._source.list("Link", self._link_namespace).items
        objects: list[AnyObject] = []
        raw: dict[ObjectRef, Manifest] = {}
        for doc in docs:
            try:
                obj = from_manifest(doc)
            except ManifestError:
                continue  # the API server never serves one; nothing to plan from it
            if obj is not None:
                objects.append(obj)
                raw[obj.ref] = doc
        links: list[Link] = []
        bad: dict[ObjectRef, tuple[str, str]] = {}
        for doc in link_docs:
            try:
                link = from_manifest(doc)
            except ManifestError as err:
                ref, target = _link_identity(doc)
                if ref is not None and target:
                    bad[ref] = (target, str(err))
                continue
            if isinstance(link, Link):
                links.append(link)
                raw[link.ref] = doc  # HOOK(link-status): its current status
        links.sort(key=lambda link: (link.namespace, link.name))
        objects.extend(links)
        return ClusterState.build(self._source.name, objects), raw, links, bad

    def _source_failed(self, now: float, err: BackendError) -> RunReport:
        self._source_attempts += 1
        self._source_unreachable = isinstance(err, Unreachable)
        message = f"cannot read source cluster {self._source.name!r}: {err.message}"
        self._source_error = message
        for key, status in self._status.items():
            self._status[key] = attrs.evolve(status, last_error=f"Link {key}: {message}")
        report = RunReport(
            time=now,
            ok=False,
            error=message,
            errors=(message,),
            retry_at=now + self._backoff(self._source_attempts),
        )
        self._last = report
        return report

    def _read_remote(self, target: str, now: float) -> _Remote:
        backend = self._remotes.get(target)
        if backend is None:
            return _Remote(
                target,
                None,
                read=False,
                error=f"no backend for cluster {target!r} (not among the reconciler's "
                "remotes); its mirrors are kept as they are",
                timed=False,
            )
        try:
            docs: list[Manifest] = []
            for kind in _REMOTE_KINDS:
                docs.extend(backend.list(kind).items)
            for kind in _OPTIONAL_REMOTE_KINDS:
                with contextlib.suppress(NotFound):  # not served there
                    docs.extend(backend.list(kind).items)
            state = cluster_state(target, docs)
        except (BackendError, ManifestError) as err:
            since = self._since.setdefault(target, now)
            known = self._known.get(target)
            text = err.message if isinstance(err, BackendError) else str(err)
            return _Remote(
                target,
                known,
                read=False,
                error=f"cannot read cluster {target!r}: {text}",
                dead=now - since >= self._grace,
            )
        self._known[target] = state
        self._since.pop(target, None)
        return _Remote(target, state, read=True)

    # -- deciding -------------------------------------------------------------------------

    def _held(
        self, source: ClusterState, planned: Plan, remotes: Mapping[str, _Remote]
    ) -> dict[ObjectRef, str]:
        """Owned objects derived from a linked cluster not read in this run, to be left
        as they are (ref -> that cluster): never deleted, and not updated unless planned
        from its last known state (or claimed by a Link whose cluster was read). A
        mirror whose Service would switch headlessness (a delete and a create) from the
        last known state of an unread cluster keeps its Service and Endpoints as they
        are until the cluster is read again, however long that takes (the per-pod
        mirrors of a new headless mirror may be created meanwhile: nothing is deleted).

        Its mirrors (``cluster-name`` label) and, when its state is unknown, federated
        Services listing one of its members. Past the grace, held gateway Endpoints
        still get their addresses moved to ``notReadyAddresses`` (see :meth:`_writes`).
        """
        s = self._scheme
        unread = {t for t, r in remotes.items() if not r.read}
        unknown = {t for t in unread if remotes[t].state is None}
        held: dict[ObjectRef, str] = {}
        if not unread:
            return held
        owned: list[Service | Endpoints] = [
            *source.services.values(),
            *source.endpoints.values(),
        ]
        for obj in owned:
            if not s.is_owned(obj.labels):
                continue
            cluster = obj.labels.get(s.cluster_name_label)
            want = planned.get(obj.ref)
            if cluster in unread:
                claimed = want is not None and (
                    cluster not in unknown  # planned from its last known state
                    or want.labels.get(s.cluster_name_label) not in unknown
                )
                if not claimed:
                    held[obj.ref] = cluster
                elif (
                    isinstance(obj, Service)
                    and isinstance(want, Service)
                    and want.headless != obj.headless
                    and want.labels.get(s.cluster_name_label) in unread
                ):
                    # Switching headlessness takes a delete and a create (clusterIP is
                    # immutable): never a delete from a stale state. The mirror (its
                    # Service and Endpoints) waits as it is until the cluster is read.
                    held[obj.ref] = cluster
                    if source.endpoints_of(obj.namespace, obj.name) is not None:
                        held[ObjectRef("Endpoints", obj.namespace, obj.name)] = cluster
                continue
            entries = obj.annotations.get(s.remote_discovery_annotation)
            if isinstance(obj, Service) and entries and cluster is None:
                members = {e.rpartition("@")[2] for e in entries.split(",")}
                hit = sorted(members & unknown)
                if hit:
                    held[obj.ref] = hit[0]
        # A mirror's Service and Endpoints stand or fall together: when one is held,
        # its same-named owned partner is not deleted either (a hand-edited label could
        # otherwise split them, e.g. leave a headless mirror's Endpoints without their
        # Service). A partner the plan wants is written as planned.
        for ref, cluster in list(held.items()):
            partner = ObjectRef(
                "Endpoints" if ref.kind == "Service" else "Service", ref.namespace, ref.name
            )
            if partner in held or planned.get(partner) is not None:
                continue
            other = source.get(partner)
            if other is not None and s.is_owned(other.labels):
                held[partner] = cluster
        return held

    def _writes(
        self,
        planned: Plan,
        source: ClusterState,
        raw: Mapping[ObjectRef, Manifest],
        held: Mapping[ObjectRef, str],
        remotes: Mapping[str, _Remote],
    ) -> list[_Write]:
        changes = diff(planned, source, scheme=self._scheme, keep=held)
        updates: list[Update] = [u for u in changes.updates if u.ref not in held]
        # Past the grace, the held gateway Endpoints of a partitioned cluster list their
        # addresses as not ready (once: the result is stable). Planned ones already do.
        for ref, target in sorted(held.items()):
            remote = remotes[target]
            if not (remote.dead and remote.timed) or ref.kind != "Endpoints":
                continue
            current = source.endpoints_of(ref.namespace, ref.name)
            assert current is not None
            svc = source.service(ref.namespace, ref.name)
            if svc is not None and svc.headless:
                continue  # points at per-pod mirrors, not at the gateway
            moved = _not_ready(current)
            if not same(moved, current):
                updates.append(Update(current, moved))

        kind_order = {"Namespace": 0, "Service": 1, "Endpoints": 2}
        writes: list[_Write] = []
        for obj in sorted(
            changes.creates, key=lambda o: (kind_order.get(o.kind, 3), o.namespace, o.name)
        ):
            writes.append(_Write("create", obj.ref, planned=obj))
        for u in sorted(updates, key=lambda u: (kind_order[u.ref.kind], u.ref)):
            after, before = u.after, u.before
            if (
                isinstance(after, Service)
                and isinstance(before, Service)
                and after.headless != before.headless
            ):
                # clusterIP is immutable: headless <-> not takes a delete and a create.
                writes.append(_Write("delete", u.ref, current=raw[u.ref]))
                writes.append(_Write("create", u.ref, planned=after))
            else:
                writes.append(_Write("update", u.ref, planned=after, current=raw[u.ref]))
        for obj in changes.deletes:
            writes.append(_Write("delete", obj.ref, current=raw[obj.ref]))
        return writes

    # -- writing --------------------------------------------------------------------------

    def _apply(
        self, writes: list[_Write]
    ) -> tuple[
        list[ObjectRef],
        list[ObjectRef],
        list[ObjectRef],
        list[ObjectRef],
        list[str],
        list[tuple[ObjectRef, str]],
    ]:
        created: list[ObjectRef] = []
        updated: list[ObjectRef] = []
        deleted: list[ObjectRef] = []
        pending: list[ObjectRef] = []
        failed: list[str] = []
        errors: list[tuple[ObjectRef, str]] = []
        wanted = {w.ref for w in writes}
        for ref in set(self._attempts) - wanted:
            del self._attempts[ref]
        done = {"create": created, "update": updated, "delete": deleted}
        unsure: set[ObjectRef] = set()  # a write of this ref failed in this run
        cut_off = False
        for w in writes:
            if cut_off or w.ref in unsure:
                if w.ref not in pending:
                    pending.append(w.ref)
                continue
            try:
                self._write(w)
            except BackendError as err:
                if w.verb == "delete" and isinstance(err, NotFound):
                    continue  # already gone: nothing left to do
                what = f"{w.verb} {w.ref} in cluster {self._source.name!r}"
                errors.append((w.ref, f"{what} failed: {err.message}"))
                unsure.add(w.ref)
                # NotFound (namespace or object gone) and AlreadyExists (taken
                # meanwhile): the next run's fresh list decides again.
                if err.retryable or isinstance(err, NotFound | AlreadyExists):
                    self._attempts[w.ref] = self._attempts.get(w.ref, 0) + 1
                    pending.append(w.ref)
                else:
                    failed.append(f"{what}: {err.message}")
                cut_off = isinstance(err, Unreachable)
                continue
            done[w.verb].append(w.ref)
        for ref in {w.ref for w in writes} - unsure:
            self._attempts.pop(ref, None)
        return created, updated, deleted, pending, failed, errors

    def _write(self, w: _Write) -> None:
        """One write: creates from the plan, updates and deletes against the object as
        listed (its resourceVersion and uid as preconditions)."""
        source = self._source
        if w.verb == "create":
            assert w.planned is not None
            source.create(to_manifest(w.planned))
            return
        assert w.current is not None
        meta = w.current.get("metadata") or {}
        if w.verb == "delete":
            source.delete(
                w.ref.kind,
                w.ref.namespace,
                w.ref.name,
                resource_version=str(meta.get("resourceVersion") or ""),
                uid=meta.get("uid") or None,
            )
            return
        assert w.planned is not None
        source.update(_update_manifest(w.planned, w.current))

    def _backoff(self, attempts: int) -> float:
        exponent = min(max(attempts, 1) - 1, 30)
        return float(min(self._backoff_max, self._backoff_base * 2**exponent))

    # -- status ---------------------------------------------------------------------------

    def _update_status(
        self,
        now: float,
        links: list[Link],
        bad_links: Mapping[ObjectRef, tuple[str, str]],
        remotes: Mapping[str, _Remote],
        planned: Plan,
        source: ClusterState,
        write_errors: list[tuple[ObjectRef, str]],
    ) -> None:
        s = self._scheme
        by_link: dict[ObjectRef, set[ObjectRef]] = {}
        for m in planned.mirrors:
            by_link.setdefault(m.link, set()).update(m.refs)
        owners: dict[ObjectRef, set[str]] = {}  # current owned objects -> cluster-name
        current: list[Service | Endpoints] = [
            *source.services.values(),
            *source.endpoints.values(),
        ]
        for obj in current:
            cluster = obj.labels.get(s.cluster_name_label)
            if s.is_owned(obj.labels) and cluster:
                owners.setdefault(obj.ref, set()).add(cluster)
        failures: dict[ObjectRef, str] = {}
        for ref, message in write_errors:
            failures.setdefault(ref, message)

        status: dict[str, LinkStatus] = {}
        for link in links:
            key = f"{link.namespace}/{link.name}"
            target = link.target_cluster_name
            remote = remotes[target]
            previous = self._status.get(key)
            refs = by_link.get(link.ref, set())
            mine = [
                msg for ref, msg in failures.items() if ref in refs or target in owners.get(ref, ())
            ]
            if remote.state is not None:
                mirrored = sum(1 for m in planned.mirrors if m.link == link.ref)
            else:
                mirrored = _kept_mirrors(source, target, s)
            problems = [p for p in (remote.error, *mine[:1]) if p]
            error = f"Link {key}: {'; '.join(problems)}" if problems else None
            synced = remote.read and not mine
            last_sync = now if synced else (previous.last_sync if previous else None)
            status[key] = LinkStatus(
                link=link.ref,
                target=target,
                last_sync=last_sync,
                mirrored=mirrored,
                last_error=error,
                unreachable_since=self._since.get(target),
                gateway_dead=remote.dead and remote.timed,
                pending=len(mine),
            )
        for ref, (target, problem) in bad_links.items():
            key = f"{ref.namespace}/{ref.name}"
            previous = self._status.get(key)
            status[key] = LinkStatus(
                link=ref,
                target=target,
                last_sync=previous.last_sync if previous else None,
                mirrored=_kept_mirrors(source, target, s),
                last_error=f"Link {key}: {problem}; its mirrors are kept as they are",
            )
        self._status = status


def _link_identity(doc: Manifest) -> tuple[ObjectRef | None, str]:
    """A Link's ref and target as far as a malformed Link can be read."""
    meta = doc.get("metadata")
    spec = doc.get("spec")
    if not isinstance(meta, dict) or not isinstance(spec, dict):
        return None, ""
    name, namespace = meta.get("name"), meta.get("namespace")
    target = spec.get("targetClusterName")
    if not isinstance(name, str) or not isinstance(namespace, str):
        return None, ""
    return ObjectRef("Link", namespace, name), target if isinstance(target, str) else ""


def _kept_mirrors(source: ClusterState, target: str, scheme: Scheme) -> int:
    return sum(
        1
        for svc in source.services.values()
        if scheme.is_owned(svc.labels)
        and svc.labels.get(scheme.cluster_name_label) == target
        and scheme.headless_mirror_label not in svc.labels
    )


def _not_ready(current: Endpoints) -> Endpoints:
    """``current`` with every ready address moved to ``notReadyAddresses``, as planned
    (no server fields)."""
    return Endpoints(
        namespace=current.namespace,
        name=current.name,
        labels=current.labels,
        annotations=current.annotations,
        subsets=tuple(
            EndpointSubset(
                addresses=(),
                not_ready_addresses=(*s.not_ready_addresses, *s.addresses),
                ports=s.ports,
            )
            for s in current.subsets
        ),
    )


def _update_manifest(planned: PlannedObject, current: Manifest) -> Manifest:
    """The planned object as an update of ``current``: its resourceVersion, uid and
    creationTimestamp, and a Service's server-assigned spec fields, carried over."""
    doc = to_manifest(planned)
    meta = doc["metadata"]
    current_meta: dict[str, Any] = current.get("metadata") or {}
    for key in _META_SERVER_FIELDS:
        if key in current_meta:
            meta[key] = current_meta[key]
    if doc["kind"] == "Service":
        spec = doc["spec"]
        current_spec: dict[str, Any] = current.get("spec") or {}
        for key in _SERVICE_SERVER_FIELDS:
            if key in current_spec and key not in spec:
                spec[key] = copy.deepcopy(current_spec[key])
    return doc
