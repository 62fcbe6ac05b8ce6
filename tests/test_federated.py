"""Federated services: Linkerd's union across clusters, precedence, and conflicts."""

from __future__ import annotations

from typing import Any

import pytest

from builders import MEMBER, applied, link, manifests, namespace, plan_docs, ports, service
from meshmirror import ConflictCode, PlanOptions, SkipCode, cluster_state, diff

RD = "multicluster.linkerd.io/remote-discovery"
LD = "multicluster.linkerd.io/local-discovery"


def member(name: str = "service-one", ns: str = "ns1", **kwargs: Any) -> dict[str, Any]:
    labels = {**MEMBER, **kwargs.pop("labels", {})}
    return service(name, ns, labels=labels, **kwargs)


def fed(p: Any, name: str = "service-one-federated", ns: str = "ns1") -> dict[str, Any]:
    got: dict[str, Any] = manifests(p)[("Service", ns, name)]
    return got


def test_first_remote_member_creates_linkerds_federated_service() -> None:
    source = [namespace("ns1"), link()]
    remote = [namespace("ns1"), member(labels={"lk": "lv"})]
    p = plan_docs(source, {"remote": remote})
    assert manifests(p) == {
        ("Service", "ns1", "service-one-federated"): {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": "service-one-federated",
                "namespace": "ns1",
                "labels": {"lk": "lv", "mirror.linkerd.io/mirrored-service": "true"},
                "annotations": {RD: "service-one@remote"},
            },
            "spec": {
                "ports": [
                    {"name": "port1", "protocol": "TCP", "port": 555, "targetPort": 555},
                    {"name": "port2", "protocol": "TCP", "port": 666, "targetPort": 666},
                ]
            },
        }
    }
    assert "mirror.linkerd.io/cluster-name" not in fed(p)["metadata"]["labels"]


def test_members_in_three_clusters_in_precedence_order() -> None:
    source = [
        namespace("ns1"),
        link("c", created="2024-03-01T00:00:00Z", gateway=""),
        link("a", created="2024-02-01T00:00:00Z", gateway=""),
        link("b", created="2024-01-01T00:00:00Z", gateway=""),
    ]
    remotes = {n: [namespace("ns1"), member(labels={"from": n})] for n in "abc"}
    p = plan_docs(source, remotes)
    # Oldest Link first: b, a, c. Works without any gateway (gatewayless Links).
    assert fed(p)["metadata"]["annotations"] == {RD: "service-one@b,service-one@a,service-one@c"}
    assert fed(p)["metadata"]["labels"]["from"] == "b"
    assert p.federated[0].winner.cluster == "b"


def test_tie_on_link_age_broken_by_cluster_name() -> None:
    source = [namespace("ns1"), link("zeta"), link("alpha")]
    remotes = {n: [namespace("ns1"), member(labels={"from": n})] for n in ("zeta", "alpha")}
    p = plan_docs(source, remotes)
    assert fed(p)["metadata"]["annotations"][RD] == "service-one@alpha,service-one@zeta"
    assert fed(p)["metadata"]["labels"]["from"] == "alpha"


def test_local_member_wins_and_is_local_discovery() -> None:
    source = [
        namespace("ns1"),
        link(),
        member(labels={"from": "local"}, port_list=ports(("http", 80))),
    ]
    remote = [namespace("ns1"), member(labels={"from": "remote"})]
    p = plan_docs(source, {"remote": remote})
    f = fed(p)
    assert f["metadata"]["annotations"] == {RD: "service-one@remote", LD: "service-one"}
    assert f["metadata"]["labels"]["from"] == "local"
    assert [x["name"] for x in f["spec"]["ports"]] == ["http"]
    assert p.federated[0].winner.local


def test_local_only_has_no_remote_discovery_key() -> None:
    p = plan_docs([namespace("ns1"), member()], {})
    assert fed(p)["metadata"]["annotations"] == {LD: "service-one"}


@pytest.mark.parametrize("how", ["label", "delete", "link"])
def test_member_leaves(how: str) -> None:
    source = [namespace("ns1"), link("a"), link("b", created="2024-06-01T00:00:00Z")]
    remotes = {n: [namespace("ns1"), member()] for n in "ab"}
    state = applied(cluster_state("local", source), plan_docs(source, remotes))
    if how == "label":
        remotes["b"][1]["metadata"]["labels"] = {}
    elif how == "delete":
        del remotes["b"][1]
    else:
        source = source[:2]
    p = plan_docs(source, remotes)
    assert fed(p)["metadata"]["annotations"] == {RD: "service-one@a"}
    changes = diff(p, state)
    assert [u.ref.name for u in changes.updates] == ["service-one-federated"]


def test_last_member_leaving_deletes_the_federated_service() -> None:
    source = [namespace("ns1"), link()]
    remote = [namespace("ns1"), member()]
    state = applied(cluster_state("local", source), plan_docs(source, {"remote": remote}))
    remote[1]["metadata"]["labels"] = {}
    p = plan_docs(source, {"remote": remote})
    assert p.objects == ()
    assert [o.name for o in diff(p, state).deletes] == ["service-one-federated"]


def test_namespace_sameness_and_missing_namespace() -> None:
    source = [namespace("ns1"), link()]
    remote = [namespace("ns1"), namespace("ns2"), member(ns="ns1"), member(ns="ns2")]
    p = plan_docs(source, {"remote": remote})
    assert [str(o.ref) for o in p.objects] == ["Service ns1/service-one-federated"]
    assert [(s.code, s.ref.namespace) for s in p.skipped] == [(SkipCode.NAMESPACE_MISSING, "ns2")]


def test_excluded_labels_and_annotations_apply_to_the_winner() -> None:
    source = [namespace("ns1"), link(excluded_labels=["team/*"], excluded_annotations=["note"])]
    remote = [
        namespace("ns1"),
        member(
            labels={"team/a": "x", "keep": "y"},
            annotations={"note": "n", "other": "o", "config.linkerd.io/opaque-ports": "1"},
        ),
    ]
    f = fed(plan_docs(source, {"remote": remote}))
    assert f["metadata"]["labels"] == {"keep": "y", "mirror.linkerd.io/mirrored-service": "true"}
    assert f["metadata"]["annotations"] == {
        "config.linkerd.io/opaque-ports": "1",
        "other": "o",
        RD: "service-one@remote",
    }


def test_forged_discovery_annotations_are_dropped() -> None:
    source = [namespace("ns1"), link()]
    remote = [namespace("ns1"), member(annotations={LD: "evil", RD: "evil@x"})]
    f = fed(plan_docs(source, {"remote": remote}))
    assert f["metadata"]["annotations"] == {RD: "service-one@remote"}


@pytest.mark.parametrize(
    ("override", "code"),
    [
        ({"port_list": ports(("port1", 555))}, ConflictCode.PORT_CONFLICT),
        ({"port_list": ports(("port1", 555), ("port2", 667))}, ConflictCode.PORT_CONFLICT),
        ({"port_list": ports(("port1", 555), ("other", 666))}, ConflictCode.PORT_CONFLICT),
        ({"type": "NodePort"}, ConflictCode.TYPE_CONFLICT),
        ({"session_affinity": "ClientIP"}, ConflictCode.SESSION_AFFINITY_CONFLICT),
    ],
)
def test_each_conflict_code(override: dict[str, Any], code: ConflictCode) -> None:
    source = [namespace("ns1"), link("a"), link("b", created="2024-06-01T00:00:00Z")]
    p = plan_docs(
        source, {"a": [namespace("ns1"), member()], "b": [namespace("ns1"), member(**override)]}
    )
    assert [(c.code, c.members, c.winner) for c in p.conflicts] == [
        (code, ("service-one@b",), "service-one@a")
    ]
    msg = p.conflicts[0].message
    assert "service-one-federated" in msg and "service-one@b" in msg and "service-one@a" in msg
    # The federated Service is still planned, from the winner.
    assert len(fed(p)["spec"]["ports"]) == 2


def test_target_port_may_differ_without_conflict() -> None:
    source = [namespace("ns1"), link("a"), link("b", created="2024-06-01T00:00:00Z")]
    p = plan_docs(
        source,
        {
            "a": [namespace("ns1"), member(port_list=ports(("p", 80, 8080)))],
            "b": [namespace("ns1"), member(port_list=ports(("p", 80, "http")))],
        },
    )
    assert p.conflicts == ()


def test_headless_member_never_joins() -> None:
    source = [namespace("ns1"), link("a"), link("b", created="2024-06-01T00:00:00Z")]
    p = plan_docs(
        source, {"a": [namespace("ns1"), member()], "b": [namespace("ns1"), member(headless=True)]}
    )
    assert fed(p)["metadata"]["annotations"] == {RD: "service-one@a"}
    assert [s.code for s in p.skipped] == [SkipCode.HEADLESS_MEMBER]
    assert [c.code for c in p.conflicts] == [ConflictCode.HEADLESS_CONFLICT]
    only_headless = plan_docs(source, {"b": [namespace("ns1"), member(headless=True)]})
    assert only_headless.objects == ()


def test_long_federated_name_is_reported_not_truncated() -> None:
    name = "s" * 54  # + "-federated" = 64
    p = plan_docs([namespace("ns1"), link()], {"remote": [namespace("ns1"), member(name)]})
    assert p.objects == ()
    assert [s.code for s in p.skipped] == [SkipCode.NAME_TOO_LONG]
    assert f"{name}-federated" in p.skipped[0].message


def test_unowned_local_federated_name_is_never_claimed() -> None:
    mine = service("service-one-federated", "ns1", labels={"app": "mine"})
    source = [namespace("ns1"), link(), mine]
    p = plan_docs(source, {"remote": [namespace("ns1"), member()]})
    assert p.objects == ()
    assert [s.code for s in p.skipped] == [SkipCode.NOT_OWNED]
    assert not diff(p, cluster_state("local", source))


def test_mirrors_and_federated_services_are_never_members() -> None:
    selector = {"matchLabels": {"app": "web"}}
    source = [namespace("ns1"), link(fed_selector=selector)]
    remote = [
        namespace("ns1"),
        service(
            "web-federated",
            "ns1",
            labels={"app": "web", "mirror.linkerd.io/mirrored-service": "true"},
        ),
    ]
    p = plan_docs(source, {"remote": remote})
    assert p.objects == ()
    assert [s.code for s in p.skipped] == [SkipCode.REMOTE_IS_MIRROR]


def test_member_can_also_be_exported() -> None:
    source = [namespace("ns1"), link()]
    remote = [namespace("ns1"), member(labels={"mirror.linkerd.io/exported": "remote-discovery"})]
    names = {o.name for o in plan_docs(source, {"remote": remote}).objects}
    assert names == {"service-one-federated", "service-one-remote"}


def test_local_selector_option() -> None:
    source = [namespace("ns1"), service("web", "ns1", labels={"fed": "yes"})]
    p = plan_docs(source, {}, options=PlanOptions(local_federated_selector="fed=yes"))
    assert {o.name for o in p.objects} == {"web-federated"}
