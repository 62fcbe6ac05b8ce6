"""Link status through the controller over HTTP: written through ``links/status`` only,
once, then 0 writes on a quiet cluster; each reason reaches the Link."""

from __future__ import annotations

from typing import Any

from k8s_helpers import LINKS_NS, Topology, ns, running, svc, wait_for

from meshmirror.effects.linkstatus import LinkStatusWriter
from meshmirror.effects.reconcile import ManualClock, Reconciler


def status_writes(topology: Topology) -> list[Any]:
    return [r for r in topology.servers["west"].writes() if r.resource == "links/status"]


def conditions(topology: Topology, link: str) -> dict[str, dict[str, Any]]:
    doc = topology.west.get("Link", LINKS_NS, link)
    assert doc is not None
    out = {}
    for entry in doc.get("status", {}).get("mirrorServices", []):
        ref = entry["remoteRef"]
        out[f"{ref['namespace']}/{ref['name']}"] = entry["conditions"][0]
    return out


def test_quiet_cluster_gets_no_status_writes(topology: Topology) -> None:
    controller = topology.controller()
    assert controller.sync_until_idle().ok
    first = status_writes(topology)
    assert {r.name for r in first} == {"east", "north"}
    assert all(r.method == "PUT" and r.path.endswith("/status") for r in first)
    topology.servers["west"].clear()
    for _ in range(3):
        assert controller.sync_once().ok
    assert status_writes(topology) == []
    assert topology.servers["west"].writes() == []


def test_each_reason_reaches_the_link(topology: Topology) -> None:
    east = topology.clusters["east"]
    east.apply([ns("nowhere"), svc("lost", "nowhere"), svc("empty", port=80)])
    east.apply([{**svc("bare"), "spec": {"ports": []}}])
    controller = topology.controller()
    assert controller.sync_until_idle().ok
    got = conditions(topology, "east")
    assert got["shop/web"]["reason"] == "Mirrored"
    assert got["shop/web"]["localRef"] == {
        "group": "core",
        "kind": "Service",
        "name": "web-east",
        "namespace": "shop",
    }
    assert (got["nowhere/lost"]["status"], got["nowhere/lost"]["reason"]) == (
        "False",
        "MissingNamespace",
    )
    assert got["shop/bare"]["reason"] == "InvalidService"
    assert got["shop/bare"]["message"].startswith("NoPorts: ")
    # The namespace appears: the next sync mirrors it and says so.
    topology.west.apply([ns("nowhere")])
    assert controller.sync_until_idle().ok
    assert conditions(topology, "east")["nowhere/lost"]["reason"] == "Mirrored"
    # The gatewayless Link (no gateway selector, as link-gen leaves it): only its
    # remote-discovery export has an entry, and the federated member its own list.
    north = conditions(topology, "north")
    assert set(north) == {"shop/api"}
    # west's own Service api-north squats the mirror's name: an Error, explained.
    assert (north["shop/api"]["status"], north["shop/api"]["reason"]) == ("False", "Error")
    assert north["shop/api"]["message"].startswith("NotOwned: ")


def test_federated_members_have_their_own_list(topology: Topology) -> None:
    assert topology.controller().sync_until_idle().ok
    doc = topology.west.get("Link", LINKS_NS, "east")
    assert doc is not None
    [entry] = doc["status"]["federatedServices"]
    assert entry["remoteRef"]["name"] == "cache"
    condition = entry["conditions"][0]
    assert (condition["status"], condition["reason"]) == ("True", "Mirrored")
    assert condition["localRef"]["name"] == "cache-federated"


def test_dry_run_writes_no_status(topology: Topology) -> None:
    controller = topology.controller(dry_run=True)
    controller.sync_until_idle()
    assert status_writes(topology) == []


def test_own_status_write_rebuilds_nothing(topology: Topology) -> None:
    """The Link event that a status write causes changes only the Link's
    resourceVersion: the next event run follows it without re-planning or writing."""
    clusters = topology.clusters
    reconciler = Reconciler(
        source=clusters["west"],
        remotes={"east": clusters["east"], "north": clusters["north"]},
        clock=ManualClock(0.0),
        options=topology.options,
        link_namespace=LINKS_NS,
        link_status=LinkStatusWriter(lambda: 0.0, options=topology.options),
    )
    assert reconciler.run_until_idle().settled
    assert "status" in (clusters["west"].get("Link", LINKS_NS, "east") or {})
    builds = reconciler.index_builds
    report = reconciler.run_events()  # takes in the Link events of those status writes
    assert report.ok and report.writes == 0
    assert reconciler.index_builds == builds
    # A real change of the Link is followed (the planner is rebuilt from the caches).
    doc = clusters["west"].get("Link", LINKS_NS, "east")
    assert doc is not None
    doc["spec"]["excludedLabels"] = ["team"]
    clusters["west"].apply([doc])
    assert reconciler.run_events().ok
    assert reconciler.index_builds == builds + 1


def test_status_follows_an_export_without_waiting_for_the_resync(topology: Topology) -> None:
    """An export seen by a watch reaches the Link's status within ``status_delay``,
    not only at the next full comparison (``resync_period`` is an hour here)."""
    controller = topology.controller(resync_period=3600.0, status_delay=0.3)
    with running(controller):
        wait_for(lambda: "shop/web" in conditions(topology, "east"))
        topology.clusters["east"].apply([svc("late")])
        wait_for(lambda: "shop/late" in conditions(topology, "east"), timeout=5.0)
        assert conditions(topology, "east")["shop/late"]["status"] == "True"
