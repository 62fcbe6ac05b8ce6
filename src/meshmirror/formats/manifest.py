"""kubectl-style dicts to model values and back. Pure.

Reads what ``kubectl get namespaces,services,endpoints,links.multicluster.linkerd.io -A
-o yaml`` prints (plus EndpointSlices and ConfigMaps); other kinds are ignored. A
malformed object raises :class:`ManifestError`, naming the object and the field.

>>> docs = [
...     {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
...     {"apiVersion": "v1", "kind": "Service",
...      "metadata": {"name": "web", "namespace": "shop"},
...      "spec": {"ports": [{"name": "http", "port": 80}]}},
... ]
>>> state = cluster_state("east", docs)
>>> state.service("shop", "web").ports[0].port
80
>>> to_manifest(state.service("shop", "web"))["spec"]
{'ports': [{'name': 'http', 'protocol': 'TCP', 'port': 80, 'targetPort': 80}]}
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any, NoReturn, TypeVar

import attrs

from meshmirror.values.labels import Selector, SelectorError
from meshmirror.values.model import (
    AnyObject,
    ArgumentError,
    ClusterState,
    ConfigMap,
    DuplicateObjectError,
    EndpointAddress,
    EndpointPort,
    Endpoints,
    EndpointSubset,
    FrozenMap,
    Link,
    Namespace,
    ObjectRef,
    ProbeSpec,
    Service,
    ServicePort,
    frozen_map,
)
from meshmirror.values.names import IPV4, ip_address_problem

__all__ = [
    "LINK_API_VERSIONS",
    "LinkSelectorError",
    "ManifestError",
    "cluster_state",
    "from_manifest",
    "iter_documents",
    "to_manifest",
]

LINK_API_VERSIONS = (
    "multicluster.linkerd.io/v1alpha3",
    "multicluster.linkerd.io/v1alpha2",
    "multicluster.linkerd.io/v1alpha1",
)
_ENDPOINT_SLICE_SERVICE_LABEL = "kubernetes.io/service-name"
_ENDPOINT_SLICE_OWN_LABELS = (
    _ENDPOINT_SLICE_SERVICE_LABEL,
    "endpointslice.kubernetes.io/managed-by",
)


class ManifestError(ValueError):
    """A kubectl-style object that cannot be read.

    ``ref`` names the object (as far as it could be read), ``field`` the offending field
    path, ``where`` the document's place (set by the loader).
    """

    def __init__(self, problem: str, *, ref: str = "", field: str = "", where: str = "") -> None:
        self.problem = problem
        self.ref = ref
        self.field = field
        self.where = where
        # Not super(): LinkSelectorError also derives from SelectorError.
        ValueError.__init__(self, self._message())

    def _message(self) -> str:
        parts = [p for p in (self.where, self.ref) if p]
        head = ", ".join(parts)
        fld = f"field {self.field}: " if self.field else ""
        return f"{head}: {fld}{self.problem}" if head else f"{fld}{self.problem}"

    def located(self, where: str) -> ManifestError:
        """The same error, said to come from ``where`` (a file and document number)."""
        self.where = where
        self.args = (self._message(),)
        return self


class LinkSelectorError(ManifestError, SelectorError):
    """A Link whose selector Kubernetes could not convert (Linkerd logs it and matches
    nothing; meshmirror refuses it)."""

    def __init__(self, cause: SelectorError, *, ref: str, field: str) -> None:
        self.text = getattr(cause, "text", "")
        self.token = getattr(cause, "token", None)
        ManifestError.__init__(self, str(cause), ref=ref, field=field)


def _fail(problem: str, ref: str, field: str) -> NoReturn:
    raise ManifestError(problem, ref=ref, field=field)


# -- small typed readers ------------------------------------------------------------


def _mapping(value: Any, ref: str, field: str, *, optional: bool = True) -> Mapping[str, Any]:
    if value is None and optional:
        return {}
    if not isinstance(value, Mapping):
        _fail(f"must be a mapping, not {type(value).__name__}", ref, field)
    return value


def _list(value: Any, ref: str, field: str) -> Sequence[Any]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        _fail(f"must be a list, not {type(value).__name__}", ref, field)
    return value


def _str(value: Any, ref: str, field: str, *, default: str | None = None) -> str:
    if value is None and default is not None:
        return default
    if not isinstance(value, str):
        what = "missing" if value is None else f"must be a string, not {type(value).__name__}"
        _fail(what, ref, field)
    return value


def _opt_str(value: Any, ref: str, field: str) -> str | None:
    return None if value is None else _str(value, ref, field)


def _str_map(value: Any, ref: str, field: str) -> dict[str, str]:
    m = _mapping(value, ref, field)
    for k, v in m.items():
        if not isinstance(k, str):
            _fail(f"has a key {k!r} that is not a string", ref, field)
        if not isinstance(v, str):
            _fail(f"{k!r} must be a string, not {type(v).__name__}", ref, f"{field}.{k}")
    return dict(m)


def _str_list(value: Any, ref: str, field: str) -> tuple[str, ...]:
    items = _list(value, ref, field)
    for i, v in enumerate(items):
        if not isinstance(v, str):
            _fail(f"must be a string, not {type(v).__name__}", ref, f"{field}[{i}]")
    return tuple(items)


def _port_number(value: Any, ref: str, field: str) -> int:
    # bool is an int in Python; YAML `true` is never a port.
    if not isinstance(value, int) or isinstance(value, bool):
        _fail(f"must be an integer, not {value!r}", ref, field)
    if not 1 <= value <= 65535:
        _fail(f"must be between 1 and 65535, not {value}", ref, field)
    return value


def _opt_port(value: Any, ref: str, field: str) -> int | None:
    return None if value is None else _port_number(value, ref, field)


def _target_port(value: Any, ref: str, field: str) -> int | str | None:
    if value is None or (isinstance(value, str) and not isinstance(value, bool)):
        return value
    return _port_number(value, ref, field)


def _resource_version(value: Any, ref: str, field: str) -> str:
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _str(value, ref, field)


def _timestamp(value: Any, ref: str, field: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime.datetime):  # YAML parses unquoted timestamps
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        stamp: str = value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return stamp
    text = _str(value, ref, field)
    try:
        parse_timestamp(text)
    except ValueError:
        _fail(f"{text!r} is not an RFC 3339 time such as 2024-01-31T12:00:00Z", ref, field)
    return text


def parse_timestamp(text: str) -> datetime.datetime:
    """An RFC 3339 timestamp as Kubernetes prints it, as an aware datetime."""
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError("no time zone")
    return parsed


# -- dict -> model --------------------------------------------------------------------


def _metadata(
    doc: Mapping[str, Any], kind: str, *, namespaced: bool
) -> tuple[Mapping[str, Any], str, str, str]:
    meta = doc.get("metadata")
    if not isinstance(meta, Mapping):
        _fail("missing or not a mapping", kind, "metadata")
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        _fail("missing or not a non-empty string", kind, "metadata.name")
    namespace = ""
    if namespaced:
        ns = meta.get("namespace", "default")
        if not isinstance(ns, str) or not ns:
            _fail("must be a non-empty string", f"{kind} {name}", "metadata.namespace")
        namespace = ns
    ref = str(ObjectRef(kind, namespace, name))
    return meta, namespace, name, ref


def _object_meta(meta: Mapping[str, Any], ref: str) -> dict[str, Any]:
    """The metadata every kind keeps: labels, annotations and server-assigned fields."""
    return {
        "labels": _str_map(meta.get("labels"), ref, "metadata.labels"),
        "annotations": _str_map(meta.get("annotations"), ref, "metadata.annotations"),
        "resource_version": _resource_version(
            meta.get("resourceVersion"), ref, "metadata.resourceVersion"
        ),
        "uid": _str(meta.get("uid"), ref, "metadata.uid", default=""),
        "creation_timestamp": _timestamp(
            meta.get("creationTimestamp"), ref, "metadata.creationTimestamp"
        ),
    }


def _service(doc: Mapping[str, Any]) -> Service:
    meta, namespace, name, ref = _metadata(doc, "Service", namespaced=True)
    spec = _mapping(doc.get("spec"), ref, "spec")
    ports = []
    for i, raw in enumerate(_list(spec.get("ports"), ref, "spec.ports")):
        f = f"spec.ports[{i}]"
        p = _mapping(raw, ref, f, optional=False)
        ports.append(
            ServicePort(
                port=_port_number(p.get("port"), ref, f"{f}.port"),
                name=_str(p.get("name"), ref, f"{f}.name", default=""),
                protocol=_str(p.get("protocol"), ref, f"{f}.protocol", default="TCP"),
                target_port=_target_port(p.get("targetPort"), ref, f"{f}.targetPort"),
                node_port=_opt_port(p.get("nodePort"), ref, f"{f}.nodePort"),
                app_protocol=_opt_str(p.get("appProtocol"), ref, f"{f}.appProtocol"),
            )
        )
    selector = spec.get("selector")
    return Service(
        namespace=namespace,
        name=name,
        **_object_meta(meta, ref),
        ports=tuple(ports),
        type=_str(spec.get("type"), ref, "spec.type", default="ClusterIP"),
        cluster_ip=_opt_str(spec.get("clusterIP"), ref, "spec.clusterIP"),
        session_affinity=_opt_str(spec.get("sessionAffinity"), ref, "spec.sessionAffinity"),
        selector=None if selector is None else _str_map(selector, ref, "spec.selector"),
        external_name=_opt_str(spec.get("externalName"), ref, "spec.externalName"),
    )


def _target_ref(value: Any, ref: str, field: str) -> ObjectRef | None:
    if value is None:
        return None
    m = _mapping(value, ref, field)
    return ObjectRef(
        _str(m.get("kind"), ref, f"{field}.kind", default=""),
        _str(m.get("namespace"), ref, f"{field}.namespace", default=""),
        _str(m.get("name"), ref, f"{field}.name", default=""),
    )


def _addresses(value: Any, ref: str, field: str) -> tuple[EndpointAddress, ...]:
    out = []
    for i, raw in enumerate(_list(value, ref, field)):
        f = f"{field}[{i}]"
        a = _mapping(raw, ref, f, optional=False)
        out.append(
            EndpointAddress(
                ip=_ip(a.get("ip"), ref, f"{f}.ip"),
                hostname=_opt_str(a.get("hostname"), ref, f"{f}.hostname"),
                node_name=_opt_str(a.get("nodeName"), ref, f"{f}.nodeName"),
                target_ref=_target_ref(a.get("targetRef"), ref, f"{f}.targetRef"),
            )
        )
    return tuple(out)


def _ip(value: Any, ref: str, field: str) -> str:
    text = _str(value, ref, field)
    problem = ip_address_problem(text)
    if problem is not None:
        _fail(f"{text!r} {problem}, which the API server never stores in Endpoints", ref, field)
    return text


def _endpoint_ports(value: Any, ref: str, field: str) -> tuple[EndpointPort, ...]:
    out = []
    for i, raw in enumerate(_list(value, ref, field)):
        f = f"{field}[{i}]"
        p = _mapping(raw, ref, f, optional=False)
        out.append(
            EndpointPort(
                port=_port_number(p.get("port"), ref, f"{f}.port"),
                name=_str(p.get("name"), ref, f"{f}.name", default=""),
                protocol=_str(p.get("protocol"), ref, f"{f}.protocol", default="TCP"),
                app_protocol=_opt_str(p.get("appProtocol"), ref, f"{f}.appProtocol"),
            )
        )
    return tuple(out)


def _endpoints(doc: Mapping[str, Any]) -> Endpoints:
    meta, namespace, name, ref = _metadata(doc, "Endpoints", namespaced=True)
    subsets = []
    for i, raw in enumerate(_list(doc.get("subsets"), ref, "subsets")):
        f = f"subsets[{i}]"
        s = _mapping(raw, ref, f, optional=False)
        subsets.append(
            EndpointSubset(
                addresses=_addresses(s.get("addresses"), ref, f"{f}.addresses"),
                not_ready_addresses=_addresses(
                    s.get("notReadyAddresses"), ref, f"{f}.notReadyAddresses"
                ),
                ports=_endpoint_ports(s.get("ports"), ref, f"{f}.ports"),
            )
        )
    return Endpoints(
        namespace=namespace,
        name=name,
        subsets=tuple(subsets),
        **_object_meta(meta, ref),
    )


def _namespace(doc: Mapping[str, Any]) -> Namespace:
    meta, _, name, ref = _metadata(doc, "Namespace", namespaced=False)
    return Namespace(
        name=name,
        **_object_meta(meta, ref),
    )


def _config_map(doc: Mapping[str, Any]) -> ConfigMap:
    meta, namespace, name, ref = _metadata(doc, "ConfigMap", namespaced=True)
    return ConfigMap(
        namespace=namespace,
        name=name,
        data=_str_map(doc.get("data"), ref, "data"),
        labels=_str_map(meta.get("labels"), ref, "metadata.labels"),
        annotations=_str_map(meta.get("annotations"), ref, "metadata.annotations"),
        resource_version=_resource_version(
            meta.get("resourceVersion"), ref, "metadata.resourceVersion"
        ),
    )


def _link_selector(value: Any, ref: str, field: str) -> Selector | None:
    if value is None:
        return None
    _mapping(value, ref, field)
    try:
        return Selector.from_label_selector(value)
    except SelectorError as err:
        raise LinkSelectorError(err, ref=ref, field=field) from err


def _link(doc: Mapping[str, Any]) -> Link:
    meta, namespace, name, ref = _metadata(doc, "Link", namespaced=True)
    spec = _mapping(doc.get("spec"), ref, "spec")

    def s(key: str) -> str:
        value = spec.get(key)
        # gatewayPort is a string in the CRD; tolerate a YAML integer.
        if key == "gatewayPort" and isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return _str(value, ref, f"spec.{key}", default="")

    probe = _mapping(spec.get("probeSpec"), ref, "spec.probeSpec")

    def p(key: str) -> str | None:
        value = probe.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return _opt_str(value, ref, f"spec.probeSpec.{key}")

    target = s("targetClusterName")
    if not target:
        _fail("missing: a Link needs the target cluster's name", ref, "spec.targetClusterName")
    return Link(
        namespace=namespace,
        name=name,
        target_cluster_name=target,
        target_cluster_domain=s("targetClusterDomain"),
        target_cluster_linkerd_namespace=s("targetClusterLinkerdNamespace"),
        cluster_credentials_secret=s("clusterCredentialsSecret"),
        gateway_address=s("gatewayAddress"),
        gateway_port=s("gatewayPort"),
        gateway_identity=s("gatewayIdentity"),
        probe_spec=ProbeSpec(
            path=p("path"),
            port=p("port"),
            period=p("period"),
            timeout=p("timeout"),
            failure_threshold=p("failureThreshold"),
        ),
        selector=_link_selector(spec.get("selector"), ref, "spec.selector"),
        remote_discovery_selector=_link_selector(
            spec.get("remoteDiscoverySelector"), ref, "spec.remoteDiscoverySelector"
        ),
        federated_service_selector=_link_selector(
            spec.get("federatedServiceSelector"), ref, "spec.federatedServiceSelector"
        ),
        excluded_annotations=_str_list(
            spec.get("excludedAnnotations"), ref, "spec.excludedAnnotations"
        ),
        excluded_labels=_str_list(spec.get("excludedLabels"), ref, "spec.excludedLabels"),
        api_version=_str(doc.get("apiVersion"), ref, "apiVersion"),
        **_object_meta(meta, ref),
    )


def _endpoint_slice_parts(
    doc: Mapping[str, Any],
) -> tuple[tuple[str, str], str, Endpoints] | None:
    """An EndpointSlice as (service key, slice name, an Endpoints of one subset)."""
    meta, namespace, name, ref = _metadata(doc, "EndpointSlice", namespaced=True)
    labels = _str_map(meta.get("labels"), ref, "metadata.labels")
    service = labels.get(_ENDPOINT_SLICE_SERVICE_LABEL)
    if not service:
        return None  # not owned by a Service: nothing reads it as Endpoints
    ready: list[EndpointAddress] = []
    not_ready: list[EndpointAddress] = []
    for i, raw in enumerate(_list(doc.get("endpoints"), ref, "endpoints")):
        f = f"endpoints[{i}]"
        e = _mapping(raw, ref, f, optional=False)
        conditions = _mapping(e.get("conditions"), ref, f"{f}.conditions")
        # Kubernetes: an unset `ready` condition means ready.
        is_ready = conditions.get("ready") is not False
        hostname = _opt_str(e.get("hostname"), ref, f"{f}.hostname")
        node = _opt_str(e.get("nodeName"), ref, f"{f}.nodeName")
        target = _target_ref(e.get("targetRef"), ref, f"{f}.targetRef")
        for ip in _str_list(e.get("addresses"), ref, f"{f}.addresses"):
            (ready if is_ready else not_ready).append(
                EndpointAddress(ip=ip, hostname=hostname, node_name=node, target_ref=target)
            )
    ports = _endpoint_ports(doc.get("ports"), ref, "ports")
    own = {k: v for k, v in labels.items() if k not in _ENDPOINT_SLICE_OWN_LABELS}
    subsets = (EndpointSubset(tuple(ready), tuple(not_ready), ports),) if ready or not_ready else ()
    endpoints = Endpoints(
        namespace=namespace,
        name=service,
        labels=own,
        subsets=subsets,
        resource_version=_resource_version(
            meta.get("resourceVersion"), ref, "metadata.resourceVersion"
        ),
    )
    return (namespace, service), name, endpoints


def endpoint_slice(doc: Mapping[str, Any]) -> tuple[tuple[str, str], str, Endpoints] | None:
    """One EndpointSlice as (its Service's (namespace, name), the slice's name, an
    Endpoints of its one subset); None for a slice no Service owns. Raises
    :class:`ManifestError` when malformed."""
    return _endpoint_slice_parts(doc)


def fold_endpoint_slices(pieces: Iterable[tuple[str, Endpoints]]) -> Endpoints:
    """The Endpoints a Service's slices (``(slice name, endpoint_slice(...)[2])``, at least
    one) are read as: one subset per slice, slices in name order, metadata of the first."""
    ordered = sorted(pieces, key=lambda piece: piece[0])
    first = ordered[0][1]
    return Endpoints(
        namespace=first.namespace,
        name=first.name,
        labels=first.labels,
        subsets=tuple(s for _, e in ordered for s in e.subsets),
        resource_version=first.resource_version,
    )


# -- fast paths -----------------------------------------------------------------------
# The readers above check every field and say exactly what is wrong. The readers below
# take the common, well-formed case (plain dicts, lists and strings, as json.loads and
# YAML give them) with as little work as possible, and raise _Unusual at the first thing
# they do not expect; the careful reader then reads the object again, so results and
# errors are the same. Only _read (below) calls them, and tests/test_manifest.py holds
# them to the careful readers. Repeated small values (ports, port tuples) are shared
# through a cache that lives for one load. They are written flat (few calls, one dict
# lookup per field) because they run for every Service and Endpoints of every cluster:
# they make a load about three times faster than the careful readers alone.


_P = TypeVar("_P", ServicePort, EndpointPort)


class _Unusual(Exception):
    """Not the common case: let the careful reader handle (or reject) the object."""


_EMPTY_MAP: FrozenMap[str] = frozen_map(None)
_ipv4 = IPV4.fullmatch
_new = object.__new__
# FrozenMap is a read-only dict: made here as model.frozen_sorted makes it, minus a call.
_map_new = FrozenMap.__new__
_map_fill = dict.update
_NO_SPEC: Mapping[str, Any] = MappingProxyType({})


def _slot_setters(cls: type, names: tuple[str, ...]) -> tuple[Callable[[Any, Any], None], ...]:
    """The setters of ``cls``'s attrs fields, which must be exactly ``names``, in order.

    The fast readers build model values with these rather than through ``__init__``: the
    arguments already have the converted types (converters would return them unchanged)
    and the classes have no validators, so the values are the same, at half the cost.
    """
    fields = tuple(a.name for a in attrs.fields(cls))
    if fields != names:  # the model changed: update the fast readers with it
        raise TypeError(f"{cls.__name__} has fields {fields}, the fast reader sets {names}")
    return tuple(cls.__dict__[n].__set__ for n in names)


(_ref_kind, _ref_namespace, _ref_name) = _slot_setters(ObjectRef, ("kind", "namespace", "name"))
(
    _svc_namespace,
    _svc_name,
    _svc_labels,
    _svc_annotations,
    _svc_ports,
    _svc_type,
    _svc_cluster_ip,
    _svc_session_affinity,
    _svc_selector,
    _svc_external_name,
    _svc_resource_version,
    _svc_uid,
    _svc_creation_timestamp,
) = _slot_setters(
    Service,
    (
        "namespace",
        "name",
        "labels",
        "annotations",
        "ports",
        "type",
        "cluster_ip",
        "session_affinity",
        "selector",
        "external_name",
        "resource_version",
        "uid",
        "creation_timestamp",
    ),
)
(_addr_ip, _addr_hostname, _addr_node_name, _addr_target_ref) = _slot_setters(
    EndpointAddress, ("ip", "hostname", "node_name", "target_ref")
)
(_sub_addresses, _sub_not_ready_addresses, _sub_ports) = _slot_setters(
    EndpointSubset, ("addresses", "not_ready_addresses", "ports")
)
(
    _eps_namespace,
    _eps_name,
    _eps_labels,
    _eps_annotations,
    _eps_subsets,
    _eps_resource_version,
    _eps_uid,
    _eps_creation_timestamp,
) = _slot_setters(
    Endpoints,
    (
        "namespace",
        "name",
        "labels",
        "annotations",
        "subsets",
        "resource_version",
        "uid",
        "creation_timestamp",
    ),
)


def _fast_map(value: Any) -> FrozenMap[str]:
    """Labels, annotations or a selector: a dict of strings."""
    if type(value) is not dict:
        if value is None:
            return _EMPTY_MAP
        raise _Unusual
    if not value:
        return _EMPTY_MAP
    # One pass: exact types (no str subclass: the careful reader keeps those) and
    # whether the keys are already sorted (kubectl prints them so).
    ordered = True
    last = ""
    for k, v in value.items():
        if type(k) is not str or type(v) is not str:
            raise _Unusual
        if k < last:
            ordered = False
        last = k
    if not ordered:
        return FrozenMap(value)
    m = _map_new(FrozenMap)
    _map_fill(m, value)
    return m


def _fast_ports(raw: list[Any], cache: dict[Any, Any]) -> tuple[ServicePort, ...]:
    """``spec.ports``; Services with equal ports share one tuple (the planner shares
    per tuple too), and equal ports one ServicePort (see :func:`_shared`)."""
    keys = []
    for p in raw:
        if type(p) is not dict:
            raise _Unusual
        app_protocol = p.get("appProtocol")
        name = p.get("name")
        node_port = p.get("nodePort")
        port = p.get("port")
        protocol = p.get("protocol")
        target = p.get("targetPort")
        # Exact types first: the cache must never confuse True with 1 or 80.0 with 80.
        if (
            type(port) is not int
            or (type(name) is not str and name is not None)
            or (type(protocol) is not str and protocol is not None)
            or (type(target) is not int and type(target) is not str and target is not None)
            or (type(node_port) is not int and node_port is not None)
            or (type(app_protocol) is not str and app_protocol is not None)
        ):
            raise _Unusual
        keys.append(("S", port, name, protocol, target, node_port, app_protocol))
    # One lookup for the whole list (its key holds every port's key, so equal keys mean
    # equal ports); the ports themselves only when a new list turns up.
    list_key = tuple(keys)
    found: tuple[ServicePort, ...] | None = cache.get(list_key)
    return found if found is not None else _shared(list_key, cache, _service_port)


def _service_port(key: tuple[Any, ...]) -> ServicePort:
    _, port, name, protocol, target, node_port, app_protocol = key
    if (
        not 1 <= port <= 65535
        or (type(target) is int and not 1 <= target <= 65535)
        or (node_port is not None and not 1 <= node_port <= 65535)
    ):
        raise _Unusual
    return ServicePort(
        port,
        "" if name is None else name,
        "TCP" if protocol is None else protocol,
        target,
        node_port,
        app_protocol,
    )


def _shared(
    list_key: tuple[tuple[Any, ...], ...],
    cache: dict[Any, Any],
    make: Callable[[tuple[Any, ...]], _P],
) -> tuple[_P, ...]:
    """The ports of a list not in ``cache`` yet, by their keys (a port's exact-typed
    fields behind a tag for its kind): each port made by ``make`` once per cache, and
    the tuple kept under ``list_key``."""
    out = []
    for key in list_key:
        value: _P | None = cache.get(key)
        if value is None:
            value = cache[key] = make(key)
        out.append(value)
    found = cache[list_key] = tuple(out)
    return found


def _fast_meta(
    doc: dict[str, Any], stamps: set[str]
) -> tuple[FrozenMap[str], str | None, FrozenMap[str], str, str, str, str]:
    """annotations, creationTimestamp, labels, name, namespace, resourceVersion, uid."""
    meta = doc.get("metadata")
    if type(meta) is not dict:
        raise _Unusual
    # In the order kubectl prints (and json.loads allocates) them: reading memory in
    # order is measurably faster on a large load.
    annotations = _fast_map(meta.get("annotations"))
    ts = meta.get("creationTimestamp")
    if type(ts) is str:
        if ts not in stamps:  # a Service and its Endpoints share a timestamp
            try:
                parse_timestamp(ts)
            except ValueError:
                raise _Unusual from None
            stamps.add(ts)
    elif ts is not None:
        raise _Unusual
    labels = _fast_map(meta.get("labels"))
    name = meta.get("name")
    namespace = meta.get("namespace", "default")
    rv = meta.get("resourceVersion")
    uid = meta.get("uid")
    if type(name) is not str or not name or type(namespace) is not str or not namespace:
        raise _Unusual
    if type(rv) is not str:
        if rv is not None:
            raise _Unusual
        rv = ""
    if type(uid) is not str:
        if uid is not None:
            raise _Unusual
        uid = ""
    return annotations, ts, labels, name, namespace, rv, uid


def _fast_service(doc: dict[str, Any], cache: dict[Any, Any], stamps: set[str]) -> Service:
    annotations, ts, labels, name, namespace, rv, uid = _fast_meta(doc, stamps)
    spec = doc.get("spec")
    if type(spec) is not dict:
        if spec is not None:
            raise _Unusual
        spec = _NO_SPEC
    cluster_ip = spec.get("clusterIP")
    external_name = spec.get("externalName")
    raw_ports = spec.get("ports")
    if type(raw_ports) is list:
        ports = _fast_ports(raw_ports, cache) if raw_ports else ()
    elif raw_ports is None:
        ports = ()
    else:
        raise _Unusual
    selector = spec.get("selector")
    if selector is not None:
        selector = _fast_map(selector)
    session_affinity = spec.get("sessionAffinity")
    type_ = spec.get("type")
    if type(type_) is not str:
        if type_ is not None:
            raise _Unusual
        type_ = "ClusterIP"
    if (
        (type(cluster_ip) is not str and cluster_ip is not None)
        or (type(session_affinity) is not str and session_affinity is not None)
        or (type(external_name) is not str and external_name is not None)
    ):
        raise _Unusual
    svc = _new(Service)
    _svc_namespace(svc, namespace)
    _svc_name(svc, name)
    _svc_labels(svc, labels)
    _svc_annotations(svc, annotations)
    _svc_ports(svc, ports)
    _svc_type(svc, type_)
    _svc_cluster_ip(svc, cluster_ip)
    _svc_session_affinity(svc, session_affinity)
    _svc_selector(svc, selector)
    _svc_external_name(svc, external_name)
    _svc_resource_version(svc, rv)
    _svc_uid(svc, uid)
    _svc_creation_timestamp(svc, ts)
    return svc


def _fast_addresses(value: list[Any]) -> tuple[EndpointAddress, ...]:
    out = []
    for a in value:
        if type(a) is not dict:
            raise _Unusual
        hostname = a.get("hostname")
        ip = a.get("ip")
        node_name = a.get("nodeName")
        raw_ref = a.get("targetRef")
        if (
            type(ip) is not str
            or (type(hostname) is not str and hostname is not None)
            or (type(node_name) is not str and node_name is not None)
            or (not _ipv4(ip) and ip_address_problem(ip) is not None)
        ):
            raise _Unusual
        addr = _new(EndpointAddress)
        _addr_ip(addr, ip)
        _addr_hostname(addr, hostname)
        _addr_node_name(addr, node_name)
        if type(raw_ref) is dict:
            kind = raw_ref.get("kind", "")
            name = raw_ref.get("name", "")
            namespace = raw_ref.get("namespace", "")
            # Each present and a string (None, like absent, reads as "").
            if type(kind) is not str:
                if kind is not None:
                    raise _Unusual
                kind = ""
            if type(namespace) is not str:
                if namespace is not None:
                    raise _Unusual
                namespace = ""
            if type(name) is not str:
                if name is not None:
                    raise _Unusual
                name = ""
            ref = _new(ObjectRef)
            _ref_kind(ref, kind)
            _ref_namespace(ref, namespace)
            _ref_name(ref, name)
            _addr_target_ref(addr, ref)
        elif raw_ref is None:
            _addr_target_ref(addr, None)
        else:
            raise _Unusual
        out.append(addr)
    return tuple(out)


def _fast_endpoint_ports(value: list[Any], cache: dict[Any, Any]) -> tuple[EndpointPort, ...]:
    """A subset's ``ports``, shared like a Service's (see :func:`_fast_ports`)."""
    keys = []
    for p in value:
        if type(p) is not dict:
            raise _Unusual
        app_protocol = p.get("appProtocol")
        name = p.get("name")
        port = p.get("port")
        protocol = p.get("protocol")
        if (
            type(port) is not int
            or (type(name) is not str and name is not None)
            or (type(protocol) is not str and protocol is not None)
            or (type(app_protocol) is not str and app_protocol is not None)
        ):
            raise _Unusual
        keys.append(("E", port, name, protocol, app_protocol))
    list_key = tuple(keys)
    found: tuple[EndpointPort, ...] | None = cache.get(list_key)
    return found if found is not None else _shared(list_key, cache, _endpoint_port)


def _endpoint_port(key: tuple[Any, ...]) -> EndpointPort:
    _, port, name, protocol, app_protocol = key
    if not 1 <= port <= 65535:
        raise _Unusual
    return EndpointPort(
        port, "" if name is None else name, "TCP" if protocol is None else protocol, app_protocol
    )


def _fast_endpoints(doc: dict[str, Any], cache: dict[Any, Any], stamps: set[str]) -> Endpoints:
    annotations, ts, labels, name, namespace, rv, uid = _fast_meta(doc, stamps)
    raw_subsets = doc.get("subsets")
    subsets: list[EndpointSubset] = []
    if type(raw_subsets) is list:
        for s in raw_subsets:
            if type(s) is not dict:
                raise _Unusual
            subset = _new(EndpointSubset)
            ready = s.get("addresses")
            if type(ready) is list:
                _sub_addresses(subset, _fast_addresses(ready))
            elif ready is None:
                _sub_addresses(subset, ())
            else:
                raise _Unusual
            not_ready = s.get("notReadyAddresses")
            if type(not_ready) is list:
                _sub_not_ready_addresses(subset, _fast_addresses(not_ready))
            elif not_ready is None:
                _sub_not_ready_addresses(subset, ())
            else:
                raise _Unusual
            raw_ports = s.get("ports")
            if type(raw_ports) is list:
                _sub_ports(subset, _fast_endpoint_ports(raw_ports, cache))
            elif raw_ports is None:
                _sub_ports(subset, ())
            else:
                raise _Unusual
            subsets.append(subset)
    elif raw_subsets is not None:
        raise _Unusual
    eps = _new(Endpoints)
    _eps_namespace(eps, namespace)
    _eps_name(eps, name)
    _eps_labels(eps, labels)
    _eps_annotations(eps, annotations)
    _eps_subsets(eps, tuple(subsets))
    _eps_resource_version(eps, rv)
    _eps_uid(eps, uid)
    _eps_creation_timestamp(eps, ts)
    return eps


def _fast_namespace(doc: dict[str, Any], stamps: set[str]) -> Namespace:
    # A Namespace's metadata.namespace means nothing; an odd one sends it the careful way.
    annotations, ts, labels, name, _, rv, uid = _fast_meta(doc, stamps)
    return Namespace(name, labels, annotations, rv, uid, ts)


_READERS: Mapping[tuple[str, str], Callable[[Mapping[str, Any]], AnyObject]] = MappingProxyType(
    {
        ("v1", "Service"): _service,
        ("v1", "Endpoints"): _endpoints,
        ("v1", "Namespace"): _namespace,
        ("v1", "ConfigMap"): _config_map,
    }
)


def from_manifest(doc: Mapping[str, Any]) -> AnyObject | None:
    """One kubectl-style dict as a model value; None for kinds meshmirror ignores.

    EndpointSlices are read by :func:`cluster_state`, which folds them into Endpoints.
    """
    return _read(doc, {}, set())


def _read(doc: Mapping[str, Any], cache: dict[Any, Any], stamps: set[str]) -> AnyObject | None:
    """The one place choosing a reader. A plain dict of a v1 Service, Endpoints or
    Namespace goes to its fast reader; anything else, and anything a fast reader finds
    unusual, to :func:`_careful`, so values and errors are always the careful reader's.
    ``cache`` shares ports and ``stamps`` holds timestamps already checked (see the fast
    readers)."""
    if type(doc) is dict and doc.get("apiVersion") == "v1":
        kind = doc.get("kind")
        try:
            if kind == "Service":
                return _fast_service(doc, cache, stamps)
            if kind == "Endpoints":
                return _fast_endpoints(doc, cache, stamps)
            if kind == "Namespace":
                return _fast_namespace(doc, stamps)
        except _Unusual:
            pass
    return _careful(doc)


def _careful(doc: Mapping[str, Any]) -> AnyObject | None:
    """:func:`from_manifest` through the careful readers only."""
    if not isinstance(doc, Mapping):
        _fail(f"an object must be a mapping, not {type(doc).__name__}", "", "")
    kind = doc.get("kind")
    api_version = doc.get("apiVersion")
    if not isinstance(kind, str) or not kind:
        _fail("missing or not a string", "object", "kind")
    if kind == "Link":
        if api_version in LINK_API_VERSIONS:
            return _link(doc)
        return None
    if api_version is None and kind in {"Service", "Endpoints", "Namespace", "ConfigMap"}:
        api_version = "v1"
    reader: Callable[[Mapping[str, Any]], AnyObject] | None = (
        _READERS.get((api_version, kind)) if isinstance(api_version, str) else None
    )
    return reader(doc) if reader else None


def iter_documents(docs: Iterable[Any]) -> Iterator[Mapping[str, Any]]:
    """Every object of ``docs``, with ``kind: List`` (and ``*List``) expanded; ``None``
    documents (empty YAML documents) skipped."""
    for doc in docs:
        if doc is None:
            continue
        if type(doc) is not dict and not isinstance(doc, Mapping):
            _fail(f"a document must be a mapping, not {type(doc).__name__}", "", "")
        kind = doc.get("kind")
        if isinstance(kind, str) and kind.endswith("List") and "items" in doc:
            items = doc["items"]
            if items is None:
                continue
            if not isinstance(items, list):
                _fail("must be a list", kind, "items")
            for item in items:
                # A plain object straight away: a List of thousands costs one generator
                # level, not two. Anything else as one more document.
                if type(item) is dict:
                    item_kind = item.get("kind")
                    if not (
                        isinstance(item_kind, str)
                        and item_kind.endswith("List")
                        and "items" in item
                    ):
                        yield item
                        continue
                yield from iter_documents((item,))
        else:
            yield doc


def cluster_state(name: str, docs: Iterable[Any] | Mapping[str, Any]) -> ClusterState:
    """A :class:`ClusterState` from kubectl-style dicts (``kind: List`` expanded).

    ``docs`` is an iterable of dicts, or one dict: an object, or the ``kind: List`` that
    ``kubectl get -o yaml`` prints (so ``cluster_state("west", yaml.safe_load(f))``
    works). A Service with no Endpoints object but with EndpointSlices gets Endpoints
    read from its slices (one subset per slice, slices in name order). A ``name`` or
    ``docs`` of the wrong type raises :class:`~meshmirror.values.model.ArgumentError`.
    """
    return cluster_state_sharing(name, docs, {})


def _documents(name: object, docs: object) -> Iterable[Any]:
    """``docs`` as an iterable of documents, checking the arguments' types."""
    if not isinstance(name, str) or not name:
        raise ArgumentError("name", name, "a cluster's name, a non-empty string")
    if isinstance(docs, Mapping):
        return (docs,)
    if isinstance(docs, str | bytes) or not isinstance(docs, Iterable):
        hint = " (parse the text first, e.g. yaml.safe_load_all)" if isinstance(docs, str) else ""
        raise ArgumentError(
            "docs", docs, f"an iterable of kubectl-style dicts, or one kind: List dict{hint}"
        )
    return docs


def cluster_state_sharing(
    name: str, docs: Iterable[Any] | Mapping[str, Any], cache: dict[Any, Any]
) -> ClusterState:
    """:func:`cluster_state` sharing ``cache`` (ports and port tuples) with other calls:
    the loader reads many clusters into values they share."""
    objects = _objects(_documents(name, docs), cache)
    try:
        return ClusterState.build(name, objects)
    except DuplicateObjectError as err:
        raise ManifestError(str(err), ref=str(err.ref)) from err


def _objects(docs: Iterable[Any], cache: dict[Any, Any]) -> list[AnyObject]:
    """Every object of ``docs`` as read, then, for each Service with EndpointSlices but
    no Endpoints object, the Endpoints its slices fold into. A clash between slices is
    raised here, so before ClusterState.build raises a clash between objects."""
    # Timestamps checked in this cluster: a small set stays in the CPU caches, where one
    # for every cluster would cost as much to look up as a timestamp to check.
    stamps: set[str] = set()
    slices: dict[tuple[str, str], list[tuple[str, Endpoints]]] = {}
    objects: list[AnyObject] = []
    add = objects.append
    for doc in iter_documents(docs):
        if doc.get("kind") == "EndpointSlice" and doc.get("apiVersion") in (
            "discovery.k8s.io/v1",
            "discovery.k8s.io/v1beta1",
        ):
            parts = _endpoint_slice_parts(doc)
            if parts is not None:
                key, slice_name, eps = parts
                slices.setdefault(key, []).append((slice_name, eps))
            continue
        obj = _read(doc, cache, stamps)
        if obj is not None:
            add(obj)
    if not slices:
        return objects
    with_endpoints = {(o.namespace, o.name) for o in objects if o.kind == "Endpoints"}
    for key in sorted(slices):
        if key in with_endpoints:
            continue
        by_name: dict[str, Endpoints] = {}
        for slice_name, eps in slices[key]:
            seen = by_name.get(slice_name)
            if seen is not None and seen != eps:
                # Identical repeats (overlapping dumps) are fine, as for every kind.
                raise ManifestError(
                    "is given twice with different content; give each object once",
                    ref=f"EndpointSlice {key[0]}/{slice_name}",
                )
            by_name[slice_name] = eps
        add(fold_endpoint_slices(by_name.items()))
    return objects


# -- model -> dict --------------------------------------------------------------------


def _meta(obj: AnyObject, *, namespaced: bool = True) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": obj.name}
    if namespaced:
        meta["namespace"] = obj.namespace
    meta["labels"] = obj.labels.to_dict()
    meta["annotations"] = obj.annotations.to_dict()
    rv = obj.resource_version
    if rv:
        meta["resourceVersion"] = rv
    uid = getattr(obj, "uid", "")
    if uid:
        meta["uid"] = uid
    ts = getattr(obj, "creation_timestamp", None)
    if ts:
        meta["creationTimestamp"] = ts
    return meta


def _port_dict(p: ServicePort) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if p.name:
        out["name"] = p.name
    out["protocol"] = p.protocol
    out["port"] = p.port
    out["targetPort"] = p.effective_target_port
    if p.node_port is not None:
        out["nodePort"] = p.node_port
    if p.app_protocol is not None:
        out["appProtocol"] = p.app_protocol
    return out


def _address_dict(a: EndpointAddress) -> dict[str, Any]:
    out: dict[str, Any] = {"ip": a.ip}
    if a.hostname is not None:
        out["hostname"] = a.hostname
    if a.node_name is not None:
        out["nodeName"] = a.node_name
    if a.target_ref is not None:
        ref: dict[str, str] = {"kind": a.target_ref.kind, "name": a.target_ref.name}
        if a.target_ref.namespace:
            ref["namespace"] = a.target_ref.namespace
        out["targetRef"] = ref
    return out


def _endpoint_port_dict(p: EndpointPort) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if p.name:
        out["name"] = p.name
    out["port"] = p.port
    out["protocol"] = p.protocol
    if p.app_protocol is not None:
        out["appProtocol"] = p.app_protocol
    return out


def _subset_dict(s: EndpointSubset) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if s.addresses:
        out["addresses"] = [_address_dict(a) for a in s.addresses]
    if s.not_ready_addresses:
        out["notReadyAddresses"] = [_address_dict(a) for a in s.not_ready_addresses]
    if s.ports:
        out["ports"] = [_endpoint_port_dict(p) for p in s.ports]
    return out


def _selector_dict(selector: Selector | None) -> dict[str, Any] | None:
    if selector is None:
        return None
    if selector.is_nothing():
        return None
    return selector.to_label_selector()


def _link_dict(link: Link) -> dict[str, Any]:
    spec: dict[str, Any] = {"targetClusterName": link.target_cluster_name}
    for key, value in (
        ("targetClusterDomain", link.target_cluster_domain),
        ("targetClusterLinkerdNamespace", link.target_cluster_linkerd_namespace),
        ("clusterCredentialsSecret", link.cluster_credentials_secret),
        ("gatewayAddress", link.gateway_address),
        ("gatewayPort", link.gateway_port),
        ("gatewayIdentity", link.gateway_identity),
    ):
        if value:
            spec[key] = value
    probe = {
        k: v
        for k, v in (
            ("path", link.probe_spec.path),
            ("port", link.probe_spec.port),
            ("period", link.probe_spec.period),
            ("timeout", link.probe_spec.timeout),
            ("failureThreshold", link.probe_spec.failure_threshold),
        )
        if v is not None
    }
    if probe:
        spec["probeSpec"] = probe
    for key, sel in (
        ("selector", link.selector),
        ("remoteDiscoverySelector", link.remote_discovery_selector),
        ("federatedServiceSelector", link.federated_service_selector),
    ):
        d = _selector_dict(sel)
        if d is not None:
            spec[key] = d
    if link.excluded_annotations:
        spec["excludedAnnotations"] = list(link.excluded_annotations)
    if link.excluded_labels:
        spec["excludedLabels"] = list(link.excluded_labels)
    return {
        "apiVersion": link.api_version,
        "kind": "Link",
        "metadata": _meta(link),
        "spec": spec,
    }


def to_manifest(obj: AnyObject) -> dict[str, Any]:
    """A model value as a kubectl-style dict.

    A planned object has no server-assigned field, so its dict holds only what the
    service mirror writes. Service ports carry ``protocol`` and ``targetPort`` as the
    API server would default them.
    """
    if isinstance(obj, Service):
        spec: dict[str, Any] = {}
        if obj.type != "ClusterIP":
            spec["type"] = obj.type
        if obj.cluster_ip is not None:
            spec["clusterIP"] = obj.cluster_ip
        if obj.selector is not None:
            spec["selector"] = obj.selector.to_dict()
        if obj.session_affinity is not None:
            spec["sessionAffinity"] = obj.session_affinity
        if obj.external_name is not None:
            spec["externalName"] = obj.external_name
        spec["ports"] = [_port_dict(p) for p in obj.ports]
        return {"apiVersion": "v1", "kind": "Service", "metadata": _meta(obj), "spec": spec}
    if isinstance(obj, Endpoints):
        out: dict[str, Any] = {"apiVersion": "v1", "kind": "Endpoints", "metadata": _meta(obj)}
        if obj.subsets:
            out["subsets"] = [_subset_dict(s) for s in obj.subsets]
        return out
    if isinstance(obj, Namespace):
        return {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(obj, namespaced=False)}
    if isinstance(obj, ConfigMap):
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta(obj),
            "data": obj.data.to_dict(),
        }
    if isinstance(obj, Link):
        return _link_dict(obj)
    raise TypeError(f"not a meshmirror object: {obj!r}")
