"""End to end over HTTP: west linked to east (gateway) and north (gatewayless), each a
FakeCluster behind its own KubeServer and token; the controller as the CLI runs it
(``--once``) and as a library (faults, partitions), then the long-running loop (watches,
a dropped watch, the Lease). Invariants checked throughout: the source converges to the
plan, nothing non-owned is touched, nothing is written to a remote, every remote request
carries that cluster's own token, and the RBAC ``meshmirror link`` prints allows exactly
the remote requests made."""

from __future__ import annotations

import asyncio
import io
import json
import threading
from pathlib import Path

from k8s_helpers import (
    LINKS_NS,
    OWNED,
    TOKENS,
    Topology,
    eps,
    kubeconfig,
    remote_rbac_documents,
    svc,
    wait_for,
)
from kube_server import Fault

from meshmirror import PlanOptions
from meshmirror.effects.backends import Manifest
from meshmirror_k8s.__main__ import main
from meshmirror_k8s.leader import LeaderElector
from meshmirror_k8s.rbac import allowed, rule_triples, rules_from_manifest, source_manifests


def headless_eps(name: str, *hostnames: str) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {
            "name": name,
            "namespace": "shop",
            "labels": {"service.kubernetes.io/headless": ""},
        },
        "subsets": [
            {
                "addresses": [
                    {"ip": f"10.2.5.{i}", "hostname": h, "targetRef": {"kind": "Pod", "name": h}}
                    for i, h in enumerate(hostnames, 1)
                ],
                "ports": [{"name": "http", "port": 9092}],
            }
        ],
    }


def not_owned(topology: Topology) -> dict[tuple[str, str, str], Manifest]:
    out = {}
    for doc in topology.west.dump():
        labels = doc["metadata"].get("labels") or {}
        if doc["kind"] in ("Service", "Endpoints") and labels.get(OWNED) == "true":
            continue
        if doc["kind"] == "Link":  # its status is ours (links/status); the rest is not
            doc.pop("status", None)
            doc["metadata"].pop("resourceVersion", None)
        out[(doc["kind"], doc["metadata"].get("namespace", ""), doc["metadata"]["name"])] = doc
    return out


def derived_from(topology: Topology, cluster: str) -> dict[tuple[str, str, str], Manifest]:
    out = {}
    for doc in topology.west.dump():
        labels = doc["metadata"].get("labels") or {}
        annotations = doc["metadata"].get("annotations") or {}
        federated = annotations.get("multicluster.linkerd.io/remote-discovery", "")
        if labels.get(OWNED) == "true" and (
            labels.get("mirror.linkerd.io/cluster-name") == cluster or f"@{cluster}" in federated
        ):
            out[(doc["kind"], doc["metadata"]["namespace"], doc["metadata"]["name"])] = doc
    return out


def run_once(topology: Topology, tmp_path: Path, *extra: str) -> tuple[int, str, str]:
    path = tmp_path / "west.kubeconfig"
    path.write_text(kubeconfig(topology.servers["west"].url, TOKENS["west"]))
    out, err = io.StringIO(), io.StringIO()
    flags = ["--enable-headless-services"] if topology.options.enable_headless_services else []
    code = main(
        ["--kubeconfig", str(path), "--once", "--no-resolve", "--request-timeout", "5",
         *flags, *extra],
        out=out,
        err=err,
    )  # fmt: skip
    return code, out.getvalue(), err.getvalue()


def assert_invariants(topology: Topology, untouched: dict[tuple[str, str, str], Manifest]) -> None:
    # Nothing non-owned was written: every such object is exactly as it was.
    assert not_owned(topology) == untouched
    # Nothing was written to a remote, and each was asked with its own token only.
    for name, server in topology.servers.items():
        if name == "west":
            continue
        assert {r.verb for r in server.recorded()} <= {"list", "watch"}, name
        assert {r.token for r in server.recorded()} == {TOKENS[name]}, name
    # In the source: only owned Services/Endpoints are written, as meshmirror, and every
    # delete carries its preconditions.
    for rec in topology.servers["west"].writes():
        if rec.resource == "leases":
            continue
        if rec.resource == "links/status":  # Link status, through its subresource only
            assert rec.verb == "update" and set(rec.body["status"]) <= {
                "mirrorServices",
                "federatedServices",
            }
            continue
        assert rec.resource in ("services", "endpoints"), rec
        if rec.verb in ("create", "update"):
            assert rec.query.get("fieldManager") == "meshmirror"
            assert rec.body["metadata"]["labels"][OWNED] == "true"
        else:
            assert rec.verb == "delete"
            assert rec.body["preconditions"]["resourceVersion"]
            assert rec.body["preconditions"]["uid"]
        assert (rec.path.split("/")[-2].capitalize(), rec.namespace, rec.name) not in untouched


def test_end_to_end(topology: Topology, tmp_path: Path) -> None:
    west, east, north = (topology.clusters[n] for n in ("west", "east", "north"))
    servers = topology.servers
    topology.options = PlanOptions(enable_headless_services=True)
    east.apply([svc("kafka", clusterIP="None"), headless_eps("kafka", "broker-0", "broker-1")])
    untouched = not_owned(topology)

    # 1. The CLI, one pass: converges, exit 0, no secret on any stream.
    code, out, err = run_once(topology, tmp_path)
    assert code == 0, err
    topology.assert_converged()
    assert west.get("Service", "shop", "web-east") is not None
    assert west.get("Service", "shop", "db-east") is not None  # remote discovery
    assert west.get("Endpoints", "shop", "db-east") is None
    assert west.get("Service", "shop", "cache-federated") is not None
    assert west.get("Service", "shop", "web-north") is None  # gatewayless Link
    assert west.get("Service", "shop", "kafka-east")["spec"]["clusterIP"] == "None"  # headless
    assert west.get("Service", "shop", "broker-0-east") is not None  # its per-pod mirrors
    for token in TOKENS.values():
        assert token not in out + err
    for line in err.splitlines():
        json.loads(line)  # structured logs
    assert_invariants(topology, untouched)

    # 2. Changes in every mode, through the library.
    east.apply([svc("web", port=8080)])  # gateway mirror: new port
    east.remove("Service", "shop", "db")  # remote-discovery mirror: gone
    east.apply([svc("cache", member=True, export="true")])  # federated member, now exported too
    north.apply([svc("search", export="remote-discovery"), svc("api", export=None)])
    controller = topology.controller()
    outcome = controller.sync_until_idle()
    assert outcome.ok, outcome
    topology.assert_converged()
    assert west.get("Service", "shop", "db-east") is None
    assert west.get("Service", "shop", "cache-east") is not None
    assert_invariants(topology, untouched)

    # 3. 409s, 500s and 429s from the source, 500s from a remote; a hand edit to repair.
    east.apply([svc("web", port=9090)])
    north.apply([svc("search", export=None)])
    mirror = west.get("Service", "shop", "billing-east") or west.get(
        "Service", "pay", "billing-east"
    )
    assert mirror is not None
    mirror["metadata"]["labels"]["edited"] = "by-hand"
    west.apply([mirror])
    west.remove("Endpoints", "shop", "web-east")
    servers["west"].add_fault(Fault(status=409, verb="update", times=1))
    servers["west"].add_fault(Fault(status=500, verb="create", times=2))
    servers["west"].add_fault(Fault(status=429, verb="list", path="/endpoints", retry_after=3))
    servers["west"].add_fault(Fault(status=500, verb="delete", times=5))
    servers["east"].add_fault(Fault(status=503, verb="list", times=1))
    outcome = controller.sync_until_idle()
    assert outcome.ok, outcome
    assert len(outcome.reports) > 2  # the 409 and the 5xx past the retries: another round
    assert 3.0 in topology.sleeps  # Retry-After honoured (the sleep is injected)
    topology.assert_converged()
    assert_invariants(topology, untouched)

    # 4. east goes away: its mirrors stay exactly as they are, north still syncs.
    kept = derived_from(topology, "east")
    assert kept
    servers["east"].stop()
    east.apply([svc("web", port=7070), svc("late"), eps("late", "shop", "10.2.9.9")])
    north.apply([svc("search", export="remote-discovery")])
    code, out, err = run_once(topology, tmp_path)
    assert code == 1
    failures = [json.loads(line) for line in err.splitlines() if '"link failed"' in line]
    assert [f["link"] for f in failures] == [f"{LINKS_NS}/east"]
    assert derived_from(topology, "east") == kept
    assert west.get("Service", "shop", "search-north") is not None
    assert_invariants(topology, untouched)

    # 5. ...and comes back: one pass restores the plan, partition-time changes included.
    servers["east"].start()
    code, out, err = run_once(topology, tmp_path)
    assert code == 0, err
    topology.assert_converged()
    assert west.get("Service", "shop", "late-east") is not None
    assert west.get("Service", "shop", "web-east")["spec"]["ports"][0]["port"] == 7070
    # A no-op pass writes nothing, though the server filled in defaults.
    before = len(servers["west"].writes())
    code, _, _ = run_once(topology, tmp_path)
    assert code == 0 and len(servers["west"].writes()) == before
    assert_invariants(topology, untouched)

    # Every remote request is one the printed RBAC allows.
    rules = rules_from_manifest(
        next(d for d in remote_rbac_documents() if d["kind"] == "ClusterRole")
    )
    for _, rec in topology.remote_requests():
        assert allowed(rules, rec.group, rec.resource, rec.verb, rec.name), rec


def test_long_running_controller(topology: Topology) -> None:
    """Watches wake the loop (resync is an hour away), a dropped watch is survived, the
    Lease is held and released, and the remote requests need exactly the printed RBAC."""
    west, east = topology.west, topology.clusters["east"]
    untouched = not_owned(topology)
    topology.servers["east"].add_fault(Fault(verb="watch", path="/services", drop_after=0, times=2))
    controller = topology.controller(resync_period=3600.0, debounce=0.05)
    elector = LeaderElector(
        controller.source, LINKS_NS, "meshmirror", "replica-a",
        lease_duration=3.0, renew_deadline=2.0, retry_period=0.2,
    )  # fmt: skip
    controller._writer._allowed = lambda: elector.is_leader  # the fence main() installs
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(
        target=loop.run_until_complete, args=(controller.run(stop, elector=elector),), daemon=True
    )
    thread.start()
    try:
        wait_for(lambda: west.get("Service", "shop", "web-east"))
        lease = topology.servers["west"].leases[(LINKS_NS, "meshmirror")]
        assert lease["spec"]["holderIdentity"] == "replica-a"
        # A second replica stands by while the first holds the Lease.
        other = LeaderElector(
            controller.source, LINKS_NS, "meshmirror", "replica-b",
            lease_duration=3.0, renew_deadline=2.0, retry_period=0.2,
        )  # fmt: skip
        assert not other.try_acquire_or_renew()
        east.apply([svc("web", port=6060)])
        wait_for(
            lambda: (
                (west.get("Service", "shop", "web-east") or {})
                .get("spec", {})
                .get("ports", [{}])[0]
                .get("port")
                == 6060
            )
        )
        east.apply([svc("fresh"), eps("fresh", "shop", "10.2.3.4")])
        # The Service and its Endpoints arrive as two events: the mirror's Endpoints may
        # be written empty first, then with the gateway's address.
        wait_for(lambda: (west.get("Endpoints", "shop", "fresh-east") or {}).get("subsets"))
        wait_for(lambda: len(topology.servers["east"].recorded(verb="watch")) >= 3)
        wait_for(lambda: controller.ready)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert topology.servers["west"].leases[(LINKS_NS, "meshmirror")]["spec"]["holderIdentity"] == ""
    assert other.try_acquire_or_renew()  # released: the standby takes over at once
    topology.assert_converged()
    assert_invariants(topology, untouched)

    # The printed ClusterRole allows every remote request, and nothing more; EndpointSlices
    # are granted for clusters that serve no Endpoints, and not read where they do.
    role = next(d for d in remote_rbac_documents() if d["kind"] == "ClusterRole")
    recorded = {(r.group, r.resource, r.verb) for _, r in topology.remote_requests()}
    slices = {("discovery.k8s.io", "endpointslices", v) for v in ("list", "watch")}
    assert recorded == rule_triples(rules_from_manifest(role)) - slices

    # The example source RBAC allows every source request (Role rules: in its namespace).
    docs = list(source_manifests("meshmirror", LINKS_NS))
    cluster_rules = rules_from_manifest(next(d for d in docs if d["kind"] == "ClusterRole"))
    ns_rules = rules_from_manifest(next(d for d in docs if d["kind"] == "Role"))
    used = set()
    for rec in topology.servers["west"].recorded():
        triple = (rec.group, rec.resource, rec.verb)
        if allowed(cluster_rules, *triple, rec.name):
            used.add(triple)
            continue
        assert rec.namespace == LINKS_NS and allowed(ns_rules, *triple, rec.name), rec
        used.add(triple)
    granted = rule_triples(cluster_rules) | rule_triples(ns_rules)
    assert used <= granted
    # Everything granted but unused here is used by another path: deletes (test_end_to_end).
    assert granted - used <= {("", "services", "delete"), ("", "endpoints", "delete"),
                              ("", "endpoints", "update"), ("", "services", "create"),
                              ("", "endpoints", "create")}  # fmt: skip
