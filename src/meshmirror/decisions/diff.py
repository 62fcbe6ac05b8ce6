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
from typing import Any, TypeAlias

import attrs

from meshmirror.decisions.plan import Plan, PlannedObject
from meshmirror.formats.manifest import to_manifest
from meshmirror.values.display import html_table
from meshmirror.values.model import (
    AnyObject,
    ClusterState,
    Endpoints,
    EndpointSubset,
    FrozenMap,
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

    def text(self) -> str:
        """A readable diff: ``+`` create, ``~`` update (with each changed field),
        ``-`` delete (what ``meshmirror diff`` prints; ``describe()`` is the same).

        >>> from meshmirror.values.model import Service, ServicePort
        >>> svc = Service("shop", "web-east", ports=[ServicePort(80)],
        ...               labels={"mirror.linkerd.io/mirrored-service": "true"})
        >>> print(Changes(creates=(svc,)).text())
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

    # Its first name; every result type now spells its text view ``text()``.
    describe = text

    def __str__(self) -> str:
        return self.text() or "no changes"

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


# The one rule of what a comparison looks at: what the service mirror writes, the API
# server's defaults applied; server-assigned fields and IGNORED_ANNOTATIONS left out.
# `same` compares these forms (diff runs it once per planned object, so without building
# objects); `_normal` builds objects from them (for Update.fields).


def _port_form(p: ServicePort) -> tuple[int, str, str, int | str, int | None, str | None]:
    # ServicePort's fields, in order, with targetPort defaulted.
    return (p.port, p.name, p.protocol, p.effective_target_port, p.node_port, p.app_protocol)


_ServiceForm: TypeAlias = tuple[
    str,
    str,
    FrozenMap[str],
    Mapping[str, str],
    str,
    str | None,
    str | None,
    FrozenMap[str] | None,
    str | None,
]


def _service_form(s: Service) -> _ServiceForm:
    # Service's fields but `ports` (see `_port_form`), in order.
    return (
        s.namespace,
        s.name,
        s.labels,
        _annotations(s),
        s.type,
        "None" if s.headless else None,
        None if s.effective_session_affinity == "None" else s.session_affinity,
        s.selector or None,
        s.external_name,
    )


def _endpoints_form(
    e: Endpoints,
) -> tuple[str, str, FrozenMap[str], Mapping[str, str], tuple[EndpointSubset, ...]]:
    # Endpoints' fields, in order, up to the server-assigned ones.
    return (e.namespace, e.name, e.labels, _annotations(e), e.subsets)


def _same_ports(a: tuple[ServicePort, ...], b: tuple[ServicePort, ...]) -> bool:
    if a is b:
        return True
    if len(a) != len(b):
        return False
    return all(x is y or _port_form(x) == _port_form(y) for x, y in zip(a, b, strict=True))


def _normal(obj: Service | Endpoints) -> Service | Endpoints:
    """``obj`` as the comparison sees it: equal normal forms are :func:`same`."""
    if isinstance(obj, Endpoints):
        return Endpoints(*_endpoints_form(obj))
    ns, name, labels, annotations, type_, cluster_ip, affinity, selector, external = _service_form(
        obj
    )
    ports = tuple(ServicePort(*_port_form(p)) for p in obj.ports)
    return Service(
        ns, name, labels, annotations, ports, type_, cluster_ip, affinity, selector, external
    )


def same(planned: AnyObject, actual: AnyObject) -> bool:
    """Whether ``actual`` already is ``planned``, semantically (server fields and
    defaults ignored)."""
    if isinstance(planned, Namespace):
        return isinstance(actual, Namespace)
    if isinstance(planned, Service) and isinstance(actual, Service):
        return _service_form(planned) == _service_form(actual) and _same_ports(
            planned.ports, actual.ports
        )
    if isinstance(planned, Endpoints) and isinstance(actual, Endpoints):
        return _endpoints_form(planned) == _endpoints_form(actual)
    return False


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
