"""`meshmirror.views.checks`: each check passing and failing in each mode that needs it, and
never failing a mode that does not (docs/design.md, sections 4.3 and 4.4)."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builders import DISCOVERED, EXPORTED, MEMBER, endpoints, link, namespace, ports, service
from meshmirror import ClusterState, PlanOptions, cluster_state, plan
from meshmirror.decisions.plan import Plan
from meshmirror.testing import topologies
from meshmirror.views.checks import CHECK_IDS, GROUPS, CheckReport, CheckResult, check
from meshmirror.views.topology import Topology

MESHED = {"linkerd.io/inject": "enabled"}
MODES: dict[str, dict[str, str]] = {
    "gateway": EXPORTED,
    "remote-discovery": DISCOVERED,
    "federated": MEMBER,
}
GATEWAY_IDS = ("gateway-address", "gateway-identity", "gateway-reachable")
FLAT = {"clusters": {"west": {"podNetwork": "net"}, "east": {"podNetwork": "net"}}}


def world(
    source_docs: list[dict[str, Any]],
    remotes: dict[str, list[dict[str, Any]]],
    *,
    options: PlanOptions | None = None,
    resolve: Any = None,
) -> tuple[Plan, ClusterState, dict[str, ClusterState]]:
    """A plan of ``west`` with its remotes, from kubectl-style dicts."""
    src = cluster_state("west", source_docs)
    rem = {name: cluster_state(name, docs) for name, docs in remotes.items()}
    return plan(src, rem, options=options, resolve=resolve), src, rem


def one_service(
    mode: str,
    *,
    meshed: bool = True,
    source_extra: tuple[dict[str, Any], ...] = (),
    link_doc: dict[str, Any] | None = None,
    remote_ready: bool = True,
    name: str = "web",
) -> tuple[Plan, ClusterState, dict[str, ClusterState]]:
    """``west`` links ``east``, which has one Service ``shop/<name>`` in ``mode``."""
    src = [namespace("shop", **(MESHED if meshed else {})), link_doc or link("east"), *source_extra]
    east = [
        namespace("shop", **MESHED),
        service(name, "shop", labels=MODES[mode]),
        endpoints(name, "shop", ["10.2.0.1"] if remote_ready else [], not_ready=["10.2.0.9"]),
    ]
    return world(src, {"east": east})


def run(
    parts: tuple[Plan, ClusterState, dict[str, ClusterState]], topology: Any = None
) -> CheckReport:
    p, src, rem = parts
    topo = topology if isinstance(topology, Topology) else Topology.from_dict(topology)
    return check(p, src, rem, topo)


def of(report: CheckReport, check_id: str) -> dict[str, str]:
    """subject -> status for one check id."""
    return {r.subject: r.status for r in report.by_id(check_id)}


def only(report: CheckReport, check_id: str) -> CheckResult:
    found = report.by_id(check_id)
    assert len(found) == 1, found
    return found[0]


# -- links -------------------------------------------------------------------------------


def test_link_target_known_warns_never_fails() -> None:
    p = world(
        [namespace("shop", **MESHED), link("east"), link("ghost")],
        {"east": [namespace("shop")]},
    )
    report = run(p)
    assert of(report, "link-target-known") == {
        "Link linkerd-multicluster/east": "ok",
        "Link linkerd-multicluster/ghost": "warn",
    }
    warn = next(r for r in report.by_id("link-target-known") if r.status == "warn")
    assert "ghost=PATH" in warn.message


@pytest.mark.parametrize("mode", list(MODES))
def test_link_credentials(mode: str) -> None:
    assert only(run(one_service(mode)), "link-credentials").status == "ok"
    bare = link("east")
    del bare["spec"]["clusterCredentialsSecret"]
    failed = only(run(one_service(mode, link_doc=bare)), "link-credentials")
    assert failed.status == "fail"
    assert "clusterCredentialsSecret" in failed.message
    assert "east" in failed.subject


# -- trust roots ---------------------------------------------------------------------------


def roots(west: str | None, east: str | None) -> dict[str, Any]:
    clusters: dict[str, Any] = {"west": {"podNetwork": "net"}, "east": {"podNetwork": "net"}}
    if west:
        clusters["west"]["trustRoot"] = west
    if east:
        clusters["east"]["trustRoot"] = east
    return {"clusters": clusters}


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize(
    ("west", "east", "status"),
    [
        ("root-1", "root-1", "ok"),
        ("root-1", "root-2", "fail"),
        ("root-1", None, "warn"),
        (None, None, "warn"),
        ("root-1", "sha256:abc", "warn"),  # a name and a fingerprint: not comparable
    ],
)
def test_trust_root_in_every_mode(mode: str, west: str, east: str, status: str) -> None:
    result = only(run(one_service(mode), roots(west, east)), "trust-root")
    assert result.status == status
    assert result.subject == "Link linkerd-multicluster/east"
    if status != "ok":
        assert "trust" in result.message


def config_map(pem: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "linkerd-identity-trust-roots", "namespace": "linkerd"},
        "data": {"ca-bundle.crt": pem},
    }


@pytest.mark.parametrize(("east_pem", "status"), [("AAAA", "ok"), ("BBBB", "fail")])
def test_trust_root_from_config_maps(east_pem: str, status: str) -> None:
    pem = "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n"
    p, src, _ = one_service("gateway", source_extra=(config_map(pem.format("AAAA")),))
    east = cluster_state(
        "east",
        [
            namespace("shop"),
            service("web", "shop", labels=EXPORTED),
            endpoints("web", "shop", ["10.2.0.1"]),
            config_map(pem.format(east_pem)),
        ],
    )
    p = plan(src, {"east": east})
    result = only(check(p, src, {"east": east}), "trust-root")
    assert result.status == status


# -- gateways ------------------------------------------------------------------------------


def test_gateway_checks_pass_for_a_gateway_mirror() -> None:
    report = run(one_service("gateway"))
    assert {cid: only(report, cid).status for cid in GATEWAY_IDS} == dict.fromkeys(
        GATEWAY_IDS, "ok"
    )
    assert "192.0.2.127" in only(report, "gateway-address").message
    assert "default" in only(report, "gateway-reachable").message


def test_gateway_address_and_identity_fail_without_a_gateway() -> None:
    report = run(one_service("gateway", link_doc=link("east", gateway="")))
    address = only(report, "gateway-address")
    assert address.status == "fail"
    assert "shop/web" in address.message and "gatewayAddress" in address.message
    assert only(report, "gateway-identity").status == "fail"


def test_gateway_address_fails_for_an_unresolved_hostname() -> None:
    parts = one_service("gateway", link_doc=link("east", gateway="gw.example.com"))
    address = only(run(parts), "gateway-address")
    assert address.status == "fail"
    assert "hostnames are not resolved" in address.message
    resolved = world(
        [namespace("shop", **MESHED), link("east", gateway="gw.example.com")],
        {
            "east": [
                namespace("shop"),
                service("web", "shop", labels=EXPORTED),
                endpoints("web", "shop", ["10.2.0.1"]),
            ]
        },
        resolve={"gw.example.com": ["203.0.113.5"]},
    )
    ok = only(run(resolved), "gateway-address")
    assert ok.status == "ok"
    assert "203.0.113.5" in ok.message


def test_gateway_identity_fails_when_absent() -> None:
    report = run(one_service("gateway", link_doc=link("east", identity="")))
    assert only(report, "gateway-address").status == "ok"
    identity = only(report, "gateway-identity")
    assert identity.status == "fail"
    assert "gatewayIdentity" in identity.message


@pytest.mark.parametrize(
    ("reachable", "status"), [(None, "ok"), (["west"], "ok"), (["north"], "fail"), ([], "fail")]
)
def test_gateway_reachable(reachable: list[str] | None, status: str) -> None:
    topo: dict[str, Any] = {"clusters": {"east": {}}}
    if reachable is not None:
        topo["clusters"]["east"]["gatewayReachableFrom"] = reachable
    result = only(run(one_service("gateway"), topo), "gateway-reachable")
    assert result.status == status
    if status == "fail":
        assert "gatewayReachableFrom" in result.message


def test_headless_mirrors_need_the_gateway_too() -> None:
    parts = world(
        [namespace("shop", **MESHED), link("east")],
        {
            "east": [
                namespace("shop"),
                service("db", "shop", labels=EXPORTED, headless=True),
                endpoints(
                    "db",
                    "shop",
                    hosts={"db-0": "10.2.0.30"},
                    labels={"service.kubernetes.io/headless": ""},
                ),
            ]
        },
        options=PlanOptions(enable_headless_services=True),
    )
    assert parts[0].mirrors[0].mode == "headless"
    report = run(parts, {"clusters": {"east": {"gatewayReachableFrom": []}}})
    assert only(report, "gateway-address").status == "ok"
    assert "192.0.2.127" in only(report, "gateway-address").message
    assert only(report, "gateway-reachable").status == "fail"


@pytest.mark.parametrize("mode", ["remote-discovery", "federated"])
@pytest.mark.parametrize("gateway", ["", "192.0.2.127"])
def test_no_gateway_check_without_gateway_mode_mirrors(mode: str, gateway: str) -> None:
    # linkerd2 #11428: Linkerd's own check fails gatewayless Links; meshmirror does not
    # check a gateway nothing uses, even when the topology says it is unreachable.
    gatewayless = link("east", gateway=gateway, identity="")
    report = run(
        one_service(mode, link_doc=gatewayless),
        {"clusters": {"east": {"gatewayReachableFrom": []}}},
    )
    for cid in GATEWAY_IDS:
        assert report.by_id(cid) == ()
    assert not any(r.id in GATEWAY_IDS for r in report)


# -- pod networks --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["remote-discovery", "federated"])
@pytest.mark.parametrize(
    ("topology", "status"),
    [
        (FLAT, "ok"),
        (None, "fail"),  # by default each cluster is its own pod network
        ({"clusters": {"west": {"podNetwork": "a"}, "east": {"podNetwork": "b"}}}, "fail"),
        ({"clusters": {"west": {"podNetwork": "a"}}}, "fail"),
    ],
)
def test_flat_network(mode: str, topology: Any, status: str) -> None:
    result = only(run(one_service(mode), topology), "flat-network")
    assert result.status == status
    assert "web" in result.subject
    if status == "fail":
        assert "podNetwork" in result.message


def test_flat_network_is_not_checked_for_gateway_mirrors_or_local_members() -> None:
    assert run(one_service("gateway")).by_id("flat-network") == ()
    local_only = world(
        [
            namespace("shop", **MESHED),
            service("cart", "shop", labels=MEMBER),
            endpoints("cart", "shop", ["10.1.0.1"]),
        ],
        {},
    )
    report = run(local_only)
    assert report.by_id("flat-network") == ()
    assert only(report, "mirror-name").status == "ok"


def test_flat_network_per_remote_member() -> None:
    member = [
        namespace("shop", **MESHED),
        service("cart", "shop", labels=MEMBER),
        endpoints("cart", "shop", ["10.3.0.1"]),
    ]
    parts = world(
        [namespace("shop", **MESHED), link("east"), link("north"), *member[1:]],
        {"east": member, "north": member},
    )
    report = run(parts, FLAT)
    assert of(report, "flat-network") == {
        "Service shop/cart-federated member cart@east": "ok",
        "Service shop/cart-federated member cart@north": "fail",
    }


# -- names -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", list(MODES))
def test_mirror_name_ok_for_every_planned_object(mode: str) -> None:
    result = only(run(one_service(mode)), "mirror-name")
    assert result.status == "ok"
    expected = "web-federated" if mode == "federated" else "web-east"
    assert result.subject == f"Service shop/{expected}"


@pytest.mark.parametrize("mode", ["gateway", "remote-discovery"])
def test_mirror_name_fails_when_a_local_service_holds_the_name(mode: str) -> None:
    ours = service("web-east", "shop")
    result = only(run(one_service(mode, source_extra=(ours,))), "mirror-name")
    assert result.status == "fail"
    assert result.subject == "Service shop/web@east"
    assert result.message.startswith("NotOwned:")


@pytest.mark.parametrize("mode", list(MODES))
def test_mirror_name_fails_for_a_name_over_63_characters(mode: str) -> None:
    long = "a" * 60
    result = only(run(one_service(mode, name=long)), "mirror-name")
    assert result.status == "fail"
    assert long in result.subject
    assert result.message.startswith("NameTooLong:")


# -- meshed clients ----------------------------------------------------------------------


@pytest.mark.parametrize("mode", list(MODES))
def test_clients_meshed_in_every_mode(mode: str) -> None:
    ok = only(run(one_service(mode)), "clients-meshed")
    assert (ok.subject, ok.status) == ("Namespace shop", "ok")
    failed = only(run(one_service(mode, meshed=False)), "clients-meshed")
    assert (failed.subject, failed.status) == ("Namespace shop", "fail")
    assert "linkerd.io/inject" in failed.message


def test_clients_meshed_only_where_something_is_planned() -> None:
    parts = one_service("gateway", source_extra=(namespace("tools"),))
    assert set(of(run(parts), "clients-meshed")) == {"Namespace shop"}


def test_clients_meshed_fails_for_a_namespace_that_will_be_created() -> None:
    parts = world(
        [link("east")],
        {
            "east": [
                namespace("pay"),
                service("bill", "pay", labels=EXPORTED),
                endpoints("bill", "pay", ["10.2.0.1"]),
            ]
        },
        options=PlanOptions(enable_namespace_creation=True),
    )
    result = only(run(parts), "clients-meshed")
    assert result.status == "fail"
    assert "does not exist" in result.message


# -- federated conflicts -------------------------------------------------------------------


def federation(**east_spec: Any) -> tuple[Plan, ClusterState, dict[str, ClusterState]]:
    local = service("cart", "shop", labels=MEMBER, port_list=ports(("http", 8080)))
    remote = service("cart", "shop", labels=MEMBER, **east_spec)
    return world(
        [namespace("shop", **MESHED), link("east"), local, endpoints("cart", "shop", ["10.1.0.1"])],
        {"east": [namespace("shop"), remote, endpoints("cart", "shop", ["10.2.0.1"])]},
    )


@pytest.mark.parametrize(
    ("spec", "code", "status"),
    [
        ({"port_list": ports(("http", 9090))}, "PortConflict", "fail"),  # 8080 not served
        ({"port_list": ports(("http", 8080), ("metrics", 9100))}, "PortConflict", "warn"),
        ({"port_list": ports(("web", 8080))}, "PortConflict", "warn"),  # another name only
        (
            {"port_list": ports(("http", 8080)), "session_affinity": "ClientIP"},
            "SessionAffinityConflict",
            "warn",
        ),
        ({"port_list": ports(("http", 8080)), "type": "NodePort"}, "TypeConflict", "warn"),
    ],
)
def test_federated_conflicts(spec: dict[str, Any], code: str, status: str) -> None:
    result = only(run(federation(**spec), FLAT), "federated-conflict")
    assert result.status == status
    assert result.subject == "Service shop/cart-federated"
    assert result.message.startswith(f"{code}:")


def test_no_federated_conflict_result_without_a_conflict() -> None:
    report = run(federation(port_list=ports(("http", 8080))), FLAT)
    assert report.by_id("federated-conflict") == ()
    assert report.ok


# -- the report ---------------------------------------------------------------------------


def test_report_shape_and_text() -> None:
    report = run(one_service("remote-discovery", meshed=False))
    assert isinstance(report[0], CheckResult)
    assert list(report[:2]) == list(report.results[:2])
    assert len(report) == len(report.results)
    assert report.failed and not report.ok
    assert {r.id for r in report.failed} == {"flat-network", "clients-meshed"}
    assert {r.id for r in report.warnings} == {"trust-root"}
    doc = report.to_dict()
    assert json.loads(json.dumps(doc)) == doc
    assert list(doc) == ["checks"]
    for item in doc["checks"]:
        assert list(item) == ["id", "subject", "status", "message"]
        assert item["status"] in ("ok", "warn", "fail")
        assert item["id"] in CHECK_IDS
    text = report.text()
    for name, _ in report.groups():
        assert f"\n{name}\n{'-' * len(name)}\n" in "\n" + text
    assert "✔ [link-target-known]" in text
    assert "‼ [trust-root]" in text
    assert "× [flat-network]" in text
    assert text.rstrip().endswith("Status check results are × (4 ok, 1 warning, 2 failures)")
    assert "2 failures" in repr(report)
    page = report._repr_html_()
    assert page.count("<tr") == len(report) + 1
    assert page.count('<tr class="meshmirror-fail">') == 2
    assert report.notes and "podNetwork not given" in report.notes[0]


def test_report_orders_groups_then_subjects() -> None:
    report = run(one_service("gateway"))
    group_index = {cid: i for i, (_, ids) in enumerate(GROUPS) for cid in ids}
    keys = [(group_index[r.id], r.subject) for r in report]
    assert keys == sorted(keys)
    assert (
        CheckReport("west", ())
        .text()
        .endswith("Status check results are ✔ (0 ok, 0 warnings, 0 failures)\n")
    )
    assert "no checks apply" in repr(CheckReport("west", ()))


def test_a_clean_setup_passes() -> None:
    parts = world(
        [namespace("shop", **MESHED), link("east")],
        {
            "east": [
                namespace("shop"),
                service("web", "shop", labels=EXPORTED),
                endpoints("web", "shop", ["10.2.0.1"]),
                service("api", "shop", labels=DISCOVERED),
                endpoints("api", "shop", ["10.2.0.2"]),
            ]
        },
    )
    report = run(parts, roots("root-1", "root-1"))
    assert [r for r in report if r.status != "ok"] == []
    assert report.ok and not report.failed


# -- properties ---------------------------------------------------------------------------

topology_files = st.fixed_dictionaries(
    {
        "clusters": st.dictionaries(
            st.sampled_from(["west", "east", "north", "south", "central"]),
            st.fixed_dictionaries(
                {},
                optional={
                    "podNetwork": st.sampled_from(["a", "b"]),
                    "trustRoot": st.sampled_from(["r1", "r2"]),
                    "gatewayReachableFrom": st.lists(
                        st.sampled_from(["west", "east", "north"]), unique=True
                    ),
                },
            ),
        )
    }
)


def shuffled(state: ClusterState, rng: random.Random) -> ClusterState:
    objects = state.objects()
    rng.shuffle(objects)
    return ClusterState.build(state.name, objects)


@settings(max_examples=40, deadline=None)
@given(topologies(), topology_files, st.randoms(use_true_random=False))
def test_check_is_independent_of_input_order(
    world_: tuple[ClusterState, dict[str, ClusterState]],
    topo_file: dict[str, Any],
    rng: random.Random,
) -> None:
    src, remotes = world_
    topo = Topology.from_dict(topo_file)
    first = check(plan(src, remotes), src, remotes, topo)
    names = list(remotes)
    rng.shuffle(names)
    src2 = shuffled(src, rng)
    remotes2 = {n: shuffled(remotes[n], rng) for n in names}
    second = check(plan(src2, remotes2), src2, remotes2, topo)
    assert second == first
    assert second.text() == first.text()


@settings(max_examples=40, deadline=None)
@given(topologies(), topology_files)
def test_every_result_is_explained_and_gateways_only_where_used(
    world_: tuple[ClusterState, dict[str, ClusterState]], topo_file: dict[str, Any]
) -> None:
    src, remotes = world_
    p = plan(src, remotes)
    report = check(p, src, remotes, Topology.from_dict(topo_file))
    gateway_links = {m.link for m in p.mirrors if m.mode in ("gateway", "headless")}
    gateway_skips = {
        s.cluster for s in p.skipped if s.code.value in ("NoGateway", "GatewayUnresolved")
    }
    for r in report:
        assert r.id in CHECK_IDS
        assert r.message
        if r.ref is not None:
            assert r.ref.name in r.subject
        if r.id in GATEWAY_IDS:
            link_ = src.get(r.ref) if r.ref is not None else None
            assert link_ is not None
            assert r.ref in gateway_links or link_.target_cluster_name in gateway_skips
        if r.id == "link-target-known":
            assert r.status != "fail"
