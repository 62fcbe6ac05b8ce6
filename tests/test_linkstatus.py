"""Link status written by the reconciler (``LinkStatusWriter``) into a FakeCluster:
``links/status`` only, only on change, 0 writes on a quiet cluster, kept during a
partition."""

from __future__ import annotations

from typing import Any

import pytest

from builders import EXPORTED, link, namespace, service
from meshmirror.effects import linkstatus
from meshmirror.effects.backends.memory import FakeCluster
from meshmirror.effects.linkstatus import LinkStatusWriter
from meshmirror.effects.reconcile import ManualClock, Reconciler

LINK_NS = "linkerd-multicluster"


def world(with_ns: bool = True) -> tuple[FakeCluster, FakeCluster, Reconciler, LinkStatusWriter]:
    clock = ManualClock(1_700_000_000.0)
    docs: list[dict[str, Any]] = [namespace(LINK_NS), link()]
    if with_ns:
        docs.append(namespace("ns1"))
    west = FakeCluster.from_manifests("west", docs, clock=clock)
    east = FakeCluster.from_manifests(
        "remote", [namespace("ns1"), service("svc", "ns1", labels=EXPORTED)], clock=clock
    )
    writer = LinkStatusWriter(clock)
    r = Reconciler(west, {"remote": east}, clock=clock, link_status=writer)
    return west, east, r, writer


def condition(west: FakeCluster) -> dict[str, Any]:
    doc = west.get("Link", LINK_NS, "remote")
    assert doc is not None
    [entry] = doc["status"]["mirrorServices"]
    [c] = entry["conditions"]
    return dict(c)


def status_writes(cluster: FakeCluster) -> list[tuple[str, str, str, str]]:
    return [w for w in cluster.writes if w[0] == "update_status"]


def test_status_written_once_then_quiet() -> None:
    west, _, r, writer = world()
    r.run_until_idle()
    c = condition(west)
    assert (c["status"], c["reason"], c["lastTransitionTime"]) == (
        "True",
        "Mirrored",
        "2023-11-14T22:13:20Z",
    )
    assert status_writes(west) == [("update_status", "Link", LINK_NS, "remote")]
    west.reset_counters()
    for _ in range(3):
        r.run_once()
    assert status_writes(west) == []
    assert west.writes == []
    assert len(writer.writes) == 1


def test_spec_is_never_touched_by_a_status_write() -> None:
    west, _, r, _ = world()
    before = west.get("Link", LINK_NS, "remote")
    r.run_until_idle()
    after = west.get("Link", LINK_NS, "remote")
    assert before is not None and after is not None
    assert after["spec"] == before["spec"]
    assert after["metadata"]["resourceVersion"] != before["metadata"]["resourceVersion"]


def test_missing_namespace_then_created() -> None:
    west, _, r, _ = world(with_ns=False)
    r.run_until_idle()
    c = condition(west)
    assert (c["status"], c["reason"]) == ("False", "MissingNamespace")
    assert "NamespaceMissing" in c["message"]
    west.apply([namespace("ns1")])
    r.run_until_idle()
    assert condition(west)["reason"] == "Mirrored"


def test_partition_keeps_status_and_writes_nothing() -> None:
    west, east, r, _ = world()
    r.run_until_idle()
    before = west.get("Link", LINK_NS, "remote")
    east.set_reachable(False)
    west.reset_counters()
    r.run_once()
    assert status_writes(west) == []
    assert west.get("Link", LINK_NS, "remote") == before


def test_user_replace_of_the_link_keeps_status() -> None:
    west, _, r, _ = world()
    r.run_until_idle()
    status = west.get("Link", LINK_NS, "remote")["status"]  # type: ignore[index]
    west.apply([link()])  # a user edits the spec; the status subresource stays
    assert west.get("Link", LINK_NS, "remote")["status"] == status  # type: ignore[index]


def test_unowned_blocker_becomes_an_error_condition() -> None:
    west, _, r, _ = world()
    west.apply([{**service("svc-remote", "ns1"), "kind": "Endpoints", "subsets": []}])
    r.run_until_idle()
    c = condition(west)
    assert (c["status"], c["reason"]) == ("False", "Error")
    assert "NotOwned" in c["message"]


def test_no_status_without_a_writer() -> None:
    west, east, _, _ = world()
    Reconciler(west, {"remote": east}, clock=ManualClock(0)).run_until_idle()
    assert "status" not in (west.get("Link", LINK_NS, "remote") or {})


def test_own_status_writes_are_recognised() -> None:
    west, _, r, writer = world()
    r.run_until_idle()
    doc = west.get("Link", LINK_NS, "remote")
    assert doc is not None and writer.is_own(doc)
    west.apply([link()])  # a user's edit: a new resourceVersion, not ours
    edited = west.get("Link", LINK_NS, "remote")
    assert edited is not None and not writer.is_own(edited)


def test_quiet_syncs_compute_no_status(monkeypatch: pytest.MonkeyPatch) -> None:
    west, east, r, _ = world()
    r.run_until_idle()
    built: list[int] = []
    real = linkstatus.StatusIndex

    def counting(*args: Any, **kwargs: Any) -> Any:
        built.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(linkstatus, "StatusIndex", counting)
    r.run_once()
    r.run_once()
    assert built == []  # the same plan, the Link unchanged: nothing recomputed
    east.apply([service("more", "ns1", labels=EXPORTED)])
    r.run_until_idle()
    assert built and len(condition_names(west)) == 2


def test_a_hand_edited_status_is_repaired() -> None:
    west, _, r, writer = world()
    r.run_until_idle()
    good = west.get("Link", LINK_NS, "remote")
    assert good is not None
    west.update_status({**good, "status": {}})
    r.run_once()
    assert west.get("Link", LINK_NS, "remote")["status"] == good["status"]  # type: ignore[index]
    assert len(writer.writes) == 2


def condition_names(west: FakeCluster) -> list[str]:
    doc = west.get("Link", LINK_NS, "remote")
    assert doc is not None
    return [e["remoteRef"]["name"] for e in doc["status"]["mirrorServices"]]


def test_an_event_run_that_changed_something_marks_the_findings_stale() -> None:
    """Skips, conflicts and status come from full comparisons; an event run that
    followed a change says they may be out of date, until the next full comparison."""
    west, east, r, _ = world()
    assert r.run_until_idle().settled and not r.findings_stale
    assert r.run_events().ok and not r.findings_stale  # nothing changed
    east.apply([service("other", "ns1", labels=EXPORTED)])
    assert r.run_events().writes and r.findings_stale
    assert "ns1/other" not in {
        f"{e['remoteRef']['namespace']}/{e['remoteRef']['name']}"
        for e in (west.get("Link", LINK_NS, "remote") or {})["status"]["mirrorServices"]
    }
    assert r.run_once().ok and not r.findings_stale
    entries = (west.get("Link", LINK_NS, "remote") or {})["status"]["mirrorServices"]
    assert {e["remoteRef"]["name"] for e in entries} == {"svc", "other"}
