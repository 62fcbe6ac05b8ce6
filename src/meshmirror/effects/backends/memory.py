"""An in-memory Kubernetes API: :class:`FakeCluster`, a test double for :class:`Backend`.

It stores the kinds in :data:`~meshmirror.effects.backends.base.KINDS` as kubectl-style dicts and
behaves like an API server where the reconciler can tell: one cluster-wide
``resourceVersion`` counter (bumped on every write, only on writes), 409 on a stale one,
410 for a watch from a version older than the retained history, server-assigned fields
(``uid``, ``creationTimestamp``, a Service's ``clusterIP``) and defaults (port
``protocol``/``targetPort``, ``type``, ``sessionAffinity``, ...). Faults are injected only
when a seed or :class:`Faults` are given, from the cluster's own ``random.Random``.

Two kinds of caller. The *user* (a test, a demo) calls :meth:`~FakeCluster.apply`,
:meth:`~FakeCluster.remove`, :meth:`~FakeCluster.get`, :meth:`~FakeCluster.dump` and
``delete(kind, namespace, name)`` without preconditions (the contract's
``east.delete(kind, namespace, name)``): never faulty, never blocked, never logged. The
*reconciler* calls the ``Backend`` methods ``list``, ``watch``, ``create``, ``update`` and
``delete`` with a ``resource_version=`` or ``uid=`` precondition: these are counted,
logged in :attr:`~FakeCluster.writes`, subject to faults, and fail with
:class:`Unreachable` after ``set_reachable(False)``.

>>> from meshmirror.effects.backends.memory import FakeCluster
>>> east = FakeCluster.from_manifests("east", [
...     {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
...     {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"},
...      "spec": {"ports": [{"name": "http", "port": 80}]}},
... ])
>>> web = east.get("Service", "shop", "web")
>>> web["spec"]["clusterIP"], web["spec"]["ports"], web["metadata"]["resourceVersion"]
('10.96.0.1', [{'name': 'http', 'port': 80, 'protocol': 'TCP', 'targetPort': 80}], '2')
>>> listed = east.list("Service", "shop")
>>> [item["metadata"]["name"] for item in listed.items], listed.resource_version
(['web'], '2')
>>> web["spec"]["ports"][0]["port"] = 8080
>>> stored = east.update(web)
>>> stored["metadata"]["resourceVersion"], east.writes
('3', [('update', 'Service', 'shop', 'web')])
>>> [(e.type, e.object["spec"]["ports"][0]["port"]) for e in east.watch("Service", "2")]
[('MODIFIED', 8080)]
>>> east.set_reachable(False)
>>> east.list("Service")
Traceback (most recent call last):
...
meshmirror.effects.backends.base.Unreachable: cluster 'east': unreachable (set_reachable(False))
>>> east.delete("Service", "shop", "web", resource_version="3")  # the Backend call
Traceback (most recent call last):
...
meshmirror.effects.backends.base.Unreachable: cluster 'east': unreachable (set_reachable(False))
>>> east.delete("Service", "shop", "web")  # users are never blocked
>>> [(d["kind"], d["metadata"]["name"]) for d in east.dump()]
[('Namespace', 'shop')]
"""

from __future__ import annotations

import base64
import copy
import datetime
import ipaddress
import threading
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from random import Random
from typing import Any, Literal, TypeAlias

import attrs
from typing_extensions import Self

from meshmirror.effects.backends.base import (
    KINDS,
    AlreadyExists,
    BackendError,
    Gone,
    ListResult,
    Manifest,
    NotFound,
    ServerError,
    Timeout,
    Unreachable,
    WatchEvent,
    WriteConflict,
)

__all__ = ["DEFAULT_FAULTS", "FakeCluster", "Faults", "Invalid"]

_Key: TypeAlias = tuple[str, str, str]  # (kind, namespace or "", name)
_Manifests: TypeAlias = list[Manifest]
_WriteRecord: TypeAlias = tuple[str, str, str, str]  # (verb, kind, namespace or "", name)
_EventType: TypeAlias = Literal["ADDED", "MODIFIED", "DELETED"]

_API_VERSIONS = {
    "Namespace": "v1",
    "Service": "v1",
    "Endpoints": "v1",
    "EndpointSlice": "discovery.k8s.io/v1",
    "Link": "multicluster.linkerd.io/v1alpha3",
    "Secret": "v1",
    "ConfigMap": "v1",
}
_CLUSTER_SCOPED = frozenset({"Namespace"})
_SERVICE_NET = ipaddress.IPv4Network("10.96.0.0/12")
_VERBS = ("list", "watch", "create", "update", "delete")


class Invalid(BackendError, ValueError):
    """422: the object is malformed (no name, a namespaced kind without a namespace, ...)."""

    status = 422
    retryable = False


def _probability(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"Faults.{attribute.name} must be in [0, 1], not {value!r}")


@attrs.frozen(kw_only=True)
class Faults:
    """Per-call fault probabilities, each in [0, 1].

    ``unreachable`` and ``server_error`` apply to every Backend call, ``timeout`` too (a
    write may time out before or after taking effect), ``conflict`` to writes, ``gone`` and
    ``drop_watch`` (the watch ends early, silently) to watches.
    """

    conflict: float = attrs.field(default=0.0, validator=_probability)
    server_error: float = attrs.field(default=0.0, validator=_probability)
    timeout: float = attrs.field(default=0.0, validator=_probability)
    drop_watch: float = attrs.field(default=0.0, validator=_probability)
    gone: float = attrs.field(default=0.0, validator=_probability)
    unreachable: float = attrs.field(default=0.0, validator=_probability)


#: What ``FakeCluster(seed=...)`` injects when no :class:`Faults` are given.
DEFAULT_FAULTS = Faults(
    conflict=0.05, server_error=0.05, timeout=0.05, drop_watch=0.1, gone=0.05, unreachable=0.05
)


def _copy(value: Any) -> Any:
    """Deep copy of a JSON-like value (fast path for dicts, lists and scalars)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return copy.deepcopy(value)


def _copy_manifest(obj: Manifest) -> Manifest:
    result: Manifest = _copy(obj)
    return result


def _expand(docs: Iterable[Any]) -> Iterator[Manifest]:
    """Yield the objects in ``docs``, expanding ``kind: List`` (and ``ServiceList``...)."""
    for doc in docs:
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise TypeError(f"a manifest must be a mapping, not {type(doc).__name__}")
        kind = doc.get("kind")
        if isinstance(kind, str) and kind.endswith("List") and isinstance(doc.get("items"), list):
            item_kind = kind[: -len("List")]
            items = doc["items"]
            if item_kind:  # a typed list (ServiceList) omits each item's kind
                items = [{"kind": item_kind, **i} if isinstance(i, dict) else i for i in items]
            yield from _expand(items)
        else:
            yield doc


def _timestamp(seconds: float) -> str:
    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeCluster:
    """One in-memory cluster: a :class:`~.base.Backend` and a test double.

    ``clock`` gives ``creationTimestamp`` (seconds since the epoch; default: always 0.0).
    ``faults``/``seed``: no faults unless one is given; a seed alone means
    :data:`DEFAULT_FAULTS`, faults alone seed 0. ``history`` is how many watch events are
    kept; a watch from before them raises :class:`Gone`. Thread-safe (one lock).

    Public attributes: ``writes`` lists every successful Backend write as (verb, kind,
    namespace or ``""``, name), including one whose response timed out; ``requests``
    counts Backend calls per verb, failed ones included. :meth:`reset_counters` clears both.
    """

    def __init__(
        self,
        name: str,
        *,
        clock: Callable[[], float] | None = None,
        faults: Faults | None = None,
        seed: int | None = None,
        history: int = 1000,
    ) -> None:
        if history < 0:
            raise ValueError(f"history must be >= 0, not {history}")
        self._name = name
        self._clock: Callable[[], float] = clock if clock is not None else (lambda: 0.0)
        self._random = Random(seed if seed is not None else 0)
        if faults is None and seed is not None:
            faults = DEFAULT_FAULTS
        self._faults = faults
        self._history = history
        self._reachable = True
        self._lock = threading.RLock()
        self._objects: dict[_Key, Manifest] = {}  # stored dicts are never mutated in place
        self._events: deque[tuple[int, _Key, WatchEvent]] = deque()
        self._evicted_rv = 0  # the newest resourceVersion no longer in the history
        self._rv = 0
        self._uids = 0
        self._used_uids: set[str] = set()
        self._ips = 0
        self._used_ips: set[str] = set()
        self.writes: list[_WriteRecord] = []
        self.requests: Counter[str] = Counter(dict.fromkeys(_VERBS, 0))

    @classmethod
    def from_manifests(
        cls,
        name: str,
        docs: Iterable[Any],
        *,
        clock: Callable[[], float] | None = None,
        faults: Faults | None = None,
        seed: int | None = None,
        history: int = 1000,
    ) -> Self:
        """A cluster holding ``docs`` (as :meth:`apply` takes them)."""
        cluster = cls(name, clock=clock, faults=faults, seed=seed, history=history)
        cluster.apply(docs)
        return cluster

    # -- user API: never faulty, never blocked -------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def resource_version(self) -> str:
        """The current cluster-wide resourceVersion (what a list would return)."""
        return str(self._rv)

    def apply(self, docs: Iterable[Any]) -> None:
        """Create or replace each object, as ``kubectl replace`` (or ``create``) would.

        ``kind: List`` documents are expanded and kinds outside ``KINDS`` ignored;
        Namespaces are written first. Given server fields (uid, creationTimestamp,
        clusterIP) are kept on create, so a :meth:`dump` loads back as it was; on replace
        the existing object's are kept and ``resourceVersion`` is ignored. Raises
        :class:`NotFound` for a missing namespace and :class:`Invalid` for a malformed
        object; objects before the failing one stay written.
        """
        wanted = [d for d in _expand(docs) if d.get("kind") in KINDS]
        wanted.sort(key=lambda d: d["kind"] != "Namespace")
        with self._lock:
            for doc in wanted:
                key = self._check(doc)
                if key in self._objects:
                    self._replace(key, doc)
                else:
                    self._create(key, doc, keep_given=True)

    def remove(self, kind: str, namespace: str | None, name: str) -> None:
        """Delete as a user would (a Namespace with everything in it); NotFound if absent."""
        with self._lock:
            self._delete(self._key(kind, namespace, name), None, None)

    def get(self, kind: str, namespace: str | None, name: str) -> Manifest | None:
        """A copy of the stored object, or None."""
        with self._lock:
            obj = self._objects.get(self._key(kind, namespace, name))
            return None if obj is None else _copy_manifest(obj)

    def dump(self) -> _Manifests:
        """Every object, server fields included, sorted by (kind, namespace, name)."""
        with self._lock:
            return [_copy_manifest(self._objects[key]) for key in sorted(self._objects)]

    def dump_list(self) -> Manifest:
        """:meth:`dump` as one ``kind: List`` document (valid ``meshmirror plan`` input)."""
        return {"apiVersion": "v1", "kind": "List", "items": self.dump()}

    def set_reachable(self, flag: bool) -> None:
        """When False every Backend call raises :class:`Unreachable`; users are unaffected."""
        self._reachable = flag

    @property
    def reachable(self) -> bool:
        return self._reachable

    def set_faults(self, faults: Faults | None) -> None:
        """Change the injected faults (None: none); the random sequence continues."""
        self._faults = faults

    def reset_counters(self) -> None:
        """Clear :attr:`writes` and :attr:`requests`."""
        self.writes.clear()
        self.requests = Counter(dict.fromkeys(_VERBS, 0))

    # -- the Backend Protocol: counted, faulty, gated by reachability ---------------------

    def list(self, kind: str, namespace: str | None = None) -> ListResult:
        with self._lock:
            self._gate("list", write=False)
            self._known(kind)
            items = [
                _copy_manifest(obj)
                for key, obj in sorted(self._objects.items())
                if self._selected(key, kind, namespace)
            ]
            return ListResult(items=tuple(items), resource_version=str(self._rv))

    def watch(
        self, kind: str, resource_version: str, namespace: str | None = None
    ) -> Iterator[WatchEvent]:
        """The recorded events after ``resource_version`` up to now (checked eagerly)."""
        with self._lock:
            self._gate("watch", write=False)
            self._known(kind)
            faults = self._faults
            if faults is not None and self._roll(faults.gone):
                raise Gone(self._name, f"watch {kind} from {resource_version}: injected 410")
            try:
                since = int(resource_version or "0")
            except ValueError:
                raise Gone(self._name, f"invalid resourceVersion {resource_version!r}") from None
            if since < self._evicted_rv:
                raise Gone(
                    self._name,
                    f"too old resource version: {since} ({self._evicted_rv + 1})",
                )
            # Only the newest events can be after ``since``: walk back to it, no further.
            newer: list[tuple[_Key, WatchEvent]] = []
            for rv, key, event in reversed(self._events):
                if rv <= since:
                    break
                newer.append((key, event))
            events = [
                WatchEvent(type=event.type, object=_copy_manifest(event.object))
                for key, event in reversed(newer)
                if self._selected(key, kind, namespace)
            ]
            if events and faults is not None and self._roll(faults.drop_watch):
                events = events[: self._random.randrange(len(events))]
        return iter(events)

    def create(self, manifest: Manifest) -> Manifest:
        with self._lock:
            after = self._gate("create", write=True)
            key = self._check(manifest)
            if key in self._objects:
                raise AlreadyExists(self._name, f"{self._describe(key)} already exists")
            stored = self._create(key, manifest, keep_given=False)
            self._written("create", key, after)
            return _copy_manifest(stored)

    def update(self, manifest: Manifest) -> Manifest:
        with self._lock:
            after = self._gate("update", write=True)
            key = self._check(manifest)
            current = self._objects.get(key)
            if current is None:
                raise NotFound(self._name, f"{self._describe(key)} not found")
            meta = manifest["metadata"]
            self._precondition(key, current, meta.get("resourceVersion"), meta.get("uid"))
            stored = self._replace(key, manifest)
            self._written("update", key, after)
            return _copy_manifest(stored)

    def update_status(self, manifest: Manifest) -> Manifest:
        """Replace a Link's ``status`` subresource: only the status changes (the spec
        and metadata stay as stored); ``metadata.resourceVersion`` must be current.
        Logged in :attr:`writes` as ``update_status``."""
        with self._lock:
            after = self._gate("update_status", write=True)
            key = self._check(manifest)
            if key[0] != "Link":
                raise Invalid(self._name, f"{key[0]} has no status subresource here")
            current = self._objects.get(key)
            if current is None:
                raise NotFound(self._name, f"{self._describe(key)} not found")
            meta = manifest["metadata"]
            self._precondition(key, current, meta.get("resourceVersion"), meta.get("uid"))
            obj = _copy_manifest(current)
            obj["status"] = _copy(manifest.get("status") or {})
            stored = self._store(key, obj, "MODIFIED")
            self._written("update_status", key, after)
            return _copy_manifest(stored)

    def delete(
        self,
        kind: str,
        namespace: str,
        name: str,
        *,
        resource_version: str | None = None,
        uid: str | None = None,
    ) -> None:
        """Delete ``kind`` ``namespace``/``name``; :class:`NotFound` when absent.

        Without ``resource_version``/``uid`` this is the *user's* delete (as
        :meth:`remove`; the contract's ``east.delete(kind, namespace, name)``): not
        counted, not logged, never faulty, never blocked by :meth:`set_reachable`. With a
        precondition it is the ``Backend`` call a reconciler makes: counted in
        :attr:`requests`, logged in :attr:`writes`, gated by reachability and faults, and
        :class:`WriteConflict` when the object no longer has that resourceVersion/uid.
        """
        if resource_version is None and uid is None:
            self.remove(kind, namespace, name)
            return
        with self._lock:
            after = self._gate("delete", write=True)
            key = self._key(kind, namespace, name)
            self._delete(key, resource_version, uid)
            self._written("delete", key, after)

    # -- internals ------------------------------------------------------------------------

    def _gate(self, verb: str, *, write: bool) -> bool:
        """Count the call, apply reachability and faults. True: time out after the write."""
        self.requests[verb] += 1
        if not self._reachable:
            raise Unreachable(self._name, "unreachable (set_reachable(False))")
        faults = self._faults
        if faults is None:
            return False
        if self._roll(faults.unreachable):
            raise Unreachable(self._name, f"{verb}: injected connection failure")
        if self._roll(faults.server_error):
            raise ServerError(self._name, f"{verb}: injected internal error")
        if write and self._roll(faults.conflict):
            raise WriteConflict(self._name, f"{verb}: injected conflict")
        if self._roll(faults.timeout):
            if write and self._random.random() < 0.5:
                return True
            raise Timeout(self._name, f"{verb}: injected timeout")
        return False

    def _roll(self, probability: float) -> bool:
        return probability > 0.0 and self._random.random() < probability

    def _written(self, verb: str, key: _Key, after: bool) -> None:
        self.writes.append((verb, *key))
        if after:
            raise Timeout(self._name, f"{verb}: injected timeout (the write took effect)")

    def _known(self, kind: str) -> None:
        if kind not in KINDS:
            raise NotFound(self._name, f"the server does not serve kind {kind!r}")

    def _key(self, kind: str, namespace: str | None, name: str) -> _Key:
        self._known(kind)
        return (kind, "" if kind in _CLUSTER_SCOPED else namespace or "", name)

    @staticmethod
    def _selected(key: _Key, kind: str, namespace: str | None) -> bool:
        if key[0] != kind:
            return False
        return namespace is None or kind in _CLUSTER_SCOPED or key[1] == namespace

    @staticmethod
    def _describe(key: _Key) -> str:
        kind, namespace, name = key
        return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"

    def _check(self, manifest: Manifest) -> _Key:
        """Validate a manifest to be written; its key."""
        kind = manifest.get("kind")
        if not isinstance(kind, str):
            raise Invalid(self._name, "kind is required")
        self._known(kind)
        meta = manifest.get("metadata")
        name = meta.get("name") if isinstance(meta, dict) else None
        if not isinstance(name, str) or not name:
            raise Invalid(self._name, f"{kind}: metadata.name is required")
        if kind in _CLUSTER_SCOPED:
            return (kind, "", name)
        assert isinstance(meta, dict)
        namespace = meta.get("namespace")
        if not isinstance(namespace, str) or not namespace:
            raise Invalid(self._name, f"{kind} {name}: metadata.namespace is required")
        if ("Namespace", "", namespace) not in self._objects:
            raise NotFound(self._name, f"namespace {namespace!r} not found")
        return (kind, namespace, name)

    def _precondition(self, key: _Key, current: Manifest, resource_version: Any, uid: Any) -> None:
        meta = current["metadata"]
        if resource_version and resource_version != meta["resourceVersion"]:
            raise WriteConflict(
                self._name,
                f"{self._describe(key)}: the object has been modified (resourceVersion "
                f"{resource_version}, now {meta['resourceVersion']})",
            )
        if uid and uid != meta["uid"]:
            raise WriteConflict(self._name, f"{self._describe(key)}: uid {uid} != {meta['uid']}")

    def _create(self, key: _Key, doc: Manifest, *, keep_given: bool) -> Manifest:
        obj = self._normalize(doc)
        meta = obj["metadata"]
        uid = meta.get("uid") if keep_given else None
        if not isinstance(uid, str) or not uid or uid in self._used_uids:
            uid = self._new_uid()
        self._used_uids.add(uid)
        meta["uid"] = uid
        given = meta.get("creationTimestamp") if keep_given else None
        if isinstance(given, datetime.datetime):  # YAML reads an unquoted timestamp so
            if given.tzinfo is None:
                given = given.replace(tzinfo=datetime.timezone.utc)
            meta["creationTimestamp"] = _timestamp(given.timestamp())
        elif not isinstance(given, str) or not given:
            meta["creationTimestamp"] = _timestamp(self._clock())
        if key[0] == "Service":
            self._allocate_ip(obj["spec"])
        return self._store(key, obj, "ADDED")

    def _replace(self, key: _Key, doc: Manifest) -> Manifest:
        current = self._objects[key]
        obj = self._normalize(doc)
        for field in ("uid", "creationTimestamp"):
            obj["metadata"][field] = current["metadata"][field]
        if key[0] == "Link":  # the status subresource: the main resource keeps it
            obj.pop("status", None)
            if "status" in current:
                obj["status"] = _copy(current["status"])
        if key[0] == "Service":
            old, new = current["spec"], obj["spec"]
            for field in ("clusterIP", "clusterIPs"):
                new.pop(field, None)
                if field in old and new["type"] != "ExternalName":
                    new[field] = _copy(old[field])
            if new["type"] == "ExternalName":
                self._used_ips.discard(old.get("clusterIP"))
            self._allocate_ip(new)  # e.g. ExternalName -> ClusterIP
        return self._store(key, obj, "MODIFIED")

    def _delete(self, key: _Key, resource_version: str | None, uid: str | None) -> None:
        current = self._objects.get(key)
        if current is None:
            raise NotFound(self._name, f"{self._describe(key)} not found")
        self._precondition(key, current, resource_version, uid)
        if key[0] == "Namespace":  # the namespace controller, done at once
            for inner in sorted(k for k in self._objects if k[1] == key[2]):
                self._delete(inner, None, None)
        del self._objects[key]
        ip = current.get("spec", {}).get("clusterIP") if key[0] == "Service" else None
        self._used_ips.discard(ip)
        self._rv += 1
        last = _copy_manifest(current)
        last["metadata"]["resourceVersion"] = str(self._rv)
        self._record(key, WatchEvent(type="DELETED", object=last))

    def _store(self, key: _Key, obj: Manifest, event: _EventType) -> Manifest:
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        self._objects[key] = obj
        self._record(key, WatchEvent(type=event, object=obj))
        return obj

    def _record(self, key: _Key, event: WatchEvent) -> None:
        self._events.append((self._rv, key, event))
        while len(self._events) > self._history:
            self._evicted_rv = self._events.popleft()[0]

    def _new_uid(self) -> str:
        while True:
            self._uids += 1
            uid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"meshmirror:{self._name}/{self._uids}"))
            if uid not in self._used_uids:
                return uid

    def _allocate_ip(self, spec: dict[str, Any]) -> None:
        """Fill in ``clusterIP``/``clusterIPs`` as the API server would."""
        if spec.get("type") == "ExternalName":
            return
        ip = spec.get("clusterIP")
        if not ip:
            size = _SERVICE_NET.num_addresses - 2
            while True:
                ip = str(_SERVICE_NET.network_address + 1 + self._ips % size)
                self._ips += 1
                if ip not in self._used_ips:
                    break
            spec["clusterIP"] = ip
        if ip != "None":
            self._used_ips.add(ip)
        spec.setdefault("clusterIPs", [ip])
        if ip != "None":
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")

    def _normalize(self, doc: Manifest) -> Manifest:
        """A private copy of ``doc`` with the API server's defaults (no uid/IP yet)."""
        obj = _copy_manifest(doc)
        kind = obj["kind"]
        obj.setdefault("apiVersion", _API_VERSIONS[kind])
        meta = obj["metadata"]
        meta.pop("resourceVersion", None)
        if kind == "Namespace":
            meta.pop("namespace", None)
            labels = meta["labels"] = dict(meta.get("labels") or {})
            labels["kubernetes.io/metadata.name"] = meta["name"]
        elif kind == "Service":
            spec = obj["spec"] = obj.get("spec") or {}
            spec.setdefault("type", "ClusterIP")
            spec.setdefault("sessionAffinity", "None")
            if spec["type"] != "ExternalName":
                spec.setdefault("internalTrafficPolicy", "Cluster")
            for port in spec.get("ports") or []:
                port.setdefault("protocol", "TCP")
                port.setdefault("targetPort", port.get("port"))
        elif kind == "Endpoints":
            for subset in obj.get("subsets") or []:
                for port in subset.get("ports") or []:
                    port.setdefault("protocol", "TCP")
        elif kind == "EndpointSlice":
            for port in obj.get("ports") or []:
                port.setdefault("protocol", "TCP")
        elif kind == "Secret":
            obj.setdefault("type", "Opaque")
            string_data = obj.pop("stringData", None) or {}
            data = obj.setdefault("data", {})
            for k, v in string_data.items():
                data[k] = base64.b64encode(str(v).encode()).decode()
        return obj
