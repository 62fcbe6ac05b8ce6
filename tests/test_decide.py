"""The reconciler's pure rules (:mod:`meshmirror.decisions.decide`), over values only."""

from __future__ import annotations

from meshmirror.decisions.decide import (
    LinkStatus,
    RemoteView,
    Write,
    held,
    kept_mirrors,
    link_statuses,
    update_manifest,
    writes,
)
from meshmirror.decisions.diff import Changes, Update
from meshmirror.values.model import (
    ClusterState,
    EndpointAddress,
    Endpoints,
    EndpointSubset,
    Link,
    Namespace,
    ObjectRef,
    Service,
    ServicePort,
)

OWNED = "mirror.linkerd.io/mirrored-service"
CLUSTER = "mirror.linkerd.io/cluster-name"
MINE = {OWNED: "true", CLUSTER: "east"}


def mirror(name: str = "web-east", **fields: object) -> Service:
    return Service("shop", name, labels=MINE, ports=[ServicePort(80)], **fields)  # type: ignore[arg-type]


def gateway(name: str = "web-east") -> Endpoints:
    return Endpoints(
        "shop",
        name,
        labels=MINE,
        subsets=[EndpointSubset(addresses=[EndpointAddress("192.0.2.10")])],
    )


SOURCE = ClusterState.build("west", [Namespace("shop"), mirror(), gateway()])


def nothing(ref: ObjectRef) -> None:
    return None


def test_nothing_is_held_while_every_cluster_is_read() -> None:
    views = {"east": RemoteView("east", known=True, read=True)}
    assert held(SOURCE, nothing, views) == {}


def test_an_unread_clusters_mirrors_are_held_service_and_endpoints_together() -> None:
    views = {"east": RemoteView("east", known=False, read=False)}
    got = held(SOURCE, nothing, views)
    assert set(got) == {
        ObjectRef("Service", "shop", "web-east"),
        ObjectRef("Endpoints", "shop", "web-east"),
    }
    # Looking at one object only still holds its partner.
    only = held(SOURCE, nothing, views, objects=[SOURCE.services[("shop", "web-east")]])
    assert set(only) == set(got)


def test_held_objects_are_not_deleted_and_go_not_ready_past_the_grace() -> None:
    alive = {"east": RemoteView("east", known=True, read=False)}
    dead = {"east": RemoteView("east", known=True, read=False, dead=True)}
    deletes = Changes(deletes=(SOURCE.services[("shop", "web-east")],))
    keep = held(SOURCE, nothing, alive)
    assert writes(deletes, SOURCE, keep, alive) == []
    moved = writes(deletes, SOURCE, keep, dead)
    assert [(w.verb, w.ref.kind) for w in moved] == [("update", "Endpoints")]
    assert moved[0].planned is not None and isinstance(moved[0].planned, Endpoints)
    assert moved[0].planned.empty


def test_writes_come_in_order_and_a_headless_switch_is_a_delete_and_a_create() -> None:
    old = SOURCE.services[("shop", "web-east")]
    changes = Changes(
        creates=(gateway("api-east"), mirror("api-east"), Namespace("pay")),
        updates=(Update(old, mirror(cluster_ip="None")),),
    )
    got = [(w.verb, str(w.ref)) for w in writes(changes, SOURCE, {}, {})]
    assert got == [
        ("create", "Namespace pay"),
        ("create", "Service shop/api-east"),
        ("create", "Endpoints shop/api-east"),
        ("delete", "Service shop/web-east"),
        ("create", "Service shop/web-east"),
    ]


def test_an_update_carries_the_current_version_uid_and_cluster_ip() -> None:
    current = mirror(resource_version="7", uid="u-1", cluster_ip="10.96.0.9")
    doc = update_manifest(mirror(), current)
    assert doc["metadata"]["resourceVersion"] == "7"
    assert doc["metadata"]["uid"] == "u-1"
    assert doc["spec"]["clusterIP"] == "10.96.0.9"
    assert Write("update", current.ref, planned=mirror(), current=current).manifest() == doc


def test_statuses_count_each_link_once_and_name_their_failures() -> None:
    east = Link("lm", "east", "east")
    north = Link("lm", "north", "north")
    views = {
        "east": RemoteView("east", known=True, read=True),
        "north": RemoteView("north", known=False, read=False, error="cannot read cluster 'north'"),
    }
    bad = {ObjectRef("Link", "lm", "broken"): ("south", "spec.selector is invalid")}
    out = link_statuses(
        5.0,
        [east, north],
        bad,
        views,
        {east.ref: 3},
        {"north": 2, "south": 1},
        [("east", "update Service shop/web-east failed: refused")],
        {"lm/north": LinkStatus(north.ref, "north", last_sync=1.0)},
        {"north": 4.0},
    )
    assert list(out) == ["lm/broken", "lm/east", "lm/north"]
    assert (out["lm/east"].mirrored, out["lm/east"].pending) == (3, 1)
    assert out["lm/east"].last_sync is None  # a write failed
    assert out["lm/east"].last_error == "Link lm/east: update Service shop/web-east failed: refused"
    assert (out["lm/north"].mirrored, out["lm/north"].last_sync) == (2, 1.0)
    assert out["lm/north"].unreachable_since == 4.0
    assert out["lm/broken"].mirrored == 1 and "kept as they are" in str(out["lm/broken"].last_error)


def test_kept_mirrors_counts_per_cluster_without_per_pod_services() -> None:
    pod = Service(
        "shop",
        "web-0-east",
        labels={**MINE, "mirror.linkerd.io/headless-mirror-svc-name": "web-east"},
    )
    state = ClusterState.build("west", [mirror(), pod, Service("shop", "mine")])
    assert kept_mirrors(state) == {"east": 1}
