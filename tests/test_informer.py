"""Informers (:mod:`meshmirror.effects.backends.informer`): list once, watch, resume, re-list."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from builders import namespace as ns
from builders import svc as _svc
from meshmirror.effects.backends.base import Backend, ListResult, Manifest, Unreachable, WatchEvent
from meshmirror.effects.backends.informer import Informer, RemoteCache
from meshmirror.effects.backends.memory import FakeCluster, Faults
from meshmirror.values.model import Service


def svc(name: str, **labels: str) -> Manifest:
    # Unlike builders.svc: no export label, and the labels as keywords.
    return _svc(name, export=None, labels=labels)


def test_lists_once_then_follows_the_watch() -> None:
    c = FakeCluster.from_manifests("east", [ns("shop"), svc("a"), svc("b")])
    inf = Informer(c, "Service")
    assert sorted(d.key[1] for d in inf.poll()) == ["a", "b"]
    c.apply([svc("a", team="x")])
    c.remove("Service", "shop", "b")
    deltas = inf.poll()
    assert [(d.key[1], d.old is None, d.new is None) for d in deltas] == [
        ("a", False, False),
        ("b", False, True),
    ]
    assert isinstance(inf.objects[("shop", "a")], Service)
    assert ("shop", "b") not in inf.objects
    assert (c.requests["list"], inf.lists) == (1, 1)
    assert inf.poll() == []  # nothing new: nothing to say


def test_a_410_re_lists_and_what_vanished_becomes_a_delete() -> None:
    c = FakeCluster.from_manifests("east", [ns("shop"), svc("a"), svc("b")], history=2)
    inf = Informer(c, "Service")
    inf.poll()
    c.remove("Service", "shop", "a")
    for i in range(5):  # more changes than the history keeps: the watch is gone
        c.apply([svc("b", n=str(i))])
    deltas = inf.poll()
    assert inf.lists == 2
    assert {(d.key[1], d.new is None) for d in deltas} == {("a", True), ("b", False)}
    assert set(inf.objects) == {("shop", "b")}


def test_a_dropped_watch_resumes_from_the_last_version_seen() -> None:
    c = FakeCluster.from_manifests("east", [ns("shop")])
    inf = Informer(c, "Service")
    inf.poll()
    c.set_faults(Faults(drop_watch=1.0))
    for i in range(10):
        c.apply([svc(f"s{i}")])
    seen: set[str] = set()
    for _ in range(30):
        seen |= {d.key[1] for d in inf.poll()}
    c.set_faults(None)
    seen |= {d.key[1] for d in inf.poll()}
    assert seen == {f"s{i}" for i in range(10)}
    assert inf.lists == 1  # resumed, never listed again


class Bookmarks:
    """A backend whose watch says only BOOKMARK (and records where it was asked from)."""

    name = "east"

    def __init__(self) -> None:
        self.asked: list[str] = []

    def list(self, kind: str, namespace: str | None = None) -> ListResult:
        return ListResult((), "10")

    def watch(
        self, kind: str, resource_version: str, namespace: str | None = None
    ) -> Iterator[WatchEvent]:
        self.asked.append(resource_version)
        rv = str(int(resource_version) + 5)
        return iter([WatchEvent("BOOKMARK", {"kind": kind, "metadata": {"resourceVersion": rv}})])

    def create(self, manifest: Manifest) -> Manifest:
        raise NotImplementedError

    def update(self, manifest: Manifest) -> Manifest:
        raise NotImplementedError

    def delete(self, kind: str, namespace: str, name: str, **_: Any) -> None:
        raise NotImplementedError


def test_bookmarks_move_the_resource_version_on() -> None:
    b = Bookmarks()
    assert isinstance(b, Backend)
    inf = Informer(b, "Service")
    assert inf.poll() == [] and inf.poll() == []
    assert b.asked == ["10", "15"]


def test_a_failed_poll_loses_no_change() -> None:
    c = FakeCluster.from_manifests("east", [ns("shop"), svc("a")])
    cache = RemoteCache("east", c)
    assert cache.poll()[1] is None
    c.apply([svc("b")])
    c.set_faults(Faults(unreachable=1.0))
    deltas, err = cache.poll()
    assert isinstance(err, Unreachable) and deltas == []
    c.set_faults(None)
    deltas, err = cache.poll()
    assert err is None and [d.key[1] for d in deltas] == ["b"]
    assert set(cache.services) == {("shop", "a"), ("shop", "b")}


def test_endpoint_slices_stand_in_for_missing_endpoints() -> None:
    def slice_(name: str, ip: str) -> Manifest:
        return {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": name,
                "namespace": "shop",
                "labels": {"kubernetes.io/service-name": "a"},
            },
            "endpoints": [{"addresses": [ip]}],
            "ports": [{"name": "http", "port": 8080}],
        }

    c = FakeCluster.from_manifests("east", [ns("shop"), svc("a"), slice_("a-2", "10.0.0.2")])
    cache = RemoteCache("east", c)
    cache.poll()
    assert [a.ip for a in cache.endpoints[("shop", "a")].ready_addresses()] == ["10.0.0.2"]
    c.apply([slice_("a-1", "10.0.0.1")])
    deltas, _ = cache.poll()
    assert [d.kind for d in deltas] == ["Endpoints"]
    assert [a.ip for a in cache.endpoints[("shop", "a")].ready_addresses()] == [
        "10.0.0.1",
        "10.0.0.2",
    ]
    c.remove("EndpointSlice", "shop", "a-1")
    c.remove("EndpointSlice", "shop", "a-2")
    cache.poll()
    assert ("shop", "a") not in cache.endpoints
