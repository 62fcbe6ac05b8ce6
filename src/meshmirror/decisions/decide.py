"""The reconciler's rules, pure: what to hold during a partition, which writes to make,
what status to report. Values in, values out; the reconciler (:mod:`meshmirror.effects.reconcile`)
does the reading and writing around them.

- :func:`held`: the owned objects derived from a linked cluster not read now, to be left
  as they are (never deleted; not updated unless planned from its last known state).
- :func:`writes`: from the planned changes (and what is held) to an ordered list of
  :class:`Write` values: creates (Namespaces, then Services, then Endpoints), updates
  (a Service before its Endpoints; a headless switch as a delete and a create), deletes;
  past the grace, held gateway Endpoints move their addresses to ``notReadyAddresses``.
- :func:`link_statuses`: every Link's :class:`LinkStatus`, in one pass over what
  changed (never Links x mirrors).

>>> from meshmirror.values.model import ClusterState, Endpoints, EndpointAddress, EndpointSubset
>>> eps = Endpoints("shop", "web-east", labels={"mirror.linkerd.io/mirrored-service": "true",
...     "mirror.linkerd.io/cluster-name": "east"},
...     subsets=[EndpointSubset(addresses=[EndpointAddress("192.0.2.10")])])
>>> source = ClusterState.build("west", [eps])
>>> east = RemoteView("east", known=True, read=False, dead=True)
>>> held(source, lambda ref: None, {"east": east})     # not planned, kept all the same
{ObjectRef(kind='Endpoints', namespace='shop', name='web-east'): 'east'}
>>> [(w.verb, str(w.ref)) for w in writes(Changes(), source, held(source, lambda ref: None,
...     {"east": east}), {"east": east})]              # past the grace: not ready, once
[('update', 'Endpoints shop/web-east')]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Literal

import attrs

from meshmirror.decisions.diff import Changes, Update, same
from meshmirror.decisions.plan import PlannedObject
from meshmirror.formats.manifest import to_manifest
from meshmirror.values.model import (
    ClusterState,
    Endpoints,
    EndpointSubset,
    Link,
    ObjectRef,
    Service,
)
from meshmirror.values.scheme import LINKERD, Scheme

__all__ = [
    "LinkStatus",
    "RemoteView",
    "Write",
    "held",
    "kept_mirrors",
    "link_statuses",
    "not_ready",
    "update_manifest",
    "writes",
]

_KIND_ORDER: Mapping[str, int] = MappingProxyType({"Namespace": 0, "Service": 1, "Endpoints": 2})


@attrs.frozen
class RemoteView:
    """How one linked cluster stands now.

    ``known``: its state is known (read at least once; planned from the last known state
    when not ``read`` now). ``error`` says why it is not read; ``dead``: unread for longer
    than the grace; ``timed``: the grace applies (False: no backend, or a Link that
    cannot be read).
    """

    target: str
    known: bool
    read: bool
    error: str | None = None
    dead: bool = False
    timed: bool = True


@attrs.frozen
class Write:
    """One write to the source: ``planned`` is what to create or update to, ``current``
    the object as last seen (its resourceVersion and uid are the preconditions)."""

    verb: Literal["create", "update", "delete"]
    ref: ObjectRef
    planned: PlannedObject | None = None
    current: Service | Endpoints | None = None

    def manifest(self) -> dict[str, Any]:
        """The body of a create or an update."""
        assert self.planned is not None
        if self.verb == "create" or self.current is None:
            return to_manifest(self.planned)
        return update_manifest(self.planned, self.current)


def _switches_headlessness(current: Service | Endpoints, planned: PlannedObject | None) -> bool:
    """Whether ``current`` becoming ``planned`` is a Service switching headlessness,
    which takes a delete and a create (``clusterIP`` is immutable)."""
    return (
        isinstance(current, Service)
        and isinstance(planned, Service)
        and current.headless != planned.headless
    )


def held(
    source: ClusterState,
    planned: Callable[[ObjectRef], PlannedObject | None],
    remotes: Mapping[str, RemoteView],
    scheme: Scheme = LINKERD,
    objects: Iterable[Service | Endpoints] | None = None,
) -> dict[ObjectRef, str]:
    """Owned objects derived from a linked cluster not read now, to be left as they are
    (ref -> that cluster): never deleted, and not updated unless planned from its last
    known state (or claimed by a Link whose cluster was read). A mirror whose Service
    would switch headlessness (a delete and a create) from the last known state of an
    unread cluster keeps its Service and Endpoints as they are until the cluster is read
    again (the per-pod mirrors of a new headless mirror may be created meanwhile).

    Its mirrors (``cluster-name`` label) and, when its state is unknown, federated
    Services listing one of its members. ``objects`` limits the look to some of the
    source's objects (their same-named partners are looked at too); None: all of them.
    ``planned`` gives the planned object of a ref (None: not planned).
    """
    s = scheme
    unread = {t for t, r in remotes.items() if not r.read}
    if not unread:
        return {}
    unknown = {t for t in unread if not remotes[t].known}
    out: dict[ObjectRef, str] = {}
    if objects is None:
        objects = [*source.services.values(), *source.endpoints.values()]
    for obj in objects:
        if not s.is_owned(obj.labels):
            continue
        cluster = obj.labels.get(s.cluster_name_label)
        want = planned(obj.ref)
        if cluster in unread:
            claimed = want is not None and (
                cluster not in unknown  # planned from its last known state
                or want.labels.get(s.cluster_name_label) not in unknown
            )
            if not claimed:
                out[obj.ref] = cluster
            elif (
                _switches_headlessness(obj, want)
                and want is not None
                and want.labels.get(s.cluster_name_label) in unread
            ):
                # Switching headlessness takes a delete and a create (clusterIP is
                # immutable): never a delete from a stale state. The mirror (its
                # Service and Endpoints) waits as it is until the cluster is read.
                out[obj.ref] = cluster
                if source.endpoints_of(obj.namespace, obj.name) is not None:
                    out[ObjectRef("Endpoints", obj.namespace, obj.name)] = cluster
            continue
        entries = obj.annotations.get(s.remote_discovery_annotation)
        if isinstance(obj, Service) and entries and cluster is None:
            members = {e.rpartition("@")[2] for e in entries.split(",")}
            hit = sorted(members & unknown)
            if hit:
                out[obj.ref] = hit[0]
    # A mirror's Service and Endpoints stand or fall together: when one is held, its
    # same-named owned partner is not deleted either (a hand-edited label could
    # otherwise split them, e.g. leave a headless mirror's Endpoints without their
    # Service). A partner the plan wants is written as planned.
    for ref, cluster in list(out.items()):
        partner = ObjectRef(
            "Endpoints" if ref.kind == "Service" else "Service", ref.namespace, ref.name
        )
        if partner in out or planned(partner) is not None:
            continue
        other = source.get(partner)
        if other is not None and s.is_owned(other.labels):
            out[partner] = cluster
    return out


def writes(
    changes: Changes,
    source: ClusterState,
    held: Mapping[ObjectRef, str],
    remotes: Mapping[str, RemoteView],
) -> list[Write]:
    """The writes that carry out ``changes`` (what the plan needs, :func:`~.diff.diff`
    or the incremental planner's), leaving ``held`` objects as they are, in order:
    creates (Namespaces, Services, Endpoints), updates (Services before Endpoints; a
    switch of headlessness as a delete and a create, clusterIP being immutable), deletes.
    Past the grace, held gateway Endpoints of a dead cluster list their addresses as not
    ready (once: the result is stable)."""
    updates: list[Update] = [u for u in changes.updates if u.ref not in held]
    for ref, target in sorted(held.items()):
        remote = remotes.get(target)
        if remote is None or not (remote.dead and remote.timed) or ref.kind != "Endpoints":
            continue
        current = source.endpoints_of(ref.namespace, ref.name)
        if current is None:
            continue
        svc = source.service(ref.namespace, ref.name)
        if svc is not None and svc.headless:
            continue  # points at per-pod mirrors, not at the gateway
        moved = not_ready(current)
        if not same(moved, current):
            updates.append(Update(current, moved))

    out: list[Write] = []
    for obj in sorted(
        changes.creates, key=lambda o: (_KIND_ORDER.get(o.kind, 3), o.namespace, o.name)
    ):
        out.append(Write("create", obj.ref, planned=obj))
    for u in sorted(updates, key=lambda u: (_KIND_ORDER[u.ref.kind], u.ref)):
        after, before = u.after, u.before
        if _switches_headlessness(before, after):
            out.append(Write("delete", u.ref, current=before))
            out.append(Write("create", u.ref, planned=after))
        else:
            out.append(Write("update", u.ref, planned=after, current=before))
    for obj in changes.deletes:
        if obj.ref not in held:
            out.append(Write("delete", obj.ref, current=obj))
    return out


def not_ready(current: Endpoints) -> Endpoints:
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


def update_manifest(planned: PlannedObject, current: Service | Endpoints) -> dict[str, Any]:
    """The planned object as an update of ``current``: its resourceVersion, uid and
    creationTimestamp, and a Service's cluster IP, carried over (the API server keeps
    the rest of what it assigned: clusterIPs, ipFamilies, ...)."""
    doc = to_manifest(planned)
    meta = doc["metadata"]
    for key, value in (
        ("resourceVersion", current.resource_version),
        ("uid", current.uid),
        ("creationTimestamp", current.creation_timestamp),
    ):
        if value:
            meta[key] = value
    if isinstance(current, Service) and current.cluster_ip and doc["kind"] == "Service":
        doc["spec"].setdefault("clusterIP", current.cluster_ip)
    return doc


def kept_mirrors(source: ClusterState, scheme: Scheme = LINKERD) -> dict[str, int]:
    """Owned mirror Services (per-pod ones not counted) by ``cluster-name``, in one pass."""
    out: dict[str, int] = {}
    label, pod = scheme.cluster_name_label, scheme.headless_mirror_label
    for svc in source.services.values():
        if scheme.is_owned(svc.labels) and pod not in svc.labels:
            cluster = svc.labels.get(label)
            if cluster:
                out[cluster] = out.get(cluster, 0) + 1
    return out


@attrs.frozen
class LinkStatus:
    """How one Link is doing, as :meth:`meshmirror.effects.reconcile.Reconciler.status` reports it.

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


def link_statuses(
    now: float,
    links: Sequence[Link],
    bad_links: Mapping[ObjectRef, tuple[str, str]],
    remotes: Mapping[str, RemoteView],
    planned_mirrors: Mapping[ObjectRef, int],
    kept: Mapping[str, int],
    failures: Sequence[tuple[str, str]],
    previous: Mapping[str, LinkStatus],
    since: Mapping[str, float],
) -> dict[str, LinkStatus]:
    """Every Link's status after a run (keyed ``namespace/name``).

    ``planned_mirrors``: planned mirrors per Link; ``kept``: owned mirrors per target
    (:func:`kept_mirrors`, for targets whose state is unknown); ``failures``: the writes
    that failed, as (the target their object is derived from, message); ``previous``:
    the statuses before; ``since``: when each unread target stopped answering.
    """
    by_target: dict[str, list[str]] = {}
    for target, message in failures:
        by_target.setdefault(target, []).append(message)
    out: dict[str, LinkStatus] = {}
    for link in links:
        key = f"{link.namespace}/{link.name}"
        target = link.target_cluster_name
        remote = remotes[target]
        before = previous.get(key)
        mine = by_target.get(target, [])
        mirrored = planned_mirrors.get(link.ref, 0) if remote.known else kept.get(target, 0)
        problems = [p for p in (remote.error, *mine[:1]) if p]
        error = f"Link {key}: {'; '.join(problems)}" if problems else None
        synced = remote.read and not mine
        out[key] = LinkStatus(
            link=link.ref,
            target=target,
            last_sync=now if synced else (before.last_sync if before else None),
            mirrored=mirrored,
            last_error=error,
            unreachable_since=since.get(target),
            gateway_dead=remote.dead and remote.timed,
            pending=len(mine),
        )
    for ref, (target, problem) in bad_links.items():
        key = f"{ref.namespace}/{ref.name}"
        before = previous.get(key)
        out[key] = LinkStatus(
            link=ref,
            target=target,
            last_sync=before.last_sync if before else None,
            mirrored=kept.get(target, 0),
            last_error=f"Link {key}: {problem}; its mirrors are kept as they are",
        )
    return dict(sorted(out.items()))
