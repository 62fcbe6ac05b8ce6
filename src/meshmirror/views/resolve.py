"""Where will my request go, and with which identity? Pure.

:func:`resolve` takes the name a client in the source cluster dials (a local Service, a
planned mirror ``<svc>-<target>``, or a planned ``<svc>-federated``) and lists every
destination it reaches (docs/design.md, section 4.2):

- a gateway-mode mirror: one destination per gateway address at ``gatewayPort``, path
  ``gateway``; the server sees the gateway's identity;
- a remote-discovery mirror: one per ready address of the remote Endpoints at the
  Endpoints port, path ``direct``; the server sees the client's identity;
- a local Service: the source's ready addresses, path ``local``;
- a federated Service: the union over its members (the local one ``local``, remote ones
  ``direct``).

Whatever stops a cluster from contributing is a :class:`Failure` naming that cluster and
a stable reason (section 8): ``NoEndpoints``, ``GatewayUnreachable``, ``NotFlat``,
``TrustRootMismatch``, ``ClientNotMeshed``; a name the client cannot resolve at all is
``UnknownService``, naming the source. Every applicable reason is listed; a cluster with
any failure contributes no destination, other members still do.
"""

from __future__ import annotations

import html
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Literal, TypeAlias

import attrs

from meshmirror.decisions.federated import Federation, Member
from meshmirror.decisions.mirror import Mirror
from meshmirror.decisions.plan import Plan
from meshmirror.values.display import html_table
from meshmirror.values.model import ClusterState, EndpointAddress, Endpoints, ObjectRef, Service
from meshmirror.values.scheme import LINKERD, Scheme
from meshmirror.views.topology import Topology, is_meshed

__all__ = [
    "REASONS",
    "Destination",
    "Failure",
    "Path",
    "PeerIdentity",
    "Resolution",
    "TargetError",
    "parse_target",
    "resolve",
]

Path: TypeAlias = Literal["local", "direct", "gateway"]
PeerIdentity: TypeAlias = Literal["client", "gateway"]
TargetKind: TypeAlias = Literal[
    "local", "gateway", "remote-discovery", "headless", "federated", "unknown"
]

#: Every failure reason, in the order a cluster's failures are listed.
REASONS: tuple[str, ...] = (
    "NoEndpoints",
    "GatewayUnreachable",
    "NotFlat",
    "TrustRootMismatch",
    "ClientNotMeshed",
    "UnknownService",
)
_REASON_ORDER = MappingProxyType({r: i for i, r in enumerate(REASONS)})


class TargetError(ValueError):
    """A target that is not ``NAMESPACE/SERVICE``."""

    def __init__(self, text: str, problem: str) -> None:
        super().__init__(f"target {text!r} {problem}; give it as NAMESPACE/SERVICE")
        self.text = text
        self.problem = problem


def parse_target(target: str | ObjectRef) -> ObjectRef:
    """``NAMESPACE/SERVICE`` (or a Service ref) as a Service ref.

    >>> parse_target("shop/web-east")
    ObjectRef(kind='Service', namespace='shop', name='web-east')
    >>> parse_target("web-east")
    Traceback (most recent call last):
    ...
    meshmirror.views.resolve.TargetError: target 'web-east' has no '/'; give it as NAMESPACE/SERVICE
    """
    if isinstance(target, ObjectRef):
        if target.kind != "Service" or not target.namespace or not target.name:
            raise TargetError(str(target), "is not a namespaced Service")
        return target
    if "/" not in target:
        raise TargetError(target, "has no '/'")
    namespace, _, name = target.partition("/")
    if not namespace or not name or "/" in name:
        raise TargetError(target, "is not exactly one namespace and one name")
    return ObjectRef("Service", namespace, name)


@attrs.frozen
class Destination:
    """One place a request may go: which cluster and Service, at which address and port,
    by which path, and whose identity the server sees (``client`` or ``gateway``).

    ``gateway`` is the Link (``namespace/name``) whose gateway carries a ``gateway``-path
    request, None otherwise.
    """

    cluster: str
    namespace: str
    service: str
    address: str
    port: int
    path: Path
    gateway: str | None
    peer_identity: PeerIdentity

    def to_dict(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "namespace": self.namespace,
            "service": self.service,
            "address": self.address,
            "port": self.port,
            "path": self.path,
            "gateway": self.gateway,
            "peerIdentity": self.peer_identity,
        }


@attrs.frozen
class Failure:
    """Why ``cluster`` contributes nothing; ``reason`` is a stable code."""

    cluster: str
    reason: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"cluster": self.cluster, "reason": self.reason, "message": self.message}

    def __str__(self) -> str:
        return f"{self.cluster}: {self.reason}: {self.message}"


@attrs.frozen
class Resolution:
    """Every destination of ``target`` for a client in ``client_namespace``, and every
    failure. ``kind`` says what the target is; ``notes`` state assumed defaults."""

    source: str
    target: str
    kind: TargetKind
    client_namespace: str
    destinations: tuple[Destination, ...] = ()
    failures: tuple[Failure, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """No failure."""
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        """The ``meshmirror resolve -o json`` document."""
        return {
            "target": self.target,
            "destinations": [d.to_dict() for d in self.destinations],
            "failures": [f.to_dict() for f in self.failures],
        }

    def rows(self) -> list[list[str]]:
        """A header and one row per destination (for tables)."""
        out = [["CLUSTER", "NAMESPACE", "SERVICE", "ADDRESS", "PORT", "PATH", "GATEWAY", "PEER"]]
        for d in self.destinations:
            out.append(
                [
                    d.cluster,
                    d.namespace,
                    d.service,
                    d.address,
                    str(d.port),
                    d.path,
                    d.gateway or "-",
                    d.peer_identity,
                ]
            )
        return out

    def headline(self) -> str:
        what = {
            "local": "a local Service",
            "gateway": "a gateway-mode mirror",
            "remote-discovery": "a remote-discovery mirror",
            "headless": "a headless mirror (through the gateway)",
            "federated": "a federated Service",
            "unknown": "not a Service a client in the source can resolve",
        }[self.kind]
        return (
            f"{self.target} in {self.source} is {what}; client namespace "
            f"{self.client_namespace}: {len(self.destinations)} destination"
            f"{'' if len(self.destinations) == 1 else 's'}, {len(self.failures)} failure"
            f"{'' if len(self.failures) == 1 else 's'}"
        )

    def text(self) -> str:
        """The resolution as ``meshmirror resolve`` prints it."""
        lines = [self.headline()]
        if self.destinations:
            lines.append("")
            lines.extend(_table(self.rows()))
        if self.failures:
            lines.append("")
            lines.extend(f"× {f}" for f in self.failures)
        return "\n".join(lines) + "\n"

    def __repr__(self) -> str:
        # One line (a notebook shows the table of _repr_html_, text() has every row).
        return f"<Resolution {self.headline()}>"

    def _repr_html_(self) -> str:
        failures = "".join(
            f"<li><code>{html.escape(f.reason)}</code> {html.escape(f.cluster)}: "
            f"{html.escape(f.message)}</li>"
            for f in self.failures
        )
        return f"<p>{html.escape(self.headline())}</p>{html_table(self.rows())}" + (
            f"<ul>{failures}</ul>" if failures else ""
        )


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        "   ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]


def _address_key(address: str) -> tuple[int, int, str]:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return (9, 0, address)
    return (ip.version, int(ip), address)


def _ready(eps: Endpoints | None) -> list[tuple[EndpointAddress, int]]:
    """Every (ready address, port) of ``eps``, ordered by address then port."""
    if eps is None:
        return []
    pairs = {
        (a.ip, p.port): a for subset in eps.subsets for a in subset.addresses for p in subset.ports
    }
    return [(pairs[key], key[1]) for key in sorted(pairs, key=lambda k: (_address_key(k[0]), k[1]))]


def _not_ready_count(eps: Endpoints | None) -> int:
    if eps is None:
        return 0
    return len({a.ip for s in eps.subsets for a in s.not_ready_addresses})


@attrs.frozen
class _Context:
    plan: Plan
    source: ClusterState
    remotes: Mapping[str, ClusterState]
    topology: Topology
    client_namespace: str
    client_meshed: bool
    unreachable: frozenset[str]
    scheme: Scheme

    @property
    def name(self) -> str:
        return self.source.name


class _Contribution:
    """What one cluster adds: destinations, or the failures that remove it."""

    def __init__(self, cluster: str) -> None:
        self.cluster = cluster
        self.destinations: list[Destination] = []
        self.failures: list[Failure] = []

    def fail(self, reason: str, message: str) -> None:
        self.failures.append(Failure(self.cluster, reason, message))

    def result(self) -> tuple[list[Destination], list[Failure]]:
        failures = sorted(self.failures, key=lambda f: (_REASON_ORDER[f.reason], f.message))
        return ([] if failures else self.destinations), failures


def _mesh_failure(ctx: _Context, c: _Contribution, via: str) -> None:
    if ctx.client_meshed:
        return
    s = ctx.scheme
    present = ctx.source.namespaces.get(ctx.client_namespace) is not None
    found = (
        f"is not annotated {s.inject_annotation}: {s.inject_enabled_value}"
        if present
        else f"does not exist in {ctx.name}"
    )
    c.fail(
        "ClientNotMeshed",
        f"client namespace {ctx.client_namespace} {found}, and {via} in {c.cluster} needs a "
        f"meshed client; annotate it {s.inject_annotation}={s.inject_enabled_value} and "
        "restart the client",
    )


def _trust_failure(ctx: _Context, c: _Contribution) -> None:
    topo = ctx.topology
    if topo.compare_trust_roots(ctx.name, c.cluster) == "different":
        c.fail(
            "TrustRootMismatch",
            f"{ctx.name} uses trust root {topo.describe_trust_root(ctx.name)} and {c.cluster} "
            f"{topo.describe_trust_root(c.cluster)}: mTLS between them fails; share one trust "
            "anchor",
        )


def _no_endpoints(c: _Contribution, svc: str, eps: Endpoints | None, down: bool) -> None:
    if down:
        c.fail(
            "NoEndpoints",
            f"{c.cluster} is marked unreachable (--unreachable), so {svc} has no ready "
            "address there",
        )
        return
    not_ready = _not_ready_count(eps)
    if eps is None:
        found = "has no Endpoints"
    elif not_ready:
        found = f"has no ready address ({not_ready} not ready)"
    else:
        found = "has no ready address"
    c.fail("NoEndpoints", f"Service {svc} in {c.cluster} {found}; nothing there can serve it")


def _local(ctx: _Context, svc: Service, *, via: str | None) -> _Contribution:
    """The source's own Service; ``via`` set when a federated Service uses it."""
    c = _Contribution(ctx.name)
    if via is not None:
        _mesh_failure(ctx, c, via)
    eps = ctx.source.endpoints_of(svc.namespace, svc.name)
    _dialled(ctx, c, svc.namespace, svc.name, eps, "local")
    return c


def _direct(ctx: _Context, cluster: str, remote: ObjectRef, via: str) -> _Contribution:
    """Pods of ``remote`` in ``cluster``, dialled directly (remote discovery, federated)."""
    c = _Contribution(cluster)
    _mesh_failure(ctx, c, via)
    _trust_failure(ctx, c)
    topo = ctx.topology
    if not topo.same_pod_network(ctx.name, cluster):
        c.fail(
            "NotFlat",
            f"{ctx.name} ({topo.describe_pod_network(ctx.name)}) does not reach the pods of "
            f"{cluster} ({topo.describe_pod_network(cluster)}), and {via} dials them directly; "
            "put both on one flat network (same podNetwork) or use a gateway-mode export",
        )
    state = ctx.remotes.get(cluster)
    eps = None if state is None else state.endpoints_of(remote.namespace, remote.name)
    _dialled(ctx, c, remote.namespace, remote.name, eps, "direct")
    return c


def _dialled(
    ctx: _Context, c: _Contribution, namespace: str, name: str, eps: Endpoints | None, path: Path
) -> None:
    """The ready addresses of ``eps`` (Service ``namespace/name`` in ``c.cluster``) as
    destinations dialled along ``path`` with the client's identity, or why there are none."""
    ready = _ready(eps)
    down = c.cluster in ctx.unreachable
    if not ready or down:
        _no_endpoints(c, f"{namespace}/{name}", eps, down)
    for address, port in ready:
        c.destinations.append(
            Destination(c.cluster, namespace, name, address.ip, port, path, None, "client")
        )


def _through_gateway(ctx: _Context, mirror: Mirror) -> _Contribution:
    cluster = mirror.target
    c = _Contribution(cluster)
    via = f"the gateway of {cluster}"
    _mesh_failure(ctx, c, via)
    _trust_failure(ctx, c)
    link = f"{mirror.link.namespace}/{mirror.link.name}"
    if cluster in ctx.unreachable:
        c.fail(
            "GatewayUnreachable",
            f"{cluster} is marked unreachable (--unreachable), so its gateway (Link {link}) is "
            "down",
        )
    elif not ctx.topology.gateway_reachable(cluster, from_cluster=ctx.name):
        allowed = ctx.topology.cluster(cluster).gateway_reachable_from or frozenset()
        c.fail(
            "GatewayUnreachable",
            f"the topology says only {', '.join(sorted(allowed)) or 'no cluster'} reach the "
            f"gateway of {cluster}, not {ctx.name}; open that path or use another export mode",
        )
    endpoints = ctx.plan.gateway_endpoints(mirror)
    ready: dict[tuple[str, int], None] = {}
    not_ready = 0
    for eps in endpoints:
        for address, port in _ready(eps):
            ready[(address.ip, port)] = None
        not_ready += _not_ready_count(eps)
    state = ctx.remotes.get(cluster)
    remote_eps = (
        None if state is None else state.endpoints_of(mirror.remote.namespace, mirror.remote.name)
    )
    if not ready and not_ready:
        c.fail(
            "GatewayUnreachable",
            f"the gateway of {cluster} (Link {link}) is marked not ready; requests to "
            f"{mirror.service.namespace}/{mirror.service.name} would fail over",
        )
    elif not ready or not _ready(remote_eps):
        _no_endpoints(c, f"{mirror.remote.namespace}/{mirror.remote.name}", remote_eps, False)
    for address_ip, port in sorted(ready, key=lambda k: (_address_key(k[0]), k[1])):
        c.destinations.append(
            Destination(
                cluster,
                mirror.remote.namespace,
                mirror.remote.name,
                address_ip,
                port,
                "gateway",
                link,
                "gateway",
            )
        )
    return c


def _member(ctx: _Context, federation: Federation, member: Member) -> _Contribution:
    via = f"federated Service {federation.service.namespace}/{federation.service.name}"
    if member.local:
        return _local(ctx, member.service, via=via)
    return _direct(ctx, member.cluster, member.service.ref, via)


def resolve(
    plan: Plan,
    source: ClusterState,
    remotes: Mapping[str, ClusterState],
    topology: Topology | None,
    target: str | ObjectRef,
    *,
    client_namespace: str | None,
    unreachable: Iterable[str] = (),
    scheme: Scheme = LINKERD,
) -> Resolution:
    """Every destination of ``target`` (``NAMESPACE/SERVICE``, the name a client in
    ``source`` dials), or why each cluster contributes nothing.

    ``client_namespace`` None means the target's own namespace. ``unreachable`` names
    clusters to treat as down (their pods and their gateway). Raises
    :class:`TargetError` for a target without ``/``.
    """
    ref = parse_target(target)
    text = f"{ref.namespace}/{ref.name}"
    topo = (topology or Topology()).with_dumps([source, *remotes.values()], scheme)
    notes = list(topo.defaults_used({source.name, *remotes}, scheme))
    if client_namespace is None:
        client_namespace = ref.namespace
        notes.append(f"no client namespace given: a client in {ref.namespace} is assumed")
    ctx = _Context(
        plan,
        source,
        remotes,
        topo,
        client_namespace,
        is_meshed(source, client_namespace, scheme),
        frozenset(unreachable),
        scheme,
    )
    federation = next((f for f in plan.federated if f.service == ref), None)
    mirror = next((m for m in plan.mirrors if m.service == ref or ref in m.pods), None)
    contributions: list[_Contribution]
    kind: TargetKind
    if federation is not None:
        kind = "federated"
        contributions = [_member(ctx, federation, m) for m in federation.members]
    elif mirror is not None:
        kind = mirror.mode
        if mirror.mode == "remote-discovery":
            contributions = [
                _direct(ctx, mirror.target, mirror.remote, f"remote-discovery mirror {text}")
            ]
        else:
            contributions = [_through_gateway(ctx, mirror)]
    else:
        local = source.service(ref.namespace, ref.name)
        if local is not None and not scheme.is_owned(local.labels):
            kind = "local"
            contributions = [_local(ctx, local, via=None)]
        else:
            kind = "unknown"
            contributions = [_unknown(ctx, ref, local is not None)]
    destinations: list[Destination] = []
    failures: list[Failure] = []
    for c in contributions:
        d, f = c.result()
        destinations += d
        failures += f
    return Resolution(
        source=source.name,
        target=text,
        kind=kind,
        client_namespace=client_namespace,
        destinations=tuple(destinations),
        failures=tuple(failures),
        notes=tuple(notes),
    )


def _unknown(ctx: _Context, ref: ObjectRef, owned_stale: bool) -> _Contribution:
    c = _Contribution(ctx.name)
    text = f"{ref.namespace}/{ref.name}"
    if owned_stale:
        found = (
            f"Service {text} in {ctx.name} is a mirror the plan no longer keeps (diff deletes it)"
        )
    else:
        found = (
            f"{ctx.name} has no Service {text} and plans no mirror or federated Service "
            "of that name"
        )
    planned = sorted(
        {f"{m.service.namespace}/{m.service.name}" for m in ctx.plan.mirrors}
        | {f"{f.service.namespace}/{f.service.name}" for f in ctx.plan.federated}
    )
    hint = f"; planned: {', '.join(planned)}" if planned else ""
    c.fail(
        "UnknownService", f"{found}; give a local Service, <svc>-<target> or <svc>-federated{hint}"
    )
    return c
