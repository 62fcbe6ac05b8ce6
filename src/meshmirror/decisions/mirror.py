"""What one Link mirrors from its target cluster: gateway, remote-discovery and headless
mirrors, exactly as Linkerd's service mirror writes them.

This module decides per remote Service; :func:`meshmirror.decisions.plan.plan` then checks the
candidates against the source cluster (namespaces, ownership, collisions).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal, NamedTuple, TypeAlias

import attrs

from meshmirror.values.codes import Skip, SkipCode
from meshmirror.values.labels import is_valid_key, is_valid_value
from meshmirror.values.model import (
    ClusterState,
    EndpointAddress,
    EndpointPort,
    Endpoints,
    EndpointSubset,
    FrozenMap,
    Link,
    ObjectRef,
    Service,
    ServicePort,
    frozen_sorted,
    linkerd_selector,
)
from meshmirror.values.names import (
    endpoint_ip_problem,
    mirror_name,
    pod_mirror_name,
    port_name_problem,
    service_name_problem,
)
from meshmirror.values.scheme import Scheme

__all__ = [
    "Gateway",
    "Mirror",
    "MirrorMode",
    "Resolver",
    "filter_annotations",
    "filter_labels",
    "gateway_drop_skips",
    "mirror_link",
    "resolve_gateway",
    "unknown_target_skip",
]

MirrorMode: TypeAlias = Literal["gateway", "remote-discovery", "headless"]

#: Gateway hostname resolution: a callable returning addresses (raising ``OSError``,
#: ``LookupError`` or ``ValueError`` when it cannot), a mapping, or None for IP
#: literals only.
Resolver: TypeAlias = Callable[[str], Iterable[str]] | Mapping[str, Sequence[str]] | None


@attrs.frozen
class Mirror:
    """One planned mirror: which Link, which remote Service, which local objects.

    It keeps names only (one is made per mirrored Service, so it stays small); the
    refs are made when asked for.
    """

    link: ObjectRef
    target: str
    mode: MirrorMode
    namespace: str
    remote_name: str
    name: str
    pod_names: tuple[str, ...] = ()

    @property
    def remote(self) -> ObjectRef:
        """The remote Service (in cluster :attr:`target`)."""
        return ObjectRef("Service", self.namespace, self.remote_name)

    @property
    def service(self) -> ObjectRef:
        """The mirror Service."""
        return ObjectRef("Service", self.namespace, self.name)

    @property
    def endpoints(self) -> ObjectRef | None:
        """The mirror's Endpoints (None for remote discovery, which has none)."""
        if self.mode == "remote-discovery":
            return None
        return ObjectRef("Endpoints", self.namespace, self.name)

    @property
    def pods(self) -> tuple[ObjectRef, ...]:
        """The per-pod Services of a headless mirror (each has Endpoints too)."""
        return tuple(ObjectRef("Service", self.namespace, p) for p in self.pod_names)

    @property
    def names(self) -> tuple[str, ...]:
        """The object names this mirror takes in :attr:`namespace` (Service and
        Endpoints share each name)."""
        return (self.name, *self.pod_names) if self.pod_names else (self.name,)

    @property
    def refs(self) -> tuple[ObjectRef, ...]:
        """Every local object this mirror writes."""
        ns = self.namespace
        out = [ObjectRef("Service", ns, self.name)]
        if self.mode != "remote-discovery":
            out.append(ObjectRef("Endpoints", ns, self.name))
        out.extend(ObjectRef("Service", ns, p) for p in self.pod_names)
        return tuple(out)


class Candidate(NamedTuple):
    """A mirror before it is checked against the source cluster (a tuple: one is made
    per selected remote Service)."""

    mirror: Mirror
    objects: tuple[Service | Endpoints, ...]
    # Skips found inside the unit (per-pod names that cannot be used).
    skips: tuple[Skip, ...] = ()


@attrs.frozen
class Gateway:
    """A Link's gateway as Linkerd resolves it: every address, sorted as strings.

    ``dropped`` holds each ``gatewayAddress`` entry (or address it resolved to) that is
    not used, with why, as (entry, reason) pairs in entry order."""

    addresses: tuple[str, ...] = ()
    port: int | None = None
    code: SkipCode | None = None
    problem: str = ""
    dropped: tuple[tuple[str, str], ...] = ()

    @property
    def usable(self) -> bool:
        return self.code is None


def _ip_literal(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def _lookup(resolve: Resolver, host: str) -> tuple[list[str], str]:
    """The addresses ``host`` resolves to, and why there are none when so."""
    if resolve is None:
        return [], (
            "is a hostname, and hostnames are not resolved (resolve=None; the CLI's "
            "--no-resolve); resolve it or give the gateway's IP"
        )
    try:
        found = resolve.get(host, ()) if isinstance(resolve, Mapping) else resolve(host)
        out = []
        for addr in found:
            ip = _ip_literal(addr)
            if ip is not None:
                out.append(ip)
    except (OSError, LookupError, ValueError) as err:
        return [], f"does not resolve ({err or type(err).__name__}); check the name in DNS"
    return out, "resolves to no address; check the name in DNS"


def _entry_problem(entry: str) -> str | None:
    """Why an entry is never looked up (Go's resolver refuses it), or None."""
    if not entry:
        return "is empty (a stray ',' in gatewayAddress)"
    if entry != entry.strip():
        return (
            "has leading or trailing whitespace, which Linkerd does not trim; write the "
            "list without spaces (a,b)"
        )
    return None


def resolve_gateway(link: Link, resolve: Resolver = None) -> Gateway:
    """Resolve ``gatewayAddress`` and parse ``gatewayPort`` as Linkerd does.

    Entries are split on ``,`` and not trimmed; IP literals stand for themselves, other
    entries go to ``resolve``. Entries that do not resolve (an empty one, one with
    spaces around it, a hostname without a resolver), and addresses an Endpoints may not
    hold (loopback, link-local, unspecified: the API server refuses them), are dropped
    and listed in :attr:`Gateway.dropped`; if none is left the gateway is unusable.
    Addresses are sorted as strings, duplicates kept.

    >>> g = resolve_gateway(Link("linkerd-multicluster", "east", "east",
    ...     gateway_address="10.0.0.9,10.0.0.10, 10.0.0.11", gateway_port="4143"))
    >>> g.addresses, g.port
    (('10.0.0.10', '10.0.0.9'), 4143)
    >>> g.dropped[0][0]
    ' 10.0.0.11'
    """
    if not link.gateway_address:
        return Gateway(
            code=SkipCode.NO_GATEWAY,
            problem=f"Link {link.name} has no gatewayAddress, so gateway-mode mirrors "
            "have nowhere to send traffic; set spec.gatewayAddress or export the "
            "service in remote-discovery mode",
        )
    port_text = link.gateway_port
    port = int(port_text) if port_text.isascii() and port_text.isdigit() else None
    if port is None or not 1 <= port <= 65535:
        return Gateway(
            code=SkipCode.NO_GATEWAY,
            problem=f"Link {link.name} has gatewayPort {port_text!r}, which is not a port "
            "number; set spec.gatewayPort to the gateway's mc-gateway port",
        )
    addresses: list[str] = []
    dropped: list[tuple[str, str]] = []
    for entry in link.gateway_addresses:
        problem = _entry_problem(entry)
        if problem is not None:
            dropped.append((entry, problem))
            continue
        literal = _ip_literal(entry)
        if literal is not None:
            found, why = [literal], ""
        else:
            found, why = _lookup(resolve, entry)
        if not found:
            dropped.append((entry, why))
        for ip in found:
            bad = endpoint_ip_problem(ip)
            if bad is None:
                addresses.append(ip)
            else:
                said = "" if ip == entry else f"resolves to {ip}, which "
                dropped.append((entry, f"{said}{bad}" if said else bad))
    if not addresses:
        reasons = "; ".join(f"{entry!r} {why}" for entry, why in dropped)
        return Gateway(
            port=port,
            code=SkipCode.GATEWAY_UNRESOLVED,
            problem=f"Link {link.name}'s gatewayAddress {link.gateway_address!r} gives no "
            f"usable address: {reasons}",
            dropped=tuple(dropped),
        )
    addresses.sort()
    return Gateway(addresses=tuple(addresses), port=port, dropped=tuple(dropped))


def unknown_target_skip(link: Link, source: str) -> Skip:
    """The skip of a Link (in cluster ``source``) whose target was not given: an
    :attr:`~SkipCode.UNKNOWN_CLUSTER`, or :attr:`~SkipCode.LINK_TARGETS_SOURCE` when it
    targets ``source`` itself."""
    target = link.target_cluster_name
    where = f"Link {link.namespace}/{link.name}"
    if target == source:
        return Skip(
            SkipCode.LINK_TARGETS_SOURCE,
            link.ref,
            f"{where} targets cluster {target!r}, the source cluster itself, and a cluster "
            "does not mirror its own Services; fix spec.targetClusterName, or pass "
            "another --source",
            cluster=source,
        )
    return Skip(
        SkipCode.UNKNOWN_CLUSTER,
        link.ref,
        f"{where} targets cluster {target!r}, which was not given; pass its state "
        "(CLUSTER=PATH) to mirror from it",
        cluster=source,
    )


def gateway_drop_skips(link: Link, gateway: Gateway, cluster: str) -> list[Skip]:
    """A :attr:`~SkipCode.GATEWAY_ADDRESS_DROPPED` skip (about ``link``, in ``cluster``)
    for each entry of a usable gateway that is not used."""
    if not gateway.usable:
        return []  # every skipped export already names each entry
    return [
        Skip(
            SkipCode.GATEWAY_ADDRESS_DROPPED,
            link.ref,
            f"Link {link.namespace}/{link.name}: gatewayAddress entry {entry!r} {why}; "
            f"the gateway-mode mirrors of {link.target_cluster_name} use only "
            f"{', '.join(gateway.addresses)}",
            cluster=cluster,
        )
        for entry, why in gateway.dropped
    ]


# A remote label or annotation map to the part of it a mirror copies.
_KeyFilter: TypeAlias = Callable[[Mapping[str, str]], dict[str, str]]


def _key_filter(excluded: Sequence[str], scheme: Scheme, dropped: Iterable[str] = ()) -> _KeyFilter:
    """The one rule of which keys a mirror copies, built once per Link: not reserved by
    ``scheme``, not in ``dropped``, not excluded by the Link (``excluded``). An entry
    ``prefix/*`` is a plain string prefix, as in Linkerd (``example.com/*`` drops
    ``example.community/x`` too); any other entry is one key."""
    exact = frozenset(dropped)
    prefixes: tuple[str, ...] = ()
    if excluded:
        exact |= {e for e in excluded if not e.endswith("/*")}
        prefixes = tuple([e[:-2] for e in excluded if e.endswith("/*")])
    if type(scheme).is_reserved is Scheme.is_reserved:
        # Reserved keys are plain prefixes: one ``startswith`` tests them all.
        prefixes = scheme.reserved_prefixes + prefixes
        if not exact:
            return lambda m: {k: v for k, v in m.items() if not k.startswith(prefixes)}
        return lambda m: {
            k: v for k, v in m.items() if k not in exact and not k.startswith(prefixes)
        }
    reserved = scheme.is_reserved
    return lambda m: {
        k: v
        for k, v in m.items()
        if k not in exact and not k.startswith(prefixes) and not reserved(k)
    }


def _label_filter(excluded: Sequence[str], scheme: Scheme) -> _KeyFilter:
    """:func:`filter_labels` for one Link's ``excluded`` labels, built once."""
    return _key_filter(excluded, scheme)


def _annotation_filter(excluded: Sequence[str], scheme: Scheme) -> _KeyFilter:
    """:func:`filter_annotations` for one Link's ``excluded`` annotations, built once."""
    keep = _key_filter(excluded, scheme, scheme.topology_annotations)
    opaque_key = scheme.opaque_ports_annotation

    def kept(annotations: Mapping[str, str]) -> dict[str, str]:
        if not annotations:
            return {}
        out = keep(annotations)
        opaque = annotations.get(opaque_key)
        if opaque is not None:
            out[opaque_key] = opaque
        return out

    return kept


def filter_labels(
    labels: Mapping[str, str], excluded: Sequence[str], scheme: Scheme
) -> dict[str, str]:
    """Remote labels a mirror copies: not reserved, not excluded by the Link."""
    return _label_filter(excluded, scheme)(labels)


def filter_annotations(
    annotations: Mapping[str, str], excluded: Sequence[str], scheme: Scheme
) -> dict[str, str]:
    """Remote annotations a mirror copies: not topology hints, not reserved, not
    excluded by the Link; ``config.linkerd.io/opaque-ports`` always kept."""
    return _annotation_filter(excluded, scheme)(annotations)


def _mirror_port(p: ServicePort) -> ServicePort:
    if p.node_port is None and p.app_protocol is None and p.target_port is not None:
        return p  # already exactly what a mirror writes: share it
    return ServicePort(
        p.port, name=p.name, protocol=p.protocol, target_port=p.effective_target_port
    )


def mirrored_ports(ports: Sequence[ServicePort]) -> tuple[ServicePort, ...]:
    """The ports a mirror (or a federated Service) of a remote Service with ``ports``
    has: name, protocol, port and targetPort (defaulted) only, as Linkerd's
    ``remapRemoteServicePorts``; a port already in that form is shared."""
    return tuple([_mirror_port(p) for p in ports])


_PROTOCOLS = ("TCP", "UDP", "SCTP")
_SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")
# The API server's limit on all of an object's annotations together.
_ANNOTATIONS_MAX = 256 * 1024


def _ports_problem(ports: Sequence[ServicePort]) -> str | None:
    names: set[str] = set()
    numbers: set[tuple[int, str]] = set()
    for i, p in enumerate(ports):
        where = f"port {i} ({p.name or p.port})"
        if p.protocol not in _PROTOCOLS:
            return f"{where} has protocol {p.protocol!r}, not one of TCP, UDP, SCTP"
        if p.name:
            bad = port_name_problem(p.name, service_port=True)
            if bad is not None:
                return f"{where} has the name {p.name!r}, which {bad}"
            if p.name in names:
                return f"port name {p.name!r} is given twice"
            names.add(p.name)
        elif len(ports) > 1:
            return f"{where} has no name, and a Service with several ports must name each"
        if (p.port, p.protocol) in numbers:
            return f"port {p.port}/{p.protocol} is given twice"
        numbers.add((p.port, p.protocol))
        target = p.target_port
        if isinstance(target, str):
            bad = port_name_problem(target, service_port=False)
            if bad is not None:
                return f"{where} has targetPort {target!r}, which {bad}"
    return None


class Pool:
    """Values many mirrors of one plan share, interned by value: mirrored ports and
    gateway Endpoints ports. Lives for one :func:`~meshmirror.decisions.plan.plan` call."""

    __slots__ = (
        "_eports",
        "_ids",
        "_ok_annotation_keys",
        "_ok_keys",
        "_ok_values",
        "_port_problems",
        "_ports",
    )

    def __init__(self) -> None:
        # Label keys and values already found valid, and each ports tuple's problem
        # (by identity, as for _ids): most Services share them.
        self._ok_keys: set[str] = set()
        self._ok_values: set[str] = set()
        self._ok_annotation_keys: set[str] = set()
        self._port_problems: dict[int, tuple[tuple[ServicePort, ...], str | None]] = {}
        self._ports: dict[tuple[ServicePort, ...], tuple[ServicePort, ...]] = {}
        self._eports: dict[tuple[int, tuple[tuple[str, str], ...]], tuple[EndpointPort, ...]] = {}
        # id(remote ports tuple) -> (it, its mirrored ports): the loader shares tuples,
        # so most lookups are by identity, without hashing ports.
        self._ids: dict[int, tuple[tuple[ServicePort, ...], tuple[ServicePort, ...]]] = {}

    def mirror_ports(self, ports: tuple[ServicePort, ...]) -> tuple[ServicePort, ...]:
        """The ports a mirror of a Service with ``ports`` has: one tuple per value."""
        hit = self._ids.get(id(ports))
        if hit is not None and hit[0] is ports:
            return hit[1]
        found = self._ports.get(ports)
        if found is None:
            found = self._ports[ports] = mirrored_ports(ports)
        if len(self._ids) >= 65536:
            self._ids.clear()  # an index lives long: keep the cache bounded
        self._ids[id(ports)] = (ports, found)
        return found

    def label_problem(self, labels: Mapping[str, str]) -> str | None:
        """Why the API server would refuse ``labels`` on an object, or None."""
        ok_keys, ok_values = self._ok_keys, self._ok_values
        for k, v in labels.items():
            if k not in ok_keys:
                if not is_valid_key(k):
                    return f"label key {k!r} is not a valid label key"
                ok_keys.add(k)
            if v not in ok_values:
                if not is_valid_value(v):
                    return f"label {k}={v!r} has a value that is not a valid label value"
                ok_values.add(v)
        return None

    def ports_problem(self, ports: tuple[ServicePort, ...]) -> str | None:
        """Why the API server would refuse ``ports`` on a mirror, or None."""
        hit = self._port_problems.get(id(ports))
        if hit is not None and hit[0] is ports:
            return hit[1]
        problem = _ports_problem(ports)
        if len(self._port_problems) >= 65536:
            self._port_problems.clear()
        self._port_problems[id(ports)] = (ports, problem)
        return problem

    def gateway_ports(self, port: int, ports: Sequence[ServicePort]) -> tuple[EndpointPort, ...]:
        key = (port, tuple([(p.name, p.protocol) for p in ports]))
        found = self._eports.get(key)
        if found is None:
            found = self._eports[key] = tuple(
                [EndpointPort(port, name=name, protocol=protocol) for name, protocol in key[1]]
            )
        return found


def _sorted_map(data: dict[str, str]) -> FrozenMap[str]:
    return frozen_sorted(sorted(data.items()))


class LinkContext:
    """One Link while its mirrors are planned, with the values those mirrors share
    (gateway subsets, mirrored ports), computed once. Lives for one
    :func:`mirror_link` call."""

    __slots__ = (
        "_addresses",
        "_annotations_kept",
        "_discovers",
        "_exports",
        "_fq_before_rv",
        "_fq_first",
        "_labels_kept",
        "_pool",
        "_shared",
        "_subsets",
        "enable_headless",
        "gateway",
        "gateway_alive",
        "link",
        "link_ref",
        "remote",
        "scheme",
        "source",
        "target",
    )

    def __init__(
        self,
        link: Link,
        remote: ClusterState,
        source: ClusterState,
        scheme: Scheme,
        gateway: Gateway,
        gateway_alive: bool,
        enable_headless: bool,
        pool: Pool | None = None,
    ) -> None:
        self.link = link
        self.remote = remote
        self.source = source
        self.scheme = scheme
        self.gateway = gateway
        self.gateway_alive = gateway_alive
        self.enable_headless = enable_headless
        self.target = link.target_cluster_name
        self.link_ref = link.ref
        self._exports = linkerd_selector(link.selector)
        self._discovers = linkerd_selector(link.remote_discovery_selector)
        self._labels_kept = _label_filter(link.excluded_labels, scheme)
        self._annotations_kept = _annotation_filter(link.excluded_annotations, scheme)
        # id(remote ports tuple) -> (that tuple, mirrored ports, gateway subsets)
        self._shared: dict[int, tuple[Any, Any, Any]] = {}
        self._pool = Pool() if pool is None else pool
        # id(a pooled mirrored ports tuple) -> this Link's gateway subsets for it
        self._subsets: dict[int, tuple[EndpointSubset, ...]] = {}
        self._addresses = tuple([EndpointAddress(ip) for ip in gateway.addresses])
        s = scheme
        self._fq_first = s.remote_svc_fq_name_annotation < s.remote_gateway_identity_annotation
        self._fq_before_rv = s.remote_svc_fq_name_annotation < s.remote_resource_version_annotation

    def exports(self, labels: Mapping[str, str]) -> bool:
        return self._exports.matches(labels)

    def discovers(self, labels: Mapping[str, str]) -> bool:
        return self._discovers.matches(labels)

    def fq_name(self, svc: Service) -> str:
        return f"{svc.name}.{svc.namespace}.svc.{self.link.target_cluster_domain}"

    def skip(self, code: SkipCode, svc: Service, message: str) -> Skip:
        return Skip(code, svc.ref, message, cluster=self.target)

    def gateway_skip(self, svc: Service, what: str, how: str) -> Skip:
        """The skip of ``svc`` (a ``what``, ``how``) when this Link's gateway is not
        usable."""
        gw = self.gateway
        assert gw.code is not None
        return self.skip(
            gw.code,
            svc,
            f"{what} {svc.namespace}/{svc.name} in cluster {self.target} is {how}, "
            f"but {gw.problem}",
        )

    def service_labels(self, svc: Service, discovery: bool) -> dict[str, str]:
        s = self.scheme
        labels = self._labels_kept(svc.labels)
        labels[s.mirrored_service_label] = s.true_value
        labels[s.cluster_name_label] = self.target
        if discovery:
            labels[s.remote_discovery_label] = self.target
            labels[s.remote_service_label] = svc.name
        return labels

    def endpoints_labels(self, svc: Service) -> dict[str, str]:
        return self.service_labels(svc, discovery=False)

    def service_annotations(self, svc: Service, fq_name: str | None = None) -> dict[str, str]:
        s = self.scheme
        annotations = self._annotations_kept(svc.annotations)
        annotations[s.remote_svc_fq_name_annotation] = fq_name or self.fq_name(svc)
        annotations[s.remote_resource_version_annotation] = svc.resource_version
        return annotations

    def gateway_endpoints_annotations(self, fq_name: str) -> dict[str, str]:
        # Linkerd's endpoint repair (every minute, and at start) sets the identity
        # unconditionally, so the steady state carries it even when empty.
        s = self.scheme
        return {
            s.remote_svc_fq_name_annotation: fq_name,
            s.remote_gateway_identity_annotation: self.link.gateway_identity,
        }

    def gateway_annotations(self, fq_name: str) -> FrozenMap[str]:
        """:meth:`gateway_endpoints_annotations` as a map, built in key order."""
        s = self.scheme
        fq = s.remote_svc_fq_name_annotation
        identity = s.remote_gateway_identity_annotation
        if self._fq_first:
            return frozen_sorted({fq: fq_name, identity: self.link.gateway_identity})
        return frozen_sorted({identity: self.link.gateway_identity, fq: fq_name})

    def annotations_map(self, svc: Service, fq_name: str) -> FrozenMap[str]:
        """:meth:`service_annotations` as a map (sorted only when the remote has any)."""
        if svc.annotations:
            return _sorted_map(self.service_annotations(svc, fq_name))
        s = self.scheme
        fq = s.remote_svc_fq_name_annotation
        rv = s.remote_resource_version_annotation
        if self._fq_before_rv:
            return frozen_sorted({fq: fq_name, rv: svc.resource_version})
        return frozen_sorted({rv: svc.resource_version, fq: fq_name})

    def shared(self, ports: tuple[ServicePort, ...]) -> tuple[Any, Any, Any]:
        """(ports, the mirror's ports, the gateway Endpoints' subsets), shared by every
        mirror of this Link whose remote Service holds this very ports tuple."""
        found = self._shared.get(id(ports))
        if found is None or found[0] is not ports:
            mirrored = self._pool.mirror_ports(ports)
            subsets = self._subsets.get(id(mirrored))  # pooled: ids are stable
            if subsets is None:
                subsets = ()
                gw = self.gateway
                if gw.usable:
                    assert gw.port is not None
                    eports = self._pool.gateway_ports(gw.port, mirrored)
                    subsets = (
                        (EndpointSubset(addresses=self._addresses, ports=eports),)
                        if self.gateway_alive
                        else (EndpointSubset(not_ready_addresses=self._addresses, ports=eports),)
                    )
                self._subsets[id(mirrored)] = subsets
            found = (ports, mirrored, subsets)
            if len(self._shared) >= 4096:
                self._shared.clear()  # an index lives long: keep the cache bounded
            self._shared[id(ports)] = found
        return found

    def mirror_service(
        self,
        svc: Service,
        name: str,
        discovery: bool,
        headless: bool = False,
        *,
        labels: FrozenMap[str] | None = None,
        fq_name: str | None = None,
    ) -> Service:
        return Service(
            svc.namespace,
            name,
            _sorted_map(self.service_labels(svc, discovery)) if labels is None else labels,
            self.annotations_map(svc, fq_name or self.fq_name(svc)),
            self.shared(svc.ports)[1],
            "ClusterIP",
            "None" if headless else None,
        )


def _name_skip(ctx: LinkContext, svc: Service, name: str, what: str) -> Skip | None:
    problem = service_name_problem(name)
    if problem is None:
        return None
    code = SkipCode.NAME_TOO_LONG if len(name) > 63 else SkipCode.INVALID_NAME
    return ctx.skip(
        code,
        svc,
        f"{what} {name!r} for Service {svc.namespace}/{svc.name} in cluster {ctx.target} "
        f"{problem}; Linkerd would fail to create it (linkerd2 #7390). Rename the remote "
        "Service or the target cluster",
    )


def _gateway_candidate(ctx: LinkContext, svc: Service, name: str) -> Candidate | Skip:
    if not ctx.gateway.usable:
        return ctx.gateway_skip(svc, "Service", "exported in gateway mode")
    namespace = svc.namespace
    remote_eps = ctx.remote.endpoints.get((namespace, svc.name))
    fq_name = ctx.fq_name(svc)
    # The Service and its Endpoints carry the same labels: one shared map.
    labels = _sorted_map(ctx.service_labels(svc, discovery=False))
    _, ports, subsets = ctx.shared(svc.ports)
    service = Service(namespace, name, labels, ctx.annotations_map(svc, fq_name), ports)
    endpoints = Endpoints(
        namespace,
        name,
        labels,
        ctx.gateway_annotations(fq_name),
        () if remote_eps is None or remote_eps.empty else subsets,
    )
    mirror = Mirror(ctx.link_ref, ctx.target, "gateway", namespace, svc.name, name)
    return Candidate(mirror, (service, endpoints))


def _pod_mirror_version(
    ctx: LinkContext, existing: Service | None, headless_name: str, current: str
) -> str:
    """A per-pod mirror's remote-resource-version: the remote Endpoints' version when it
    was created. Linkerd never updates an existing per-pod mirror's version, so one of
    ours (of this headless mirror and target) keeps the version it carries."""
    s = ctx.scheme
    if existing is None or not s.is_owned(existing.labels):
        return current
    if existing.labels.get(s.headless_mirror_label) != headless_name:
        return current
    if existing.labels.get(s.cluster_name_label) != ctx.target:
        return current
    return existing.annotations.get(s.remote_resource_version_annotation) or current


def _headless_candidate(ctx: LinkContext, svc: Service, name: str) -> Candidate | Skip | None:
    """Linkerd's headless path, or None when the Service is mirrored like any other."""
    eps = ctx.remote.endpoints_of(svc.namespace, svc.name)
    if eps is None or ctx.scheme.headless_endpoints_label not in eps.labels:
        return ctx.skip(
            SkipCode.HEADLESS_NOT_LABELLED,
            svc,
            f"headless Service {svc.namespace}/{svc.name} in cluster {ctx.target} has no "
            f"Endpoints labelled {ctx.scheme.headless_endpoints_label}, which Linkerd's "
            "headless mirroring is driven by; let the endpoints controller manage them",
        )
    if not eps.subsets:
        return ctx.skip(
            SkipCode.HEADLESS_NO_ENDPOINTS,
            svc,
            f"headless Service {svc.namespace}/{svc.name} in cluster {ctx.target} has no "
            "endpoints yet; it is mirrored once its pods exist",
        )
    named = any(a.hostname for s in eps.subsets for a in (*s.addresses, *s.not_ready_addresses))
    if not named:
        return None  # Deployment pods: an ordinary ClusterIP mirror (linkerd2 #10916)
    if not ctx.gateway.usable:
        return ctx.gateway_skip(svc, "headless Service", "mirrored through the gateway")
    _, ports, gateway_subsets = ctx.shared(svc.ports)
    s = ctx.scheme
    pods: list[Service | Endpoints] = []
    skips: list[Skip] = []
    subsets: list[EndpointSubset] = []
    seen: set[str] = set()
    waiting: list[str] = []
    for subset in eps.subsets:
        addresses: list[EndpointAddress] = []
        for address in subset.addresses:
            host = address.hostname
            if not host:
                continue
            pod_name = pod_mirror_name(host, ctx.target)
            bad = _name_skip(ctx, svc, pod_name, "per-pod mirror")
            if bad is not None:
                skips.append(bad)  # Linkerd leaves such a host out as well
                continue
            if pod_name == name:
                # A pod named like its Service: the per-pod mirror would overwrite the
                # headless mirror itself (Linkerd does not check).
                skips.append(
                    ctx.skip(
                        SkipCode.NAME_COLLISION,
                        svc,
                        f"pod {host} of headless Service {svc.namespace}/{svc.name} in "
                        f"cluster {ctx.target} would get the per-pod mirror {pod_name!r}, "
                        "the headless mirror's own name; it is left out. Rename the pod's "
                        "hostname or the Service",
                    )
                )
                continue
            # The headless Endpoints point at each per-pod Service's cluster IP, which
            # the API server assigns once that Service exists: until then the address
            # is left out (an empty IP would be refused).
            existing = ctx.source.service(svc.namespace, pod_name)
            cluster_ip = existing.cluster_ip if existing is not None else None
            if cluster_ip and endpoint_ip_problem(cluster_ip) is None:
                addresses.append(EndpointAddress(cluster_ip, hostname=host))
            elif pod_name not in waiting:
                waiting.append(pod_name)
            if pod_name in seen:
                continue
            seen.add(pod_name)
            labels = ctx.service_labels(svc, discovery=False)
            labels[s.headless_mirror_label] = name
            fq = f"{host}.{ctx.fq_name(svc)}"
            pods.append(
                Service(
                    namespace=svc.namespace,
                    name=pod_name,
                    labels=labels,
                    annotations={
                        s.remote_resource_version_annotation: _pod_mirror_version(
                            ctx, existing, name, eps.resource_version
                        ),
                        s.remote_svc_fq_name_annotation: fq,
                    },
                    ports=ports,
                )
            )
            pods.append(
                Endpoints(
                    namespace=svc.namespace,
                    name=pod_name,
                    labels=labels,
                    annotations=ctx.gateway_endpoints_annotations(fq),
                    subsets=gateway_subsets,
                )
            )
        if addresses:
            subsets.append(EndpointSubset(addresses=tuple(addresses), ports=subset.ports))
    if waiting:
        skips.append(
            ctx.skip(
                SkipCode.HEADLESS_AWAITING_CLUSTER_IP,
                svc,
                f"headless mirror {svc.namespace}/{name} of Service {svc.namespace}/"
                f"{svc.name} in cluster {ctx.target}: the per-pod Service"
                f"{'s' if len(waiting) > 1 else ''} {', '.join(waiting)} "
                f"{'have' if len(waiting) > 1 else 'has'} no cluster IP yet, so "
                f"{'their addresses are' if len(waiting) > 1 else 'its address is'} left "
                "out of the headless Endpoints; apply this plan, then plan again once the "
                "API server has assigned the cluster IPs",
            )
        )
    service = ctx.mirror_service(svc, name, discovery=False, headless=True)
    annotations = {s.remote_svc_fq_name_annotation: ctx.fq_name(svc)}
    # Repair skips headless mirrors, so the identity is only set when non-empty.
    if ctx.link.gateway_identity:
        annotations[s.remote_gateway_identity_annotation] = ctx.link.gateway_identity
    endpoints = Endpoints(
        namespace=svc.namespace,
        name=name,
        labels=ctx.endpoints_labels(svc),
        annotations=annotations,
        subsets=tuple(subsets),
    )
    mirror = Mirror(
        ctx.link_ref,
        ctx.target,
        "headless",
        svc.namespace,
        svc.name,
        name,
        tuple(o.name for o in pods if isinstance(o, Service)),
    )
    return Candidate(mirror, (service, endpoints, *pods), tuple(skips))


def _remote_value_problem(ctx: LinkContext, svc: Service, discovery: bool) -> str | None:
    """What of ``svc`` the API server would refuse on its mirror, or None."""
    if svc.type not in _SERVICE_TYPES:
        return f"spec.type {svc.type!r} is not one of {', '.join(_SERVICE_TYPES)}"
    pool = ctx._pool
    problem = pool.ports_problem(svc.ports)
    if problem is not None:
        return problem
    ok_keys, ok_values = pool._ok_keys, pool._ok_values
    # First by the caches alone (every plan checks every exported Service): only labels
    # not seen valid before make the mirror's own labels be built and checked.
    known = ctx.target in ok_values and (not discovery or svc.name in ok_values)
    if known:
        for k, v in svc.labels.items():
            if k not in ok_keys or v not in ok_values:
                known = False
                break
    if not known:
        problem = pool.label_problem(ctx.service_labels(svc, discovery))
        if problem is not None:
            return problem
    remote = svc.annotations
    if remote:
        ok_annotations = pool._ok_annotation_keys
        size = 0
        for k, v in remote.items():
            if k not in ok_annotations:
                size = -1
                break
            size += len(k) + len(v)
        # The two annotations a mirror adds are small: a margin covers them.
        if size < 0 or size + 4096 > _ANNOTATIONS_MAX:
            size = 0
            for k, v in ctx.service_annotations(svc).items():
                if k not in ok_annotations:
                    # The API server checks annotation keys lowercased, as qualified names.
                    if not is_valid_key(k.lower()):
                        return f"annotation key {k!r} is not a valid annotation key"
                    ok_annotations.add(k)
                size += len(k) + len(v)
            if size > _ANNOTATIONS_MAX:
                return (
                    f"its annotations hold {size} bytes, more than the {_ANNOTATIONS_MAX} allowed"
                )
    return None


def mirror_one(ctx: LinkContext, svc: Service) -> Candidate | Skip | None:
    link = ctx.link
    discovery = ctx.discovers(svc.labels)
    if not discovery and not ctx.exports(svc.labels):
        return None
    if ctx.scheme.is_owned(svc.labels):
        where = f"Service {svc.namespace}/{svc.name} in cluster {ctx.target}"
        return ctx.skip(
            SkipCode.REMOTE_IS_MIRROR,
            svc,
            f"{where} is itself a mirror ({ctx.scheme.mirrored_service_label}); mirroring "
            "it would chain mirrors. Narrow Link "
            f"{link.name}'s selectors so they do not match copied labels",
        )
    name = mirror_name(svc.name, ctx.target)
    bad = _name_skip(ctx, svc, name, "mirror name")
    if bad is not None:
        return bad
    if not svc.ports:
        return ctx.skip(
            SkipCode.NO_PORTS,
            svc,
            f"Service {svc.namespace}/{svc.name} in cluster {ctx.target} has no ports, "
            "and a mirror needs at least one; add a port to it",
        )
    invalid = _remote_value_problem(ctx, svc, discovery)
    if invalid is not None:
        return ctx.skip(
            SkipCode.INVALID_REMOTE_VALUE,
            svc,
            f"Service {svc.namespace}/{svc.name} in cluster {ctx.target}: {invalid}, so the "
            "API server would refuse its mirror; fix the remote Service or exclude the "
            f"key with Link {link.name}'s excludedLabels/excludedAnnotations",
        )
    if discovery:
        service = ctx.mirror_service(svc, name, discovery=True)
        mirror = Mirror(ctx.link_ref, ctx.target, "remote-discovery", svc.namespace, svc.name, name)
        return Candidate(mirror, (service,))
    if ctx.enable_headless and svc.headless:
        headless = _headless_candidate(ctx, svc, name)
        if headless is not None:
            return headless
    return _gateway_candidate(ctx, svc, name)


def mirror_link(
    link: Link,
    remote: ClusterState,
    source: ClusterState,
    *,
    scheme: Scheme,
    gateway: Gateway,
    gateway_alive: bool = True,
    enable_headless_services: bool = False,
    pool: Pool | None = None,
) -> tuple[list[Candidate], list[Skip]]:
    """Every mirror ``link`` asks for from ``remote``, in remote (namespace, name)
    order, and the skips of Services it selects but cannot mirror.

    ``pool`` shares equal values between the mirrors of several Links (one per plan)."""
    ctx = LinkContext(
        link, remote, source, scheme, gateway, gateway_alive, enable_headless_services, pool
    )
    candidates: list[Candidate] = []
    skips: list[Skip] = []
    for key in sorted(remote.services):
        result = mirror_one(ctx, remote.services[key])
        if result is None:
            continue
        if isinstance(result, Skip):
            skips.append(result)
        else:
            candidates.append(result)
    if gateway.dropped and any(c.mirror.mode != "remote-discovery" for c in candidates):
        skips.extend(gateway_drop_skips(link, gateway, source.name))
    return candidates, skips
