"""From what the source cluster holds to the plan: creates, updates, deletes. Pure.

Only owned objects (``mirror.linkerd.io/mirrored-service: "true"``) are ever updated or
deleted. Comparison is semantic: field order, API-server defaults (protocol, targetPort,
type, sessionAffinity, clusterIP, clusterIPs, ipFamilies, ...), server-assigned fields
(resourceVersion, uid, creationTimestamp, managedFields, status) and what kubectl adds
(the ``kubectl.kubernetes.io/last-applied-configuration`` annotation of ``kubectl
apply``; see :data:`IGNORED_ANNOTATIONS`) never cause an update.
Namespaces are created when planned, never updated or deleted: deleting one would
delete everything in it.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs

from meshmirror.decisions.plan import Plan, PlannedObject
from meshmirror.formats.manifest import to_manifest
from meshmirror.values.display import html_table
from meshmirror.values.model import (
    AnyObject,
    ClusterState,
    Endpoints,
    Namespace,
    ObjectRef,
    Service,
    ServicePort,
)
from meshmirror.values.scheme import LINKERD, Scheme

__all__ = ["IGNORED_ANNOTATIONS", "Changes", "Update", "diff", "same"]

#: Annotations that tools add to what they write, never part of a mirror: ignored when
#: comparing (``kubectl apply`` records the applied manifest in the first).
IGNORED_ANNOTATIONS: frozenset[str] = frozenset(
    {"kubectl.kubernetes.io/last-applied-configuration"}
)


def _annotations(obj: AnyObject) -> Mapping[str, str]:
    found = obj.annotations
    if not found or IGNORED_ANNOTATIONS.isdisjoint(found):
        return found
    return {k: v for k, v in found.items() if k not in IGNORED_ANNOTATIONS}


@attrs.frozen
class Update:
    """An owned object whose content differs from the plan: ``before`` as it is,
    ``after`` as planned."""

    before: Service | Endpoints
    after: Service | Endpoints

    @property
    def ref(self) -> ObjectRef:
        return self.after.ref

    def fields(self) -> list[str]:
        """Each changed field as ``key: old -> new``, sorted by key."""
        before = _flatten(_comparable_manifest(self.before))
        after = _flatten(_comparable_manifest(self.after))
        out = []
        for key in sorted(before.keys() | after.keys()):
            old, new = before.get(key, _ABSENT), after.get(key, _ABSENT)
            if old != new:
                out.append(f"{key}: {_show(old)} -> {_show(new)}")
        return out


_HTML_ROWS = 50  # the changes Changes._repr_html_ shows


@attrs.frozen
class Changes:
    """What it takes to reach a plan; each tuple sorted by (kind, namespace, name)."""

    creates: tuple[PlannedObject, ...] = ()
    updates: tuple[Update, ...] = ()
    deletes: tuple[Service | Endpoints, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.creates or self.updates or self.deletes)

    def __len__(self) -> int:
        return len(self.creates) + len(self.updates) + len(self.deletes)

    def describe(self) -> str:
        """A readable diff: ``+`` create, ``~`` update (with each changed field),
        ``-`` delete.

        >>> from meshmirror.values.model import Service, ServicePort
        >>> svc = Service("shop", "web-east", ports=[ServicePort(80)],
        ...               labels={"mirror.linkerd.io/mirrored-service": "true"})
        >>> print(Changes(creates=(svc,)).describe())
        + Service shop/web-east
        """
        lines: list[str] = []
        for obj in self.creates:
            lines.append(f"+ {obj.ref}")
        for u in self.updates:
            lines.append(f"~ {u.ref}")
            lines += [f"    {change}" for change in u.fields()]
        for obj in self.deletes:
            lines.append(f"- {obj.ref}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.describe() or "no changes"

    def __repr__(self) -> str:
        if not self:
            return "<Changes: none>"
        n_up = len(self.updates)
        return (
            f"<Changes: {len(self.creates)} to create, {n_up} to update, "
            f"{len(self.deletes)} to delete>"
        )

    def _repr_html_(self) -> str:
        """The one-line summary, then one row per change (updates with each field)."""
        rows = [["change", "kind", "namespace", "name", "fields"]]
        for obj in self.creates:
            rows.append(["create", obj.kind, obj.namespace or "-", obj.name, "-"])
        for u in self.updates:
            ref = u.ref
            rows.append(["update", ref.kind, ref.namespace, ref.name, "; ".join(u.fields())])
        for obj in self.deletes:
            rows.append(["delete", obj.kind, obj.namespace, obj.name, "-"])
        head = f"<p><strong>{html.escape(repr(self))}</strong></p>"
        if not self:
            return head
        # A notebook shows a page, not thousands of rows: describe() has every change.
        more = len(self) - _HTML_ROWS
        if more > 0:
            rows = rows[: 1 + _HTML_ROWS]
            rows.append([f"... and {more} more changes (describe() lists all)", "", "", "", ""])
        return head + html_table(rows, footer=more > 0)


class _Absent:
    def __repr__(self) -> str:
        return "(absent)"


_ABSENT = _Absent()


def _show(value: Any) -> str:
    return "(absent)" if value is _ABSENT else repr(value)


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(value, Mapping) and value:
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(value, list) and value:
        for i, v in enumerate(value):
            out.update(_flatten(v, f"{prefix}[{i}]"))
    else:
        out[prefix] = value
    return out


def _comparable_manifest(obj: Service | Endpoints) -> dict[str, Any]:
    doc = to_manifest(_normal(obj))
    for key in ("resourceVersion", "uid", "creationTimestamp"):
        doc["metadata"].pop(key, None)
    doc["metadata"]["annotations"] = dict(_annotations(obj))
    return doc


def _normal_service(s: Service) -> Service:
    # Keep only what the service mirror writes, with the API server's defaults applied.
    return Service(
        namespace=s.namespace,
        name=s.name,
        labels=s.labels,
        annotations=s.annotations,
        ports=tuple(attrs.evolve(p, target_port=p.effective_target_port) for p in s.ports),
        type=s.type,
        cluster_ip="None" if s.headless else None,
        session_affinity=None if s.effective_session_affinity == "None" else s.session_affinity,
        selector=s.selector or None,
        external_name=s.external_name,
    )


def _normal_endpoints(e: Endpoints) -> Endpoints:
    return Endpoints(
        namespace=e.namespace,
        name=e.name,
        labels=e.labels,
        annotations=e.annotations,
        subsets=e.subsets,
    )


def _normal(obj: Service | Endpoints) -> Service | Endpoints:
    return _normal_service(obj) if isinstance(obj, Service) else _normal_endpoints(obj)


def same(planned: AnyObject, actual: AnyObject) -> bool:
    """Whether ``actual`` already is ``planned``, semantically (server fields and
    defaults ignored)."""
    if isinstance(planned, Namespace):
        return isinstance(actual, Namespace)
    if isinstance(planned, Service) and isinstance(actual, Service):
        return _same_service(planned, actual)
    if isinstance(planned, Endpoints) and isinstance(actual, Endpoints):
        return _same_endpoints(planned, actual)
    return False


# What _normal_service / _normal_endpoints equality says, field by field, without
# building the normal forms (diff runs this once per planned object).


def _port_form(p: ServicePort) -> tuple[object, ...]:
    return (p.port, p.name, p.protocol, p.effective_target_port, p.node_port, p.app_protocol)


def _same_ports(a: tuple[ServicePort, ...], b: tuple[ServicePort, ...]) -> bool:
    if a is b:
        return True
    if len(a) != len(b):
        return False
    return all(x is y or _port_form(x) == _port_form(y) for x, y in zip(a, b, strict=True))


def _affinity(s: Service) -> str | None:
    return None if s.effective_session_affinity == "None" else s.session_affinity


def _same_service(a: Service, b: Service) -> bool:
    return (
        a.namespace == b.namespace
        and a.name == b.name
        and a.labels == b.labels
        and _annotations(a) == _annotations(b)
        and _same_ports(a.ports, b.ports)
        and a.type == b.type
        and a.headless == b.headless
        and _affinity(a) == _affinity(b)
        and (a.selector or None) == (b.selector or None)
        and a.external_name == b.external_name
    )


def _same_endpoints(a: Endpoints, b: Endpoints) -> bool:
    return (
        a.namespace == b.namespace
        and a.name == b.name
        and a.labels == b.labels
        and _annotations(a) == _annotations(b)
        and a.subsets == b.subsets
    )


def owned_objects(state: ClusterState, scheme: Scheme = LINKERD) -> Iterator[Service | Endpoints]:
    """The Services and Endpoints of ``state`` that the service mirror owns."""
    for svc in state.services.values():
        if scheme.is_owned(svc.labels):
            yield svc
    for eps in state.endpoints.values():
        if scheme.is_owned(eps.labels):
            yield eps


def diff(
    plan: Plan,
    actual: ClusterState,
    *,
    scheme: Scheme = LINKERD,
    keep: Iterable[ObjectRef] = (),
) -> Changes:
    """The creates, updates and deletes that turn ``actual`` into ``plan``.

    Only owned objects are updated or deleted; a planned object whose name is held by
    an object we do not own is left alone (the plan already reports it as a skip).
    ``keep`` names owned objects not to delete although unplanned (the reconciler keeps
    mirrors of an unreachable cluster this way).
    """
    creates: list[PlannedObject] = []
    updates: list[Update] = []
    for obj in plan.objects:
        current = actual.get(obj.ref)
        if current is None:
            creates.append(obj)
        elif isinstance(obj, Namespace) or not scheme.is_owned(current.labels):
            continue
        elif not same(obj, current):
            assert isinstance(current, Service | Endpoints)
            updates.append(Update(current, obj))
    kept = set(keep)
    deletes = sorted(
        (o for o in owned_objects(actual, scheme) if o.ref not in plan and o.ref not in kept),
        key=lambda o: (o.kind, o.namespace, o.name),
    )
    return Changes(tuple(creates), tuple(updates), tuple(deletes))
