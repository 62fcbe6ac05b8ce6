"""The plan: every object the service mirror keeps in the source cluster. Pure.

>>> from meshmirror.manifest import cluster_state
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

import operator
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

import attrs

from meshmirror.codes import Conflict, Skip, SkipCode
from meshmirror.federated import Federation, federate
from meshmirror.labels import Selector, parse_selector
from meshmirror.manifest import to_manifest
from meshmirror.mirror import Candidate, Mirror, Resolver, _Pool, mirror_link, resolve_gateway
from meshmirror.model import ClusterState, Endpoints, Link, Namespace, ObjectRef, Service
from meshmirror.scheme import LINKERD, Scheme

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
    _index: Mapping[tuple[str, str, str], PlannedObject] = attrs.field(
        init=False, repr=False, eq=False, factory=dict
    )

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_index", {(o.kind, o.namespace, o.name): o for o in self.objects})

    def get(self, ref: ObjectRef) -> PlannedObject | None:
        """The planned object ``ref`` names, or None."""
        return self._index.get((ref.kind, ref.namespace, ref.name))

    def __contains__(self, ref: object) -> bool:
        return isinstance(ref, ObjectRef) and (ref.kind, ref.namespace, ref.name) in self._index

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

    def _repr_html_(self) -> str:
        """Tables for notebooks (:func:`meshmirror.graph.plan_html`)."""
        from meshmirror.graph import plan_html  # here: graph imports this module

        return plan_html(self)


class _Unit(NamedTuple):
    """Objects that stand or fall together (a mirror with its Endpoints and per-pod
    Services, or a federated Service). A tuple: one is made per candidate."""

    refs: tuple[ObjectRef, ...]
    objects: tuple[Service | Endpoints, ...]
    namespace: str
    target: str  # "" for a federated Service
    skip_ref: ObjectRef
    skip_cluster: str
    mirror: Mirror | None = None
    federation: Federation | None = None

    @property
    def label(self) -> str:
        """What the unit is, for messages (made only when one is needed)."""
        m = self.mirror
        if m is not None:
            return (
                f"mirror {m.service.namespace}/{m.service.name} of Service "
                f"{m.remote.namespace}/{m.remote.name} in cluster {self.target}"
            )
        assert self.federation is not None
        ref = self.federation.service
        return f"federated Service {ref.namespace}/{ref.name}"


#: (kind, namespace, name): the order of every output.
_object_order = operator.attrgetter("kind", "namespace", "name")


def _skip_sort_key(s: Skip) -> tuple[str, str, str, str, str, str]:
    return (s.cluster, s.ref.kind, s.ref.namespace, s.ref.name, s.code.value, s.message)


def _blocking(source: ClusterState, ref: ObjectRef, scheme: Scheme) -> ObjectRef | None:
    """A same-named local object we do not own, for a Service's or Endpoints' name.

    Both kinds are checked for every name: an unowned Endpoints would become the
    endpoints of our selector-less Service."""
    key = (ref.namespace, ref.name)
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
    callable or a mapping); None accepts IP literals only.
    """
    options = options or PlanOptions()
    skips: list[Skip] = []
    units: list[_Unit] = []
    linked: list[tuple[Link, ClusterState]] = []
    pool = _Pool()

    for link in source.sorted_links():
        target = link.target_cluster_name
        remote = remotes.get(target)
        if remote is None:
            skips.append(
                Skip(
                    SkipCode.UNKNOWN_CLUSTER,
                    link.ref,
                    f"Link {link.namespace}/{link.name} targets cluster {target!r}, which "
                    "was not given; pass its state (CLUSTER=PATH) to mirror from it",
                    cluster=source.name,
                )
            )
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
        units.extend(_mirror_unit(c, target) for c in candidates)
        for c in candidates:
            skips.extend(c.skips)

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
    units.extend(_federated_unit(federation, service) for federation, service in federations)

    objects, mirrors, feds, unit_skips = _settle(source, units, scheme, options)
    skips.extend(unit_skips)
    objects.sort(key=_object_order)
    kept_refs = {f.service for f in feds}
    return Plan(
        source=source.name,
        objects=tuple(objects),
        skipped=tuple(sorted(set(skips), key=_skip_sort_key)),
        conflicts=tuple(
            sorted((c for c in conflicts if c.ref in kept_refs), key=lambda c: (c.ref, c.code))
        ),
        mirrors=tuple(mirrors),
        federated=tuple(feds),
    )


def _federated_unit(federation: Federation, service: Service) -> _Unit:
    winner = federation.winner
    return _Unit(
        refs=(service.ref,),
        objects=(service,),
        namespace=service.namespace,
        target="" if winner.local else winner.cluster,
        skip_ref=winner.service.ref,
        skip_cluster=winner.cluster,
        federation=federation,
    )


def _mirror_unit(candidate: Candidate, target: str) -> _Unit:
    m = candidate.mirror
    return _Unit(
        refs=m.refs,
        objects=candidate.objects,
        namespace=m.remote.namespace,
        target=target,
        skip_ref=m.remote,
        skip_cluster=target,
        mirror=m,
    )


def _settle(
    source: ClusterState,
    units: Sequence[_Unit],
    scheme: Scheme,
    options: PlanOptions,
) -> tuple[list[PlannedObject], list[Mirror], list[Federation], list[Skip]]:
    """Check each unit against the source: namespace, name collisions, ownership."""
    objects: list[PlannedObject] = []
    mirrors: list[Mirror] = []
    feds: list[Federation] = []
    skips: list[Skip] = []
    claimed: dict[ObjectRef, _Unit] = {}
    created_namespaces: dict[str, Namespace] = {}

    for unit in units:
        problem = _admit(source, unit, claimed, scheme, options)
        if problem is not None:
            skips.append(problem)
            continue
        for r in unit.refs:
            claimed[r] = unit
        objects.extend(unit.objects)
        if unit.mirror is not None:
            mirrors.append(unit.mirror)
        if unit.federation is not None:
            feds.append(unit.federation)
        if not source.has_namespace(unit.namespace) and unit.namespace not in created_namespaces:
            created_namespaces[unit.namespace] = Namespace(
                unit.namespace,
                labels={
                    scheme.mirrored_service_label: scheme.true_value,
                    scheme.cluster_name_label: unit.target,
                },
            )
    objects.extend(created_namespaces.values())
    return objects, mirrors, feds, skips


def _admit(
    source: ClusterState,
    unit: _Unit,
    claimed: Mapping[ObjectRef, _Unit],
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
            f"{unit.label} is not planned: namespace {unit.namespace!r} does not exist "
            f"in cluster {source.name}; create it (or enable namespace creation)",
        )
    for r in unit.refs:
        taken = claimed.get(r)
        if taken is not None:
            return skip(
                SkipCode.NAME_COLLISION,
                f"{unit.label} is not planned: its name is already taken by {taken.label}; "
                "rename one of them",
            )
    for r in unit.refs:
        blocker = _blocking(source, r, scheme)
        if blocker is not None:
            return skip(
                SkipCode.NOT_OWNED,
                f"{unit.label} is not planned: {blocker} already exists in cluster "
                f"{source.name} without the {scheme.mirrored_service_label} label, and "
                "meshmirror never touches what it does not own; rename or remove it",
            )
    return None


def parse_local_selector(text: str | None, scheme: Scheme = LINKERD) -> Selector:
    """The local service mirror's member selector (the scheme's default when None)."""
    return parse_selector(scheme.local_federated_selector if text is None else text)
