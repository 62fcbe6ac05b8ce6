"""The objects meshmirror reasons about, as frozen values.

Only the fields the service mirror reads or writes are modelled. Everything is
immutable and hashable; label and annotation sets are :class:`FrozenMap`.

>>> svc = Service("shop", "web", labels={"app": "web"}, ports=(ServicePort(80, name="http"),))
>>> svc.ref
ObjectRef(kind='Service', namespace='shop', name='web')
>>> svc.labels["app"]
'web'
>>> state = ClusterState.build("east", [Namespace("shop"), svc])
>>> state.service("shop", "web") is svc
True
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, ClassVar, NoReturn, TypeAlias, TypeVar

import attrs

from meshmirror.values.display import html_table
from meshmirror.values.labels import Selector

__all__ = [
    "AnyObject",
    "ArgumentError",
    "ClusterState",
    "ConfigMap",
    "DuplicateObjectError",
    "EndpointAddress",
    "EndpointPort",
    "EndpointSubset",
    "Endpoints",
    "FrozenMap",
    "Link",
    "Namespace",
    "ObjectRef",
    "ProbeSpec",
    "Service",
    "ServicePort",
    "check_states",
]

_K = TypeVar("_K")
_V = TypeVar("_V")


class _ReadOnlyDict(dict[_K, _V]):
    """A ``dict`` whose changing methods raise (reads stay the dict's own C methods):
    what :class:`FrozenMap` and a :class:`ClusterState`'s tables share."""

    __slots__ = ()
    _REFUSAL = "this mapping cannot be changed"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Filled by __new__, so that calling __init__ again cannot refill one (a shared
        # empty one included).
        pass

    def _frozen(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError(self._REFUSAL)

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _frozen
    __ior__ = _frozen

    def __copy__(self) -> Any:
        return self

    def __deepcopy__(self, memo: Any) -> Any:
        return self


class FrozenMap(_ReadOnlyDict[str, _V]):
    """An immutable, hashable ``str``-keyed mapping (labels, annotations, data).

    A ``dict`` whose changing methods raise: reads are the dict's own (C) methods, and
    one object is made per map (one is kept per label set of every object). Keys are
    kept sorted, so iteration, repr and output are deterministic.

    >>> m = FrozenMap({"b": "2", "a": "1"})
    >>> list(m)
    ['a', 'b']
    >>> m == {"a": "1", "b": "2"}
    True
    >>> m["c"] = "3"
    Traceback (most recent call last):
    ...
    TypeError: a FrozenMap cannot be changed; make a new one (e.g. m.merged({...}))
    """

    __slots__ = ()

    def __new__(cls, data: Mapping[str, _V] | Iterable[tuple[str, _V]] = ()) -> FrozenMap[_V]:
        m = dict.__new__(cls)
        if data:
            items = data.items() if isinstance(data, Mapping) else data
            dict.update(m, sorted(items))
        return m

    _REFUSAL = "a FrozenMap cannot be changed; make a new one (e.g. m.merged({...}))"

    def __hash__(self) -> int:  # type: ignore[override]
        # Not cached: hashing a map is rare (sets of whole objects), a slot per map is not.
        return hash(tuple(self.items()))

    def __repr__(self) -> str:
        return f"FrozenMap({dict(self)!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenMap, (dict(self),))

    def to_dict(self) -> dict[str, _V]:
        """A fresh, mutable copy."""
        return dict(self)

    def merged(self, other: Mapping[str, _V]) -> FrozenMap[_V]:
        """A copy with ``other``'s entries added (``other`` wins)."""
        return FrozenMap({**self, **other})


_EMPTY: FrozenMap[Any] = FrozenMap()
_update = dict.update


def frozen_map(value: Mapping[str, _V] | None) -> FrozenMap[_V]:
    """Converter: any mapping (or None) to a :class:`FrozenMap`, reusing one as is."""
    if isinstance(value, FrozenMap):
        return value
    if not value:
        return _EMPTY
    return FrozenMap(value)


def frozen_sorted(data: Mapping[str, _V] | Iterable[tuple[str, _V]]) -> FrozenMap[_V]:
    """A :class:`FrozenMap` of ``data`` (a mapping or key-value pairs) without sorting it.

    For hot paths only: ``data``'s keys must already be in sorted order."""
    if not data:
        return _EMPTY
    m: FrozenMap[_V] = FrozenMap.__new__(FrozenMap)
    _update(m, data)
    return m


def _str_map(value: Mapping[str, str] | None) -> FrozenMap[str]:
    # A non-generic converter, so attrs' mypy plugin can type the __init__ argument.
    return frozen_map(value)


def _optional_str_map(value: Mapping[str, str] | None) -> FrozenMap[str] | None:
    return None if value is None else frozen_map(value)


def _strs(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen(order=True)
class ObjectRef:
    """Which object: kind, namespace (``""`` for cluster-scoped) and name.

    Refs order by (kind, namespace, name) as plain strings: the order of every output.
    """

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        if self.namespace:
            return f"{self.kind} {self.namespace}/{self.name}"
        return f"{self.kind} {self.name}"


@attrs.frozen
class ServicePort:
    """One port of a Service (``spec.ports[]``)."""

    port: int
    name: str = ""
    protocol: str = "TCP"
    # int or a named port; None when absent (the API server then uses ``port``).
    target_port: int | str | None = None
    node_port: int | None = None
    app_protocol: str | None = None

    @property
    def effective_target_port(self) -> int | str:
        """``targetPort`` as the API server defaults it."""
        return self.port if self.target_port is None else self.target_port


def _ports(value: Iterable[ServicePort]) -> tuple[ServicePort, ...]:
    return tuple(value)


@attrs.frozen
class Service:
    """A core/v1 Service."""

    namespace: str
    name: str
    labels: FrozenMap[str] = attrs.field(default=_EMPTY, converter=_str_map)
    annotations: FrozenMap[str] = attrs.field(default=_EMPTY, converter=_str_map)
    ports: tuple[ServicePort, ...] = attrs.field(default=(), converter=_ports)
    type: str = "ClusterIP"
    # "None" for a headless Service; None when not set.
    cluster_ip: str | None = None
    session_affinity: str | None = None
    selector: FrozenMap[str] | None = attrs.field(default=None, converter=_optional_str_map)
    external_name: str | None = None
    resource_version: str = ""
    uid: str = ""
    creation_timestamp: str | None = None

    kind: ClassVar[str] = "Service"

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef("Service", self.namespace, self.name)

    @property
    def headless(self) -> bool:
        return self.cluster_ip == "None"

    @property
    def effective_session_affinity(self) -> str:
        return self.session_affinity or "None"


@attrs.frozen
class EndpointAddress:
    """An address of an Endpoints subset."""

    ip: str
    hostname: str | None = None
    node_name: str | None = None
    target_ref: ObjectRef | None = None


@attrs.frozen
class EndpointPort:
    """A port of an Endpoints subset."""

    port: int
    name: str = ""
    protocol: str = "TCP"
    app_protocol: str | None = None


def _addresses(value: Iterable[EndpointAddress]) -> tuple[EndpointAddress, ...]:
    return tuple(value)


def _endpoint_ports(value: Iterable[EndpointPort]) -> tuple[EndpointPort, ...]:
    return tuple(value)


@attrs.frozen
class EndpointSubset:
    """``subsets[]`` of a core/v1 Endpoints."""

    addresses: tuple[EndpointAddress, ...] = attrs.field(default=(), converter=_addresses)
    not_ready_addresses: tuple[EndpointAddress, ...] = attrs.field(default=(), converter=_addresses)
    ports: tuple[EndpointPort, ...] = attrs.field(default=(), converter=_endpoint_ports)


def _subsets(value: Iterable[EndpointSubset]) -> tuple[EndpointSubset, ...]:
    return tuple(value)


@attrs.frozen
class Endpoints:
    """A core/v1 Endpoints (also what EndpointSlices of a Service are read as)."""

    namespace: str
    name: str
    labels: FrozenMap[str] = attrs.field(default=_EMPTY, converter=_str_map)
    annotations: FrozenMap[str] = attrs.field(default=_EMPTY, converter=_str_map)
    subsets: tuple[EndpointSubset, ...] = attrs.field(default=(), converter=_subsets)
    resource_version: str = ""
    uid: str = ""
    creation_timestamp: str | None = None

    kind: ClassVar[str] = "Endpoints"

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef("Endpoints", self.namespace, self.name)

    def ready_addresses(self) -> Iterator[EndpointAddress]:
        for subset in self.subsets:
            yield from subset.addresses

    @property
    def empty(self) -> bool:
        """No ready address in any subset (Linkerd's ``isEmptyEndpoints``)."""
        for subset in self.subsets:  # noqa: SIM110 (a loop: no generator per call)
            if subset.addresses:
                return False
        return True


@attrs.frozen
class Namespace:
    """A core/v1 Namespace."""

    name: str
    labels: FrozenMap[str] = attrs.field(default=_EMPTY, converter=_str_map)
    annotations: FrozenMap[str] = attrs.field(default=_EMPTY, converter=_str_map)
    resource_version: str = ""
    uid: str = ""
    creation_timestamp: str | None = None

    kind: ClassVar[str] = "Namespace"

    @property
    def namespace(self) -> str:
        return ""

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef("Namespace", "", self.name)


@attrs.frozen
class ConfigMap:
    """A core/v1 ConfigMap (read for Linkerd's identity trust roots)."""

    namespace: str
    name: str
    data: FrozenMap[str] = attrs.field(default=_EMPTY, converter=_str_map)
    labels: FrozenMap[str] = attrs.field(default=_EMPTY, converter=_str_map)
    annotations: FrozenMap[str] = attrs.field(default=_EMPTY, converter=_str_map)
    resource_version: str = ""

    kind: ClassVar[str] = "ConfigMap"

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef("ConfigMap", self.namespace, self.name)


@attrs.frozen
class ProbeSpec:
    """``Link.spec.probeSpec``: every field is a string in the CRD."""

    path: str | None = None
    port: str | None = None
    period: str | None = None
    timeout: str | None = None
    failure_threshold: str | None = None


def linkerd_selector(selector: Selector | None) -> Selector:
    # Linkerd: an absent selector, or one with neither matchLabels nor matchExpressions,
    # selects nothing (the fix for linkerd2 #11309), unlike Kubernetes.
    if selector is None or selector.is_everything():
        return Selector.nothing()
    return selector


@attrs.frozen
class Link:
    """A ``multicluster.linkerd.io`` Link (v1alpha2 or v1alpha3).

    Selectors are kept as given (None when absent); ``exports``, ``discovers`` and
    ``federates`` apply Linkerd's rule that an absent or empty selector selects nothing.
    """

    namespace: str
    name: str
    target_cluster_name: str
    target_cluster_domain: str = ""
    target_cluster_linkerd_namespace: str = ""
    cluster_credentials_secret: str = ""
    # Comma list, entries not trimmed (as Linkerd splits it).
    gateway_address: str = ""
    gateway_port: str = ""
    gateway_identity: str = ""
    probe_spec: ProbeSpec = ProbeSpec()
    selector: Selector | None = None
    remote_discovery_selector: Selector | None = None
    federated_service_selector: Selector | None = None
    excluded_annotations: tuple[str, ...] = attrs.field(default=(), converter=_strs)
    excluded_labels: tuple[str, ...] = attrs.field(default=(), converter=_strs)
    api_version: str = "multicluster.linkerd.io/v1alpha3"
    labels: FrozenMap[str] = attrs.field(default=_EMPTY, converter=_str_map)
    annotations: FrozenMap[str] = attrs.field(default=_EMPTY, converter=_str_map)
    resource_version: str = ""
    uid: str = ""
    creation_timestamp: str | None = None

    kind: ClassVar[str] = "Link"

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef("Link", self.namespace, self.name)

    @property
    def target(self) -> str:
        """The mirror suffix: ``spec.targetClusterName``."""
        return self.target_cluster_name

    @property
    def gateway_addresses(self) -> tuple[str, ...]:
        """``gatewayAddress`` split on ``,`` exactly as Linkerd does (no trimming)."""
        if not self.gateway_address:
            return ()
        return tuple(self.gateway_address.split(","))

    def exports(self, labels: Mapping[str, str]) -> bool:
        """Selected for a gateway-mode mirror by ``spec.selector``."""
        return linkerd_selector(self.selector).matches(labels)

    def discovers(self, labels: Mapping[str, str]) -> bool:
        """Selected for a remote-discovery mirror by ``spec.remoteDiscoverySelector``."""
        return linkerd_selector(self.remote_discovery_selector).matches(labels)

    def federates(self, labels: Mapping[str, str]) -> bool:
        """A federated member by ``spec.federatedServiceSelector``."""
        return linkerd_selector(self.federated_service_selector).matches(labels)


AnyObject: TypeAlias = Service | Endpoints | Namespace | Link | ConfigMap
_Key: TypeAlias = tuple[str, str]


class DuplicateObjectError(ValueError):
    """Two different objects with the same kind, namespace and name in one cluster."""

    def __init__(self, cluster: str, ref: ObjectRef) -> None:
        super().__init__(
            f"cluster {cluster!r} holds two different versions of {ref}; give each object once"
        )
        self.cluster = cluster
        self.ref = ref


_GONE: Any = object()  # a removed key, in a _Log


class _Table(_ReadOnlyDict[_K, _V]):
    """A :class:`ClusterState`'s table: a ``dict`` whose changing methods raise, so a
    state cannot change once made (reads are the dict's own C methods)."""

    __slots__ = ()
    _REFUSAL = "a ClusterState cannot be changed; make a new one (state.replace(...))"

    def __new__(cls, data: Mapping[_K, _V] | None = None) -> _Table[_K, _V]:
        t = dict.__new__(cls)
        if data:
            dict.update(t, data)
        return t

    def __hash__(self) -> int:  # type: ignore[override]
        # Order-free, as dict equality is; ClusterState caches its own hash.
        return hash(frozenset(self.items()))

    def __repr__(self) -> str:
        return f"{{{', '.join(f'{k!r}: {v!r}' for k, v in self.items())}}}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_Table, (dict(self),))


_NO_OBJECTS: _Table[Any, Any] = _Table()
#: A kind's table in a ClusterState, in field order.
_TABLE_OF = MappingProxyType(
    {"Namespace": 0, "Service": 1, "Endpoints": 2, "Link": 3, "ConfigMap": 4}
)


class _Log:
    """The changes made to a :class:`_Layered` base, shared by all its versions: each
    key's (version, value) in the order made. Only appended to by the newest version,
    so an older version, which reads entries up to its own, never sees it change."""

    __slots__ = ("changes", "head", "limit", "size")

    def __init__(self, base_size: int) -> None:
        self.changes: dict[Any, list[tuple[int, Any]]] = {}
        self.head = 0
        self.size = 0
        # Past this many entries the versions are folded into a new table: a copy per
        # base_size / 4 changes keeps both the copies and the log small.
        self.limit = max(64, base_size >> 2)


class _Layered(Mapping[_K, _V]):
    """A table made from another by a few changes, sharing its structure: a frozen base
    and the shared :class:`_Log` up to this version. What :meth:`ClusterState.replace`
    gives for a few changes to a large table (an incremental planner's step), instead
    of a copy; as immutable as :class:`_Table` and equal (and hashing equal) to one with
    the same items."""

    __slots__ = ("_base", "_flat", "_len", "_log", "_version")

    def __init__(self, base: _Table[_K, _V], log: _Log, version: int, length: int) -> None:
        self._base = base
        self._log = log
        self._version = version
        self._len = length
        self._flat: _Table[_K, _V] | None = None  # made on the first whole-table read

    def get(self, key: _K, default: Any = None) -> Any:
        changes = self._log.changes.get(key)
        if changes is not None:
            version = self._version
            for at, value in reversed(changes):
                if at <= version:
                    return default if value is _GONE else value
        return self._base.get(key, default)

    def __getitem__(self, key: _K) -> _V:
        value = self.get(key, _GONE)
        if value is _GONE:
            raise KeyError(key)
        return value  # type: ignore[no-any-return]

    def __contains__(self, key: object) -> bool:
        return self.get(key, _GONE) is not _GONE  # type: ignore[arg-type]

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[_K]:
        return iter(self.flat())

    def items(self) -> Any:
        return self.flat().items()

    def values(self) -> Any:
        return self.flat().values()

    def flat(self) -> _Table[_K, _V]:
        """The same items in one table: the base's order, then keys added since. Made
        once: this version never changes (later entries of the log are not its own), so
        iterating, comparing or hashing it again costs no copy."""
        if self._flat is not None:
            return self._flat
        merged = dict(self._base)
        version = self._version
        for key, changes in self._log.changes.items():
            for at, value in reversed(changes):
                if at <= version:
                    if value is _GONE:
                        merged.pop(key, None)
                    else:
                        merged[key] = value
                    break
        self._flat = table = _Table(merged)
        return table

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _Layered):
            other = other.flat()
        return self.flat() == other

    def __hash__(self) -> int:
        return hash(self.flat())

    def __repr__(self) -> str:
        return repr(self.flat())

    def __reduce__(self) -> tuple[Any, ...]:
        return (_Table, (dict(self.flat()),))


def _updated(table: Mapping[_K, _V], changed: Mapping[_K, Any]) -> Mapping[_K, _V]:
    """``table`` with ``changed`` applied (a value, or _GONE to remove the key): a
    :class:`_Layered` over it when the change is small against a large table."""
    if type(table) is _Layered:
        log = table._log
        if log.head == table._version and log.size < log.limit:
            # The newest version: each key's last entry (else the base) is its value.
            version = log.head = table._version + 1
            length = table._len
            changes = log.changes
            base = table._base
            for key, value in changed.items():
                entries = changes.get(key)
                if entries is None:
                    had = key in base
                    changes[key] = [(version, value)]
                else:
                    had = entries[-1][1] is not _GONE
                    entries.append((version, value))
                if value is _GONE:
                    length -= had
                elif not had:
                    length += 1
            log.size += len(changed)
            return _Layered(base, log, version, length)
        table = table.flat()  # an older version changed again, or a long log: settle
    assert type(table) is _Table
    if len(table) >= 64 and len(changed) * 8 <= len(table):
        return _updated(_Layered(table, _Log(len(table)), 0, len(table)), changed)
    out: _Table[_K, _V] = dict.__new__(_Table)
    dict.update(out, table)
    for key, value in changed.items():
        if value is _GONE:
            dict.pop(out, key, None)
        else:
            dict.__setitem__(out, key, value)
    return out if out else _NO_OBJECTS


def _frozen_table(value: Mapping[Any, Any]) -> Mapping[Any, Any]:
    t = type(value)
    if t is _Table or t is _Layered:
        return value
    if not value:
        return _NO_OBJECTS
    return _Table(value)


# Non-generic converters, so attrs' mypy plugin can type the __init__ arguments.
def _namespaces(value: Mapping[str, Namespace]) -> Mapping[str, Namespace]:
    return _frozen_table(value)


def _services(value: Mapping[_Key, Service]) -> Mapping[_Key, Service]:
    return _frozen_table(value)


def _endpoints(value: Mapping[_Key, Endpoints]) -> Mapping[_Key, Endpoints]:
    return _frozen_table(value)


def _links(value: Mapping[_Key, Link]) -> Mapping[_Key, Link]:
    return _frozen_table(value)


def _config_maps(value: Mapping[_Key, ConfigMap]) -> Mapping[_Key, ConfigMap]:
    return _frozen_table(value)


@attrs.frozen
class ClusterState:
    """A snapshot of one cluster: what ``kubectl get`` would show, indexed.

    Build it with :meth:`build` (or :func:`meshmirror.formats.manifest.cluster_state` from
    kubectl dicts). Lookups are by namespace and name. A state is immutable and hashable:
    the mappings given are copied once into read-only tables (changing one raises
    ``TypeError``), and :meth:`replace` makes a changed copy that shares what it keeps.
    """

    name: str
    namespaces: Mapping[str, Namespace] = attrs.field(default=_NO_OBJECTS, converter=_namespaces)
    services: Mapping[_Key, Service] = attrs.field(default=_NO_OBJECTS, converter=_services)
    endpoints: Mapping[_Key, Endpoints] = attrs.field(default=_NO_OBJECTS, converter=_endpoints)
    links: Mapping[_Key, Link] = attrs.field(default=_NO_OBJECTS, converter=_links)
    config_maps: Mapping[_Key, ConfigMap] = attrs.field(default=_NO_OBJECTS, converter=_config_maps)
    _hash: int | None = attrs.field(default=None, init=False, eq=False, repr=False)

    def __hash__(self) -> int:
        # Computed once (a pass over every object), on first use.
        h = self._hash
        if h is None:
            h = hash(
                (
                    self.name,
                    self.namespaces,
                    self.services,
                    self.endpoints,
                    self.links,
                    self.config_maps,
                )
            )
            object.__setattr__(self, "_hash", h)
        return h

    def __reduce__(self) -> tuple[Any, ...]:
        # Without the cached hash: str hashes differ between processes.
        return (
            ClusterState,
            (
                self.name,
                self.namespaces,
                self.services,
                self.endpoints,
                self.links,
                self.config_maps,
            ),
        )

    @classmethod
    def _of(
        cls,
        name: str,
        namespaces: Mapping[str, Namespace],
        services: Mapping[_Key, Service],
        endpoints: Mapping[_Key, Endpoints],
        links: Mapping[_Key, Link],
        config_maps: Mapping[_Key, ConfigMap],
    ) -> ClusterState:
        """A state of tables that are frozen already (no converter to run): the step
        of :meth:`replace`, which every event of an incremental planner pays for."""
        state = object.__new__(cls)
        put = object.__setattr__
        put(state, "name", name)
        put(state, "namespaces", namespaces)
        put(state, "services", services)
        put(state, "endpoints", endpoints)
        put(state, "links", links)
        put(state, "config_maps", config_maps)
        put(state, "_hash", None)
        return state

    @classmethod
    def build(cls, name: str, objects: Iterable[AnyObject]) -> ClusterState:
        """Index ``objects``; identical repeats are fine, conflicting ones raise
        :class:`DuplicateObjectError`.

        The error names the first object that clashed with an earlier one, of the first
        kind with a clash in the order Namespace, Service, Endpoints, Link, ConfigMap.
        """
        namespaces: _Table[str, Namespace] = _Table()
        services: _Table[_Key, Service] = _Table()
        endpoints: _Table[_Key, Endpoints] = _Table()
        links: _Table[_Key, Link] = _Table()
        config_maps: _Table[_Key, ConfigMap] = _Table()
        tables: dict[str, _Table[Any, Any]] = {
            "Namespace": namespaces,
            "Service": services,
            "Endpoints": endpoints,
            "Link": links,
            "ConfigMap": config_maps,
        }
        clashes: dict[str, AnyObject] = {}
        # Filling the new tables through dict's own methods, before anyone holds them.
        # One pass, one dict operation for most objects: the loader builds every
        # cluster of a dump through here.
        setdefault = dict.setdefault
        put = dict.__setitem__
        for obj in objects:
            kind = obj.kind
            at = obj.name if kind == "Namespace" else (obj.namespace, obj.name)
            table = tables[kind]
            seen = setdefault(table, at, obj)
            if seen is not obj:
                if seen != obj and kind not in clashes:
                    clashes[kind] = obj
                put(table, at, obj)
        for kind in tables:
            clash = clashes.get(kind)
            if clash is not None:
                raise DuplicateObjectError(name, clash.ref)
        return cls(
            name=name,
            namespaces=namespaces,
            services=services,
            endpoints=endpoints,
            links=links,
            config_maps=config_maps,
        )

    def has_namespace(self, name: str) -> bool:
        return name in self.namespaces

    def service(self, namespace: str, name: str) -> Service | None:
        return self.services.get((namespace, name))

    def endpoints_of(self, namespace: str, name: str) -> Endpoints | None:
        return self.endpoints.get((namespace, name))

    def link(self, namespace: str, name: str) -> Link | None:
        return self.links.get((namespace, name))

    def config_map(self, namespace: str, name: str) -> ConfigMap | None:
        return self.config_maps.get((namespace, name))

    def get(self, ref: ObjectRef | str, namespace: str = "", name: str = "") -> AnyObject | None:
        """The object a ref (or kind, namespace, name) names, or None."""
        if not isinstance(ref, ObjectRef):
            ref = ObjectRef(ref, namespace, name)
        key = (ref.namespace, ref.name)
        kind = ref.kind
        if kind == "Service":
            return self.services.get(key)
        if kind == "Endpoints":
            return self.endpoints.get(key)
        if kind == "Namespace":
            return self.namespaces.get(ref.name)
        if kind == "Link":
            return self.links.get(key)
        if kind == "ConfigMap":
            return self.config_maps.get(key)
        return None

    def objects(self) -> list[AnyObject]:
        """Every object, sorted by (kind, namespace, name)."""
        everything: list[AnyObject] = [
            *self.namespaces.values(),
            *self.services.values(),
            *self.endpoints.values(),
            *self.links.values(),
            *self.config_maps.values(),
        ]
        everything.sort(key=lambda o: (o.kind, o.ref.namespace, o.name))
        return everything

    def sorted_links(self) -> list[Link]:
        """The Links, sorted by (namespace, name)."""
        return [self.links[k] for k in sorted(self.links)]

    def __repr__(self) -> str:
        def n(count: int, what: str) -> str:
            return f"{count} {what}{'' if count == 1 else 's'}"

        return (
            f"<ClusterState {self.name}: {n(len(self.namespaces), 'namespace')}, "
            f"{n(len(self.services), 'Service')}, {len(self.endpoints)} Endpoints, "
            f"{n(len(self.links), 'Link')}, {n(len(self.config_maps), 'ConfigMap')}>"
        )

    def _repr_html_(self) -> str:
        """The one-line summary, objects per namespace, and the Links."""
        per_ns: dict[str, list[int]] = {ns: [0, 0] for ns in self.namespaces}
        for ns, _ in self.services:
            per_ns.setdefault(ns, [0, 0])[0] += 1
        for ns, _ in self.endpoints:
            per_ns.setdefault(ns, [0, 0])[1] += 1
        rows = [["namespace", "Services", "Endpoints"]]
        for ns in sorted(per_ns):
            known = "" if ns in self.namespaces else " (no Namespace object)"
            rows.append([ns + known, str(per_ns[ns][0]), str(per_ns[ns][1])])
        parts = [f"<p><strong>{html.escape(repr(self))}</strong></p>", html_table(rows)]
        if self.links:
            links = [["Link", "target", "gateway"]]
            for link in self.sorted_links():
                gateway = f"{link.gateway_address}:{link.gateway_port}"
                links.append(
                    [
                        f"{link.namespace}/{link.name}",
                        link.target_cluster_name,
                        gateway if link.gateway_address else "none",
                    ]
                )
            parts.append(html_table(links))
        return "".join(parts)

    def replace(self, *objects: AnyObject, remove: Iterable[ObjectRef] = ()) -> ClusterState:
        """A new state with ``objects`` put in (replacing same-named ones) and
        ``remove`` taken out. Tables it does not change are shared, and a few changes to
        a large table are layered over it rather than copying it (an event's cost)."""
        # Per table (namespaces, services, endpoints, links, config maps): its changes.
        changed: list[dict[Any, Any] | None] = [None, None, None, None, None]
        for ref in remove:
            i = _TABLE_OF[ref.kind]
            key = ref.name if i == 0 else (ref.namespace, ref.name)
            c = changed[i]
            if c is None:
                c = changed[i] = {}
            c[key] = _GONE
        for obj in objects:
            i = _TABLE_OF[obj.kind]
            key = obj.name if i == 0 else (obj.namespace, obj.name)
            c = changed[i]
            if c is None:
                c = changed[i] = {}
            c[key] = obj
        ns, svc, eps, links, cms = changed
        if ns is None and svc is None and eps is None and links is None and cms is None:
            return self
        return ClusterState._of(
            self.name,
            self.namespaces if ns is None else _updated(self.namespaces, ns),
            self.services if svc is None else _updated(self.services, svc),
            self.endpoints if eps is None else _updated(self.endpoints, eps),
            self.links if links is None else _updated(self.links, links),
            self.config_maps if cms is None else _updated(self.config_maps, cms),
        )


class ArgumentError(TypeError, ValueError):
    """A library function called with an argument of the wrong type or shape.

    ``argument`` names the parameter, ``value`` is what was given, and the message says
    what is expected."""

    def __init__(self, argument: str, value: object, expected: str) -> None:
        shown = repr(value)
        if len(shown) > 200:
            shown = shown[:200] + "..."
        super().__init__(f"{argument} must be {expected}, not {type(value).__name__} {shown}")
        self.argument = argument
        self.value = value


def check_states(source: object, remotes: object) -> None:
    """Raise :class:`ArgumentError` unless ``source`` is a :class:`ClusterState` and
    ``remotes`` maps each cluster's name to its :class:`ClusterState` (the planner's
    arguments)."""
    if not isinstance(source, ClusterState):
        raise ArgumentError("source", source, "a ClusterState (see manifest.cluster_state)")
    if not isinstance(remotes, Mapping):
        raise ArgumentError(
            "remotes",
            remotes,
            "a mapping of each Link's targetClusterName to its ClusterState, e.g. "
            "{east.name: east}",
        )
    for key, state in remotes.items():
        if not isinstance(state, ClusterState):
            raise ArgumentError(f"remotes[{key!r}]", state, "a ClusterState")
        if key != state.name:
            raise ArgumentError(
                f"remotes[{key!r}]",
                state,
                f"the state of cluster {key!r}, but it holds cluster {state.name!r}; key "
                "each state by its own name ({state.name: state})",
            )
