"""One remote change, re-planned against indexes: the Changes for the affected keys only,
in time that does not grow with the topology.

Pure (docs/design.md, section 1): no I/O, clock, randomness, threads or module-level state. The
index is the caller's state, passed explicitly and advanced in place by :func:`replan`
and :meth:`PlanIndex.applied` (copying it per event would cost what a full plan costs):
its working copies of the states are a private mutable kind of state (``_Working``),
never a :class:`~meshmirror.values.model.ClusterState` value, which is immutable. The
same index and the same change always give the same Changes.

A :class:`PlanIndex` holds what :func:`meshmirror.decisions.plan.plan` computes, kept by key:
every candidate unit (a mirror with its Endpoints, a federated Service) by
``(link, remote namespace, remote name)`` or ``(namespace, member name)``, the units that
want each object name (collisions), the unit that holds it, and the planned objects.
:func:`replan` takes one change of a remote cluster (a Service or Endpoints put or
deleted), re-plans the one mirror per Link that targets that cluster and the one
federated Service of that name, settles name collisions among the units that share a
name (usually none), and diffs only the objects whose plan changed against the source.

The result is exactly what a full plan and diff would say when the source was settled
(``diff(plan(source, remotes), source)`` empty) before the change: the property test in
``tests/test_incremental.py`` checks it on random topologies and changes.

>>> from meshmirror.values.model import ClusterState, Link, Namespace, Service, ServicePort
>>> from meshmirror.values.labels import Selector
>>> link = Link("linkerd-multicluster", "east", "east", gateway_address="192.0.2.1",
...             gateway_port="4143", selector=Selector.parse("mirror.linkerd.io/exported=true"))
>>> west = ClusterState.build("west", [Namespace("shop"), link])
>>> east = ClusterState.build("east", [Namespace("shop")])
>>> index = PlanIndex.build(west, {"east": east})
>>> web = Service("shop", "web", labels={"mirror.linkerd.io/exported": "true"},
...               ports=[ServicePort(80, name="http")])
>>> changes = replan(index, RemoteChange.put("east", web))
>>> [str(o.ref) for o in changes.creates]
['Endpoints shop/web-east', 'Service shop/web-east']
>>> index.applied(changes)           # once the source holds them
>>> bool(replan(index, RemoteChange.put("east", web)))   # the same again: nothing to do
False
"""

from __future__ import annotations

import heapq
from bisect import insort
from collections.abc import Iterable, Mapping
from typing import Any, Literal, TypeAlias

import attrs

from meshmirror.decisions.diff import Changes, Update, same
from meshmirror.decisions.federated import federate, selected_members
from meshmirror.decisions.mirror import (
    Candidate,
    LinkContext,
    Pool,
    Resolver,
    mirror_one,
    resolve_gateway,
)
from meshmirror.decisions.plan import (
    Plan,
    PlannedObject,
    PlanOptions,
    Unit,
    admit,
    federated_unit,
    in_order,
    mirror_unit,
    parse_local_selector,
)
from meshmirror.values.labels import Selector
from meshmirror.values.model import (
    ClusterState,
    Endpoints,
    Namespace,
    ObjectRef,
    Service,
    linkerd_selector,
)
from meshmirror.values.scheme import LINKERD, Scheme

__all__ = ["Name", "PlanIndex", "RemoteChange", "replan", "replan_names"]

#: Plan order of a unit: (0, link position, remote namespace, remote name) for mirrors,
#: (1, 0, namespace, member name) for federated Services.
_UnitKey: TypeAlias = tuple[int, int, str, str]
_LOCAL = -1  # the source's own federated member, in a members table (selected_members)
#: An object's (kind, namespace, name).
Name: TypeAlias = tuple[str, str, str]


@attrs.frozen
class RemoteChange:
    """A Service or Endpoints of remote cluster ``cluster`` is now ``obj`` (None: gone).

    ``cluster`` is the name the Links target (``spec.targetClusterName``).
    """

    cluster: str
    kind: Literal["Service", "Endpoints"]
    namespace: str
    name: str
    obj: Service | Endpoints | None = None

    def __attrs_post_init__(self) -> None:
        if self.kind not in ("Service", "Endpoints"):
            raise ValueError(f"a remote change is a Service or Endpoints, not {self.kind!r}")
        o = self.obj
        if o is not None and (o.kind, o.namespace, o.name) != (
            self.kind,
            self.namespace,
            self.name,
        ):
            raise ValueError(f"{o.ref} is not {self.kind} {self.namespace}/{self.name}")

    @classmethod
    def put(cls, cluster: str, obj: Service | Endpoints) -> RemoteChange:
        """``obj`` created or replaced in ``cluster``."""
        if isinstance(obj, Service):
            return cls(cluster, "Service", obj.namespace, obj.name, obj)
        return cls(cluster, "Endpoints", obj.namespace, obj.name, obj)

    @classmethod
    def delete(
        cls, cluster: str, kind: Literal["Service", "Endpoints"], namespace: str, name: str
    ) -> RemoteChange:
        """The ``kind`` named ``namespace/name`` deleted from ``cluster``."""
        return cls(cluster, kind, namespace, name, None)


class _Working(ClusterState):
    """A PlanIndex's working copy of a cluster, over plain dicts that only the index
    changes, in place: a new (shared-structure) state per event would cost about what
    the event does. It is what the planner's functions read (a ClusterState to them),
    but it is not a value: unhashable, equal to no state, and never handed out
    (:attr:`PlanIndex.source` and :meth:`PlanIndex.remote` give frozen snapshots)."""

    __slots__ = ()

    def __hash__(self) -> int:
        raise TypeError("a PlanIndex's working copy changes: take a snapshot() to hash")

    def snapshot(self) -> ClusterState:
        """The state as it is now, as an immutable :class:`ClusterState`."""
        return ClusterState(
            self.name, self.namespaces, self.services, self.endpoints, self.links, self.config_maps
        )


def _own_copy(state: ClusterState) -> _Working:
    """The same state over fresh dicts, which only the index changes."""
    working = object.__new__(_Working)
    put = object.__setattr__  # ClusterState's converters would freeze the dicts
    put(working, "name", state.name)
    put(working, "namespaces", dict(state.namespaces))
    put(working, "services", dict(state.services))
    put(working, "endpoints", dict(state.endpoints))
    put(working, "links", dict(state.links))
    put(working, "config_maps", dict(state.config_maps))
    return working


def _services(state: ClusterState) -> dict[tuple[str, str], Service]:
    table = state.services
    assert type(table) is dict  # an index's own copy (_own_copy), not a frozen table
    return table


def _endpoints(state: ClusterState) -> dict[tuple[str, str], Endpoints]:
    table = state.endpoints
    assert type(table) is dict
    return table


def _same_kinds(old: Unit, new: Unit) -> bool:
    """Whether two units with the same names plan the same objects by kind and name: two
    mirrors of one mode (or two federated Services)."""
    a, b = old.mirror, new.mirror
    if a is None or b is None:
        return a is b
    return a.mode == b.mode


def _sort_key(o: PlannedObject) -> tuple[str, str, str]:
    return (o.kind, o.namespace, o.name)


class PlanIndex:
    """The plan of a source and its remotes, indexed for :func:`replan`.

    Build it once with :meth:`build` (the cost of a full plan), then feed it remote
    changes with :func:`replan` and tell it with :meth:`applied` when the source holds
    the changes. It keeps its own copies of the states it was built from (the caller's
    stay untouched). A change of the source other than the index's own writes (a Link,
    a local Service, a Namespace) needs a new index.
    """

    __slots__ = (
        "_by_target",
        "_federates",
        "_kept",
        "_links",
        "_local_selector",
        "_members",
        "_mirror_counts",
        "_ns_units",
        "_options",
        "_owner",
        "_planned",
        "_remotes",
        "_scheme",
        "_source",
        "_units",
        "_wants",
    )

    def __init__(
        self,
        source: ClusterState,
        remotes: Mapping[str, ClusterState],
        scheme: Scheme,
        resolve: Resolver,
        options: PlanOptions,
    ) -> None:
        self._scheme = scheme
        self._options = options
        self._source = _own_copy(source)
        self._remotes = {name: _own_copy(state) for name, state in remotes.items()}
        self._links: list[LinkContext] = []
        self._federates: list[Selector] = []
        self._by_target: dict[str, list[int]] = {}
        self._local_selector = parse_local_selector(options.local_federated_selector, scheme)
        self._units: dict[_UnitKey, Unit] = {}
        # By the (namespace, name) a unit takes: the units that want it, the one holding it.
        self._wants: dict[tuple[str, str], list[_UnitKey]] = {}
        self._owner: dict[tuple[str, str], _UnitKey] = {}
        # The admitted units (a subset of _units): one lookup tells an event both.
        self._kept: dict[_UnitKey, Unit] = {}
        self._planned: dict[Name, Service | Endpoints] = {}
        # Admitted units (and their targets) in namespaces the source lacks: those
        # namespaces are planned (namespace creation), labelled after the first unit.
        self._ns_units: dict[str, dict[_UnitKey, str]] = {}
        # Federated members by (namespace, name): link position (or _LOCAL) -> Service.
        self._members: dict[tuple[str, str], dict[int, Service]] = {}
        # Admitted mirrors per link position (status counts without a scan).
        self._mirror_counts: dict[int, int] = {}

        pool = Pool()
        for link in self._source.sorted_links():
            target = link.target_cluster_name
            remote = self._remotes.get(target)
            if remote is None:
                continue  # the full plan skips it too (UnknownCluster)
            self._by_target.setdefault(target, []).append(len(self._links))
            self._links.append(
                LinkContext(
                    link,
                    remote,
                    self._source,
                    scheme,
                    resolve_gateway(link, resolve),
                    target not in options.dead_gateways,
                    options.enable_headless_services,
                    pool,
                )
            )
            self._federates.append(linkerd_selector(link.federated_service_selector))

        for pos, ctx in enumerate(self._links):
            for (namespace, name), svc in ctx.remote.services.items():
                unit = self._mirror_unit(pos, svc)
                if unit is not None:
                    self._add_unit((0, pos, namespace, name), unit)
        linked = [(ctx.link, ctx.remote) for ctx in self._links]
        for pos, member in selected_members(self._source, linked, self._local_selector):
            svc = member.service
            self._members.setdefault((svc.namespace, svc.name), {})[pos] = svc
        for namespace, name in self._members:
            unit = self._federated_unit((namespace, name))
            if unit is not None:
                self._add_unit((1, 0, namespace, name), unit)

        # Settle every unit in plan order, as plan() does.
        for ukey in sorted(self._units):
            unit = self._units[ukey]
            if self._admissible(ukey, unit):
                self._claim(ukey, unit, set(), [])

    @classmethod
    def build(
        cls,
        source: ClusterState,
        remotes: Mapping[str, ClusterState],
        *,
        scheme: Scheme = LINKERD,
        resolve: Resolver = None,
        options: PlanOptions | None = None,
    ) -> PlanIndex:
        """Index the plan of ``source`` and ``remotes`` (arguments as for
        :func:`meshmirror.decisions.plan.plan`)."""
        return cls(source, remotes, scheme, resolve, options or PlanOptions())

    # -- what the index knows ---------------------------------------------------------

    @property
    def source(self) -> ClusterState:
        """The source as the index sees it (with the writes it was told about): a
        snapshot, a copy of the index's own tables."""
        return self._source.snapshot()

    def remote(self, cluster: str) -> ClusterState | None:
        """Remote ``cluster`` as the index sees it (with the changes it was given): a
        snapshot, a copy of the index's own tables."""
        remote = self._remotes.get(cluster)
        return None if remote is None else remote.snapshot()

    def objects(self) -> list[PlannedObject]:
        """Every planned object, sorted by (kind, namespace, name): ``plan(...).objects``
        of the current states."""
        out: list[PlannedObject] = list(self._planned.values())
        for namespace in self._ns_units:
            ns = self._planned_namespace(namespace)
            if ns is not None:
                out.append(ns)
        return in_order(out)

    def __len__(self) -> int:
        return len(self._planned)

    def __repr__(self) -> str:
        return (
            f"<PlanIndex for {self._source.name}: {len(self._links)} links, "
            f"{len(self._units)} units, {len(self._planned)} planned objects>"
        )

    def applied(self, changes: Changes) -> None:
        """The source now holds ``changes`` (the writes of a :func:`replan` or a
        :func:`~.diff.diff` succeeded): the index diffs against that from now on."""
        src = self._source
        services, endpoints = _services(src), _endpoints(src)
        namespaces = src.namespaces
        assert type(namespaces) is dict
        for obj in (*changes.creates, *(u.after for u in changes.updates)):
            if isinstance(obj, Namespace):
                namespaces[obj.name] = obj
            elif isinstance(obj, Service):
                services[(obj.namespace, obj.name)] = obj
            else:
                endpoints[(obj.namespace, obj.name)] = obj
        for gone in changes.deletes:
            if isinstance(gone, Service):
                services.pop((gone.namespace, gone.name), None)
            else:
                endpoints.pop((gone.namespace, gone.name), None)

    def planned(self, ref: ObjectRef) -> PlannedObject | None:
        """The planned object ``ref`` names (``plan(...).get(ref)``), or None."""
        if ref.kind == "Namespace":
            return self._planned_namespace(ref.name)
        return self._planned.get((ref.kind, ref.namespace, ref.name))

    def mirror_counts(self) -> dict[ObjectRef, int]:
        """The planned mirrors per Link (kept as units come and go: no scan)."""
        return {self._links[pos].link.ref: n for pos, n in self._mirror_counts.items() if n}

    def to_plan(self) -> Plan:
        """``plan(...)`` of the current states: its objects, mirrors and federated
        Services (not its skips and conflicts, which only :func:`~meshmirror.decisions.plan.plan`
        explains)."""
        units = [self._kept[k] for k in sorted(self._kept)]
        return Plan(
            source=self._source.name,
            objects=tuple(self.objects()),
            mirrors=tuple(u.mirror for u in units if u.mirror is not None),
            federated=tuple(u.federation for u in units if u.federation is not None),
        )

    def changes(self, names: Iterable[Name]) -> Changes:
        """What the source needs for the objects ``names`` (kind, namespace, name) name:
        :func:`~meshmirror.decisions.diff.diff` restricted to them."""
        return self._changes(names)

    def source_changed(
        self, kind: str, namespace: str, name: str, obj: Service | Endpoints | None
    ) -> set[Name] | None:
        """The source's ``kind`` ``namespace/name`` is now ``obj`` (None: gone), as its
        watch or a write says. The names whose plan or state changed (give them to
        :meth:`changes`), or None for a change the index does not follow (a kind other
        than Service and Endpoints: a Namespace or a Link needs a new index).

        An owned object is only compared with, except that a headless mirror's Endpoints
        carry its per-pod mirrors' cluster IPs (the mirrors that take the name are
        planned again); an object we do not own may block the units that want its name
        (their admission is settled again), and a local federated member re-plans its
        federated Service."""
        if kind not in ("Service", "Endpoints"):
            return None
        src = self._source
        table: dict[tuple[str, str], Any] = _services(src) if kind == "Service" else _endpoints(src)
        key = (namespace, name)
        old = table.get(key)
        if obj is None:
            table.pop(key, None)
        else:
            table[key] = obj
        touched: set[Name] = {(kind, namespace, name)}
        updates: list[tuple[_UnitKey, Unit | None]] = []
        if kind == "Service":
            # A headless mirror's Endpoints carry its per-pod mirrors' cluster IPs.
            for ukey in self._wants.get(key, ()):
                if ukey[0] == 0:
                    remote = self._links[ukey[1]].remote
                    svc = remote.services.get((ukey[2], ukey[3]))
                    updates.append((ukey, self._mirror_unit(ukey[1], svc)))
            selector = self._local_selector
            if any(o is not None and selector.matches(o.labels) for o in (old, obj)):
                # A local federated member came, went or changed.
                members = self._members.setdefault(key, {})
                if obj is not None and selector.matches(obj.labels):
                    assert isinstance(obj, Service)
                    members[_LOCAL] = obj
                else:
                    members.pop(_LOCAL, None)
                if not members:
                    del self._members[key]
                updates.append(((1, 0, namespace, name), self._federated_unit(key)))
        scheme = self._scheme
        owned = all(o is None or scheme.is_owned(o.labels) for o in (old, obj))
        # An object we do not own blocks the units that want its name (or stops doing so).
        recheck = () if owned else list(self._wants.get(key, ()))
        if updates or recheck:
            self._replace(updates, touched, recheck)
        return touched

    # -- units ------------------------------------------------------------------------

    def _mirror_unit(self, pos: int, svc: Service | None) -> Unit | None:
        if svc is None:
            return None
        ctx = self._links[pos]
        result = mirror_one(ctx, svc)
        return mirror_unit(result, ctx.target) if isinstance(result, Candidate) else None

    def _federated_unit(self, key: tuple[str, str]) -> Unit | None:
        members = self._members.get(key)
        if not members:
            return None
        # federate() over just this name: one Service per member cluster.
        local = members.get(_LOCAL)
        source = ClusterState(self._source.name, services={key: local} if local else {})
        linked = [
            (self._links[pos].link, ClusterState(self._links[pos].target, services={key: svc}))
            for pos, svc in sorted(members.items())
            if pos != _LOCAL
        ]
        options = self._options
        federations, _, _ = federate(
            source,
            linked,
            scheme=self._scheme,
            local_selector=self._local_selector,
            local_excluded_labels=options.local_excluded_labels,
            local_excluded_annotations=options.local_excluded_annotations,
        )
        if not federations:
            return None
        federation, service = federations[0]
        return federated_unit(federation, service)

    def _add_unit(self, ukey: _UnitKey, unit: Unit) -> None:
        self._units[ukey] = unit
        for key in unit.keys:
            insort(self._wants.setdefault(key, []), ukey)

    def _drop_unit(self, ukey: _UnitKey) -> None:
        unit = self._units.pop(ukey)
        for name in unit.keys:
            wanting = self._wants[name]
            wanting.remove(ukey)
            if not wanting:
                del self._wants[name]

    def _admissible(self, ukey: _UnitKey, unit: Unit) -> bool:
        claimed = {}
        for name in unit.keys:
            owner = self._owner.get(name)
            if owner is not None and owner < ukey:
                claimed[name] = self._units[owner].owner
        return admit(self._source, unit, claimed, self._scheme, self._options) is None

    def _claim(self, ukey: _UnitKey, unit: Unit, touched: set[Name], heap: list[_UnitKey]) -> None:
        for key in unit.keys:
            holder = self._owner.get(key)
            if holder is not None and holder != ukey:
                self._release(holder, touched, heap)  # a later unit loses the name
                heapq.heappush(heap, holder)
            self._owner[key] = ukey
        if ukey[0] == 0 and ukey not in self._kept:
            self._mirror_counts[ukey[1]] = self._mirror_counts.get(ukey[1], 0) + 1
        self._kept[ukey] = unit
        for o in unit.objects:
            name = (o.kind, o.namespace, o.name)
            self._planned[name] = o
            touched.add(name)
        if unit.namespace not in self._source.namespaces:
            self._ns_units.setdefault(unit.namespace, {})[ukey] = unit.target
            touched.add(("Namespace", "", unit.namespace))

    def _release(self, ukey: _UnitKey, touched: set[Name], heap: list[_UnitKey]) -> None:
        unit = self._units[ukey]
        if self._kept.pop(ukey, None) is not None and ukey[0] == 0:
            self._mirror_counts[ukey[1]] -= 1
        for key in unit.keys:
            if self._owner.get(key) == ukey:
                del self._owner[key]
            for other in self._wants.get(key, ()):
                if other > ukey:
                    heapq.heappush(heap, other)  # may now take the name
        for o in unit.objects:
            name = (o.kind, o.namespace, o.name)
            if self._planned.get(name) is o:
                del self._planned[name]
            touched.add(name)
        in_ns = self._ns_units.get(unit.namespace)
        if in_ns is not None and in_ns.pop(ukey, None) is not None:
            touched.add(("Namespace", "", unit.namespace))
            if not in_ns:
                del self._ns_units[unit.namespace]

    def _replace(
        self,
        updates: Iterable[tuple[_UnitKey, Unit | None]],
        touched: set[Name],
        recheck: Iterable[_UnitKey] = (),
    ) -> None:
        """Put the new units in, then settle, in plan order, every unit whose admission
        may have changed (only units that share a name with a changed one, and those in
        ``recheck``: the source changed under them)."""
        heap: list[_UnitKey] = list(recheck)
        heapq.heapify(heap)
        for ukey, unit in updates:
            old = self._kept.get(ukey)
            if (
                old is not None
                and unit is not None
                and old.names == unit.names
                and old.namespace == unit.namespace
                and old.target == unit.target
            ):
                # The usual edit: the same names in the same namespace, so the unit
                # stays admitted (the source, which alone could block it, is unchanged)
                # and no other unit is affected; only its objects change.
                self._units[ukey] = self._kept[ukey] = unit
                if _same_kinds(old, unit):
                    # The same objects by name: the new ones simply take their places.
                    for o in unit.objects:
                        name = (o.kind, o.namespace, o.name)
                        self._planned[name] = o
                        touched.add(name)
                    continue
                for o in old.objects:
                    name = (o.kind, o.namespace, o.name)
                    if self._planned.get(name) is o:
                        del self._planned[name]
                    touched.add(name)
                for o in unit.objects:
                    name = (o.kind, o.namespace, o.name)
                    self._planned[name] = o
                    touched.add(name)
                continue
            if old is None:
                old = self._units.get(ukey)
                if old is None and unit is None:
                    continue
            if ukey in self._kept:
                self._release(ukey, touched, heap)
            if old is not None:
                self._drop_unit(ukey)
            if unit is not None:
                self._add_unit(ukey, unit)
                heapq.heappush(heap, ukey)
        done: set[_UnitKey] = set()
        while heap:
            ukey = heapq.heappop(heap)
            if ukey in done:
                continue
            done.add(ukey)
            unit = self._units.get(ukey)
            if unit is None:
                continue
            kept = ukey in self._kept
            ok = self._admissible(ukey, unit)
            if kept and not ok:
                self._release(ukey, touched, heap)
            elif ok and not kept:
                self._claim(ukey, unit, touched, heap)

    # -- diffing ----------------------------------------------------------------------

    def _planned_namespace(self, namespace: str) -> Namespace | None:
        units = self._ns_units.get(namespace)
        if not units or namespace in self._source.namespaces:
            return None
        s = self._scheme
        first = units[min(units)]
        return Namespace(
            namespace, labels={s.mirrored_service_label: s.true_value, s.cluster_name_label: first}
        )

    def _changes(self, touched: Iterable[Name]) -> Changes:
        """diff() restricted to ``touched``."""
        creates: list[PlannedObject] = []
        updates: list[Update] = []
        deletes: list[Service | Endpoints] = []
        src = self._source
        scheme = self._scheme
        for name in touched:
            kind, namespace, obj_name = name
            if kind == "Namespace":
                ns = self._planned_namespace(obj_name)
                if ns is not None and obj_name not in src.namespaces:
                    creates.append(ns)
                continue
            table = src.services if kind == "Service" else src.endpoints
            current = table.get((namespace, obj_name))
            planned = self._planned.get(name)
            if planned is None:
                if current is not None and scheme.is_owned(current.labels):
                    deletes.append(current)
            elif current is None:
                creates.append(planned)
            elif scheme.is_owned(current.labels) and not same(planned, current):
                updates.append(Update(current, planned))
        creates.sort(key=_sort_key)
        updates.sort(key=lambda u: _sort_key(u.after))
        deletes.sort(key=_sort_key)
        return Changes(tuple(creates), tuple(updates), tuple(deletes))


def replan(index: PlanIndex, change: RemoteChange) -> Changes:
    """Apply one remote change to ``index`` and return what the source needs for it:
    the creates, updates and deletes of the affected objects only (the mirrors of that
    Service in each Link targeting the cluster, its federated Service, and any unit
    whose name those free or take).

    Changes of clusters no Link targets change nothing. ``index`` is advanced (its
    remote state and plan); call :meth:`PlanIndex.applied` once the source holds the
    result.
    """
    return index.changes(replan_names(index, change))


def replan_names(index: PlanIndex, change: RemoteChange) -> set[Name]:
    """:func:`replan` without the diff: apply the change to ``index`` and return the
    names (kind, namespace, name) whose plan changed, for :meth:`PlanIndex.changes`
    (a caller folding many changes diffs once, at the end)."""
    remote = index._remotes.get(change.cluster)
    if remote is None:
        return set()
    key = (change.namespace, change.name)
    obj = change.obj
    if change.kind == "Service":
        if obj is None:
            _services(remote).pop(key, None)
        else:
            assert isinstance(obj, Service)
            _services(remote)[key] = obj
    elif obj is None:
        _endpoints(remote).pop(key, None)
    else:
        assert isinstance(obj, Endpoints)
        _endpoints(remote)[key] = obj
    positions = index._by_target.get(change.cluster, ())
    svc = remote.services.get(key)
    updates: list[tuple[_UnitKey, Unit | None]] = [
        ((0, pos, change.namespace, change.name), index._mirror_unit(pos, svc)) for pos in positions
    ]
    if change.kind == "Service":
        members = index._members.get(key)
        changed = False
        for pos in positions:
            wanted = svc is not None and index._federates[pos].matches(svc.labels)
            if wanted:
                assert svc is not None
                if members is None:
                    members = index._members[key] = {}
                changed = changed or members.get(pos) is not svc
                members[pos] = svc
            elif members is not None and members.pop(pos, None) is not None:
                changed = True
        if members is not None and not members:
            del index._members[key]
        if changed:
            updates.append(((1, 0, change.namespace, change.name), index._federated_unit(key)))
    touched: set[Name] = set()
    index._replace(updates, touched)
    return touched
