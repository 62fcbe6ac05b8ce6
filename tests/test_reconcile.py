"""Unit scenarios for :mod:`meshmirror.effects.reconcile`: every rule of docs/design.md, section 2.

Each test builds a small topology inline: a source cluster ``west`` with Links to
``east`` (and sometimes ``north``), all :class:`FakeCluster` on one :class:`ManualClock`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from builders import eps, gateway_link, plain, svc
from builders import namespace as ns
from meshmirror import PlanOptions, diff, plan
from meshmirror.effects.backends.base import (
    Backend,
    BackendError,
    Conflict,
    ListResult,
    Manifest,
    ServerError,
    Timeout,
    TooManyRequests,
    Unreachable,
    WatchEvent,
)
from meshmirror.effects.backends.memory import FakeCluster, Faults
from meshmirror.effects.reconcile import LinkStatus, ManualClock, Reconciler, RunReport
from meshmirror.formats.manifest import cluster_state, to_manifest
from meshmirror.values.model import ClusterState, ObjectRef

LINKS_NS = "linkerd-multicluster"
GATEWAYS = {"east": "192.0.2.10", "north": "192.0.2.20"}
OWNED = "mirror.linkerd.io/mirrored-service"
CLUSTER = "mirror.linkerd.io/cluster-name"
REMOTE_DISCOVERY = "multicluster.linkerd.io/remote-discovery"


# -- manifests -------------------------------------------------------------------------------


def link(target: str, *, gateway: str | None = None, **spec: Any) -> Manifest:
    # builders.gateway_link, the gateway by default each cluster's own (GATEWAYS).
    address = GATEWAYS.get(target, "192.0.2.99") if gateway is None else gateway
    return gateway_link(target, address, **spec)


# -- topologies and checks ------------------------------------------------------------------


class World:
    """west (the source) linked to some remotes, on one clock."""

    def __init__(
        self,
        remotes: Mapping[str, list[Manifest]],
        *,
        source: list[Manifest] = (),  # type: ignore[assignment]
        links: tuple[str, ...] | None = None,
        options: PlanOptions | None = None,
        grace: float = 300.0,
    ) -> None:
        self.clock = ManualClock(1_700_000_000.0)
        self.options = options or PlanOptions()
        self.grace = grace
        linked = tuple(remotes) if links is None else links
        self.west = FakeCluster.from_manifests(
            "west",
            [ns("shop"), ns(LINKS_NS), *(link(t) for t in linked), *source],
            clock=self.clock,
        )
        self.remotes = {
            name: FakeCluster.from_manifests(name, [ns("shop"), ns("pay"), *docs], clock=self.clock)
            for name, docs in remotes.items()
        }
        self.reconciler = self.fresh()

    def fresh(self, **kwargs: Any) -> Reconciler:
        """A new Reconciler over the same clusters (a restart)."""
        kwargs.setdefault("source", self.west)
        kwargs.setdefault("remotes", self.remotes)
        kwargs.setdefault("unreachable_grace", self.grace)
        kwargs.setdefault("options", self.options)
        return Reconciler(clock=self.clock, **kwargs)

    def run(self) -> RunReport:
        return self.reconciler.run_once()

    def settle(self) -> int:
        done = self.reconciler.run_until_idle()
        assert done.idle, done
        return done.writes

    @property
    def east(self) -> FakeCluster:
        return self.remotes["east"]

    def state(self, cluster: FakeCluster) -> ClusterState:
        return cluster_state(cluster.name, cluster.dump())

    def planned(self, **options: Any) -> Any:
        source = self.state(self.west)
        remotes = {n: self.state(c) for n, c in self.remotes.items()}
        return plan(source, remotes, options=PlanOptions(**options) if options else self.options)

    def get(self, kind: str, name: str, namespace: str = "shop") -> Manifest | None:
        return self.west.get(kind, namespace, name)

    def owned(self) -> dict[ObjectRef, Manifest]:
        """The source's owned Services and Endpoints as `meshmirror plan` prints them."""
        docs = [d for d in self.west.dump() if d["kind"] in ("Service", "Endpoints")]
        state = cluster_state("west", docs)
        out = {}
        for obj in [*state.services.values(), *state.endpoints.values()]:
            if obj.labels.get(OWNED) == "true":
                out[obj.ref] = plain(to_manifest(obj))
        return dict(sorted(out.items()))

    def assert_matches_plan(self, **options: Any) -> None:
        p = self.planned(**options)
        assert not diff(p, self.state(self.west))
        want = {o.ref: to_manifest(o) for o in p.objects if o.kind != "Namespace"}
        assert self.owned() == dict(sorted(want.items()))

    def writes(self) -> list[tuple[str, str, str, str]]:
        out = list(self.west.writes)
        self.west.reset_counters()
        return out


def refs(*names: str) -> set[ObjectRef]:
    """ "Service shop/web-east" -> ObjectRef."""
    out = set()
    for text in names:
        kind, _, rest = text.partition(" ")
        namespace, _, name = rest.partition("/")
        out.add(ObjectRef(kind, namespace, name))
    return out


def written(report: RunReport) -> set[ObjectRef]:
    return {*report.created, *report.updated, *report.deleted}


def standard() -> World:
    """east exports web (gateway), api (remote-discovery) and a federated member db;
    west has a local db member."""
    return World(
        {
            "east": [
                svc("web"),
                eps("web"),
                svc("api", export="remote-discovery"),
                svc("db", export=None, member=True),
                svc("secret", export=None),
            ],
            "north": [
                svc("web"),
                eps("web", "shop", "10.2.0.1"),
                svc("db", export=None, member=True),
            ],
        },
        source=[svc("db", export=None, member=True)],
    )


EAST_MIRRORS = refs("Service shop/web-east", "Endpoints shop/web-east", "Service shop/api-east")
NORTH_MIRRORS = refs("Service shop/web-north", "Endpoints shop/web-north")
FEDERATED_DB = refs("Service shop/db-federated")


class Hooked:
    """A Backend delegating to a FakeCluster; ``hook(verb, args)`` runs before each write
    and may raise or change the cluster (a race); ``after`` runs after it succeeded."""

    def __init__(
        self,
        inner: FakeCluster,
        hook: Callable[[str, tuple[Any, ...]], None] | None = None,
        after: Callable[[str, tuple[Any, ...]], None] | None = None,
    ) -> None:
        self.inner = inner
        self.hook = hook or (lambda verb, args: None)
        self.after = after or (lambda verb, args: None)
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    @property
    def name(self) -> str:
        return self.inner.name

    def list(self, kind: str, namespace: str | None = None) -> ListResult:
        return self.inner.list(kind, namespace)

    def watch(
        self, kind: str, resource_version: str, namespace: str | None = None
    ) -> Iterator[WatchEvent]:
        return self.inner.watch(kind, resource_version, namespace)

    def create(self, manifest: Manifest) -> Manifest:
        self.calls.append(("create", (manifest,), {}))
        self.hook("create", (manifest,))
        out = self.inner.create(manifest)
        self.after("create", (manifest,))
        return out

    def update(self, manifest: Manifest) -> Manifest:
        self.calls.append(("update", (manifest,), {}))
        self.hook("update", (manifest,))
        out = self.inner.update(manifest)
        self.after("update", (manifest,))
        return out

    def delete(
        self,
        kind: str,
        namespace: str,
        name: str,
        *,
        resource_version: str | None = None,
        uid: str | None = None,
    ) -> None:
        kwargs = {"resource_version": resource_version, "uid": uid}
        self.calls.append(("delete", (kind, namespace, name), kwargs))
        self.hook("delete", (kind, namespace, name))
        self.inner.delete(kind, namespace, name, resource_version=resource_version, uid=uid)
        self.after("delete", (kind, namespace, name))


def test_hooked_is_a_backend() -> None:
    assert isinstance(Hooked(FakeCluster("x")), Backend)


# -- the first sync and the no-op resync ------------------------------------------------------


def test_first_sync_writes_exactly_the_plan() -> None:
    w = standard()
    report = w.run()
    assert report.ok
    assert set(report.created) == EAST_MIRRORS | NORTH_MIRRORS | FEDERATED_DB
    assert not report.updated
    assert not report.deleted
    assert not report.pending
    assert report.writes == len(w.writes()) == 6
    w.assert_matches_plan()
    fed = w.get("Service", "db-federated")
    assert fed is not None
    assert fed["metadata"]["annotations"][REMOTE_DISCOVERY] == "db@east,db@north"


def test_no_op_resync_makes_zero_writes() -> None:
    w = standard()
    w.settle()
    w.writes()
    for _ in range(3):
        report = w.run()
        assert report.idle
        assert report.writes == 0
        w.clock.advance(3600)
    assert w.writes() == []
    assert w.west.requests["create"] == w.west.requests["update"] == 0
    assert w.west.requests["delete"] == 0


def test_a_new_reconciler_over_a_settled_source_writes_nothing() -> None:
    w = standard()
    w.settle()
    w.west.reset_counters()
    w.reconciler = w.fresh()
    assert w.run().idle
    assert w.west.writes == []
    assert w.west.requests["create"] + w.west.requests["update"] + w.west.requests["delete"] == 0


def test_settled_means_zero_writes_despite_server_defaults() -> None:
    # Hand-applying the planned manifests (as `kubectl apply` of `meshmirror plan`) gives
    # objects that differ syntactically but not semantically: nothing to write.
    w = standard()
    docs = w.planned().manifests()
    w.west.apply(docs)
    w.west.reset_counters()
    assert w.run().writes == 0


def test_run_until_idle_needs_one_confirming_round() -> None:
    w = standard()
    done = w.reconciler.run_until_idle()
    assert done.idle
    assert done.settled
    assert done.rounds == 2
    assert done.writes == 6
    assert done.last.writes == 0


def test_nothing_is_ever_written_to_a_remote() -> None:
    w = standard()
    w.settle()
    w.east.set_reachable(False)
    w.run()
    w.clock.advance(1000)
    w.run()
    w.east.set_reachable(True)
    w.settle()
    for remote in w.remotes.values():
        assert remote.writes == []
        assert remote.requests["create"] + remote.requests["update"] == 0
        assert remote.requests["delete"] == 0
        assert remote.requests["list"] > 0


def test_writes_are_only_services_and_endpoints_never_links_or_namespaces() -> None:
    w = World({"east": [svc("web"), eps("web"), svc("pay", "pay")]})
    w.settle()
    w.west.apply([ns("pay")])
    w.east.apply([svc("web", port=81)])
    w.west.remove("Link", LINKS_NS, "east")
    w.settle()
    kinds = {kind for _, kind, _, _ in w.west.writes}
    assert kinds == {"Service", "Endpoints"}


# -- changes ----------------------------------------------------------------------------------


def test_a_remote_change_writes_exactly_the_changed_objects() -> None:
    w = standard()
    w.settle()
    w.writes()
    w.east.apply([eps("web", "shop", "10.1.0.1", ready=False)])  # no ready address left
    report = w.run()
    assert set(report.updated) == refs("Endpoints shop/web-east")
    assert report.writes == 1
    w.assert_matches_plan()
    eps_now = w.get("Endpoints", "web-east")
    assert eps_now is not None
    assert "subsets" not in eps_now
    # A new port: the Service and its Endpoints (which list the gateway per port)
    w.east.apply([svc("web", port=8443)])
    report = w.run()
    assert set(report.updated) == refs("Service shop/web-east")
    w.east.apply([eps("web")])
    assert set(w.run().updated) == refs("Endpoints shop/web-east")
    w.assert_matches_plan()


def test_an_update_carries_the_resource_version_and_keeps_server_fields() -> None:
    w = standard()
    w.settle()
    before = w.get("Service", "web-east")
    assert before is not None
    w.east.apply([svc("web", labels={"team": "a"})])
    hooked = Hooked(w.west)
    w.reconciler = w.fresh(source=hooked)
    report = w.run()
    assert refs("Service shop/web-east") <= set(report.updated)
    (sent,) = [args[0] for verb, args, _ in hooked.calls if args[0]["kind"] == "Service"]
    assert sent["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    after = w.get("Service", "web-east")
    assert after is not None
    assert after["metadata"]["labels"]["team"] == "a"
    for key in ("uid", "creationTimestamp"):
        assert after["metadata"][key] == before["metadata"][key]
    for key in ("clusterIP", "clusterIPs", "ipFamilies"):
        assert after["spec"][key] == before["spec"][key]


def test_deletes_carry_resource_version_and_uid_preconditions() -> None:
    w = standard()
    w.settle()
    hooked = Hooked(w.west)
    w.reconciler = w.fresh(source=hooked)
    w.west.remove("Link", LINKS_NS, "north")
    w.run()
    deletes = [(args, kw) for verb, args, kw in hooked.calls if verb == "delete"]
    assert {ObjectRef(*args) for args, _ in deletes} == NORTH_MIRRORS
    for _, kw in deletes:
        assert kw["resource_version"]
        assert kw["uid"]


def test_a_removed_link_removes_exactly_its_mirrors() -> None:
    w = standard()
    w.settle()
    w.writes()
    w.west.remove("Link", LINKS_NS, "east")
    report = w.run()
    assert set(report.deleted) == EAST_MIRRORS
    assert set(report.updated) == FEDERATED_DB  # its entry, not the Service, goes
    assert not report.created
    fed = w.get("Service", "db-federated")
    assert fed is not None
    assert fed["metadata"]["annotations"][REMOTE_DISCOVERY] == "db@north"
    for ref in NORTH_MIRRORS:
        assert w.west.get(ref.kind, ref.namespace, ref.name) is not None
    w.assert_matches_plan()
    assert "linkerd-multicluster/east" not in w.reconciler.status()


def test_owned_mirrors_naming_no_link_are_deleted_and_unowned_ones_kept() -> None:
    w = standard()
    stray_owned = svc("old-gone", export=None, labels={OWNED: "true", CLUSTER: "gone"})
    lookalike = svc("web-gone", export=None, labels={CLUSTER: "gone"})  # not owned
    w.west.apply([stray_owned, lookalike])
    w.settle()
    assert w.get("Service", "old-gone") is None
    assert w.get("Service", "web-gone") is not None
    assert ("delete", "Service", "shop", "old-gone") in w.west.writes
    assert not any(name == "web-gone" for _, _, _, name in w.west.writes)


def test_a_namespace_created_later_gets_its_pending_mirrors() -> None:
    w = World({"east": [svc("web"), svc("pay-api", "pay"), eps("pay-api", "pay")]})
    w.settle()
    assert w.get("Service", "pay-api-east", "pay") is None
    assert any(s.code == "NamespaceMissing" for s in w.planned().skipped)
    w.west.apply([ns("pay")])
    report = w.run()
    assert set(report.created) == refs("Service pay/pay-api-east", "Endpoints pay/pay-api-east")
    w.assert_matches_plan()


def test_no_namespace_is_written_unless_namespace_creation_is_on() -> None:
    docs = {"east": [svc("web"), svc("pay-api", "pay")]}
    off = World(docs)
    off.settle()
    assert not any(kind == "Namespace" for _, kind, _, _ in off.west.writes)
    on = World(docs, options=PlanOptions(enable_namespace_creation=True))
    report = on.run()
    assert refs("Namespace /pay") <= set(report.created)
    created = on.west.get("Namespace", None, "pay")
    assert created is not None
    assert created["metadata"]["labels"][OWNED] == "true"
    assert on.west.writes.index(("create", "Namespace", "", "pay")) < on.west.writes.index(
        ("create", "Service", "pay", "pay-api-east")
    )
    on.settle()
    on.assert_matches_plan()
    # Namespaces are never updated nor deleted, even once nothing is mirrored into them.
    on.east.remove("Service", "pay", "pay-api")
    on.settle()
    assert on.west.get("Namespace", None, "pay") is not None


# -- ownership --------------------------------------------------------------------------------


def test_unowned_local_objects_are_never_written_nor_deleted() -> None:
    w = World(
        {"east": [svc("web"), eps("web"), svc("api"), svc("db", export=None, member=True)]},
        source=[
            svc("web-east", export=None),  # blocks the mirror of web
            eps("api-east"),  # an unowned Endpoints blocks api's mirror too
            svc("db-federated", export=None),  # never claimed
        ],
    )
    before = {d["metadata"]["name"]: d for d in w.west.dump()}
    w.settle()
    touched = {(kind, name) for _, kind, _, name in w.west.writes}
    assert touched == set()  # every planned name is taken by someone else
    codes = {(s.code.value, s.ref.name) for s in w.planned().skipped}
    assert {("NotOwned", "web"), ("NotOwned", "api"), ("NotOwned", "db")} <= codes
    after = {d["metadata"]["name"]: d for d in w.west.dump()}
    assert after == before
    # Once the blocker goes, the mirror is created.
    w.west.delete("Service", "shop", "web-east")
    report = w.run()
    assert set(report.created) == refs("Service shop/web-east", "Endpoints shop/web-east")


def test_an_owned_object_replaced_by_an_unowned_one_mid_run_is_not_updated() -> None:
    w = standard()
    w.settle()
    w.east.apply([svc("web", labels={"team": "b"})])

    def race(verb: str, args: tuple[Any, ...]) -> None:
        if verb == "update" and args[0]["metadata"]["name"] == "web-east":
            w.west.apply([svc("web-east", export=None, labels={"mine": "yes"})])

    w.reconciler = w.fresh(source=Hooked(w.west, race))
    report = w.run()
    assert refs("Service shop/web-east") <= set(report.pending)
    theirs = w.get("Service", "web-east")
    assert theirs is not None
    assert theirs["metadata"]["labels"] == {"mine": "yes"}
    w.reconciler = w.fresh()
    w.settle()
    theirs = w.get("Service", "web-east")
    assert theirs is not None
    assert theirs["metadata"]["labels"] == {"mine": "yes"}
    assert w.get("Endpoints", "web-east") is None  # the rest of the unit went with it


def test_a_delete_racing_a_hand_edit_does_not_delete_the_newer_object() -> None:
    w = standard()
    w.settle()
    w.west.remove("Link", LINKS_NS, "north")

    def race(verb: str, args: tuple[Any, ...]) -> None:
        if verb == "delete" and args[2] == "web-north" and args[0] == "Service":
            current = w.get("Service", "web-north")
            assert current is not None
            current["metadata"]["labels"] = {"taken": "over"}
            w.west.apply([current])  # now unowned

    w.reconciler = w.fresh(source=Hooked(w.west, race))
    report = w.run()
    assert refs("Service shop/web-north") <= set(report.pending)
    w.settle()
    kept = w.get("Service", "web-north")
    assert kept is not None
    assert kept["metadata"]["labels"] == {"taken": "over"}


# -- hand edits ------------------------------------------------------------------------------


def test_hand_edits_and_deletions_of_owned_objects_are_repaired() -> None:
    w = standard()
    w.settle()
    web = w.get("Service", "web-east")
    assert web is not None
    web["metadata"]["labels"]["extra"] = "x"
    web["spec"]["ports"][0]["port"] = 9999
    web["spec"]["sessionAffinity"] = "ClientIP"
    web["spec"]["selector"] = {"app": "hijack"}
    gw = w.get("Endpoints", "web-north")
    assert gw is not None
    gw["subsets"][0]["addresses"] = [{"ip": "203.0.113.1"}]
    w.west.apply([web, gw])
    w.west.delete("Service", "shop", "api-east")
    w.west.delete("Service", "shop", "db-federated")
    w.writes()
    report = w.run()
    assert set(report.updated) == refs("Service shop/web-east", "Endpoints shop/web-north")
    assert set(report.created) == refs("Service shop/api-east", "Service shop/db-federated")
    assert report.writes == 4 == len(w.writes())
    w.assert_matches_plan()
    assert w.run().writes == 0


def test_a_mirror_hand_recreated_as_headless_is_recreated() -> None:
    w = standard()
    w.settle()
    web = w.get("Service", "web-east")
    assert web is not None
    w.west.delete("Service", "shop", "web-east")
    for key in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
        del web["spec"][key]
    web["spec"]["clusterIP"] = "None"
    w.west.apply([web])
    w.writes()
    report = w.run()
    assert set(report.deleted) == set(report.created) == refs("Service shop/web-east")
    assert w.writes() == [
        ("delete", "Service", "shop", "web-east"),
        ("create", "Service", "shop", "web-east"),
    ]
    w.assert_matches_plan()
    assert w.run().idle


# -- unreachable remotes -----------------------------------------------------------------------


def test_within_the_grace_an_unreachable_remotes_mirrors_stay_exactly() -> None:
    w = standard()
    w.settle()
    before = w.owned()
    w.east.set_reachable(False)
    w.east.apply([svc("web", port=81), eps("web", ready=False), svc("new")])
    w.east.remove("Service", "shop", "api")
    w.east.remove("Service", "shop", "db")
    for step in (0, 100, 199.5):
        w.clock.advance(step)
        report = w.run()
        assert report.ok
        assert report.unreachable == ("east",)
        assert report.writes == 0
    assert w.owned() == before
    status = w.reconciler.status()["linkerd-multicluster/east"]
    assert status.unreachable_since == w.clock() - 299.5
    assert not status.gateway_dead


def test_after_the_grace_gateway_endpoints_go_not_ready_once_and_nothing_is_deleted() -> None:
    w = standard()
    w.settle()
    before = w.owned()
    w.east.set_reachable(False)
    w.run()
    w.clock.advance(300)
    w.writes()
    report = w.run()
    assert set(report.updated) == refs("Endpoints shop/web-east")
    assert report.writes == 1
    assert not report.deleted
    after = w.owned()
    gw = after.pop(ObjectRef("Endpoints", "shop", "web-east"))
    old = before.pop(ObjectRef("Endpoints", "shop", "web-east"))
    assert after == before  # Services, other Endpoints, federated: untouched
    (subset,) = gw["subsets"]
    assert "addresses" not in subset
    assert subset["notReadyAddresses"] == old["subsets"][0]["addresses"]
    assert subset["ports"] == old["subsets"][0]["ports"]
    assert w.reconciler.status()["linkerd-multicluster/east"].gateway_dead
    # Once: later runs write nothing more.
    for _ in range(3):
        w.clock.advance(600)
        assert w.run().writes == 0
    assert w.writes() == [("update", "Endpoints", "shop", "web-east")]


def test_one_sync_restores_the_plan_when_the_remote_returns() -> None:
    w = standard()
    w.settle()
    w.east.set_reachable(False)
    w.run()
    w.clock.advance(301)
    w.run()
    w.east.apply([svc("web", port=81), svc("new")])
    w.east.remove("Service", "shop", "api")
    w.east.set_reachable(True)
    report = w.run()
    assert report.ok
    assert not report.unreachable
    assert not report.pending
    w.assert_matches_plan()
    assert w.run().writes == 0
    status = w.reconciler.status()["linkerd-multicluster/east"]
    assert status.unreachable_since is None
    assert status.last_error is None
    assert not status.gateway_dead


def test_the_grace_timer_starts_at_the_first_failed_run() -> None:
    w = standard()
    w.settle()
    w.east.set_reachable(False)
    w.clock.advance(10_000)  # down for long, but no run saw it yet
    assert w.run().writes == 0
    w.clock.advance(299)
    assert w.run().writes == 0
    w.clock.advance(1)
    assert set(w.run().updated) == refs("Endpoints shop/web-east")


def test_a_restarted_reconciler_keeps_what_an_unreachable_remote_derived() -> None:
    w = standard()
    w.settle()
    before = w.owned()
    w.east.set_reachable(False)
    w.clock.advance(1000)
    w.reconciler = w.fresh()  # never saw east: keeps its mirrors and federated entries
    for _ in range(2):
        report = w.run()
        assert report.ok
        assert report.writes == 0
        assert not report.pending
        w.clock.advance(299)
    assert w.owned() == before
    fed = w.get("Service", "db-federated")
    assert fed is not None
    assert fed["metadata"]["annotations"][REMOTE_DISCOVERY] == "db@east,db@north"
    status = w.reconciler.status()["linkerd-multicluster/east"]
    assert status.mirrored == 2
    assert status.last_sync is None
    # Its own timer: 300 s after its first run, the gateway Endpoints go not ready, once.
    w.clock.advance(2)
    report = w.run()
    assert set(report.updated) == refs("Endpoints shop/web-east")
    gw = w.get("Endpoints", "web-east")
    assert gw is not None
    assert gw["subsets"][0]["notReadyAddresses"] == [{"ip": "192.0.2.10"}]
    assert "addresses" not in gw["subsets"][0]
    w.clock.advance(100)
    assert w.run().writes == 0
    # It returns: one sync restores the plan.
    w.east.set_reachable(True)
    w.run()
    w.assert_matches_plan()


def test_a_restarted_reconciler_moves_addresses_matching_the_plan_of_a_dead_gateway() -> None:
    w = standard()
    w.settle()
    w.east.set_reachable(False)
    w.reconciler = w.fresh()
    w.run()
    w.clock.advance(300)
    w.run()
    # the same result as planning with the gateway marked dead
    want = w.planned(dead_gateways={"east"}).get(ObjectRef("Endpoints", "shop", "web-east"))
    assert w.owned()[ObjectRef("Endpoints", "shop", "web-east")] == to_manifest(want)


def test_a_link_edited_during_a_partition_never_mass_deletes() -> None:
    # Found by the stateful test: planning from the last known state with the Link's
    # gateway gone would delete every gateway mirror mid-partition. They stay until
    # the cluster returns (then the plan, NoGateway, removes them).
    for restarted in (False, True):
        w = standard()
        w.settle()
        before = w.owned()
        w.east.set_reachable(False)
        if restarted:
            w.reconciler = w.fresh()
        w.west.apply([link("east", gateway="")])
        report = w.run()
        assert report.writes == 0
        assert w.owned() == before
        w.clock.advance(300)
        report = w.run()  # past the grace: the kept gateway Endpoints go not ready
        assert set(report.updated) == refs("Endpoints shop/web-east")
        assert not report.deleted
        w.east.set_reachable(True)
        report = w.run()
        assert set(report.deleted) == refs("Service shop/web-east", "Endpoints shop/web-east")
        w.assert_matches_plan()


def test_a_removed_links_mirrors_go_even_while_its_remote_is_unreachable() -> None:
    for restarted in (False, True):
        w = standard()
        w.settle()
        w.east.set_reachable(False)
        if restarted:
            w.reconciler = w.fresh()
        w.run()
        w.west.remove("Link", LINKS_NS, "east")
        report = w.run()
        assert set(report.deleted) == EAST_MIRRORS
        assert report.unreachable == ()  # no Link targets it: not even read
        w.assert_matches_plan()


def test_an_unreachable_remote_never_delays_other_links() -> None:
    w = standard()
    w.settle()
    w.east.set_reachable(False)
    w.remotes["north"].apply([svc("web", port=82), svc("more")])
    report = w.run()
    assert refs("Service shop/web-north", "Service shop/more-north") <= {
        *report.updated,
        *report.created,
    }
    north = w.reconciler.status()["linkerd-multicluster/north"]
    assert north.last_error is None
    assert north.last_sync == w.clock()
    done = w.reconciler.run_until_idle()
    assert done.idle  # returns normally although east is down
    assert not done.settled
    assert done.last.unreachable == ("east",)


def test_status_names_the_link_and_the_cluster() -> None:
    w = standard()
    assert w.reconciler.status() == {}
    w.settle()
    start = w.clock()
    status = w.reconciler.status()
    assert set(status) == {"linkerd-multicluster/east", "linkerd-multicluster/north"}
    east = status["linkerd-multicluster/east"]
    assert east == LinkStatus(
        link=ObjectRef("Link", LINKS_NS, "east"),
        target="east",
        last_sync=start,
        mirrored=2,
        last_error=None,
        unreachable_since=None,
        gateway_dead=False,
        pending=0,
    )
    assert east.ok
    w.clock.advance(30)
    w.east.set_reachable(False)
    report = w.run()
    east = w.reconciler.status()["linkerd-multicluster/east"]
    assert east.last_sync == start
    assert east.unreachable_since == start + 30
    assert east.last_error is not None
    assert "linkerd-multicluster/east" in east.last_error
    assert "'east'" in east.last_error
    assert not east.ok
    assert any("linkerd-multicluster/east" in e for e in report.errors)
    assert w.reconciler.status()["linkerd-multicluster/north"].last_sync == start + 30


def test_a_link_to_a_cluster_without_backend_keeps_its_mirrors() -> None:
    w = standard()
    w.settle()
    before = w.owned()
    w.reconciler = w.fresh(remotes={"north": w.remotes["north"]})
    w.clock.advance(10_000)
    for _ in range(2):
        assert w.run().writes == 0
        w.clock.advance(10_000)
    assert w.owned() == before
    east = w.reconciler.status()["linkerd-multicluster/east"]
    assert east.last_error is not None
    assert "no backend for cluster 'east'" in east.last_error
    assert not east.gateway_dead


def test_an_unreadable_link_keeps_its_mirrors() -> None:
    w = standard()
    w.settle()
    before = w.owned()
    bad = link("east", selector={"matchExpressions": [{"key": "a", "operator": "Bogus"}]})
    w.west.apply([bad])
    assert w.run().writes == 0
    assert w.owned() == before
    east = w.reconciler.status()["linkerd-multicluster/east"]
    assert east.last_error is not None
    assert "selector" in east.last_error
    w.west.apply([link("east")])
    assert w.run().writes == 0
    assert w.reconciler.status()["linkerd-multicluster/east"].last_error is None


# -- the source -------------------------------------------------------------------------------


def test_an_unreachable_source_fails_the_run_cleanly() -> None:
    w = standard()
    w.settle()
    w.writes()
    w.east.apply([svc("web", port=81)])
    w.west.set_reachable(False)
    report = w.run()
    assert not report.ok
    assert report.error is not None
    assert "source cluster 'west'" in report.error
    assert report.writes == 0
    assert w.west.writes == []
    assert w.reconciler.source_error == report.error
    for status in w.reconciler.status().values():
        assert status.last_error is not None
        assert "'west'" in status.last_error
    done = w.reconciler.run_until_idle()
    assert done.rounds == 1
    assert not done.idle
    w.west.set_reachable(True)
    w.settle()
    assert w.reconciler.source_error is None
    w.assert_matches_plan()


def test_a_fresh_reconciler_with_an_unreachable_source_shows_the_error() -> None:
    w = standard()
    w.west.set_reachable(False)
    report = w.run()
    assert not report.ok
    assert w.reconciler.status() == {}
    assert w.reconciler.source_error is not None
    assert w.reconciler.last_report is report


# -- write failures, retries, backoff ---------------------------------------------------------


@pytest.mark.parametrize("error", [Conflict, ServerError, TooManyRequests, Timeout, Unreachable])
def test_failed_writes_are_pending_and_retried_by_the_next_round(
    error: type[BackendError],
) -> None:
    w = standard()
    failures = iter([True, True])

    def flaky(verb: str, args: tuple[Any, ...]) -> None:
        if next(failures, False):
            raise error("west", "injected")

    w.reconciler = w.fresh(source=Hooked(w.west, flaky))
    first = w.run()
    assert first.pending
    assert first.retry_at is not None
    assert first.retry_at > w.clock()
    if error is Unreachable:  # the rest of the run is not even tried
        assert first.writes == 0
        assert len(first.pending) == 6
    status = w.reconciler.status()
    assert any(s.pending for s in status.values()) or error is Unreachable
    done = w.reconciler.run_until_idle()
    assert done.idle
    w.assert_matches_plan()


def test_backoff_grows_from_the_injected_clock() -> None:
    w = standard()
    w.west.set_faults(Faults(conflict=1.0))
    r = w.reconciler
    delays = []
    for _ in range(8):
        report = r.run_once()
        assert report.ok
        assert report.pending
        assert report.writes == 0
        assert report.retry_at is not None
        delays.append(report.retry_at - w.clock())
        w.clock.advance(1)
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    done = r.run_until_idle(max_rounds=3)
    assert done.rounds == 3
    assert not done.idle
    w.west.set_faults(None)
    w.settle()
    w.assert_matches_plan()


def test_a_write_that_timed_out_after_taking_effect_is_not_repeated() -> None:
    w = World({"east": [svc("web")]})
    seen: set[str] = set()

    def late(verb: str, args: tuple[Any, ...]) -> None:
        name = args[0]["metadata"]["name"] + args[0]["kind"]
        if name not in seen:
            seen.add(name)
            raise Timeout("west", "the response was lost")

    w.reconciler = w.fresh(source=Hooked(w.west, after=late))
    first = w.run()
    assert first.writes == 0
    assert len(first.pending) == 2
    second = w.run()
    assert second.idle  # re-listed: already there
    assert w.west.writes == [
        ("create", "Service", "shop", "web-east"),
        ("create", "Endpoints", "shop", "web-east"),
    ]


def test_an_unretryable_write_error_is_reported_not_pending() -> None:
    from meshmirror.effects.backends.memory import Invalid

    w = World({"east": [svc("web")]})

    def refuse(verb: str, args: tuple[Any, ...]) -> None:
        raise Invalid("west", "refused by an admission webhook")

    w.reconciler = w.fresh(source=Hooked(w.west, refuse))
    report = w.run()
    assert not report.pending
    assert len(report.failed) == 2
    assert "admission webhook" in report.failed[0]
    assert "Link linkerd-multicluster/east" in str(
        w.reconciler.status()["linkerd-multicluster/east"].last_error
    )


def test_settles_under_random_faults_in_every_cluster() -> None:
    w = standard()
    for cluster in [w.west, *w.remotes.values()]:  # seed 0: deterministic
        cluster.set_faults(Faults(conflict=0.2, server_error=0.1, timeout=0.1, unreachable=0.05))
    for _ in range(40):
        w.run()
        w.clock.advance(10)
    for cluster in [w.west, *w.remotes.values()]:
        cluster.set_faults(None)
    w.settle()
    w.assert_matches_plan()
    for remote in w.remotes.values():
        assert remote.writes == []


# -- options, headless, slices -------------------------------------------------------------------


def headless_eps(name: str, *pods: tuple[str, str]) -> Manifest:
    """The Endpoints the endpoints controller keeps for a headless Service whose pods
    have hostnames: (ip, hostname) per pod, port http/80."""
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
                "addresses": [{"ip": ip, "hostname": host} for ip, host in pods],
                "ports": [{"name": "http", "port": 80}],
            }
        ],
    }


def test_headless_mirrors_settle() -> None:
    pod_eps = headless_eps("db", ("10.1.0.5", "db-0"), ("10.1.0.6", "db-1"))
    w = World(
        {"east": [svc("db", clusterIP="None"), pod_eps]},
        options=PlanOptions(enable_headless_services=True),
    )
    w.settle()
    w.assert_matches_plan()
    assert w.get("Service", "db-0-east") is not None
    assert w.fresh().run_once().writes == 0
    # and the grace rule leaves the headless Endpoints (pod mirrors' IPs) ready
    w.east.set_reachable(False)
    w.reconciler = w.fresh()
    w.run()
    w.clock.advance(300)
    report = w.run()
    assert set(report.updated) == refs("Endpoints shop/db-0-east", "Endpoints shop/db-1-east")


def test_a_headless_switch_waits_for_an_unreachable_remote() -> None:
    """Switching a mirror's headlessness takes a delete and a create: never from the
    last known state of a cluster that cannot be read (the create could fail, leaving
    nothing); the mirror stays as it is until the cluster is back."""
    pod_eps = headless_eps("db", ("10.1.0.5", "db-0"))
    w = World(
        {"east": [svc("db", clusterIP="None"), pod_eps]},
        options=PlanOptions(enable_headless_services=True),
    )
    w.settle()
    assert w.get("Service", "db-east")["spec"]["clusterIP"] == "None"
    # The pods lose their hostnames (a Deployment now): an ordinary ClusterIP mirror is
    # planned, but this round's writes to west all fail, so db-east stays headless.
    del pod_eps["subsets"][0]["addresses"][0]["hostname"]
    w.east.apply([pod_eps])
    w.west.set_faults(Faults(conflict=1.0))
    w.run()
    w.west.set_faults(None)
    assert w.get("Service", "db-east")["spec"]["clusterIP"] == "None"

    w.east.set_reachable(False)
    held = {r: w.owned()[r] for r in refs("Service shop/db-east", "Endpoints shop/db-east")}
    for step in (0, 400):  # within and past the grace (per-pod Endpoints go not ready)
        w.clock.advance(step)
        report = w.run()
        assert report.ok and report.unreachable == ("east",)
        assert not report.deleted and not report.created, report
        assert {r: w.owned()[r] for r in held} == held

    w.east.set_reachable(True)
    w.settle()
    w.assert_matches_plan()
    assert w.get("Service", "db-east")["spec"].get("clusterIP") != "None"


def test_a_name_claimed_by_a_read_cluster_is_not_held_for_an_unreachable_one() -> None:
    """The hold covers switches planned from a stale state only: when a cluster that
    was read claims the name of an unreachable cluster's headless mirror, its mirror
    takes the name at once."""
    w = World(
        {
            "b-east": [svc("db", clusterIP="None"), headless_eps("db", ("10.1.0.5", "db-0"))],
            "east": [svc("db-b", export=None)],
        },
        options=PlanOptions(enable_headless_services=True),
    )
    w.settle()
    held = w.get("Service", "db-b-east")
    assert held["metadata"]["labels"][CLUSTER] == "b-east"
    assert held["spec"]["clusterIP"] == "None"
    w.reconciler = w.fresh()  # a restart: b-east's state is unknown
    w.remotes["b-east"].set_reachable(False)
    w.east.apply([svc("db-b")])  # now exported, as db-b-east too
    report = w.run()
    assert report.unreachable == ("b-east",)
    now = w.get("Service", "db-b-east")
    assert now["metadata"]["labels"][CLUSTER] == "east"
    assert now["spec"].get("clusterIP") != "None"


def test_a_held_mirrors_service_and_endpoints_stay_together() -> None:
    """A hand edit relabels a headless mirror's Service as another cluster's; while the
    mirror's own cluster cannot be read, the Service is not deleted from under its
    held Endpoints (which point at per-pod mirrors, not at a gateway)."""
    w = World(
        {
            "east": [svc("db", clusterIP="None"), headless_eps("db", ("10.1.0.5", "db-0"))],
            "north": [],
        },
        options=PlanOptions(enable_headless_services=True),
        grace=0.0,
    )
    w.settle()
    doc = w.get("Service", "db-east")
    doc["metadata"]["labels"][CLUSTER] = "north"
    w.west.apply([doc])
    pair = refs("Service shop/db-east", "Endpoints shop/db-east")
    before = {r: w.owned()[r] for r in pair}
    w.reconciler = w.fresh()  # a restart: east's state is unknown
    w.east.set_reachable(False)
    for step in (0, 400):  # (past the grace the per-pod Endpoints go not ready)
        w.clock.advance(step)
        report = w.run()
        assert report.ok and report.unreachable == ("east",)
        assert not report.deleted, report
        assert {r: w.owned()[r] for r in pair} == before


def test_remote_endpoint_slices_are_read() -> None:
    sl = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": "web-abc",
            "namespace": "shop",
            "labels": {"kubernetes.io/service-name": "web"},
        },
        "endpoints": [{"addresses": ["10.1.0.9"], "conditions": {"ready": True}}],
        "ports": [{"name": "http", "port": 8080}],
    }
    w = World({"east": [svc("web"), sl]})
    w.settle()
    gw = w.get("Endpoints", "web-east")
    assert gw is not None
    assert gw["subsets"][0]["addresses"] == [{"ip": "192.0.2.10"}]


def test_link_namespace_limits_the_links_read() -> None:
    w = World({"east": [svc("web")]})
    other = link("east")
    other["metadata"]["namespace"] = "shop"
    w.west.apply([other])
    w.reconciler = w.fresh(link_namespace="shop")
    w.settle()
    assert set(w.reconciler.status()) == {"shop/east"}


# -- drivers ---------------------------------------------------------------------------------------


def test_run_forever_syncs_until_stopped() -> None:
    w = standard()

    async def main() -> int:
        stop = asyncio.Event()
        task = asyncio.create_task(w.reconciler.run_forever(interval=0.01, stop=stop))
        for _ in range(200):
            await asyncio.sleep(0.01)
            if w.reconciler.last_report is not None and w.reconciler.last_report.idle:
                break
        w.east.apply([svc("late")])
        for _ in range(200):
            await asyncio.sleep(0.01)
            if w.get("Service", "late-east") is not None:
                break
        stop.set()
        await asyncio.wait_for(task, timeout=5)
        return w.west.requests["list"], w.west.requests["watch"]

    lists, watches = asyncio.run(main())
    assert lists == 4  # Namespaces, Services, Endpoints, Links: once; then watched
    assert watches >= 4  # the late Service came through the watches
    w.assert_matches_plan()


def test_run_forever_retries_after_the_backoff() -> None:
    w = World({"east": [svc("web")]})
    w.west.set_faults(Faults(conflict=1.0))
    w.reconciler = w.fresh(backoff_base=0.01, backoff_max=0.01)

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(w.reconciler.run_forever(interval=3600, stop=stop))
        await asyncio.sleep(0.05)
        w.west.set_faults(None)
        for _ in range(300):
            await asyncio.sleep(0.01)
            if w.get("Endpoints", "web-east") is not None:
                break
        stop.set()
        await asyncio.wait_for(task, timeout=5)

    asyncio.run(main())
    w.assert_matches_plan()  # not an hour later: the backoff paced the retries


def test_argument_checks() -> None:
    w = standard()
    with pytest.raises(ValueError, match="grace"):
        w.fresh(unreachable_grace=-1)
    with pytest.raises(ValueError, match="max_rounds"):
        w.reconciler.run_until_idle(max_rounds=0)
    with pytest.raises(ValueError, match="forward"):
        ManualClock(0).advance(-1)

    async def bad() -> None:
        await w.reconciler.run_forever(interval=0, stop=asyncio.Event())

    with pytest.raises(ValueError, match="interval"):
        asyncio.run(bad())


def test_manual_clock_drives_fake_cluster_timestamps() -> None:
    w = World({"east": [svc("web")]})
    w.clock.advance(86_400)
    w.settle()
    created = w.get("Service", "web-east")
    assert created is not None
    assert created["metadata"]["creationTimestamp"] == "2023-11-15T22:13:20Z"


# -- events ----------------------------------------------------------------------------------


def test_an_event_lists_nothing_and_writes_only_what_changed() -> None:
    w = standard()
    w.settle()
    for cluster in (w.west, *w.remotes.values()):
        cluster.reset_counters()
    w.east.apply([svc("web", team="a")])
    report = w.reconciler.run_events()
    assert written(report) == refs("Service shop/web-east")
    assert all(c.requests["list"] == 0 for c in (w.west, *w.remotes.values()))
    assert w.reconciler.run_events().writes == 0  # the write's own echo changes nothing
    w.assert_matches_plan()


def test_a_hand_edit_or_deletion_of_an_owned_object_is_repaired_by_the_next_event() -> None:
    w = standard()
    w.settle()
    doc = w.get("Service", "web-east")
    assert doc is not None
    doc["metadata"]["labels"]["edited"] = "by-hand"
    w.west.apply([doc])
    w.west.remove("Endpoints", "shop", "web-north")
    report = w.reconciler.run_events()
    assert written(report) == refs("Service shop/web-east", "Endpoints shop/web-north")
    w.assert_matches_plan()


def test_a_refused_write_is_not_retried_in_a_tight_loop() -> None:
    from meshmirror.effects.backends.memory import Invalid

    w = World({"east": [svc("web")]})
    calls: list[str] = []

    def refuse(verb: str, args: tuple[Any, ...]) -> None:
        calls.append(args[0]["kind"])
        if args[0]["kind"] == "Endpoints":
            raise Invalid("west", "refused by an admission webhook")

    w.reconciler = w.fresh(source=Hooked(w.west, refuse), backoff_max=60.0)
    first = w.run()
    assert first.created == (ObjectRef("Service", "shop", "web-east"),)
    assert len(first.failed) == 1
    again = w.run()
    assert calls == ["Service", "Endpoints"]  # not sent again
    assert again.failed and "refused before" in again.failed[0]
    w.clock.advance(61)
    w.run()
    assert calls == ["Service", "Endpoints", "Endpoints"]  # after backoff_max, once more
