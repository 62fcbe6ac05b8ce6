"""Informers: one cache per (cluster, kind), fed by one list and then a watch.

An :class:`Informer` lists its kind once (the backend pages through the collection; the
result is every item and the collection's resourceVersion), then watches from that
resourceVersion. Each watch resumes from the last resourceVersion it saw (an event's or
a BOOKMARK's: bookmarks move it on, but none is ever waited for). A 410 (:class:`Gone`)
means the history is gone: it lists again and reconciles the cache with the new list,
objects missing from it becoming deletes. Any other error is raised to the caller, and
the cache stays as it was (the last known state of that cluster).

The cache holds model values (:mod:`meshmirror.values.model`, read with
:func:`meshmirror.formats.manifest.from_manifest`), never dicts; every change comes out as a
:class:`Delta` (old and new value of one key). A :class:`RemoteCache` joins a linked
cluster's Services, Endpoints and (where served) EndpointSlices into the Services and
Endpoints the planner reads: a Service without an Endpoints object has its Endpoints
read from its slices.

>>> from meshmirror.effects.backends.memory import FakeCluster
>>> east = FakeCluster.from_manifests("east", [
...     {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
...     {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"},
...      "spec": {"ports": [{"port": 80}]}}])
>>> services = Informer(east, "Service")
>>> [str(d) for d in services.poll()]          # the first poll lists
['Service shop/web: added']
>>> east.apply([{"apiVersion": "v1", "kind": "Service",
...     "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
...     "spec": {"ports": [{"port": 80}]}}])
>>> [str(d) for d in services.poll()]          # then it watches
['Service shop/web: modified']
>>> services.lists, services.watches        # a watch opened right after the list, one since
(1, 2)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, TypeAlias

import attrs

from meshmirror.effects.backends.base import (
    Backend,
    BackendError,
    Gone,
    Manifest,
    NotFound,
    WatchEvent,
)
from meshmirror.formats.manifest import (
    ManifestError,
    cluster_state,
    endpoint_slice,
    fold_endpoint_slices,
    from_manifest,
)
from meshmirror.values.model import Endpoints, Link, Namespace, ObjectRef, Service

__all__ = ["BadLink", "Delta", "Informer", "Key", "RemoteCache", "SlicePart", "read_object"]

#: (namespace, name); a Namespace's is ("", name).
Key: TypeAlias = tuple[str, str]

#: Kinds whose lists are read as one ClusterState (ports shared, as the loader shares
#: them), and their ClusterState table.
_FAST = MappingProxyType(
    {"Service": "services", "Endpoints": "endpoints", "Namespace": "namespaces"}
)


@attrs.frozen
class BadLink:
    """A Link that cannot be read (its ref and target as far as they can be, and why)."""

    ref: ObjectRef
    target: str
    message: str


@attrs.frozen
class SlicePart:
    """One EndpointSlice as the Endpoints of its Service (``service``) it contributes."""

    service: Key
    endpoints: Endpoints


#: What a cache holds for one key.
Value: TypeAlias = Service | Endpoints | Namespace | Link | BadLink | SlicePart


@attrs.frozen
class Delta:
    """Key ``key`` of ``kind`` changed from ``old`` to ``new`` (None: absent)."""

    kind: str
    key: Key
    old: Any = None
    new: Any = None

    def __str__(self) -> str:
        what = "added" if self.old is None else "deleted" if self.new is None else "modified"
        where = f"{self.key[0]}/{self.key[1]}" if self.key[0] else self.key[1]
        return f"{self.kind} {where}: {what}"


def _link_identity(doc: Manifest) -> tuple[ObjectRef | None, str]:
    """A Link's ref and target as far as a malformed Link can be read."""
    meta = doc.get("metadata")
    spec = doc.get("spec")
    if not isinstance(meta, dict) or not isinstance(spec, dict):
        return None, ""
    name, namespace = meta.get("name"), meta.get("namespace")
    target = spec.get("targetClusterName")
    if not isinstance(name, str) or not isinstance(namespace, str):
        return None, ""
    return ObjectRef("Link", namespace, name), target if isinstance(target, str) else ""


def _doc_key(kind: str, doc: Manifest) -> Key | None:
    meta = doc.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
        return None
    namespace = "" if kind == "Namespace" else str(meta.get("namespace") or "")
    return (namespace, meta["name"])


def read_object(kind: str, doc: Manifest) -> tuple[Key, Value | None] | None:
    """``doc`` (of ``kind``) as the key and value a cache holds; the value None when the
    object cannot be read (it then counts as absent), None when not even its key can."""
    key = _doc_key(kind, doc)
    if key is None:
        return None
    doc = doc if doc.get("kind") else {**doc, "kind": kind}
    try:
        if kind == "EndpointSlice":
            parts = endpoint_slice(doc)
            if parts is None:
                return key, None
            service, _, endpoints = parts
            return key, SlicePart(service, endpoints)
        obj = from_manifest(doc)
    except ManifestError as err:
        if kind == "Link":
            ref, target = _link_identity(doc)
            if ref is not None and target:
                return key, BadLink(ref, target, str(err))
        return key, None  # the API server never serves one; nothing to plan from it
    if isinstance(obj, Service | Endpoints | Namespace | Link) and obj.kind == kind:
        return key, obj
    return key, None


class Informer:
    """The cache of one kind in one cluster (``namespace`` None: every namespace).

    :meth:`poll` brings it up to date: a list the first time (and after a 410 or
    :meth:`invalidate`), else a watch from the last resourceVersion seen. ``lists`` and
    ``watches`` count the requests made. Not thread-safe: one caller.
    """

    __slots__ = (
        "_touched",
        "_unreported",
        "backend",
        "docs",
        "kind",
        "lists",
        "namespace",
        "objects",
        "resource_version",
        "served",
        "watches",
    )

    def __init__(
        self,
        backend: Backend,
        kind: str,
        namespace: str | None = None,
        *,
        keep_docs: bool = False,
    ) -> None:
        self.backend = backend
        self.kind = kind
        self.namespace = namespace
        self.objects: dict[Key, Value] = {}
        #: With ``keep_docs``, each cached object's document as last listed or watched
        #: (Links: their ``status`` is written back through ``links/status``).
        self.docs: dict[Key, Manifest] | None = {} if keep_docs else None
        #: "" until listed: the next poll lists.
        self.resource_version = ""
        self.served = True
        self.lists = 0
        self.watches = 0
        self._unreported: list[Delta] = []
        # The keys put since take_touched() (None: the whole cache was replaced).
        self._touched: set[Key] | None = None

    @property
    def listed(self) -> bool:
        return bool(self.resource_version)

    def take_touched(self) -> set[Key] | None:
        """The keys whose value may have changed since the last call (None: any may,
        the cache was replaced by a list or this is the first call), and start anew.
        A caller keeping a copy of :attr:`objects` updates just those keys."""
        touched, self._touched = self._touched, set()
        return touched

    def invalidate(self) -> None:
        """List again at the next poll (the cache is kept and reconciled with the list)."""
        self.resource_version = ""

    def poll(self, *, optional: bool = False) -> list[Delta]:
        """Every change since the last poll. Lists when not listed yet; watches
        otherwise, resuming from the last resourceVersion; on :class:`Gone`, lists again.
        ``optional``: a kind the server does not serve (404 on list) is an empty cache.
        Other errors propagate (the cache is left as it was)."""
        if not self.served:
            return []
        # Changes taken into the cache by a poll that then failed come out now.
        deltas, self._unreported = self._unreported, []
        try:
            return self._poll(deltas, optional)
        except BaseException:
            self._unreported = deltas
            raise

    def _poll(self, deltas: list[Delta], optional: bool) -> list[Delta]:
        listed_now = not self.listed
        if listed_now:
            deltas.extend(self.relist(optional=optional))
            if not self.served:
                return deltas
        # Right after a list too: the watch is opened from the list's resourceVersion
        # (a backend that streams in the background starts streaming now).
        try:
            self._watch(deltas)
        except Gone:
            if listed_now:
                self.invalidate()  # gone at once: list again next time, not in a loop
            else:
                deltas.extend(self.relist(optional=optional))
                # Watch again at once from the new list, so a backend that streams in
                # the background follows changes without waiting for the next poll.
                try:
                    self._watch(deltas)
                except Gone:
                    self.invalidate()
        return _squash(deltas)

    def _watch(self, deltas: list[Delta]) -> None:
        self.watches += 1
        for event in self.backend.watch(self.kind, self.resource_version, self.namespace):
            delta = self.apply(event)
            if delta is not None:
                deltas.append(delta)

    def _read_all(self, items: Sequence[Manifest]) -> dict[Key, Value]:
        kind = self.kind
        if kind in _FAST:
            docs = [d if d.get("kind") else {**d, "kind": kind} for d in items]
            try:
                state = cluster_state(self.backend.name, docs)
            except ManifestError:
                pass  # one by one below: a bad object counts as absent, the rest are read
            else:
                table: Mapping[Any, Any] = getattr(state, _FAST[kind])
                if kind == "Namespace":
                    return {("", name): ns for name, ns in table.items()}
                return dict(table)
        fresh: dict[Key, Value] = {}
        for doc in items:
            read = read_object(kind, doc)
            if read is not None and read[1] is not None:
                fresh[read[0]] = read[1]
        return fresh

    def relist(self, *, optional: bool = False) -> list[Delta]:
        """List, replace the cache with the result and return what differs (objects no
        longer listed become deletes)."""
        self.lists += 1
        try:
            result = self.backend.list(self.kind, self.namespace)
        except NotFound:
            if not optional:
                raise
            self.served = False
            gone = [Delta(self.kind, k, v, None) for k, v in sorted(self.objects.items())]
            self.objects = {}
            self._touched = None
            return gone
        fresh = self._read_all(result.items)
        if self.docs is not None:
            self.docs = {}
            for doc in result.items:
                read = read_object(self.kind, doc)
                if read is not None and read[0] in fresh:
                    self.docs[read[0]] = doc
        deltas = [
            Delta(self.kind, key, old, None)
            for key, old in self.objects.items()
            if key not in fresh
        ]
        for key, new in fresh.items():
            old = self.objects.get(key)
            if old is None or old != new:
                deltas.append(Delta(self.kind, key, old, new))
        self.objects = fresh
        self._touched = None
        self.resource_version = result.resource_version or "0"
        deltas.sort(key=lambda d: d.key)
        return deltas

    def apply(self, event: WatchEvent) -> Delta | None:
        """One watch event into the cache; the change it makes (None: none)."""
        meta = event.object.get("metadata") or {}
        rv = meta.get("resourceVersion")
        if rv:
            self.resource_version = str(rv)
        if event.type == "BOOKMARK":
            return None
        read = read_object(self.kind, event.object)
        if read is None:
            return None
        key, new = read
        if event.type == "DELETED":
            new = None
        if self.docs is not None:
            if new is None:
                self.docs.pop(key, None)
            else:
                self.docs[key] = event.object
        return self.put(key, new)

    def put(self, key: Key, new: Value | None) -> Delta | None:
        """Set one key (a write's result, or an object read with a get)."""
        if self._touched is not None:
            self._touched.add(key)
        old = self.objects.get(key)
        if new is None:
            if old is None:
                return None
            del self.objects[key]
            return Delta(self.kind, key, old, None)
        if old is not None and old == new:
            self.objects[key] = new
            return None
        self.objects[key] = new
        return Delta(self.kind, key, old, new)


def _squash(deltas: list[Delta]) -> list[Delta]:
    """One delta per key (first old, last new); no-ops dropped. Order: first seen."""
    if len(deltas) < 2:
        return deltas
    first: dict[tuple[str, Key], Delta] = {}
    for d in deltas:
        k = (d.kind, d.key)
        seen = first.get(k)
        first[k] = d if seen is None else Delta(d.kind, d.key, seen.old, d.new)
    return [d for d in first.values() if not (d.old is None and d.new is None) and d.old != d.new]


class RemoteCache:
    """A linked cluster's Services and Endpoints, as the planner reads them.

    ``services`` and ``endpoints`` are kept current by :meth:`poll`; Endpoints come from
    the Endpoints object, or from the Service's EndpointSlices when it has none.
    """

    __slots__ = ("_slices", "backend", "endpoints", "informers", "name", "services")

    def __init__(self, name: str, backend: Backend) -> None:
        self.name = name
        self.backend = backend
        self.informers = {
            kind: Informer(backend, kind) for kind in ("Service", "Endpoints", "EndpointSlice")
        }
        self.services: dict[Key, Service] = {}
        self.endpoints: dict[Key, Endpoints] = {}
        self._slices: dict[Key, dict[str, Endpoints]] = {}  # service key -> slice name

    @property
    def listed(self) -> bool:
        """Every kind listed at least once (the state is known)."""
        i = self.informers
        return (
            i["Service"].listed
            and i["Endpoints"].listed
            and (i["EndpointSlice"].listed or not i["EndpointSlice"].served)
        )

    @property
    def needs_list(self) -> bool:
        """Some kind lists at the next poll (never listed, or after a 410)."""
        return any(i.served and not i.listed for i in self.informers.values())

    @property
    def lists(self) -> int:
        return sum(i.lists for i in self.informers.values())

    @property
    def watches(self) -> int:
        return sum(i.watches for i in self.informers.values())

    def invalidate(self) -> None:
        for informer in self.informers.values():
            informer.invalidate()

    def poll(self) -> tuple[list[Delta], BackendError | None]:
        """The Service and Endpoints changes since the last poll (kinds "Service" and
        "Endpoints" only: slices are folded in), and the error that cut it short (None:
        every kind is up to date). :attr:`services` and :attr:`endpoints` hold exactly
        the changes returned so far."""
        out: list[Delta] = []
        for kind, informer in self.informers.items():
            try:
                out.extend(self._fold(informer.poll(optional=kind == "EndpointSlice")))
            except BackendError as err:
                return out, err
        return out, None

    def _fold(self, raw: Iterable[Delta]) -> list[Delta]:
        out: list[Delta] = []
        touched: set[Key] = set()
        for d in raw:
            if d.kind == "Service":
                if d.new is None:
                    self.services.pop(d.key, None)
                else:
                    self.services[d.key] = d.new
                out.append(d)
                continue
            if d.kind == "EndpointSlice":
                for part in (d.old, d.new):
                    if isinstance(part, SlicePart):
                        touched.add(part.service)
                if isinstance(d.old, SlicePart):
                    pieces = self._slices.get(d.old.service)
                    if pieces is not None:
                        pieces.pop(d.key[1], None)
                        if not pieces:
                            del self._slices[d.old.service]
                if isinstance(d.new, SlicePart):
                    self._slices.setdefault(d.new.service, {})[d.key[1]] = d.new.endpoints
            else:
                touched.add(d.key)
        endpoints = self.informers["Endpoints"].objects
        for key in sorted(touched):
            own = endpoints.get(key)
            if isinstance(own, Endpoints):
                new: Endpoints | None = own
            else:
                pieces = self._slices.get(key)
                new = fold_endpoint_slices(pieces.items()) if pieces else None
            old = self.endpoints.get(key)
            if new is None:
                self.endpoints.pop(key, None)
            else:
                self.endpoints[key] = new
            if old is not new and old != new:
                out.append(Delta("Endpoints", key, old, new))
        return out
