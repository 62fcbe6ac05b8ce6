"""The plan: every object the service mirror keeps in the source cluster. Pure.

>>> from meshmirror.formats.manifest import cluster_state
>>> link = {"apiVersion": "multicluster.linkerd.io/v1alpha3", "kind": "Link",
...     "metadata": {"name": "east", "namespace": "linkerd-multicluster"},
...     "spec": {"targetClusterName": "east", "targetClusterDomain": "cluster.local",
...              "gatewayAddress": "192.0.2.10", "gatewayPort": "4143",
...              "selector": {"matchLabels": {"mirror.linkerd.io/exported": "true"}}}}
>>> ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
>>> web = {"apiVersion": "v1", "kind": "Service",
...     "metadata": {"name": "web", "namespace": "shop", "resourceVersion": "7",
...                  "labels": {"mirror.linkerd.io/exported": "true"}},
...     "spec": {"ports": [{"name": "http", "port": 80}]}}
>>> west = cluster_state("west", [ns, link])
>>> east = cluster_state("east", [ns, web])
>>> p = plan(west, {"east": east})
>>> [str(o.ref) for o in p.objects]
['Endpoints shop/web-east', 'Service shop/web-east']
>>> p.skipped
()
"""

from __future__ import annotations

import html
import operator
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NamedTuple

import attrs

from meshmirror.decisions.federated import Federation, federate
from meshmirror.decisions.mirror import (
    Candidate,
    Mirror,
    Pool,
    Resolver,
    mirror_link,
    resolve_gateway,
    unknown_target_skip,
)
from meshmirror.formats.manifest import to_manifest
from meshmirror.values.codes import Conflict, Skip, SkipCode
from meshmirror.values.display import html_table, text_table
from meshmirror.values.labels import Selector, parse_selector
from meshmirror.values.model import (
    ClusterState,
    Endpoints,
    Link,
    Namespace,
    ObjectRef,
    Service,
    check_states,
)
from meshmirror.values.scheme import LINKERD, Scheme

__all__ = ["Plan", "PlanOptions", "PlannedObject", "plan"]

PlannedObject = Service | Endpoints | Namespace


def _frozenset(value: Iterable[str]) -> frozenset[str]:
    return frozenset(value)


def _strs(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen
class PlanOptions:
    """The service mirror's switches (Linkerd's controller flags and their defaults).

    ``dead_gateways`` names target clusters whose gateway is considered down: their
    gateway Endpoints list the addresses as ``notReadyAddresses`` (Linkerd's probe).
    ``local_federated_selector`` is the local service mirror's member selector.
    """

    enable_headless_services: bool = False
    enable_namespace_creation: bool = False
    dead_gateways: frozenset[str] = attrs.field(default=frozenset(), converter=_frozenset)
    local_federated_selector: str | None = None
    local_excluded_labels: tuple[str, ...] = attrs.field(default=(), converter=_strs)
    local_excluded_annotations: tuple[str, ...] = attrs.field(default=(), converter=_strs)


@attrs.frozen
class Plan:
    """What the source cluster should hold, and why anything else is not there.

    ``objects`` are sorted by (kind, namespace, name); ``skipped`` and ``conflicts``
    explain what is not mirrored and where federated members disagree; ``mirrors`` and
    ``federated`` say which remote object each planned object comes from.
    """

    source: str
    objects: tuple[PlannedObject, ...]
    skipped: tuple[Skip, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    mirrors: tuple[Mirror, ...] = ()
    federated: tuple[Federation, ...] = ()
    # By (kind, namespace, name) as a plain tuple: cheaper to make and hash than a ref.
    # Made on the first lookup: planning itself never needs it.
    _index: dict[tuple[str, str, str], PlannedObject] | None = attrs.field(
        init=False, repr=False, eq=False, default=None
    )

    def _by_name(self) -> dict[tuple[str, str, str], PlannedObject]:
        index = self._index
        if index is None:
            index = {(o.kind, o.namespace, o.name): o for o in self.objects}
            object.__setattr__(self, "_index", index)
        return index

    def get(self, ref: ObjectRef) -> PlannedObject | None:
        """The planned object ``ref`` names, or None."""
        return self._by_name().get((ref.kind, ref.namespace, ref.name))

    def __contains__(self, ref: object) -> bool:
        return isinstance(ref, ObjectRef) and (ref.kind, ref.namespace, ref.name) in self._by_name()

    def __iter__(self) -> Iterator[PlannedObject]:
        return iter(self.objects)

    def __len__(self) -> int:
        return len(self.objects)

    def manifests(self) -> list[dict[str, Any]]:
        """The planned objects as kubectl-style dicts, in plan order."""
        return [to_manifest(o) for o in self.objects]

    def __repr__(self) -> str:
        return (
            f"<Plan for {self.source}: {len(self.mirrors)} mirrors, "
            f"{len(self.federated)} federated, {len(self.objects)} objects, "
            f"{len(self.skipped)} skipped, {len(self.conflicts)} conflicts>"
        )

    def gateway_endpoints(self, mirror: Mirror) -> list[Endpoints]:
        """The planned Endpoints that list ``mirror``'s gateway addresses: its own, or a
        headless mirror's per-pod Endpoints (its own list the per-pod Services)."""
        refs = [ObjectRef("Endpoints", r.namespace, r.name) for r in mirror.pods]
        if mirror.mode != "headless" and mirror.endpoints is not None:
            refs.append(mirror.endpoints)
        return [eps for eps in (self.get(ref) for ref in refs) if isinstance(eps, Endpoints)]

    def tables(self) -> tuple[list[list[str]], list[list[str]], list[list[str]]]:
        """The plan as rows, each table's header first: the planned objects (``KIND
        NAMESPACE NAME MODE FROM``), the federated Services (``FEDERATED NAMESPACE
        WINNER MEMBERS``) and the findings (``CODE ABOUT MESSAGE``). ``plan -o table``
        prints the first two; :meth:`text` and the notebook view show all three."""
        origin: dict[tuple[str, str, str], tuple[str, str]] = {}
        for m in self.mirrors:
            src = f"{m.remote.namespace}/{m.remote.name}@{m.target}"
            for ref in m.refs:
                origin[(ref.kind, ref.namespace, ref.name)] = (m.mode, src)
        for f in self.federated:
            members = ",".join(x.entry for x in f.members)
            origin[("Service", f.service.namespace, f.service.name)] = ("federated", members)
        objects = [["KIND", "NAMESPACE", "NAME", "MODE", "FROM"]]
        for o in self.objects:
            mode, src = origin.get((o.kind, o.namespace, o.name), ("namespace", "-"))
            objects.append([o.kind, o.namespace or "-", o.name, mode, src])
        federated = [["FEDERATED", "NAMESPACE", "WINNER", "MEMBERS"]]
        for f in self.federated:
            members = ",".join(x.entry for x in f.members)
            federated.append([f.service.name, f.service.namespace, f.winner.entry, members])
        findings = [["CODE", "ABOUT", "MESSAGE"]]
        findings += [[s.code.value, f"{s.ref} in {s.cluster}", s.message] for s in self.skipped]
        findings += [[c.code.value, str(c.ref), c.message] for c in self.conflicts]
        return objects, federated, findings

    def text(self) -> str:
        """The plan as ``plan -o table`` prints it: the objects, then the federated
        Services (when there are any), as aligned text tables."""
        objects, federated, _ = self.tables()
        return text_table(objects) + ("\n" + text_table(federated) if self.federated else "")

    def _repr_html_(self) -> str:
        """The one-line summary and the :meth:`tables` (notebooks)."""
        objects, federated, findings = self.tables()
        tables = [
            html_table(t) for t in (objects, federated, findings) if t is objects or len(t) > 1
        ]
        return f"<p><strong>{html.escape(repr(self))}</strong></p>" + "".join(tables)


class Unit(NamedTuple):
    """Objects that stand or fall together (a mirror with its Endpoints and per-pod
    Services, or a federated Service). A tuple: one is made per candidate."""

    # The object names the unit takes in its namespace: a Service and, for mirrors,
    # Endpoints of each name (so two units collide exactly when they share a name).
    names: tuple[str, ...]
    objects: tuple[Service | Endpoints, ...]
    namespace: str
    target: str  # "" for a federated Service
    skip_cluster: str
    mirror: Mirror | None = None
    federation: Federation | None = None

    @property
    def keys(self) -> list[tuple[str, str]]:
        """The (namespace, name) keys the unit takes."""
        ns = self.namespace
        return [(ns, name) for name in self.names]

    @property
    def skip_ref(self) -> ObjectRef:
        """What a skip of this unit names: the remote Service (or the federated
        Service's winning member)."""
        if self.mirror is not None:
            return self.mirror.remote
        assert self.federation is not None
        return self.federation.winner.service.ref

    @property
    def owner(self) -> Mirror | Federation:
        """The mirror or federated Service this unit is."""
        if self.mirror is not None:
            return self.mirror
        assert self.federation is not None
        return self.federation

    @property
    def description(self) -> str:
        """What the unit is, for messages (made only when one is needed)."""
        return _describe(self.owner)


_name = operator.attrgetter("name")


def in_order(objects: Iterable[PlannedObject]) -> list[PlannedObject]:
    """``objects`` by (kind, namespace, name), the order of every output.

    Grouped by (kind, namespace), then each group by name: over twice as fast as one
    sort by a tuple key, which makes a tuple per object and compares three fields."""
    groups: dict[tuple[str, str], list[PlannedObject]] = {}
    for o in objects:
        key = (o.kind, o.namespace)
        group = groups.get(key)
        if group is None:
            groups[key] = group = []
        group.append(o)
    out: list[PlannedObject] = []
    for key in sorted(groups):
        group = groups[key]
        group.sort(key=_name)
        out.extend(group)
    return out


def _skip_sort_key(s: Skip) -> tuple[str, str, str, str, str, str]:
    return (s.cluster, s.ref.kind, s.ref.namespace, s.ref.name, s.code.value, s.message)


def _blocking(source: ClusterState, key: tuple[str, str], scheme: Scheme) -> ObjectRef | None:
    """A same-named local object we do not own, for a (namespace, name) a unit takes.

    Both kinds are checked for every name: an unowned Endpoints would become the
    endpoints of our selector-less Service."""
    for obj in (source.services.get(key), source.endpoints.get(key)):
        if obj is not None and not scheme.is_owned(obj.labels):
            return obj.ref
    return None


def plan(
    source: ClusterState,
    remotes: Mapping[str, ClusterState],
    *,
    scheme: Scheme = LINKERD,
    resolve: Resolver = None,
    options: PlanOptions | None = None,
) -> Plan:
    """Every object Linkerd's service mirror converges to in ``source``.

    ``remotes`` maps a Link's ``targetClusterName`` to that cluster's state; Links are
    read from ``source``. ``resolve`` turns a gateway hostname into addresses (a
    callable or a mapping); None accepts IP literals only. Arguments of the wrong type,
    or a ``remotes`` key that is not its state's name, raise
    :class:`~meshmirror.values.model.ArgumentError`.
    """
    check_states(source, remotes)
    options = options or PlanOptions()
    skips: list[Skip] = []
    linked: list[tuple[Link, ClusterState]] = []
    pool = Pool()
    # Units are settled as they come (in plan order): only what is admitted is kept.
    settle = _Settler(source, scheme, options, skips)

    for link in source.sorted_links():
        target = link.target_cluster_name
        remote = remotes.get(target)
        if remote is None:
            skips.append(unknown_target_skip(link, source.name))
            continue
        linked.append((link, remote))
        candidates, link_skips = mirror_link(
            link,
            remote,
            source,
            scheme=scheme,
            gateway=resolve_gateway(link, resolve),
            gateway_alive=target not in options.dead_gateways,
            enable_headless_services=options.enable_headless_services,
            pool=pool,
        )
        skips.extend(link_skips)
        for c in candidates:
            if c.skips:
                skips.extend(c.skips)
            settle(mirror_unit(c, target))
        del candidates

    local_selector = parse_local_selector(options.local_federated_selector, scheme)
    federations, fed_skips, conflicts = federate(
        source,
        linked,
        scheme=scheme,
        local_selector=local_selector,
        local_excluded_labels=options.local_excluded_labels,
        local_excluded_annotations=options.local_excluded_annotations,
    )
    skips.extend(fed_skips)
    for federation, service in federations:
        settle(federated_unit(federation, service))
    del federations

    objects = in_order([*settle.objects, *settle.created_namespaces.values()])
    feds = settle.federations
    kept_refs = {f.service for f in feds}
    return Plan(
        source=source.name,
        objects=tuple(objects),
        skipped=tuple(sorted(set(skips), key=_skip_sort_key)),
        conflicts=tuple(
            sorted((c for c in conflicts if c.ref in kept_refs), key=lambda c: (c.ref, c.code))
        ),
        mirrors=tuple(settle.mirrors),
        federated=tuple(feds),
    )


def federated_unit(federation: Federation, service: Service) -> Unit:
    winner = federation.winner
    return Unit(
        names=(service.name,),
        objects=(service,),
        namespace=service.namespace,
        target="" if winner.local else winner.cluster,
        skip_cluster=winner.cluster,
        federation=federation,
    )


def mirror_unit(candidate: Candidate, target: str) -> Unit:
    m = candidate.mirror
    return Unit(m.names, candidate.objects, m.namespace, target, target, m)


class _Settler:
    """Checks each unit, in plan order, against the source (namespace, ownership) and
    the units admitted before it (names), and keeps what is admitted."""

    __slots__ = (
        "claimed",
        "created_namespaces",
        "federations",
        "mirrors",
        "objects",
        "options",
        "scheme",
        "skips",
        "source",
    )

    def __init__(
        self, source: ClusterState, scheme: Scheme, options: PlanOptions, skips: list[Skip]
    ) -> None:
        self.source = source
        self.scheme = scheme
        self.options = options
        self.skips = skips
        self.objects: list[PlannedObject] = []
        self.mirrors: list[Mirror] = []
        self.federations: list[Federation] = []
        # (namespace, name) -> what took it (a Mirror or a Federation, for messages).
        self.claimed: dict[tuple[str, str], Mirror | Federation] = {}
        self.created_namespaces: dict[str, Namespace] = {}

    def __call__(self, unit: Unit) -> None:
        source = self.source
        problem = admit(source, unit, self.claimed, self.scheme, self.options)
        if problem is not None:
            self.skips.append(problem)
            return
        ns = unit.namespace
        owner = unit.owner
        claimed = self.claimed
        for key in unit.keys:
            claimed[key] = owner
        self.objects.extend(unit.objects)
        if unit.mirror is not None:
            self.mirrors.append(unit.mirror)
        if unit.federation is not None:
            self.federations.append(unit.federation)
        if ns not in source.namespaces and ns not in self.created_namespaces:
            scheme = self.scheme
            self.created_namespaces[ns] = Namespace(
                ns,
                labels={
                    scheme.mirrored_service_label: scheme.true_value,
                    scheme.cluster_name_label: unit.target,
                },
            )


def _describe(owner: Mirror | Federation) -> str:
    """What took a name, for messages."""
    if isinstance(owner, Mirror):
        return (
            f"mirror {owner.namespace}/{owner.name} of Service "
            f"{owner.namespace}/{owner.remote_name} in cluster {owner.target}"
        )
    ref = owner.service
    return f"federated Service {ref.namespace}/{ref.name}"


def admit(
    source: ClusterState,
    unit: Unit,
    claimed: Mapping[tuple[str, str], Mirror | Federation],
    scheme: Scheme,
    options: PlanOptions,
) -> Skip | None:
    """Why ``unit`` cannot be planned (namespace, a name taken by an earlier unit in
    ``claimed``, an object we do not own), or None."""

    def skip(code: SkipCode, message: str) -> Skip:
        return Skip(code, unit.skip_ref, message, cluster=unit.skip_cluster)

    if unit.namespace not in source.namespaces and not (
        options.enable_namespace_creation and unit.target
    ):
        return skip(
            SkipCode.NAMESPACE_MISSING,
            f"{unit.description} is not planned: namespace {unit.namespace!r} does not exist "
            f"in cluster {source.name}; create it (or enable namespace creation)",
        )
    keys = unit.keys
    for key in keys:
        taken = claimed.get(key)
        if taken is not None:
            return skip(
                SkipCode.NAME_COLLISION,
                f"{unit.description} is not planned: its name is already taken by "
                f"{_describe(taken)}; rename one of them",
            )
    for key in keys:
        blocker = _blocking(source, key, scheme)
        if blocker is not None:
            return skip(
                SkipCode.NOT_OWNED,
                f"{unit.description} is not planned: {blocker} already exists in cluster "
                f"{source.name} without the {scheme.mirrored_service_label} label, and "
                "meshmirror never touches what it does not own; rename or remove it",
            )
    return None


def parse_local_selector(text: str | None, scheme: Scheme = LINKERD) -> Selector:
    """The local service mirror's member selector (the scheme's default when None)."""
    return parse_selector(scheme.local_federated_selector if text is None else text)
