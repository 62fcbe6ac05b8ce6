"""meshmirror against real kube-apiservers (see conftest.py for the world).

The tests run in file order and share the world: each starts from what the previous
left, as a cluster's life would. Every step asserts convergence to ``plan()`` of what the
real servers hold; the audit logs prove least privilege at the end.
"""

from __future__ import annotations

import base64
import io
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from e2e_helpers import (
    CONTROLLER_USER,
    GATEWAY,
    LINKS_NS,
    PROBE_USER,
    World,
    eps,
    headless_eps,
    ns,
    svc,
    wait_for,
)

from meshmirror.cli import main as meshmirror_main
from meshmirror_k8s.testing import KubeEnvironment

DEPRECATED = "v1 Endpoints is deprecated"
CLUSTER = "mirror.linkerd.io/cluster-name"
HEADLESS_MISSING_IP = 'ip: Invalid value: "": must be a valid IP address'


def test_three_clusters_start_in_seconds(kube: KubeEnvironment) -> None:
    assert kube.started_s < 60, kube.started_s
    version = kube["west"].request("GET", "/version").body
    rss = kube.rss_bytes()
    print(
        json.dumps(
            {
                "started_s": round(kube.started_s, 2),
                "version": version.get("gitVersion"),
                "rss": rss,
            }
        ),
        file=sys.stderr,
    )
    assert all(rss.values())
    # The admin may do anything; an extra user nothing until a binding names it.
    assert kube["west"].request("GET", "/api/v1/namespaces").status == 200
    assert kube["west"].request("GET", "/api/v1/namespaces", user=PROBE_USER).status == 403


def _plan_items(world: World, tmp_path: Path, *flags: str) -> tuple[list[dict[str, Any]], str]:
    paths = []
    for name in ("west", "east", "north"):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": world.dump(name)}))
        paths.append(f"{name}={path}")
    out, err = io.StringIO(), io.StringIO()
    argv = ["plan", "--source", "west", *paths, "-o", "json", "--no-resolve", *flags]
    code = meshmirror_main(argv, out=out, err=err)
    assert code == 0, err.getvalue()
    return json.loads(out.getvalue())["items"], err.getvalue()


@pytest.mark.parametrize(
    "flags", [(), ("--enable-headless-services",)], ids=["default", "headless"]
)
def test_every_planned_object_is_accepted_by_the_server(
    world: World, tmp_path: Path, flags: tuple[str, ...]
) -> None:
    """Server-side dry-run create (``dryRun=All``) of everything ``meshmirror plan``
    prints, before anything is mirrored: admission and validation as for a real write,
    nothing persisted."""
    items, warnings = _plan_items(world, tmp_path, *flags)
    assert items
    assert "NotOwned" in warnings  # api-north squats north's mirror name
    before = world.versions()
    refused = []
    for item in items:
        if item["kind"] == "Namespace":
            continue
        response = world.west.create(item, dry_run=True)
        if response.status != 201:
            refused.append(
                (item["kind"], item["metadata"]["name"], response.status, response.body["message"])
            )
    # The one known planner gap: a headless mirror's Endpoints planned before its per-pod
    # Services exist carry `ip: ""`, which the server rejects. Anything else is a bug.
    known = [r for r in refused if r[0] == "Endpoints" and HEADLESS_MISSING_IP in r[3]]
    assert [r for r in refused if r not in known] == []
    assert not known or flags, known
    assert world.versions() == before  # dry run: nothing persisted


def test_first_sync_converges(world: World) -> None:
    run = world.once()
    assert run.code == 0, run.stderr
    world.assert_converged()
    assert world.get("west", "Service", "shop", "web-east") is not None  # gateway
    gw = world.get("west", "Endpoints", "shop", "web-east")
    assert gw is not None and gw["subsets"][0]["addresses"] == [{"ip": GATEWAY}]
    assert world.get("west", "Service", "shop", "db-east") is not None  # remote discovery
    assert world.get("west", "Endpoints", "shop", "db-east") is None
    assert world.get("west", "Service", "shop", "api-north") is not None  # the unowned one
    fed = world.get("west", "Service", "shop", "cache-federated")
    assert fed is not None
    assert fed["metadata"]["annotations"]["multicluster.linkerd.io/remote-discovery"] == (
        "cache@east,cache@north"
    )
    assert world.get("west", "Service", "shop", "web-north") is None  # gatewayless Link
    kafka = world.get("west", "Service", "shop", "kafka-east")
    assert kafka is not None and kafka["spec"]["clusterIP"] == "None"
    for pod in ("broker-0", "broker-1"):
        assert world.get("west", "Service", "shop", f"{pod}-east") is not None

    # A write the server refused is reported per object: only the known headless gap
    # (Endpoints planned with `ip: ""` before the per-pod Services have IPs) may occur.
    for record in run.messages("write refused"):
        assert record["object"].startswith("create Endpoints shop/"), record
        assert "HTTP 422" in record["error"] and HEADLESS_MISSING_IP in record["error"], record
    # What the run did, over all its rounds (not only its last).
    owned = world.owned()
    summary = run.messages("sync")[-1]
    assert summary["creates"] == len(owned), summary
    # The server's Warning header, once per kind and process, not per request.
    warned = [r for r in run.logs if DEPRECATED in str(r.get("warning", ""))]
    assert len(warned) == 1, warned
    assert warned[0]["kind"] == "Endpoints"
    # A skip is logged when it first appears.
    skips = [r for r in run.logs if r.get("message") == "skip" and r.get("code") == "NotOwned"]
    assert any("api-north" in r["detail"] for r in skips), run.logs


def test_noop_resync_writes_nothing(world: World) -> None:
    before, marks = world.versions(), world.marks()
    run = world.once()
    assert run.code == 0, run.stderr
    assert world.versions() == before
    assert world.writes("west", marks["west"]) == []
    summary = run.messages("sync")[-1]
    assert (summary["creates"], summary["updates"], summary["deletes"]) == (0, 0, 0)


def test_updates_and_unexports(world: World) -> None:
    untouched = world.get("west", "Service", "shop", "api-north")
    world.apply("east", [svc("web", port=8080)])  # gateway mirror: new port
    world.apply("east", [svc("db", export=None, port=5432)])  # remote discovery: unexported
    world.apply("east", [svc("cache", member=True, export="true")])  # federated and exported
    world.apply("north", [svc("api", export="remote-discovery", port=9443)])
    world.apply(
        "north", [svc("search", export="remote-discovery"), eps("search", "shop", "10.3.0.9")]
    )
    run = world.once()
    assert run.code == 0, run.stderr
    world.assert_converged()
    assert world.get("west", "Service", "shop", "web-east")["spec"]["ports"][0]["port"] == 8080
    assert world.get("west", "Service", "shop", "db-east") is None
    assert world.get("west", "Service", "shop", "cache-east") is not None
    assert world.get("west", "Service", "shop", "search-north") is not None
    assert world.get("west", "Service", "shop", "api-north") == untouched  # never touched
    summary = run.messages("sync")[-1]
    assert summary["deletes"] >= 1 and summary["updates"] >= 1 and summary["creates"] >= 1


def test_dry_run_prints_and_persists_nothing(world: World) -> None:
    world.apply("east", [svc("web", port=8181)])
    before, marks = world.versions(), world.marks()
    proc_run = world.once("--dry-run")
    assert proc_run.code == 0, proc_run.stderr
    assert proc_run.stdout.splitlines() == ["update Service shop/web-east"]
    assert world.versions() == before
    assert world.writes("west", marks["west"]) == []  # no write, no Lease either
    assert world.once().code == 0
    world.assert_converged()


def test_hand_edits_and_deletions_of_owned_objects_are_repaired(world: World) -> None:
    mirror = world.get("west", "Service", "shop", "web-east")
    mirror["metadata"]["labels"]["edited"] = "by-hand"
    world.apply("west", [mirror])
    world.remove("west", "Endpoints", "shop", "web-east")
    run = world.once()
    assert run.code == 0, run.stderr
    world.assert_converged()
    assert "edited" not in world.get("west", "Service", "shop", "web-east")["metadata"]["labels"]


def test_a_namespace_created_later_receives_its_mirrors(world: World) -> None:
    world.apply("east", [ns("late"), svc("queue", "late"), eps("queue", "late", "10.2.7.1")])
    run = world.once()
    assert run.code == 0, run.stderr  # a skip never fails a run
    missing = [
        r for r in run.logs if r.get("message") == "skip" and r["code"] == "NamespaceMissing"
    ]
    assert len(missing) == 1 and "queue" in missing[0]["detail"], run.logs
    assert world.get("west", "Service", "late", "queue-east") is None
    world.apply("west", [ns("late")])
    run = world.once()
    assert run.code == 0, run.stderr
    assert world.get("west", "Service", "late", "queue-east") is not None
    world.assert_converged()


def test_headless_scale_up_keeps_existing_pod_mirrors(world: World) -> None:
    """Linkerd creates a per-pod mirror once and leaves it: scale-up adds mirrors, and
    the existing ones keep their remote-resource-version."""
    rrv = "mirror.linkerd.io/remote-resource-version"
    before = {
        pod: world.get("west", "Service", "shop", f"{pod}-east") for pod in ("broker-0", "broker-1")
    }
    world.apply("east", [headless_eps("kafka", "shop", "broker-0", "broker-1", "broker-2")])
    run = world.once()
    assert run.code == 0, run.stderr
    world.assert_converged()
    assert world.get("west", "Service", "shop", "broker-2-east") is not None
    for pod, old in before.items():
        new = world.get("west", "Service", "shop", f"{pod}-east")
        assert new["metadata"]["annotations"][rrv] == old["metadata"]["annotations"][rrv], pod
        assert new["metadata"]["resourceVersion"] == old["metadata"]["resourceVersion"], pod
    refused = [r for r in run.logs if r.get("message") == "write refused"]
    for record in refused:  # reported per object, naming it and the server's reason
        assert record["object"] and "422" in record["error"], record


def test_linked_apiserver_stopped_past_the_grace_and_restarted(world: World) -> None:
    controller = world.start(
        "partition", "--enable-headless-services", "--no-leader-elect",
        "--resync-period", "1", "--unreachable-grace", "3", "--watch-timeout", "5",
    )  # fmt: skip
    try:
        wait_for(lambda: controller.logged("sync"), what="a first sync")
        east = world.kube["east"]
        kept = {k: v for k, v in world.owned().items() if k[1:] != ("shop", "web-east")}
        east.stop()

        def gateway_dead() -> bool:
            doc = world.get("west", "Endpoints", "shop", "web-east") or {}
            subsets = doc.get("subsets") or [{}]
            return subsets[0].get("notReadyAddresses") == [{"ip": GATEWAY}] and not subsets[0].get(
                "addresses"
            )

        wait_for(gateway_dead, timeout=30, what="the dead gateway's addresses to be not ready")
        # Nothing else derived from east moved; every mirror stayed.
        now = world.owned()
        for key, doc in kept.items():
            if (
                key[0] == "Endpoints"
                and doc["metadata"].get("labels", {}).get("mirror.linkerd.io/cluster-name")
                == "east"
            ):
                continue  # gateway Endpoints: addresses moved to notReadyAddresses
            assert now[key]["metadata"]["resourceVersion"] == doc["metadata"]["resourceVersion"], (
                key
            )
        world.restart("east")

        def gateway_back() -> bool:
            doc = world.get("west", "Endpoints", "shop", "web-east") or {}
            return (doc.get("subsets") or [{}])[0].get("addresses") == [{"ip": GATEWAY}]

        wait_for(gateway_back, timeout=30, what="the gateway's addresses to be ready again")
    finally:
        assert controller.stop() == 0
    world.assert_converged()


def test_watch_gets_410_after_etcd_compaction(world: World) -> None:
    """north's apiserver serves watches from etcd (no watch cache): after a compaction
    the controller's resumed watch gets 410, and it re-lists."""
    controller = world.start(
        "compaction", "--enable-headless-services", "--no-leader-elect",
        "--resync-period", "3600", "--watch-timeout", "2",
    )  # fmt: skip
    try:
        wait_for(lambda: controller.logged("sync"), what="a first sync")
        world.apply(
            "north", [svc("orders", export="remote-discovery"), eps("orders", "shop", "10.3.1.1")]
        )
        wait_for(lambda: world.get("west", "Service", "shop", "orders-north"), what="orders-north")
        # Move etcd's revision past what the watches hold, then compact it away.
        for i in range(5):
            tick = {"name": f"tick-{i}", "namespace": "default"}
            world.apply("west", [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": tick}])
        world.kube.etcd.compact()
        expired = wait_for(
            lambda: [
                r for r in controller.logged("watch expired; re-listing") if r["cluster"] == "north"
            ],
            timeout=30,
            what="a 410 on a north watch",
        )
        assert expired[0]["kind"] in ("Service", "Endpoints", "EndpointSlice")
        world.apply(
            "north", [svc("late", export="remote-discovery"), eps("late", "shop", "10.3.1.2")]
        )
        wait_for(lambda: world.get("west", "Service", "shop", "late-north"), what="late-north")
    finally:
        assert controller.stop() == 0
    world.assert_converged()


def _jti(token: str) -> str:
    payload = token.split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["jti"])


def test_two_controllers_elect_a_leader_on_a_real_lease(world: World) -> None:
    west = world.west
    tokens = {r: west.service_account_token(LINKS_NS, "meshmirror") for r in ("a", "b")}
    jtis = {f"JTI={_jti(t)}": r for r, t in tokens.items()}
    flags = ("--enable-headless-services", "--resync-period", "2", "--lease-duration", "4",
             "--renew-deadline", "3", "--retry-period", "0.5")  # fmt: skip
    mark = world.marks()["west"]

    def lease_holder() -> str:
        lease = west.get_or_none(
            "coordination.k8s.io/v1", "Lease", LINKS_NS, "meshmirror-controller"
        )
        return str(((lease or {}).get("spec") or {}).get("holderIdentity") or "")

    def writers(since: int) -> list[tuple[str, str]]:
        out = []
        for e in world.audit("west", since):
            if e["user"]["username"] != CONTROLLER_USER or e["verb"] in ("get", "list", "watch"):
                continue
            ref = e.get("objectRef") or {}
            if ref.get("resource") not in ("services", "endpoints"):
                continue
            cred = (e["user"].get("extra") or {}).get(
                "authentication.kubernetes.io/credential-id", [""]
            )
            out.append((jtis.get(cred[0], "?"), f"{e['verb']} {ref['resource']} {ref['name']}"))
        return out

    a = world.start(
        "replica-a",
        *flags,
        "--identity",
        "replica-a",
        kubeconfig=world.kubeconfig_with_token("a", tokens["a"]),
    )
    try:
        wait_for(lambda: lease_holder() == "replica-a", what="replica-a to lead")
        b = world.start(
            "replica-b",
            *flags,
            "--identity",
            "replica-b",
            kubeconfig=world.kubeconfig_with_token("b", tokens["b"]),
        )
        wait_for(lambda: b.logs(), what="replica-b to start")
        world.apply("east", [svc("fresh"), eps("fresh", "shop", "10.2.3.4")])
        wait_for(lambda: world.get("west", "Endpoints", "shop", "fresh-east"), what="fresh-east")
        time.sleep(1.0)
        assert lease_holder() == "replica-a"
        assert {who for who, _ in writers(mark)} <= {"a"}, writers(mark)

        a.stop(signal.SIGKILL)  # no release: b must wait out the lease
        wait_for(lambda: lease_holder() == "replica-b", timeout=30, what="replica-b to take over")
        handover = world.marks()["west"]
        world.apply("east", [svc("fresh2"), eps("fresh2", "shop", "10.2.3.5")])
        wait_for(lambda: world.get("west", "Endpoints", "shop", "fresh2-east"), what="fresh2-east")
        time.sleep(2.5)  # a resync period or more: anything b would rewrite shows now
        after = writers(handover)
        # The new leader wrote only what changed: nothing written twice.
        assert sorted(after) == [
            ("b", "create endpoints fresh2-east"),
            ("b", "create services fresh2-east"),
        ]
        creates = [w for _, w in writers(mark) if w.startswith("create")]
        assert len(creates) == len(set(creates)), creates
    finally:
        for process in world.controllers[-2:]:
            process.stop()
    world.assert_converged()


def test_link_deletion_removes_exactly_its_mirrors(world: World) -> None:
    world.once()  # settle whatever the previous tests left
    before = world.owned()
    from_east = {
        k: v["metadata"]["resourceVersion"]
        for k, v in before.items()
        if v["metadata"]["labels"].get(CLUSTER) == "east"
    }
    link = {
        "apiVersion": "multicluster.linkerd.io/v1alpha3",
        "kind": "Link",
        "metadata": {"name": "north", "namespace": LINKS_NS},
    }
    assert world.west.delete(link).status == 200
    marks = world.marks()
    run = world.once()
    assert run.code == 0, run.stderr
    world.assert_converged()
    after = world.owned()
    assert not [k for k, v in after.items() if v["metadata"]["labels"].get(CLUSTER) == "north"]
    assert {k: after[k]["metadata"]["resourceVersion"] for k in from_east} == from_east
    fed = world.get("west", "Service", "shop", "cache-federated")
    assert (
        fed["metadata"]["annotations"]["multicluster.linkerd.io/remote-discovery"] == "cache@east"
    )
    assert world.get("west", "Service", "shop", "api-north") is not None  # not ours: stays
    deletes = [w for w in world.writes("west", marks["west"]) if w.startswith("delete ")]
    assert deletes and all(" services " in w or " endpoints " in w for w in deletes), deletes


def test_least_privilege_held_throughout(world: World) -> None:
    """No request was denied, no remote written, the source written only where the
    example RBAC and the ownership rules allow (the audit logs of every cluster)."""
    world.assert_audit_clean()
    assert world.writes("east", user=CONTROLLER_USER) == []
