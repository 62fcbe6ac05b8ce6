"""The reconciler: drives the plan into the source cluster, event-driven and still
level-triggered (docs/design.md, section 2).

Reading. Every (cluster, kind) the plan needs has an
:class:`~meshmirror.effects.backends.informer.Informer`: the source's Namespaces, Services,
Endpoints and Links (only ``link_namespace``'s when given), and each linked cluster's
Services, Endpoints and, where served, EndpointSlices. Each is listed once and then
watched from the last resourceVersion it saw; it is listed again only after a 410, or
when ``relist_period`` has passed since its cluster was last listed. A poll that fails
leaves the cache as it was: the cluster's last known state.

Planning. One planner, :class:`~meshmirror.decisions.incremental.PlanIndex`, built from the caches
(equal to :func:`meshmirror.decisions.plan.plan` of the same state, which stays the specification).
:meth:`Reconciler.run_events` follows the changes the watches report: a remote Service
or Endpoints change re-plans the keys it affects, a change of an owned object in the
source is compared again (so a hand edit or deletion is repaired at once), and only the
objects whose planned content differs from the source cache are written. Changes the
index does not follow cheaply (a Link, a Namespace, an object we do not own, a cluster
starting or stopping to answer, a re-list, the grace passing) rebuild it from the caches,
with no request. :meth:`Reconciler.run_once` is the full comparison: everything planned
against everything cached (no re-list), which repairs any drift.

Writing. The rules are pure (:mod:`meshmirror.decisions.decide`): what is held during a partition,
which writes to make and in what order, what status to report. Writes are creates from
:func:`~meshmirror.formats.manifest.to_manifest`, updates carrying the cached
``resourceVersion``, deletes with ``resource_version=`` and ``uid=`` preconditions; each
result goes into the cache at once. A 409 refreshes that object (a ``get`` where the
backend has one) and the write is pending; other retryable errors are pending and
retried after a backoff; a refused write (422, ...) is reported in the run's ``failed``
and in :meth:`Reconciler.status`, and the same write is not tried again before
``backoff_max`` has passed. One object's failure never stops the others (only an
unreachable source ends the batch). Writes run one at a time in order by default;
``write_runner`` may run independent chains (a mirror's Service, then its Endpoints)
side by side: the reconciler itself stays thread-free. Nothing is written to a remote,
no Link status, and no Namespace unless namespace creation is on.

Partitions. A linked cluster whose lists or watches fail is planned from its last known
state (a Reconciler that never saw it plans without it). Either way the owned objects
derived from it are never deleted while its Link stands, and when its state is unknown
they are not updated either (federated Services listing one of its members included).
After ``unreachable_grace`` seconds, counted from the first run that failed to reach it,
its gateway Endpoints' addresses move to ``notReadyAddresses``, once. A removed Link's
mirrors are deleted all the same, and one run after the cluster returns restores the
plan.

Time is a parameter (``clock``). :meth:`Reconciler.run_until_idle` repeats
:meth:`~Reconciler.run_once` for tests and notebooks; :meth:`Reconciler.run_forever`
is the asyncio driver (events every ``interval``, a full comparison every ``resync``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, Literal, TypeAlias, cast

import attrs

from meshmirror.decisions.decide import (
    LinkStatus,
    RemoteView,
    Write,
    held,
    kept_mirrors,
    link_statuses,
    writes,
)
from meshmirror.decisions.diff import diff
from meshmirror.decisions.incremental import Name, PlanIndex, RemoteChange, replan_names
from meshmirror.decisions.mirror import Resolver
from meshmirror.decisions.plan import Plan, PlannedObject, PlanOptions, plan
from meshmirror.effects.backends.base import (
    AlreadyExists,
    Backend,
    BackendError,
    Manifest,
    NotFound,
    Unreachable,
    WriteConflict,
)
from meshmirror.effects.backends.informer import (
    BadLink,
    Delta,
    Informer,
    Key,
    RemoteCache,
    read_object,
)
from meshmirror.effects.linkstatus import LinkStatusWriter
from meshmirror.values.codes import Conflict as PlanConflict
from meshmirror.values.codes import Skip
from meshmirror.values.model import (
    AnyObject,
    ClusterState,
    Endpoints,
    Link,
    Namespace,
    ObjectRef,
    Service,
)
from meshmirror.values.scheme import LINKERD, Scheme

__all__ = [
    "Clock",
    "IdleReport",
    "LinkStatus",
    "ManualClock",
    "Outcome",
    "Reconciler",
    "RunReport",
    "WriteRunner",
    "run_chain",
    "run_sequentially",
]

#: Seconds (as a float) since any fixed origin; the reconciler's only notion of time.
Clock: TypeAlias = Callable[[], float]

_SOURCE_KINDS = ("Namespace", "Service", "Endpoints")


@attrs.frozen
class Outcome:
    """What became of one write: the stored object (create/update), or the error, or
    ``skipped`` (not sent: an earlier write of its chain failed, or the source is
    unreachable)."""

    write: Write
    result: Manifest | None = None
    error: BackendError | None = None
    skipped: bool = False


#: Runs chains of writes (:func:`run_chain`: the writes of one name, in order), the
#: chains in any order or side by side; returns every write's outcome.
WriteRunner: TypeAlias = Callable[
    [Sequence[Sequence[Write]], Callable[[Write], Outcome]], list[Outcome]
]


def run_sequentially(
    chains: Sequence[Sequence[Write]], do: Callable[[Write], Outcome]
) -> list[Outcome]:
    """The default :data:`WriteRunner`: one write at a time, in order."""
    out: list[Outcome] = []
    for chain in chains:
        out.extend(run_chain(chain, do))
    return out


def run_chain(chain: Sequence[Write], do: Callable[[Write], Outcome]) -> list[Outcome]:
    """One chain in order. After a write fails, the later writes of the same object
    (the create after a delete) are skipped; the others still go."""
    out: list[Outcome] = []
    failed: set[ObjectRef] = set()
    for w in chain:
        if w.ref in failed:
            out.append(Outcome(w, skipped=True))
            continue
        outcome = do(w)
        out.append(outcome)
        if outcome.error is not None or outcome.skipped:
            failed.add(w.ref)
    return out


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
    conflicts: tuple[PlanConflict, ...] = ()

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
class _Batch:
    """What one run decided."""

    writes: tuple[Write, ...]
    views: Mapping[str, RemoteView]
    links: tuple[Link, ...]
    bad_links: Mapping[ObjectRef, tuple[str, str]]


class Reconciler:
    """A service mirror for one source cluster and its Links.

    ``source`` is the cluster mirrors are written to; its Links (only those in
    ``link_namespace`` when given) say what to mirror, and ``remotes`` maps a Link's
    ``targetClusterName`` to that cluster's backend (only ever read). ``clock`` returns
    seconds; ``options``, ``scheme`` and ``resolve`` are :func:`meshmirror.decisions.plan.plan`'s.
    A Link whose target has no backend, or that cannot be read, keeps its mirrors
    exactly as they are (and says so in :meth:`status`). ``relist_period``: seconds
    after which a cluster is listed again although its watches resume (None: only
    after a 410). ``write_runner``: how chains of writes are run (default: in order).

    >>> from meshmirror.effects.backends.memory import FakeCluster
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
    >>> web["spec"]["ports"][0]["port"] = 8080
    >>> east.apply([web])
    >>> east.reset_counters()
    >>> [str(ref) for ref in r.run_events().updated]     # one event: watched, re-planned
    ['Service shop/web-east']
    >>> east.requests["list"], east.requests["watch"]
    (0, 3)
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
        relist_period: float | None = 3600.0,
        write_runner: WriteRunner = run_sequentially,
        link_status: LinkStatusWriter | None = None,
        dead_gateways: Callable[[], Collection[str]] | None = None,
    ) -> None:
        if unreachable_grace < 0:
            raise ValueError(f"unreachable_grace must be >= 0, not {unreachable_grace!r}")
        if backoff_base <= 0 or backoff_max < backoff_base:
            raise ValueError("backoff needs 0 < backoff_base <= backoff_max")
        if relist_period is not None and relist_period <= 0:
            raise ValueError(f"relist_period must be > 0 or None, not {relist_period!r}")
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
        self._relist_period = relist_period
        self._write_runner = write_runner
        self._src: dict[str, Informer] = {kind: Informer(source, kind) for kind in _SOURCE_KINDS}
        self._src["Link"] = Informer(source, "Link", link_namespace, keep_docs=True)
        self._source_listed_at: float | None = None
        self._backlog: list[Delta] = []
        self._caches: dict[str, RemoteCache] = {}
        self._listed_at: dict[str, float] = {}
        self._since: dict[str, float] = {}  # when each linked cluster stopped answering
        self._views: dict[str, RemoteView] = {}
        self._index: PlanIndex | None = None
        self._state: ClusterState | None = None  # the source as cached (_source_state)
        self._index_dead: frozenset[str] = frozenset()
        self._status: dict[str, LinkStatus] = {}
        self._attempts: dict[ObjectRef, int] = {}
        # Refused writes: ref -> (the planned object refused, not again before).
        self._rejected: dict[ObjectRef, tuple[PlannedObject | None, float]] = {}
        self._retry: set[Name] = set()  # pending: looked at again by the next run
        self._source_attempts = 0
        self._source_error: str | None = None
        self._source_unreachable = False
        self._cut_off = False
        self._last: RunReport | None = None
        self.full_runs = 0  # full comparisons made (a figure for benchmarks)
        #: An event run followed a change since the last full comparison: the skips,
        #: conflicts and Link status (made only by full comparisons) may be out of date.
        self.findings_stale = False
        self.index_builds = 0
        #: Writes each Link's status after every full comparison (None: never).
        self.link_status = link_status
        #: Targets whose gateway probe says dead (asked every run; None: none).
        self.probed_dead = dead_gateways
        #: The specification's plan of the caches, made at every full comparison: its
        #: skips and conflicts are reported (RunReport, Link status, metrics).
        self.last_plan: Plan | None = None
        self._write_errors: tuple[tuple[ObjectRef, str], ...] = ()

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
        return dict(self._status)

    @property
    def remotes(self) -> Mapping[str, Backend]:
        return dict(self._remotes)

    def set_remotes(self, remotes: Mapping[str, Backend]) -> None:
        """Change the linked clusters' backends (new credentials): a cluster whose
        backend is the same object keeps its cache; the others start afresh."""
        for target in list(self._caches):
            if remotes.get(target) is not self._remotes.get(target):
                del self._caches[target]
                self._listed_at.pop(target, None)
                self._index = None
        if set(remotes) != set(self._remotes):
            self._index = None
        self._remotes = dict(remotes)

    def links(self) -> list[Link]:
        """The Links, brought up to date (listed the first time, then watched) and
        sorted by namespace and name. The changes are followed by the next run. Source
        errors propagate."""
        self._backlog.extend(self._src["Link"].poll())
        return self._links()[0]

    def invalidate(self) -> None:
        """List every cluster again at the next run (each cache is reconciled with its
        new list): for one-shot runs, which have no watch to wait for."""
        for informer in self._src.values():
            informer.invalidate()
        for cache in self._caches.values():
            cache.invalidate()

    def cached_states(self) -> tuple[ClusterState, dict[str, ClusterState]]:
        """The source and every linked cluster whose state is known, as cached."""
        return self._source_state(), self._remote_states()

    def planned_objects(self) -> list[PlannedObject] | None:
        """What the planner holds now: after a run that read the source, exactly
        ``plan(*cached_states(), ...).objects`` with :attr:`dead_gateways` (None: the
        planner is rebuilt from the caches by the next run)."""
        return None if self._index is None else self._index.objects()

    @property
    def dead_gateways(self) -> frozenset[str]:
        """The clusters planned with their gateway down (past the grace)."""
        return self._index_dead

    def cache_sizes(self) -> dict[tuple[str, str], int]:
        """Objects held per (cluster, kind) in the caches (the source under its name)."""
        sizes = {(self._source.name, kind): len(i.objects) for kind, i in self._src.items()}
        for target, cache in self._caches.items():
            for kind, informer in cache.informers.items():
                sizes[(target, kind)] = len(informer.objects)
        return sizes

    def requests(self) -> dict[str, int]:
        """Lists and watches made so far, by verb."""
        informers = [*self._src.values()]
        for cache in self._caches.values():
            informers.extend(cache.informers.values())
        return {
            "list": sum(i.lists for i in informers),
            "watch": sum(i.watches for i in informers),
        }

    def run_once(self) -> RunReport:
        """One full comparison: bring every cache up to date (watches; lists only where
        needed), plan everything and write what differs. Never raises for a cluster's
        errors: they are in the report and in :meth:`status`."""
        return self._run(full=True)

    def run_events(self) -> RunReport:
        """Follow what changed since the last run: bring the caches up to date and
        write only what the changes affect (a full comparison, from the caches, when
        the planner cannot follow a change)."""
        return self._run(full=False)

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

    async def run_forever(
        self, *, interval: float, stop: asyncio.Event, resync: float | None = None
    ) -> None:
        """Follow events every ``interval`` seconds, with a full comparison every
        ``resync`` seconds of the injected clock (default: ``10 * interval``), until
        ``stop`` is set; pending writes are retried after their backoff. No threads:
        backend calls run in the event loop."""
        if interval <= 0:
            raise ValueError(f"interval must be > 0, not {interval!r}")
        period = 10 * interval if resync is None else resync
        last_full: float | None = None
        while not stop.is_set():
            now = self._clock()
            if last_full is None or now - last_full >= period:
                last_full = now
                self.run_once()
            else:
                self.run_events()
            delay = interval
            last = self._last
            if last is not None and last.retry_at is not None:
                delay = min(interval, last.retry_at - self._clock())
            if delay <= 0:
                await asyncio.sleep(0)  # the retry is due: still let other tasks run
                continue
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)

    # -- one run --------------------------------------------------------------------------

    def _run(self, *, full: bool) -> RunReport:
        now = self._clock()
        try:
            source_deltas = self._poll_source(now)
        except BackendError as err:
            return self._source_failed(now, err)
        self._source_error = None
        self._source_attempts = 0
        self._source_unreachable = False

        links, bad_links = self._links()
        good = sorted({link.target_cluster_name for link in links})
        views, remote_deltas = self._poll_remotes(now, good, bad_links)
        dead = frozenset(t for t, v in views.items() if v.dead and v.known)
        if self.probed_dead is not None:
            dead |= frozenset(self.probed_dead())
        stale = (
            self._index is None
            or dead != self._index_dead
            or {t: (v.known, v.read) for t, v in views.items()}
            != {t: (v.known, v.read) for t, v in self._views.items()}
        )
        self._views = views
        names: set[Name] = set(self._retry)
        index = self._index
        if not stale and index is not None:
            for d in source_deltas:
                if d.kind == "Link" and _same_link(d.old, d.new):
                    continue  # only its status (our own write) or metadata changed
                touched = index.source_changed(d.kind, d.key[0], d.key[1], d.new)
                if touched is None:
                    stale = True
                    break
                names |= touched
        if not stale and index is not None:
            for target, deltas in remote_deltas.items():
                for d in deltas:
                    kind: Literal["Service", "Endpoints"] = (
                        "Service" if d.kind == "Service" else "Endpoints"
                    )
                    names |= replan_names(
                        index, RemoteChange(target, kind, d.key[0], d.key[1], d.new)
                    )
        source = self._source_state()
        if stale or index is None:
            index = self._build(source, dead)
            full = True
        if full:
            self.full_runs += 1
            planned = index.to_plan()
            keep = held(source, index.planned, views, self._scheme)
            changes = diff(planned, source, scheme=self._scheme, keep=keep)
        else:
            objects = [o for o in (source.get(ObjectRef(*n)) for n in names) if o is not None]
            keep = held(
                source,
                index.planned,
                views,
                self._scheme,
                objects=cast(
                    "list[Service | Endpoints]", [o for o in objects if o.kind != "Namespace"]
                ),
            )
            changes = index.changes(names)
        batch = writes(changes, source, keep, views)
        report = self._write(now, _Batch(tuple(batch), views, tuple(links), bad_links), full)
        if full:
            report = self._report_plan(report, index, links, views)
            self.findings_stale = False
        elif names - self._retry or batch:
            self.findings_stale = True
        return report

    def _report_plan(
        self,
        report: RunReport,
        index: PlanIndex,
        links: Sequence[Link],
        views: Mapping[str, RemoteView],
    ) -> RunReport:
        """After a full comparison: the specification's plan of the caches, for its
        skips and conflicts, and the Links' status from it."""
        source, remotes = self.cached_states()
        planned = plan(
            source,
            remotes,
            scheme=self._scheme,
            resolve=self._resolve,
            options=self._plan_options(self._index_dead),
        )
        self.last_plan = planned
        if self.link_status is not None:
            informer = self._src["Link"]
            docs = {
                link.ref: informer.docs[(link.namespace, link.name)]
                for link in links
                if informer.docs is not None and (link.namespace, link.name) in informer.docs
            }
            self.link_status.sync(
                self._source,
                links,
                docs,
                planned,
                source,
                remotes,
                read={t for t, v in views.items() if v.read},
                errors=self._write_errors,
            )
        return attrs.evolve(
            report, skipped=tuple(planned.skipped), conflicts=tuple(planned.conflicts)
        )

    def _build(self, source: ClusterState, dead: frozenset[str]) -> PlanIndex:
        self._index = PlanIndex.build(
            source,
            self._remote_states(),
            scheme=self._scheme,
            resolve=self._resolve,
            options=self._plan_options(dead),
        )
        self._index_dead = dead
        self.index_builds += 1
        return self._index

    def _plan_options(self, dead: frozenset[str]) -> PlanOptions:
        """The options planned with: the caller's, plus the gateways counted dead."""
        return attrs.evolve(self._options, dead_gateways=self._options.dead_gateways | dead)

    # -- reading --------------------------------------------------------------------------

    def _poll_source(self, now: float) -> list[Delta]:
        if self._relist_due(self._source_listed_at, now):
            for informer in self._src.values():
                informer.invalidate()
        relisting = not all(i.listed for i in self._src.values())
        # What a poll took in before a later one failed is kept for the next run: the
        # caches have it, so the planner must hear of it.
        deltas = self._backlog
        for informer in self._src.values():
            deltas.extend(informer.poll())
        self._backlog = []
        if relisting:
            self._source_listed_at = now
        return deltas

    def _relist_due(self, listed_at: float | None, now: float) -> bool:
        period = self._relist_period
        return period is not None and listed_at is not None and now - listed_at >= period

    def _links(self) -> tuple[list[Link], dict[ObjectRef, tuple[str, str]]]:
        links: list[Link] = []
        bad: dict[ObjectRef, tuple[str, str]] = {}
        for key in sorted(self._src["Link"].objects):
            value = self._src["Link"].objects[key]
            if isinstance(value, Link):
                links.append(value)
            elif isinstance(value, BadLink):
                bad[value.ref] = (value.target, value.message)
        return links, bad

    def _poll_remotes(
        self, now: float, good: Sequence[str], bad_links: Mapping[ObjectRef, tuple[str, str]]
    ) -> tuple[dict[str, RemoteView], dict[str, list[Delta]]]:
        views: dict[str, RemoteView] = {}
        deltas: dict[str, list[Delta]] = {}
        for target in good:
            backend = self._remotes.get(target)
            if backend is None:
                views[target] = RemoteView(
                    target,
                    known=False,
                    read=False,
                    error=f"no backend for cluster {target!r} (not among the reconciler's "
                    "remotes); its mirrors are kept as they are",
                    timed=False,
                )
                continue
            cache = self._caches.get(target)
            if cache is None:
                cache = self._caches[target] = RemoteCache(target, backend)
            if self._relist_due(self._listed_at.get(target), now):
                cache.invalidate()
            relisting = cache.needs_list
            deltas[target], err = cache.poll()
            if err is not None:
                since = self._since.setdefault(target, now)
                views[target] = RemoteView(
                    target,
                    known=cache.listed,
                    read=False,
                    error=f"cannot read cluster {target!r}: {err.message}",
                    dead=now - since >= self._grace,
                )
                continue
            if relisting:
                self._listed_at[target] = now
            self._since.pop(target, None)
            views[target] = RemoteView(target, known=cache.listed, read=True)
        for target in sorted({t for t, _ in bad_links.values()} - set(good)):
            views[target] = RemoteView(target, known=False, read=False, timed=False)
        # Forget clusters no Link targets any more.
        for target in set(self._caches) - set(good):
            del self._caches[target]
            self._listed_at.pop(target, None)
        for target in set(self._since) - set(views):
            del self._since[target]
        return views, deltas

    def _source_state(self) -> ClusterState:
        """The source as cached: the last state with the keys the informers changed
        since put in (a state is immutable, so it is not rebuilt from every cache per
        run, which would cost a copy of the source per event)."""
        informers = [self._src[kind] for kind in (*_SOURCE_KINDS, "Link")]
        touched = [informer.take_touched() for informer in informers]
        state = self._state
        if state is None or any(t is None for t in touched):
            self._state = state = self._read_source_state()
            return state
        puts: list[AnyObject] = []
        gone: list[ObjectRef] = []
        for informer, keys in zip(informers, touched, strict=True):
            assert keys is not None
            kind = informer.kind
            for key in keys:
                value = informer.objects.get(key)
                if isinstance(value, (Namespace, Service, Endpoints, Link)):  # not a BadLink
                    puts.append(value)
                else:
                    gone.append(ObjectRef(kind, key[0], key[1]))
        if puts or gone:
            self._state = state = state.replace(*puts, remove=gone)
        return state

    def _read_source_state(self) -> ClusterState:
        links = {k: v for k, v in self._src["Link"].objects.items() if isinstance(v, Link)}
        return ClusterState(
            name=self._source.name,
            namespaces=cast(
                "dict[str, Any]", {k[1]: v for k, v in self._src["Namespace"].objects.items()}
            ),
            services=cast("dict[Key, Service]", self._src["Service"].objects),
            endpoints=cast("dict[Key, Endpoints]", self._src["Endpoints"].objects),
            links=links,
        )

    def _remote_states(self) -> dict[str, ClusterState]:
        return {
            target: ClusterState(target, services=cache.services, endpoints=cache.endpoints)
            for target, cache in self._caches.items()
            if cache.listed
        }

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

    # -- writing --------------------------------------------------------------------------

    def _write(self, now: float, batch: _Batch, full: bool) -> RunReport:
        todo: list[Write] = []
        failed: list[str] = []
        errors: list[tuple[ObjectRef, str]] = []
        for w in batch.writes:
            refused = self._rejected.get(w.ref)
            if refused is not None and refused[0] == w.planned and now < refused[1]:
                failed.append(f"{w.verb} {w.ref} in cluster {self._source.name!r}: refused before")
                errors.append((w.ref, failed[-1]))
                continue  # refused as it is: not again in a tight loop
            todo.append(w)
        first = [w for w in todo if w.ref.kind == "Namespace"]
        chains: dict[tuple[str, str], list[Write]] = {}
        for w in todo:
            if w.ref.kind != "Namespace":
                chains.setdefault((w.ref.namespace, w.ref.name), []).append(w)
        self._cut_off = False
        outcomes = run_sequentially([[w] for w in first], self._do)
        outcomes += self._write_runner(list(chains.values()), self._do)

        created: list[ObjectRef] = []
        updated: list[ObjectRef] = []
        deleted: list[ObjectRef] = []
        pending: list[ObjectRef] = []
        done = {"create": created, "update": updated, "delete": deleted}
        unsure: set[ObjectRef] = set()
        stale_index = False
        for o in outcomes:
            w = o.write
            if o.skipped:
                unsure.add(w.ref)
                if w.ref not in pending:
                    pending.append(w.ref)
                continue
            err = o.error
            if err is None or (w.verb == "delete" and isinstance(err, NotFound)):
                stale_index |= not self._observe(w, o.result)
                if err is None:
                    done[w.verb].append(w.ref)
                continue
            what = f"{w.verb} {w.ref} in cluster {self._source.name!r}"
            errors.append((w.ref, f"{what} failed: {err.message}"))
            unsure.add(w.ref)
            if isinstance(err, WriteConflict) and not isinstance(err, AlreadyExists):
                stale_index |= not self._refresh(w.ref)
            # NotFound (namespace or object gone) and AlreadyExists (taken meanwhile):
            # the caches catch up and the next run decides again.
            if err.retryable or isinstance(err, NotFound | AlreadyExists):
                self._attempts[w.ref] = self._attempts.get(w.ref, 0) + 1
                if w.ref not in pending:
                    pending.append(w.ref)
            else:
                failed.append(f"{what}: {err.message}")
                if err.status is not None:  # the server refused it (422, 403, ...)
                    self._rejected[w.ref] = (w.planned, now + self._backoff_max)
        failed_refs = {ref for ref, _ in errors}
        for w in batch.writes:
            if w.ref not in unsure:
                self._attempts.pop(w.ref, None)
            if w.ref not in failed_refs:
                self._rejected.pop(w.ref, None)
        if full:
            wanted = {w.ref for w in batch.writes}
            for ref in set(self._attempts) - wanted:
                del self._attempts[ref]
            for ref in set(self._rejected) - wanted:
                del self._rejected[ref]
        self._retry = {(r.kind, r.namespace, r.name) for r in pending}
        if stale_index:
            self._index = None  # rebuilt from the caches by the next run

        retry_at = None
        if pending:
            worst = max(self._attempts.get(ref, 1) for ref in pending)
            retry_at = now + self._backoff(worst)
        self._update_status(now, batch, errors)
        self._write_errors = tuple(errors)
        report_errors: list[str] = []
        for link in batch.links:
            problem = batch.views[link.target_cluster_name].error
            if problem is not None:
                report_errors.append(f"Link {link.namespace}/{link.name}: {problem}")
        report_errors.extend(
            f"Link {ref.namespace}/{ref.name}: {problem}"
            for ref, (_, problem) in batch.bad_links.items()
        )
        report_errors.extend(msg for _, msg in errors)
        report = RunReport(
            time=now,
            ok=True,
            created=tuple(created),
            updated=tuple(updated),
            deleted=tuple(deleted),
            pending=tuple(pending),
            failed=tuple(failed),
            unreachable=tuple(sorted(t for t, v in batch.views.items() if not v.read)),
            errors=tuple(report_errors),
            retry_at=retry_at,
        )
        self._last = report
        return report

    def _do(self, w: Write) -> Outcome:
        """One write, I/O only (it may run in a worker thread of ``write_runner``)."""
        if self._cut_off:
            return Outcome(w, skipped=True)
        source = self._source
        try:
            if w.verb == "delete":
                assert w.current is not None
                source.delete(
                    w.ref.kind,
                    w.ref.namespace,
                    w.ref.name,
                    resource_version=w.current.resource_version,
                    uid=w.current.uid or None,
                )
                return Outcome(w)
            body = w.manifest()
            result = source.create(body) if w.verb == "create" else source.update(body)
            return Outcome(w, result=result)
        except BackendError as err:
            if isinstance(err, Unreachable):
                self._cut_off = True  # the rest would fail the same way
            return Outcome(w, error=err)

    def _observe(self, w: Write, result: Manifest | None) -> bool:
        """A write's result into the source cache and the planner; False when the
        planner must be rebuilt."""
        if w.verb == "delete":
            return self._cache(w.ref, None)
        return True if result is None else self._cache(w.ref, result)

    def _refresh(self, ref: ObjectRef) -> bool:
        """After a 409: read the object again where the backend can (else the watch
        brings it); False when the planner must be rebuilt."""
        get = getattr(self._source, "get", None)
        if not callable(get):
            return True
        try:
            doc = get(ref.kind, ref.namespace or None, ref.name)
        except NotFound:
            doc = None
        except BackendError:
            return True
        return self._cache(ref, doc if isinstance(doc, dict) else None)

    def _cache(self, ref: ObjectRef, doc: Manifest | None) -> bool:
        """The source's ``ref`` is now ``doc`` (None: absent): into its cache and the
        planner; False when the planner must be rebuilt."""
        value: Any = None
        if doc is not None:
            read = read_object(ref.kind, doc)
            value = read[1] if read is not None else None
        key: Key = ("", ref.name) if ref.kind == "Namespace" else (ref.namespace, ref.name)
        self._src[ref.kind].put(key, value)
        index = self._index
        if index is None:
            return True
        return index.source_changed(ref.kind, ref.namespace, ref.name, value) is not None

    def _backoff(self, attempts: int) -> float:
        exponent = min(max(attempts, 1) - 1, 30)
        return float(min(self._backoff_max, self._backoff_base * 2**exponent))

    # -- status ---------------------------------------------------------------------------

    def _update_status(
        self, now: float, batch: _Batch, errors: Iterable[tuple[ObjectRef, str]]
    ) -> None:
        s = self._scheme
        source = self._source_state()
        by_ref = {w.ref: w for w in batch.writes}
        failures: list[tuple[str, str]] = []
        seen: set[ObjectRef] = set()
        for ref, message in errors:
            if ref in seen:
                continue
            seen.add(ref)
            w = by_ref.get(ref)
            targets = set()
            for obj in (w.planned if w else None, w.current if w else None, source.get(ref)):
                cluster = obj.labels.get(s.cluster_name_label) if obj is not None else None
                if cluster:
                    targets.add(cluster)
            failures.extend((t, message) for t in sorted(targets))
        unknown = any(not v.known for v in batch.views.values()) or bool(batch.bad_links)
        kept = kept_mirrors(source, s) if unknown else {}
        counts = self._index.mirror_counts() if self._index is not None else {}
        self._status = link_statuses(
            now,
            batch.links,
            batch.bad_links,
            batch.views,
            counts,
            kept,
            failures,
            self._status,
            self._since,
        )


def _same_link(old: object, new: object) -> bool:
    """Whether two cached Links differ in nothing the planner reads (a status write
    changes only the resourceVersion)."""
    if not isinstance(old, Link) or not isinstance(new, Link):
        return False
    return attrs.evolve(old, resource_version="") == attrs.evolve(new, resource_version="")
