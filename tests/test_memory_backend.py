"""Unit and property tests for :mod:`meshmirror.effects.backends.memory` (the in-memory cluster)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builders import assert_implements_backend, namespace
from meshmirror.effects.backends.base import (
    AlreadyExists,
    Conflict,
    Gone,
    NotFound,
    ServerError,
    Timeout,
    Unreachable,
)
from meshmirror.effects.backends.memory import DEFAULT_FAULTS, FakeCluster, Faults, Invalid


def ns(name: str, **labels: str) -> dict[str, Any]:
    # builders.namespace with the labels as keywords (always set, {} included).
    return namespace(name, labels=labels)


def svc(name: str, namespace: str = "shop", *ports: int, **spec: Any) -> dict[str, Any]:
    # Not builders.svc: no labels at all, and any number of ports (named p<port>).
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"ports": [{"name": f"p{p}", "port": p} for p in ports or (80,)], **spec},
    }


def cm(name: str, namespace: str = "shop", **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": data,
    }


def rv(obj: dict[str, Any] | None) -> int:
    assert obj is not None
    return int(obj["metadata"]["resourceVersion"])


@pytest.fixture
def shop() -> FakeCluster:
    return FakeCluster.from_manifests("east", [ns("shop"), svc("web")])


# -- server-assigned fields and defaults ---------------------------------------------------


def test_service_defaults_like_the_api_server() -> None:
    c = FakeCluster.from_manifests("east", [ns("shop"), svc("web", "shop", 80, 443)])
    spec = c.get("Service", "shop", "web")["spec"]  # type: ignore[index]
    assert spec["type"] == "ClusterIP"
    assert spec["sessionAffinity"] == "None"
    assert spec["clusterIP"] == "10.96.0.1"
    assert spec["clusterIPs"] == ["10.96.0.1"]
    assert spec["ipFamilies"] == ["IPv4"]
    assert spec["ports"] == [
        {"name": "p80", "port": 80, "protocol": "TCP", "targetPort": 80},
        {"name": "p443", "port": 443, "protocol": "TCP", "targetPort": 443},
    ]


def test_cluster_ips_are_allocated_in_order_and_given_ones_kept() -> None:
    c = FakeCluster.from_manifests(
        "east",
        [
            ns("shop"),
            svc("a"),
            svc("b", clusterIP="10.100.0.7"),
            svc("headless", clusterIP="None"),
            svc("c"),
        ],
    )
    ips = {d["metadata"]["name"]: d["spec"]["clusterIP"] for d in c.list("Service").items}
    assert ips == {"a": "10.96.0.1", "b": "10.100.0.7", "headless": "None", "c": "10.96.0.2"}
    headless = c.get("Service", "shop", "headless")
    assert headless is not None
    assert headless["spec"]["clusterIPs"] == ["None"]


def test_external_name_service_gets_no_cluster_ip() -> None:
    c = FakeCluster.from_manifests(
        "east", [ns("shop"), svc("ext", type="ExternalName", externalName="example.com")]
    )
    spec = c.get("Service", "shop", "ext")["spec"]  # type: ignore[index]
    assert "clusterIP" not in spec
    assert "clusterIPs" not in spec


def test_given_fields_are_not_overwritten_by_defaults() -> None:
    doc = svc("web", sessionAffinity="ClientIP")
    doc["spec"]["ports"] = [{"name": "http", "port": 80, "targetPort": "http", "protocol": "UDP"}]
    c = FakeCluster.from_manifests("east", [ns("shop"), doc])
    spec = c.get("Service", "shop", "web")["spec"]  # type: ignore[index]
    assert spec["sessionAffinity"] == "ClientIP"
    assert spec["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "UDP"}]


def test_uid_timestamp_and_namespace_label() -> None:
    times = iter([86400.0 + 3661.5, 2.0])
    c = FakeCluster("east", clock=lambda: next(times))
    c.apply([ns("shop", team="a")])
    got = c.get("Namespace", None, "shop")
    assert got is not None
    meta = got["metadata"]
    assert meta["labels"] == {"team": "a", "kubernetes.io/metadata.name": "shop"}
    assert meta["creationTimestamp"] == "1970-01-02T01:01:01Z"
    assert str(uuid.UUID(meta["uid"])) == meta["uid"]
    assert "namespace" not in meta


def test_uids_are_deterministic_per_cluster_name() -> None:
    def uids(name: str) -> list[str]:
        c = FakeCluster.from_manifests(name, [ns("shop"), svc("a"), svc("b")])
        return [d["metadata"]["uid"] for d in c.dump()]

    assert uids("east") == uids("east")
    assert len(set(uids("east"))) == 3
    assert set(uids("east")).isdisjoint(uids("west"))


def test_default_clock_is_the_epoch(shop: FakeCluster) -> None:
    assert rv(shop.get("Service", "shop", "web")) == 2
    got = shop.get("Service", "shop", "web")
    assert got is not None
    assert got["metadata"]["creationTimestamp"] == "1970-01-01T00:00:00Z"


def test_api_version_endpoints_and_secret_defaults() -> None:
    c = FakeCluster.from_manifests(
        "east",
        [
            ns("shop"),
            {
                "kind": "Endpoints",
                "metadata": {"name": "web", "namespace": "shop"},
                "subsets": [{"addresses": [{"ip": "1.2.3.4"}], "ports": [{"port": 80}]}],
            },
            {
                "kind": "Secret",
                "metadata": {"name": "creds", "namespace": "shop"},
                "stringData": {"kubeconfig": "hello"},
            },
            {
                "kind": "Link",
                "metadata": {"name": "west", "namespace": "shop"},
                "spec": {"targetClusterName": "west"},
            },
        ],
    )
    ep = c.get("Endpoints", "shop", "web")
    assert ep is not None
    assert ep["apiVersion"] == "v1"
    assert ep["subsets"][0]["ports"] == [{"port": 80, "protocol": "TCP"}]
    secret = c.get("Secret", "shop", "creds")
    assert secret is not None
    assert secret["type"] == "Opaque"
    assert "stringData" not in secret
    assert base64.b64decode(secret["data"]["kubeconfig"]) == b"hello"
    link = c.get("Link", "shop", "west")
    assert link is not None
    assert link["apiVersion"] == "multicluster.linkerd.io/v1alpha3"


# -- apply / from_manifests ---------------------------------------------------------------


def test_apply_replaces_and_keeps_server_fields(shop: FakeCluster) -> None:
    before = shop.get("Service", "shop", "web")
    assert before is not None
    replacement = svc("web", "shop", 8080)
    replacement["metadata"]["uid"] = "not-this-one"
    replacement["spec"]["clusterIP"] = "10.200.0.1"
    shop.apply([replacement])
    after = shop.get("Service", "shop", "web")
    assert after is not None
    for field in ("uid", "creationTimestamp"):
        assert after["metadata"][field] == before["metadata"][field]
    assert after["spec"]["clusterIP"] == before["spec"]["clusterIP"]
    assert after["spec"]["clusterIPs"] == before["spec"]["clusterIPs"]
    assert after["spec"]["ports"][0]["port"] == 8080
    assert rv(after) == rv(before) + 1


def test_apply_expands_lists_ignores_unknown_kinds_and_orders_namespaces_first() -> None:
    untyped = {k: v for k, v in svc("api").items() if k != "kind"}  # as a ServiceList holds it
    docs = [
        {"apiVersion": "v1", "kind": "List", "items": [svc("web"), {"kind": "Pod"}]},
        {"apiVersion": "v1", "kind": "ServiceList", "items": [untyped]},
        None,
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}},
        ns("shop"),
    ]
    c = FakeCluster.from_manifests("east", docs)
    kinds = [(d["kind"], d["metadata"]["name"]) for d in c.dump()]
    assert kinds == [("Namespace", "shop"), ("Service", "api"), ("Service", "web")]


def test_apply_into_a_missing_namespace_is_not_found() -> None:
    c = FakeCluster("east")
    with pytest.raises(NotFound, match="namespace 'shop'") as info:
        c.apply([svc("web")])
    assert info.value.cluster == "east"


def test_apply_rejects_malformed_objects() -> None:
    c = FakeCluster.from_manifests("east", [ns("shop")])
    with pytest.raises(Invalid, match=r"metadata\.name"):
        c.apply([{"kind": "Service", "metadata": {"namespace": "shop"}}])
    with pytest.raises(Invalid, match=r"metadata\.namespace"):
        c.apply([{"kind": "Service", "metadata": {"name": "web"}}])
    with pytest.raises(TypeError):
        c.apply(["not a mapping"])


def test_apply_is_not_subject_to_faults_or_reachability() -> None:
    c = FakeCluster("east", faults=Faults(conflict=1, server_error=1, unreachable=1, timeout=1))
    c.set_reachable(False)
    c.apply([ns("shop"), svc("web"), svc("api")])
    c.remove("Service", "shop", "web")
    c.delete("Service", "shop", "api")  # no precondition: the user's delete
    assert [d["kind"] for d in c.dump()] == ["Namespace"]
    assert c.writes == []
    assert sum(c.requests.values()) == 0


# -- resourceVersion -----------------------------------------------------------------------


def test_resource_version_changes_on_every_write_and_only_on_writes(shop: FakeCluster) -> None:
    start = int(shop.list("Service").resource_version)
    assert start == 2
    list(shop.watch("Service", "0"))
    shop.get("Service", "shop", "web")
    shop.dump()
    assert shop.list("Service").resource_version == "2"

    created = shop.create(svc("api"))
    assert rv(created) == 3
    same = shop.get("Service", "shop", "api")
    assert same is not None
    updated = shop.update(same)  # unchanged content is still a write
    assert rv(updated) == 4
    shop.apply([svc("api")])
    assert rv(shop.get("Service", "shop", "api")) == 5
    shop.delete("Service", "shop", "api", resource_version="5")
    assert shop.resource_version == "6"
    shop.apply([svc("api")])
    shop.delete("Service", "shop", "api")  # the user's delete is a write all the same
    assert shop.resource_version == "8"
    assert shop.list("Namespace").resource_version == "8"  # one counter for every kind


def test_failed_writes_do_not_change_the_resource_version(shop: FakeCluster) -> None:
    with pytest.raises(AlreadyExists):
        shop.create(svc("web"))
    with pytest.raises(NotFound):
        shop.update(svc("nope"))
    assert shop.resource_version == "2"
    assert shop.writes == []


# -- Backend writes -------------------------------------------------------------------------


def test_fake_cluster_is_a_backend(shop: FakeCluster) -> None:
    assert_implements_backend(shop)
    assert shop.name == "east"


def test_create_existing_is_already_exists(shop: FakeCluster) -> None:
    with pytest.raises(AlreadyExists, match="Service shop/web already exists") as info:
        shop.create(svc("web"))
    assert isinstance(info.value, Conflict)
    assert info.value.status == 409


def test_create_ignores_given_server_fields(shop: FakeCluster) -> None:
    doc = svc("api")
    doc["metadata"].update(
        uid="mine", resourceVersion="99", creationTimestamp="2020-01-01T00:00:00Z"
    )
    created = shop.create(doc)
    assert created["metadata"]["uid"] != "mine"
    assert created["metadata"]["resourceVersion"] == "3"
    assert created["metadata"]["creationTimestamp"] == "1970-01-01T00:00:00Z"


def test_create_in_missing_namespace_is_not_found(shop: FakeCluster) -> None:
    with pytest.raises(NotFound, match="namespace 'other' not found"):
        shop.create(svc("web", "other"))


def test_update_with_stale_resource_version_is_conflict(shop: FakeCluster) -> None:
    old = shop.get("Service", "shop", "web")
    assert old is not None
    shop.update(old)
    with pytest.raises(Conflict, match="modified") as info:
        shop.update(old)
    assert info.value.status == 409
    assert not isinstance(info.value, AlreadyExists)


def test_update_with_wrong_uid_is_conflict(shop: FakeCluster) -> None:
    old = shop.get("Service", "shop", "web")
    assert old is not None
    old["metadata"]["uid"] = "someone-else"
    with pytest.raises(Conflict, match="uid"):
        shop.update(old)


def test_update_without_resource_version_is_unconditional(shop: FakeCluster) -> None:
    shop.apply([svc("web", "shop", 81)])
    updated = shop.update(svc("web", "shop", 82))
    assert updated["spec"]["ports"][0]["port"] == 82
    assert updated["spec"]["clusterIP"] == "10.96.0.1"


def test_update_of_absent_is_not_found(shop: FakeCluster) -> None:
    with pytest.raises(NotFound, match="Service shop/api not found"):
        shop.update(svc("api"))


def test_delete_preconditions(shop: FakeCluster) -> None:
    current = shop.get("Service", "shop", "web")
    assert current is not None
    meta = current["metadata"]
    with pytest.raises(Conflict):
        shop.delete("Service", "shop", "web", resource_version="1")
    with pytest.raises(Conflict):
        shop.delete("Service", "shop", "web", uid="other")
    assert shop.get("Service", "shop", "web") is not None
    shop.delete("Service", "shop", "web", resource_version=meta["resourceVersion"], uid=meta["uid"])
    assert shop.get("Service", "shop", "web") is None
    with pytest.raises(NotFound):
        shop.delete("Service", "shop", "web", resource_version=meta["resourceVersion"])
    with pytest.raises(NotFound):
        shop.delete("Service", "shop", "web")
    with pytest.raises(NotFound):
        shop.remove("Service", "shop", "web")


def test_unknown_kind_is_not_found(shop: FakeCluster) -> None:
    with pytest.raises(NotFound, match="Pod"):
        shop.list("Pod")


@pytest.mark.parametrize("via", ["delete", "backend-delete", "remove"])
def test_namespace_delete_cascades(via: str) -> None:
    c = FakeCluster.from_manifests(
        "east", [ns("shop"), ns("other"), svc("web"), cm("cfg"), svc("web", "other")]
    )
    if via == "backend-delete":
        c.delete("Namespace", "", "shop", resource_version="1")
    else:
        getattr(c, via)("Namespace", None, "shop")
    assert [
        (d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]) for d in c.dump()
    ] == [
        ("Namespace", None, "other"),
        ("Service", "other", "web"),
    ]
    deleted = [e.object["metadata"]["name"] for e in c.watch("Service", "5") if e.type == "DELETED"]
    assert deleted == ["web"]
    assert [e.type for e in c.watch("Namespace", "5")] == ["DELETED"]
    with pytest.raises(NotFound):
        c.create(svc("again"))


def test_list_filters_by_kind_and_namespace_and_sorts() -> None:
    c = FakeCluster.from_manifests(
        "east", [ns("b"), ns("a"), svc("z", "b"), svc("y", "a"), svc("x", "b"), cm("c", "a")]
    )
    names = [(d["metadata"]["namespace"], d["metadata"]["name"]) for d in c.list("Service").items]
    assert names == [("a", "y"), ("b", "x"), ("b", "z")]
    assert [d["metadata"]["name"] for d in c.list("Service", "b").items] == ["x", "z"]
    assert [d["metadata"]["name"] for d in c.list("Namespace", "a").items] == ["a", "b"]


def test_writes_log_and_request_counters(shop: FakeCluster) -> None:
    assert shop.writes == []
    shop.list("Service")
    list(shop.watch("Service", "0"))
    created = shop.create(svc("api"))
    updated = shop.update(created)
    shop.delete("Service", "shop", "api", resource_version=updated["metadata"]["resourceVersion"])
    namespace = shop.get("Namespace", None, "shop")
    assert namespace is not None
    shop.delete("Namespace", "", "shop", uid=namespace["metadata"]["uid"])
    with pytest.raises(NotFound):
        shop.delete("Service", "shop", "gone", resource_version="1")
    with pytest.raises(NotFound):
        shop.delete("Service", "shop", "gone")  # the user's: neither counted nor logged
    assert shop.writes == [
        ("create", "Service", "shop", "api"),
        ("update", "Service", "shop", "api"),
        ("delete", "Service", "shop", "api"),
        ("delete", "Namespace", "", "shop"),
    ]
    assert dict(shop.requests) == {"list": 1, "watch": 1, "create": 1, "update": 1, "delete": 3}
    shop.reset_counters()
    assert shop.writes == []
    assert sum(shop.requests.values()) == 0


# -- watch -----------------------------------------------------------------------------------


def test_watch_from_a_resource_version(shop: FakeCluster) -> None:
    listed = shop.list("Service")
    shop.apply([ns("other"), svc("api"), cm("cfg"), svc("web", "other")])
    shop.apply([svc("api", "shop", 8080)])
    shop.remove("Service", "shop", "web")
    events = list(shop.watch("Service", listed.resource_version))
    assert [(e.type, e.object["metadata"]["name"], rv(e.object)) for e in events] == [
        ("ADDED", "api", 4),
        ("ADDED", "web", 6),
        ("MODIFIED", "api", 7),
        ("DELETED", "web", 8),
    ]
    deleted = events[-1].object
    assert deleted["spec"]["clusterIP"] == "10.96.0.1"  # the last state, a new version
    in_shop = [e.type for e in shop.watch("Service", listed.resource_version, "shop")]
    assert in_shop == ["ADDED", "MODIFIED", "DELETED"]
    assert list(shop.watch("Service", shop.resource_version)) == []
    assert [e.type for e in shop.watch("ConfigMap", "0")] == ["ADDED"]


def test_watch_then_list_continuation_sees_every_change(shop: FakeCluster) -> None:
    listed = shop.list("Service")
    shop.apply([svc("a")])
    last = listed.resource_version
    for event in shop.watch("Service", last):
        last = event.object["metadata"]["resourceVersion"]
    shop.apply([svc("b")])
    assert [e.object["metadata"]["name"] for e in shop.watch("Service", last)] == ["b"]


def test_watch_from_too_old_version_is_gone() -> None:
    c = FakeCluster("east", history=3)
    c.apply([ns("shop")])
    c.apply([svc("a"), svc("b"), svc("c"), svc("d")])  # versions 1..5; 3, 4, 5 kept
    with pytest.raises(Gone, match="too old") as info:
        c.watch("Service", "1")
    assert info.value.status == 410
    assert info.value.cluster == "east"
    assert [e.object["metadata"]["name"] for e in c.watch("Service", "2")] == ["b", "c", "d"]
    assert [e.object["metadata"]["name"] for e in c.watch("Service", "4")] == ["d"]


def test_watch_with_no_history_is_gone_unless_current() -> None:
    c = FakeCluster.from_manifests("east", [ns("shop")], history=0)
    with pytest.raises(Gone):
        c.watch("Namespace", "0")
    assert list(c.watch("Namespace", c.resource_version)) == []


def test_watch_with_invalid_version_is_gone(shop: FakeCluster) -> None:
    with pytest.raises(Gone):
        shop.watch("Service", "abc")


# -- reachability ---------------------------------------------------------------------------


def test_set_reachable_blocks_every_backend_call_only(shop: FakeCluster) -> None:
    shop.set_reachable(False)
    assert not shop.reachable
    calls: list[Callable[[], object]] = [
        lambda: shop.list("Service"),
        lambda: shop.watch("Service", "0"),
        lambda: shop.create(svc("api")),
        lambda: shop.update(svc("web")),
        lambda: shop.delete("Service", "shop", "web", resource_version="2"),
        lambda: shop.delete("Service", "shop", "web", uid="any"),
    ]
    for call in calls:
        with pytest.raises(Unreachable, match="'east'") as info:
            call()
        assert info.value.cluster == "east"
        assert info.value.retryable
    assert shop.writes == []
    assert shop.resource_version == "2"
    # the user still works (delete without preconditions included), and the reconciler
    # sees it all afterwards
    shop.apply([svc("api"), svc("db")])
    shop.remove("Service", "shop", "web")
    shop.delete("Service", "shop", "db")
    assert shop.get("Service", "shop", "api") is not None
    assert [d["metadata"]["name"] for d in shop.dump()] == ["shop", "api"]
    assert shop.writes == []
    shop.set_reachable(True)
    assert [e.type for e in shop.watch("Service", "2")] == ["ADDED", "ADDED", "DELETED", "DELETED"]
    assert dict(shop.requests) == {"list": 1, "watch": 2, "create": 1, "update": 1, "delete": 2}


# -- faults -----------------------------------------------------------------------------------


def test_no_faults_by_default() -> None:
    c = FakeCluster.from_manifests("east", [ns("shop")])
    for i in range(200):
        c.create(svc(f"s{i}"))
        list(c.watch("Service", "0"))
    assert len(c.list("Service").items) == 200


def test_conflict_fault_does_nothing() -> None:
    c = FakeCluster.from_manifests("east", [ns("shop"), svc("web")], faults=Faults(conflict=1))
    with pytest.raises(Conflict, match="injected"):
        c.create(svc("api"))
    with pytest.raises(Conflict):
        c.delete("Service", "shop", "web", resource_version="2")
    assert c.list("Service").resource_version == "2"  # reads are not conflicted
    assert c.writes == []


def test_server_error_fault_does_nothing() -> None:
    c = FakeCluster.from_manifests("east", [ns("shop")], faults=Faults(server_error=1), seed=3)
    with pytest.raises(ServerError) as info:
        c.create(svc("api"))
    assert info.value.status == 500
    with pytest.raises(ServerError):
        c.list("Service")
    assert c.get("Service", "shop", "api") is None


def test_timeout_fault_may_happen_before_or_after_the_write() -> None:
    c = FakeCluster.from_manifests("east", [ns("shop")], faults=Faults(timeout=1), seed=7)
    outcomes = []
    for i in range(40):
        with pytest.raises(Timeout):
            c.create(svc(f"s{i}"))
        outcomes.append(c.get("Service", "shop", f"s{i}") is not None)
    assert True in outcomes
    assert False in outcomes
    assert len(c.writes) == outcomes.count(True)
    with pytest.raises(Timeout):
        c.list("Service")  # a read never half-succeeds


def test_drop_watch_fault_ends_the_watch_early() -> None:
    c = FakeCluster.from_manifests(
        "east", [ns("shop")] + [svc(f"s{i}") for i in range(10)], faults=Faults(drop_watch=1)
    )
    lengths = {len(list(c.watch("Service", "0"))) for _ in range(30)}
    assert lengths
    assert max(lengths) < 10
    assert len(lengths) > 1


def test_gone_fault() -> None:
    c = FakeCluster.from_manifests("east", [ns("shop")], faults=Faults(gone=1))
    with pytest.raises(Gone, match="injected"):
        c.watch("Namespace", c.resource_version)
    c.list("Namespace")


def test_unreachable_fault() -> None:
    c = FakeCluster.from_manifests("east", [ns("shop")], faults=Faults(unreachable=1))
    with pytest.raises(Unreachable, match="injected"):
        c.list("Namespace")
    assert c.reachable


def _trace(cluster: FakeCluster, calls: int) -> list[str]:
    outcomes = []
    for i in range(calls):
        try:
            cluster.create(svc(f"s{i}"))
            list(cluster.watch("Service", "0"))
            outcomes.append("ok")
        except Exception as e:
            outcomes.append(type(e).__name__)
    return outcomes


def test_faults_are_deterministic_per_seed() -> None:
    def make(seed: int) -> FakeCluster:
        return FakeCluster.from_manifests("east", [ns("shop")], seed=seed)

    first = _trace(make(1), 300)
    assert first == _trace(make(1), 300)
    assert first != _trace(make(2), 300)
    assert {"ok", "WriteConflict", "ServerError", "Timeout", "Unreachable", "Gone"} <= set(first)


def test_seed_alone_means_default_faults_and_set_faults_changes_them() -> None:
    c = FakeCluster.from_manifests("east", [ns("shop")], seed=5)
    assert set(_trace(c, 200)) != {"ok"}
    c.set_faults(None)
    assert set(_trace(c, 200)) == {"ok", "AlreadyExists"}
    c.set_faults(DEFAULT_FAULTS)
    assert set(_trace(c, 200)) != {"ok"}


@pytest.mark.parametrize("value", [-0.1, 1.5])
def test_fault_probabilities_are_validated(value: float) -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        Faults(timeout=value)


# -- dump, round trips, isolation -------------------------------------------------------------


def _without_versions(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for doc in docs:
        doc = {**doc, "metadata": dict(doc["metadata"])}
        del doc["metadata"]["resourceVersion"]
        out.append(doc)
    return out


def test_dump_round_trips_through_from_manifests() -> None:
    ticks = iter(range(0, 10_000, 60))
    c = FakeCluster("east", clock=lambda: float(next(ticks)))
    c.apply([ns("shop"), ns("a"), svc("web"), svc("h", clusterIP="None"), cm("cfg", "a", k="v")])
    c.remove("Service", "shop", "web")
    c.apply([svc("web")])
    dump = c.dump()
    assert [(d["kind"], d["metadata"]["name"]) for d in dump] == [
        ("ConfigMap", "cfg"),
        ("Namespace", "a"),
        ("Namespace", "shop"),
        ("Service", "h"),
        ("Service", "web"),
    ]
    again = FakeCluster.from_manifests("east", dump)
    assert _without_versions(again.dump()) == _without_versions(dump)
    listed = FakeCluster.from_manifests("east", [c.dump_list()])
    assert _without_versions(listed.dump()) == _without_versions(dump)
    assert c.dump_list()["kind"] == "List"


def test_from_manifests_accepts_yaml_timestamps() -> None:
    import datetime

    doc = ns("shop")
    doc["metadata"]["creationTimestamp"] = datetime.datetime(
        2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc
    )
    c = FakeCluster.from_manifests("east", [doc])
    got = c.get("Namespace", None, "shop")
    assert got is not None
    assert got["metadata"]["creationTimestamp"] == "2024-05-06T07:08:09Z"


def test_stored_state_is_isolated_from_callers(shop: FakeCluster) -> None:
    doc = svc("api")
    shop.apply([doc])
    doc["spec"]["ports"][0]["port"] = 1
    created = shop.create(svc("other"))
    created["metadata"]["name"] = "hacked"
    listed = shop.list("Service")
    listed.items[0]["spec"]["ports"].clear()
    shop.get("Service", "shop", "web")["metadata"]["labels"] = {"x": "y"}  # type: ignore[index]
    shop.dump()[0]["metadata"]["name"] = "hacked"
    for event in shop.watch("Service", "0"):
        event.object["spec"]["clusterIP"] = "0.0.0.0"
    update = shop.get("Service", "shop", "web")
    assert update is not None
    stored = shop.update(update)
    stored["spec"]["type"] = "NodePort"

    api = shop.get("Service", "shop", "api")
    assert api is not None
    assert api["spec"]["ports"][0]["port"] == 80
    assert [d["metadata"]["name"] for d in shop.list("Service").items] == ["api", "other", "web"]
    web = shop.get("Service", "shop", "web")
    assert web is not None
    assert "labels" not in web["metadata"]
    assert web["spec"]["type"] == "ClusterIP"
    assert all(e.object["spec"]["clusterIP"] != "0.0.0.0" for e in shop.watch("Service", "0"))
    assert shop.dump()[0]["metadata"]["name"] == "shop"


# -- property: any history of user edits dumps and loads back -----------------------------------

_NAMES = st.sampled_from(["a", "b", "c"])
_LABELS = st.dictionaries(st.sampled_from(["app", "tier"]), st.sampled_from(["x", "y"]))

_ops = st.lists(
    st.one_of(
        st.tuples(st.just("ns"), _NAMES, _LABELS),
        st.tuples(
            st.just("svc"),
            _NAMES,
            _NAMES,
            st.lists(st.integers(1, 65535), min_size=1, max_size=3, unique=True),
            st.sampled_from([None, "None", "10.100.0.9"]),
        ),
        st.tuples(st.just("cm"), _NAMES, _NAMES, _LABELS),
        st.tuples(
            st.just("rm"), st.sampled_from(["Namespace", "Service", "ConfigMap"]), _NAMES, _NAMES
        ),
    ),
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(ops=_ops)
def test_dump_then_from_manifests_is_the_same_cluster(ops: list[tuple[Any, ...]]) -> None:
    ticks = iter(range(10**6))
    c = FakeCluster("east", clock=lambda: float(next(ticks)))
    for op in ops:
        kind = op[0]
        if kind == "ns":
            c.apply([ns(op[1], **op[2])])
        elif kind in ("svc", "cm") and c.get("Namespace", None, op[1]) is None:
            with pytest.raises(NotFound):
                c.apply([svc(op[2], op[1]) if kind == "svc" else cm(op[2], op[1])])
        elif kind == "svc":
            extra = {} if op[4] is None else {"clusterIP": op[4]}
            c.apply([svc(op[2], op[1], *op[3], **extra)])
        elif kind == "cm":
            c.apply([cm(op[2], op[1], **op[3])])
        elif c.get(op[1], op[2], op[3]) is not None:
            c.remove(op[1], op[2], op[3])
    before = c.dump()
    versions = [rv(d) for d in before]
    assert len(set(versions)) == len(versions)
    assert max(versions, default=0) <= int(c.resource_version)
    after = FakeCluster.from_manifests("east", before).dump()
    assert _without_versions(after) == _without_versions(before)
