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
from typing import Any, NoReturn

from meshmirror.labels import Selector, SelectorError
from meshmirror.model import (
    AnyObject,
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
    _frozen_sorted,
    frozen_map,
)

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
                ip=_str(a.get("ip"), ref, f"{f}.ip"),
                hostname=_opt_str(a.get("hostname"), ref, f"{f}.hostname"),
                node_name=_opt_str(a.get("nodeName"), ref, f"{f}.nodeName"),
                target_ref=_target_ref(a.get("targetRef"), ref, f"{f}.targetRef"),
            )
        )
    return tuple(out)


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


# -- fast paths -----------------------------------------------------------------------
# The readers above check every field and say exactly what is wrong. The readers below
# take the common, well-formed case (plain dicts, lists and strings, as json.loads and
# YAML give them) with as little work as possible, and raise _Unusual at the first thing
# they do not expect; the careful reader then reads the object again, so results and
# errors are the same. Repeated small values (ports) are shared through a cache that
# lives for one cluster_state call.


class _Unusual(Exception):
    """Not the common case: let the careful reader handle (or reject) the object."""


_join = "".join
_EMPTY_MAP: FrozenMap[str] = frozen_map(None)


def _fast_map(value: Any) -> FrozenMap[str]:
    if value is None:
        return _EMPTY_MAP
    if type(value) is not dict:
        raise _Unusual
    if not value:
        return _EMPTY_MAP
    try:  # every key and value a string (join refuses anything else)
        _join(value)
        _join(value.values())
    except TypeError:
        raise _Unusual from None
    keys = [*value]
    # kubectl prints map keys sorted, so the copy usually needs no sorting.
    if keys == sorted(keys):
        return _frozen_sorted(value.copy())
    return FrozenMap(value)


def _fast_opt_str(value: Any) -> str | None:
    if value is None or type(value) is str:
        return value
    raise _Unusual


def _fast_meta(
    doc: dict[str, Any], cache: dict[Any, Any]
) -> tuple[dict[str, Any], str, str, str, str, str | None]:
    """metadata, namespace, name, resourceVersion, uid, creationTimestamp."""
    meta = doc.get("metadata")
    if type(meta) is not dict:
        raise _Unusual
    name = meta.get("name")
    namespace = meta.get("namespace", "default")
    rv = meta.get("resourceVersion")
    uid = meta.get("uid")
    ts = meta.get("creationTimestamp")
    if type(name) is not str or not name or type(namespace) is not str or not namespace:
        raise _Unusual
    if rv is None:
        rv = ""
    elif type(rv) is not str:
        raise _Unusual
    if uid is None:
        uid = ""
    elif type(uid) is not str:
        raise _Unusual
    if ts is not None:
        if type(ts) is not str:
            raise _Unusual
        if ts not in cache:  # objects made together share a timestamp
            try:
                parse_timestamp(ts)
            except ValueError:
                raise _Unusual from None
            cache[ts] = None  # valid (the cache's other keys are tuples)
    return meta, namespace, name, rv, uid, ts


def _fast_service_port(p: Any, cache: dict[Any, Any]) -> ServicePort:
    if type(p) is not dict:
        raise _Unusual
    port = p.get("port")
    name = p.get("name")
    protocol = p.get("protocol")
    target = p.get("targetPort")
    node_port = p.get("nodePort")
    app_protocol = p.get("appProtocol")
    # Exact types first: the cache must never confuse True with 1 or 80.0 with 80.
    if (
        type(port) is not int
        or (name is not None and type(name) is not str)
        or (protocol is not None and type(protocol) is not str)
        or (target is not None and type(target) is not int and type(target) is not str)
        or (node_port is not None and type(node_port) is not int)
        or (app_protocol is not None and type(app_protocol) is not str)
    ):
        raise _Unusual
    key = ("S", port, name, protocol, target, node_port, app_protocol)
    found: ServicePort | None = cache.get(key)
    if found is None:
        if (
            not 1 <= port <= 65535
            or (type(target) is int and not 1 <= target <= 65535)
            or (node_port is not None and not 1 <= node_port <= 65535)
        ):
            raise _Unusual
        found = ServicePort(
            port,
            "" if name is None else name,
            "TCP" if protocol is None else protocol,
            target,
            node_port,
            app_protocol,
        )
        cache[key] = found
    return found


def _fast_ports(raw: list[Any], cache: dict[Any, Any]) -> tuple[ServicePort, ...]:
    ports = [_fast_service_port(p, cache) for p in raw]
    # Services with the same ports share one tuple (the planner shares per tuple too).
    # The cache holds every port, so ids are stable keys while it lives.
    key = tuple(map(id, ports))
    found: tuple[ServicePort, ...] | None = cache.get(key)
    if found is None:
        found = cache[key] = tuple(ports)
    return found


def _fast_service(doc: dict[str, Any], cache: dict[Any, Any]) -> Service:
    meta, namespace, name, rv, uid, ts = _fast_meta(doc, cache)
    spec = doc.get("spec")
    if spec is None:
        spec = {}
    elif type(spec) is not dict:
        raise _Unusual
    raw_ports = spec.get("ports")
    if raw_ports is None:
        ports: tuple[ServicePort, ...] = ()
    elif type(raw_ports) is list:
        ports = _fast_ports(raw_ports, cache)
    else:
        raise _Unusual
    selector = spec.get("selector")
    type_ = spec.get("type")
    if type_ is None:
        type_ = "ClusterIP"
    elif type(type_) is not str:
        raise _Unusual
    return Service(
        namespace,
        name,
        _fast_map(meta.get("labels")),
        _fast_map(meta.get("annotations")),
        ports,
        type_,
        _fast_opt_str(spec.get("clusterIP")),
        _fast_opt_str(spec.get("sessionAffinity")),
        None if selector is None else _fast_map(selector),
        _fast_opt_str(spec.get("externalName")),
        rv,
        uid,
        ts,
    )


def _fast_str(value: Any) -> str:
    if value is None:
        return ""
    if type(value) is str:
        return value
    raise _Unusual


def _fast_addresses(value: Any) -> tuple[EndpointAddress, ...]:
    if value is None:
        return ()
    if type(value) is not list:
        raise _Unusual
    out = []
    for a in value:
        if type(a) is not dict:
            raise _Unusual
        ip = a.get("ip")
        if type(ip) is not str:
            raise _Unusual
        raw_ref = a.get("targetRef")
        if raw_ref is None:
            target_ref = None
        elif type(raw_ref) is dict:
            target_ref = ObjectRef(
                _fast_str(raw_ref.get("kind")),
                _fast_str(raw_ref.get("namespace")),
                _fast_str(raw_ref.get("name")),
            )
        else:
            raise _Unusual
        out.append(
            EndpointAddress(
                ip,
                _fast_opt_str(a.get("hostname")),
                _fast_opt_str(a.get("nodeName")),
                target_ref,
            )
        )
    return tuple(out)


def _fast_endpoint_ports(value: Any, cache: dict[Any, Any]) -> tuple[EndpointPort, ...]:
    if value is None:
        return ()
    if type(value) is not list:
        raise _Unusual
    out = []
    for p in value:
        if type(p) is not dict:
            raise _Unusual
        port = p.get("port")
        name = p.get("name")
        protocol = p.get("protocol")
        app_protocol = p.get("appProtocol")
        if (
            type(port) is not int
            or (name is not None and type(name) is not str)
            or (protocol is not None and type(protocol) is not str)
            or (app_protocol is not None and type(app_protocol) is not str)
        ):
            raise _Unusual
        key = ("E", port, name, protocol, app_protocol)
        found: EndpointPort | None = cache.get(key)
        if found is None:
            if not 1 <= port <= 65535:
                raise _Unusual
            found = EndpointPort(
                port,
                "" if name is None else name,
                "TCP" if protocol is None else protocol,
                app_protocol,
            )
            cache[key] = found
        out.append(found)
    return tuple(out)


def _fast_endpoints(doc: dict[str, Any], cache: dict[Any, Any]) -> Endpoints:
    meta, namespace, name, rv, uid, ts = _fast_meta(doc, cache)
    raw_subsets = doc.get("subsets")
    subsets: list[EndpointSubset] = []
    if raw_subsets is not None:
        if type(raw_subsets) is not list:
            raise _Unusual
        for s in raw_subsets:
            if type(s) is not dict:
                raise _Unusual
            subsets.append(
                EndpointSubset(
                    _fast_addresses(s.get("addresses")),
                    _fast_addresses(s.get("notReadyAddresses")),
                    _fast_endpoint_ports(s.get("ports"), cache),
                )
            )
    return Endpoints(
        namespace,
        name,
        _fast_map(meta.get("labels")),
        _fast_map(meta.get("annotations")),
        tuple(subsets),
        rv,
        uid,
        ts,
    )


def _read(doc: Mapping[str, Any], cache: dict[Any, Any]) -> AnyObject | None:
    """:func:`from_manifest`, through the fast path where it applies."""
    if type(doc) is dict and doc.get("apiVersion") == "v1":
        kind = doc.get("kind")
        try:
            if kind == "Service":
                return _fast_service(doc, cache)
            if kind == "Endpoints":
                return _fast_endpoints(doc, cache)
        except _Unusual:
            pass
    return from_manifest(doc)


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
        if not isinstance(doc, Mapping):
            _fail(f"a document must be a mapping, not {type(doc).__name__}", "", "")
        kind = doc.get("kind")
        if isinstance(kind, str) and kind.endswith("List") and "items" in doc:
            items = doc["items"]
            if items is None:
                continue
            if not isinstance(items, list):
                _fail("must be a list", kind, "items")
            yield from iter_documents(items)
        else:
            yield doc


def cluster_state(name: str, docs: Iterable[Any]) -> ClusterState:
    """A :class:`ClusterState` from kubectl-style dicts (``kind: List`` expanded).

    A Service with no Endpoints object but with EndpointSlices gets Endpoints read from
    its slices (one subset per slice, slices in name order).
    """
    return _cluster_state(name, docs, {})


def _cluster_state(name: str, docs: Iterable[Any], cache: dict[Any, Any]) -> ClusterState:
    """:func:`cluster_state` sharing ``cache`` (ports, port tuples, checked timestamps)
    with other calls: the loader reads many clusters into values they share."""
    objects: list[AnyObject] = []
    slices: dict[tuple[str, str], list[tuple[str, Endpoints]]] = {}
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
        obj = _read(doc, cache)
        if obj is not None:
            objects.append(obj)
    if not slices:
        return _build(name, objects)
    have = {(o.namespace, o.name) for o in objects if isinstance(o, Endpoints)}
    for key in sorted(slices):
        if key in have:
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
        pieces = sorted(by_name.items())
        first = pieces[0][1]
        objects.append(
            Endpoints(
                namespace=first.namespace,
                name=first.name,
                labels=first.labels,
                subsets=tuple(s for _, e in pieces for s in e.subsets),
                resource_version=first.resource_version,
            )
        )
    return _build(name, objects)


def _build(name: str, objects: list[AnyObject]) -> ClusterState:
    try:
        return ClusterState.build(name, objects)
    except DuplicateObjectError as err:
        raise ManifestError(str(err), ref=str(err.ref)) from err


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
