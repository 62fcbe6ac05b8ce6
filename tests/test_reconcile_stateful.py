"""Stateful property test of the reconciler (docs/design.md, section 2), under faults.

A :class:`~hypothesis.stateful.RuleBasedStateMachine` plays users of three clusters (the
source ``west`` and the remotes ``east`` and ``north``): it creates, updates, deletes and
relabels remote Services (gateway, remote-discovery, federated members, remote mirrors),
changes remote Endpoints, adds and removes Links, creates and deletes namespaces, edits
and deletes owned mirrors by hand, adds unowned local objects with clashing names,
injects every fault kind (410s that force a re-list and dropped watches included),
partitions clusters, advances the clock, restarts the reconciler and runs it (a full
comparison, or only the events the watches delivered). Checked at every step: the
incremental planner holds exactly ``plan()`` of the state the reconciler has cached;
nothing is ever written to a remote, no object the source held unowned before a run is
written or deleted by it, writes are only owned Services/Endpoints (and Namespaces when
namespace creation is on), an unreachable remote's mirrors are not deleted while its
Link stands, and past the grace its gateway Endpoints have no ready address. After
faults stop, the reconciler settles, its caches equal the clusters, the source's owned
objects equal ``plan(...)`` exactly, and a further run writes nothing.

``nox -s soak`` (``-k stateful``) runs it far longer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from builders import gateway_link, plain
from builders import namespace as ns_doc
from meshmirror import PlanOptions, diff, plan
from meshmirror.effects.backends.base import Manifest
from meshmirror.effects.backends.memory import FakeCluster, Faults
from meshmirror.effects.reconcile import ManualClock, Reconciler, RunReport
from meshmirror.formats.manifest import cluster_state, to_manifest
from meshmirror.values.model import ObjectRef

LINKS_NS = "linkerd-multicluster"
REMOTES = ("east", "north")
CLUSTERS = ("west", *REMOTES)
NAMESPACES = ("shop", "pay")
NAMES = ("web", "api", "db")
EXPORT = "mirror.linkerd.io/exported"
FEDERATED = "mirror.linkerd.io/federated"
OWNED = "mirror.linkerd.io/mirrored-service"
CLUSTER = "mirror.linkerd.io/cluster-name"
HEADLESS = "service.kubernetes.io/headless"
FAULT_KINDS = ("conflict", "server_error", "timeout", "drop_watch", "gone", "unreachable")
GATEWAYS = ("192.0.2.10", "192.0.2.11,192.0.2.10", "198.51.100.7", "", "gateway.example")
# Local names that clash with what the reconciler plans.
CLASHING = ("web-east", "api-north", "db-federated", "web-0-east", "web-federated", "web")

# (cluster, namespace, name, export, federated member, headless with named pods) of the
# remote Services at the start
INITIAL = (
    ("east", "shop", "web", "true", True, False),
    ("east", "shop", "api", "remote-discovery", False, False),
    ("east", "shop", "db", "true", False, True),
    ("east", "pay", "db", "true", False, False),
    ("north", "shop", "web", "true", False, False),
    ("north", "shop", "db", None, True, False),
    ("north", "pay", "api", "true", True, False),
)

#: What the runs covered (steps, reconciler runs, writes, checks made, plan contents at
#: each settle), for reporting; nothing asserts on it.
STATS: Counter[str] = Counter()


def _key(doc: Manifest) -> tuple[str, str, str]:
    meta = doc["metadata"]
    return (doc["kind"], meta.get("namespace", "") or "", meta["name"])


def _is_owned(doc: Manifest) -> bool:
    return bool((doc["metadata"].get("labels") or {}).get(OWNED) == "true")


class ReconcilerMachine(RuleBasedStateMachine):
    """Users of west, east and north against one Reconciler (restartable)."""

    def __init__(self) -> None:
        super().__init__()
        STATS["examples"] += 1
        self.clock = ManualClock(1_700_000_000.0)

    # -- set-up -------------------------------------------------------------------------------

    @initialize(
        seed=st.integers(0, 2**16),
        namespace_creation=st.booleans(),
        headless=st.booleans(),
        grace=st.sampled_from([0.0, 60.0, 300.0]),
    )
    def setup(self, seed: int, namespace_creation: bool, headless: bool, grace: float) -> None:
        STATS["steps"] += 1
        self.options = PlanOptions(
            enable_namespace_creation=namespace_creation, enable_headless_services=headless
        )
        self.grace = grace
        # Faults() (all zero) rather than None: a seeded random sequence, no faults yet.
        self.clusters = {
            name: FakeCluster(name, clock=self.clock, faults=Faults(), seed=seed + i)
            for i, name in enumerate(CLUSTERS)
        }
        # A populated start (both Links, every mirror mode); the rules take it from there.
        self.west.apply(
            [
                ns_doc("shop"),
                ns_doc(LINKS_NS),
                *(gateway_link(t, GATEWAYS[0]) for t in REMOTES),
            ]
        )
        for name in REMOTES:
            self.clusters[name].apply([ns_doc(n) for n in NAMESPACES])
        for cluster, namespace, name, export, member, pods in INITIAL:
            self.put_remote_service(cluster, namespace, name, export, member, 80, pods, {})
            self.set_remote_endpoints(cluster, namespace, name, 2, 0, pods)
            STATS["steps"] -= 2
        self.restart()

    @property
    def west(self) -> FakeCluster:
        return self.clusters["west"]

    def restart(self) -> None:
        self.reconciler = Reconciler(
            source=self.west,
            remotes={name: self.clusters[name] for name in REMOTES},
            clock=self.clock,
            unreachable_grace=self.grace,
            options=self.options,
        )
        self.since: dict[str, float] = {}  # the model of the reconciler's grace timers

    # -- remote users --------------------------------------------------------------------------

    @rule(
        cluster=st.sampled_from(REMOTES),
        namespace=st.sampled_from(NAMESPACES),
        name=st.sampled_from(NAMES),
        export=st.sampled_from([None, "true", "remote-discovery"]),
        member=st.booleans(),
        port=st.sampled_from([80, 8080]),
        headless=st.booleans(),
        extra=st.sampled_from(
            [
                {},
                {},
                {"team": "a"},
                {OWNED: "true", CLUSTER: "elsewhere"},  # a mirror: never mirrored again
                {"multicluster.linkerd.io/remote-discovery": "forged"},
            ]
        ),
    )
    def put_remote_service(
        self,
        cluster: str,
        namespace: str,
        name: str,
        export: str | None,
        member: bool,
        port: int,
        headless: bool,
        extra: Mapping[str, str],
    ) -> None:
        STATS["steps"] += 1
        remote = self.clusters[cluster]
        labels = dict(extra)
        if export is not None:
            labels[EXPORT] = export
        if member:
            labels[FEDERATED] = "member"
        spec: dict[str, Any] = {"ports": [{"name": "http", "port": port}]}
        if headless:
            spec["clusterIP"] = "None"
        current = remote.get("Service", namespace, name)
        if current is not None and (current["spec"].get("clusterIP") == "None") != headless:
            remote.remove("Service", namespace, name)  # clusterIP is immutable
        remote.apply(
            [
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": name, "namespace": namespace, "labels": labels},
                    "spec": spec,
                }
            ]
        )
        endpoints = remote.get("Endpoints", namespace, name)
        if endpoints is not None:  # as the endpoints controller labels them
            eps_labels = endpoints["metadata"].setdefault("labels", {})
            eps_labels.pop(HEADLESS, None)
            if headless:
                eps_labels[HEADLESS] = ""
            remote.apply([endpoints])

    @rule(
        cluster=st.sampled_from(REMOTES),
        namespace=st.sampled_from(NAMESPACES),
        name=st.sampled_from(NAMES),
    )
    def delete_remote_service(self, cluster: str, namespace: str, name: str) -> None:
        STATS["steps"] += 1
        remote = self.clusters[cluster]
        for kind in ("Service", "Endpoints"):
            if remote.get(kind, namespace, name) is not None:
                remote.remove(kind, namespace, name)

    @rule(
        cluster=st.sampled_from(REMOTES),
        namespace=st.sampled_from(NAMESPACES),
        name=st.sampled_from(NAMES),
        ready=st.integers(0, 2),
        not_ready=st.integers(0, 1),
        hostnames=st.booleans(),
    )
    def set_remote_endpoints(
        self,
        cluster: str,
        namespace: str,
        name: str,
        ready: int,
        not_ready: int,
        hostnames: bool,
    ) -> None:
        STATS["steps"] += 1
        remote = self.clusters[cluster]

        def address(i: int) -> dict[str, str]:
            out = {"ip": f"10.1.0.{i + 1}"}
            if hostnames:
                out["hostname"] = f"{name}-{i}"
            return out

        subset: dict[str, Any] = {"ports": [{"name": "http", "port": 8080}]}
        if ready:
            subset["addresses"] = [address(i) for i in range(ready)]
        if not_ready:
            subset["notReadyAddresses"] = [address(ready + i) for i in range(not_ready)]
        svc = remote.get("Service", namespace, name)
        headless = svc is not None and svc["spec"].get("clusterIP") == "None"
        labels = {HEADLESS: ""} if headless else {}
        remote.apply(
            [
                {
                    "apiVersion": "v1",
                    "kind": "Endpoints",
                    "metadata": {"name": name, "namespace": namespace, "labels": labels},
                    "subsets": [subset] if ready or not_ready else [],
                }
            ]
        )

    # -- source users ---------------------------------------------------------------------------

    @rule(cluster=st.sampled_from(REMOTES), gateway=st.sampled_from(GATEWAYS))
    def putgateway_link(self, cluster: str, gateway: str) -> None:
        STATS["steps"] += 1
        self.west.apply([gateway_link(cluster, gateway)])

    @rule(cluster=st.sampled_from(REMOTES))
    def removegateway_link(self, cluster: str) -> None:
        STATS["steps"] += 1
        if self.west.get("Link", LINKS_NS, cluster) is not None:
            self.west.delete("Link", LINKS_NS, cluster)  # the user's delete: no precondition

    @rule()
    def create_namespace(self) -> None:
        STATS["steps"] += 1
        if self.west.get("Namespace", None, "pay") is None:
            self.west.apply([ns_doc("pay")])

    @rule()
    def delete_namespace(self) -> None:
        STATS["steps"] += 1
        if self.west.get("Namespace", None, "pay") is not None:
            self.west.remove("Namespace", None, "pay")

    def _owned(self) -> list[Manifest]:
        return [
            d for d in self.west.dump() if d["kind"] in ("Service", "Endpoints") and _is_owned(d)
        ]

    @rule(
        index=st.integers(0, 31),
        edit=st.sampled_from(
            ["label", "port", "annotations", "selector", "addresses", "cluster", "disown"]
        ),
    )
    def hand_edit_owned(self, index: int, edit: str) -> None:
        STATS["steps"] += 1
        owned = self._owned()
        if not owned:
            return
        doc = owned[index % len(owned)]
        meta = doc["metadata"]
        labels = meta.setdefault("labels", {})
        if edit == "label":
            labels["edited"] = "by-hand"
        elif edit == "cluster":
            labels[CLUSTER] = "north" if labels.get(CLUSTER) == "east" else "east"
        elif edit == "disown":
            del labels[OWNED]  # now the user's: never touched again
        elif edit == "annotations":
            meta.pop("annotations", None)
        elif doc["kind"] == "Service" and edit == "port":
            doc["spec"]["ports"] = [{"name": "hand", "port": 1234}]
        elif doc["kind"] == "Service" and edit == "selector":
            doc["spec"]["selector"] = {"app": "hijack"}
        elif doc["kind"] == "Endpoints":
            doc["subsets"] = [
                {"addresses": [{"ip": "203.0.113.9"}], "ports": [{"name": "x", "port": 1}]}
            ]
        self.west.apply([doc])

    @rule(index=st.integers(0, 31))
    def delete_owned(self, index: int) -> None:
        STATS["steps"] += 1
        owned = self._owned()
        if owned:
            kind, namespace, name = _key(owned[index % len(owned)])
            self.west.delete(kind, namespace, name)

    @rule(
        kind=st.sampled_from(["Service", "Endpoints"]),
        namespace=st.sampled_from(NAMESPACES),
        name=st.sampled_from(CLASHING),
    )
    def put_unowned_local(self, kind: str, namespace: str, name: str) -> None:
        STATS["steps"] += 1
        if self.west.get("Namespace", None, namespace) is None:
            return
        if kind == "Service":
            doc: Manifest = {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
                "spec": {"ports": [{"port": 80}], "selector": {"app": name}},
            }
            if name == "web":
                doc["metadata"]["labels"][FEDERATED] = "member"  # a local federated member
        else:
            doc = {
                "apiVersion": "v1",
                "kind": "Endpoints",
                "metadata": {"name": name, "namespace": namespace, "labels": {CLUSTER: "east"}},
                "subsets": [{"addresses": [{"ip": "10.9.9.9"}], "ports": [{"port": 80}]}],
            }
        current = self.west.get(kind, namespace, name)
        if current is not None and kind == "Service" and current["spec"].get("clusterIP") == "None":
            self.west.remove(kind, namespace, name)
        self.west.apply([doc])

    @rule(namespace=st.sampled_from(NAMESPACES), name=st.sampled_from(CLASHING))
    def remove_unowned_local(self, namespace: str, name: str) -> None:
        STATS["steps"] += 1
        for kind in ("Service", "Endpoints"):
            doc = self.west.get(kind, namespace, name)
            if doc is not None and not _is_owned(doc):
                self.west.delete(kind, namespace, name)

    # -- faults and time -------------------------------------------------------------------------

    @rule(
        cluster=st.sampled_from(CLUSTERS),
        kinds=st.sets(st.sampled_from(FAULT_KINDS), min_size=1, max_size=3),
        probability=st.sampled_from([0.1, 0.3, 1.0]),
    )
    def inject_faults(self, cluster: str, kinds: set[str], probability: float) -> None:
        STATS["steps"] += 1
        self.clusters[cluster].set_faults(Faults(**dict.fromkeys(kinds, probability)))

    @rule(
        cluster=st.sampled_from(CLUSTERS),
        kinds=st.sets(st.sampled_from(FAULT_KINDS), min_size=1, max_size=3),
        probability=st.sampled_from([0.1, 0.3, 1.0]),
        rounds=st.integers(1, 3),
    )
    def run_with_faults(
        self, cluster: str, kinds: set[str], probability: float, rounds: int
    ) -> None:
        """Faults that stay on (until settle), and runs under them right away."""
        STATS["steps"] += 1
        self.clusters[cluster].set_faults(Faults(**dict.fromkeys(kinds, probability)))
        self._checked(lambda: self.reconciler.run_until_idle(max_rounds=rounds).runs)

    @rule(
        cluster=st.sampled_from(REMOTES),
        seconds=st.sampled_from([0.0, 30.0, 60.0, 300.0, 1000.0]),
    )
    def run_partitioned(self, cluster: str, seconds: float) -> None:
        """A partition that stays (until reconnect or settle): a run, time, a run."""
        STATS["steps"] += 1
        self.clusters[cluster].set_reachable(False)
        self._run_once()
        self.clock.advance(seconds)
        self._run_once()

    @rule(cluster=st.sampled_from(CLUSTERS))
    def partition(self, cluster: str) -> None:
        STATS["steps"] += 1
        self.clusters[cluster].set_reachable(False)

    @rule(cluster=st.sampled_from(CLUSTERS))
    def reconnect(self, cluster: str) -> None:
        STATS["steps"] += 1
        self.clusters[cluster].set_reachable(True)

    def heal(self) -> None:
        for cluster in self.clusters.values():
            cluster.set_faults(None)
            cluster.set_reachable(True)

    @rule(seconds=st.sampled_from([1.0, 30.0, 59.0, 60.0, 299.0, 300.0, 301.0, 1000.0]))
    def advance_clock(self, seconds: float) -> None:
        STATS["steps"] += 1
        self.clock.advance(seconds)

    @rule()
    def restart_reconciler(self) -> None:
        STATS["steps"] += 1
        self.restart()

    # -- the reconciler -------------------------------------------------------------------------

    @rule()
    def run_once(self) -> None:
        STATS["steps"] += 1
        self._run_once()

    @rule()
    def run_events(self) -> None:
        """What the watches delivered since the last run, and only that."""
        STATS["steps"] += 1
        self._checked(lambda: (self.reconciler.run_events(),))

    @rule()
    def run_until_idle(self) -> None:
        STATS["steps"] += 1
        self._checked(lambda: self.reconciler.run_until_idle(max_rounds=3).runs)

    def _run_once(self) -> RunReport:
        return self._checked(lambda: (self.reconciler.run_once(),))

    def _checked(self, run: Callable[[], Sequence[RunReport]]) -> RunReport:
        """Run, checking what the runs wrote against the state just before them (the
        reconciler's own writes never make an object unowned, so one snapshot serves
        every round of ``run_until_idle``). The last report."""
        before = {_key(d): d for d in self.west.dump()}
        unowned = {k for k, d in before.items() if not _is_owned(d)}
        links = {t for t in REMOTES if ("Link", LINKS_NS, t) in before}
        start = len(self.west.writes)
        reports = run()
        if reports[-1].ok:
            self._check_planner()
        new = self.west.writes[start:]
        STATS["runs"] += len(reports)
        STATS["writes"] += len(new)
        STATS["run_ok"] += sum(r.ok for r in reports)
        STATS["run_unreachable"] += sum(bool(r.unreachable) for r in reports)
        STATS["run_pending"] += sum(bool(r.pending) for r in reports)
        for verb, kind, namespace, name in new:
            ref = (kind, namespace, name)
            assert ref not in unowned, f"{verb} of {ref}, which the source held unowned"
            assert kind in ("Service", "Endpoints") or (
                kind == "Namespace" and verb == "create" and self.options.enable_namespace_creation
            ), f"{verb} of {ref}"
            if verb != "delete":
                now = self.west.get(kind, namespace or None, name)
                assert now is None or _is_owned(now), f"{verb} left {ref} unowned"
        for i, report in enumerate(reports):
            if report.ok:
                self._check_partition(report, before, links, last=i == len(reports) - 1)
        return reports[-1]

    def _check_planner(self) -> None:
        """The incremental planner holds exactly what ``plan()`` says of the very state
        the reconciler has cached (after every run that read the source)."""
        held = self.reconciler.planned_objects()
        if held is None:
            return  # to be rebuilt from the caches by the next run
        source, remotes = self.reconciler.cached_states()
        options = attrs.evolve(
            self.options, dead_gateways=self.options.dead_gateways | self.reconciler.dead_gateways
        )
        want = list(plan(source, remotes, options=options).objects)
        assert held == want
        STATS["planner_checks"] += 1

    def _check_partition(
        self,
        report: RunReport,
        before: Mapping[tuple[str, str, str], Manifest],
        links: set[str],
        last: bool,
    ) -> None:
        """While a linked cluster is not read, the owned objects derived from it stay (no
        delete, except the delete-and-create of a Service changing headlessness); past
        the grace, its gateway Endpoints hold no ready address."""
        now = self.clock()
        recreated = set(report.created)
        deleted = {(r.kind, r.namespace, r.name) for r in report.deleted if r not in recreated}
        for target in REMOTES:
            if target not in links or target not in report.unreachable:
                self.since.pop(target, None)  # the reconciler forgets or resets it too
                continue
            since = self.since.setdefault(target, now)
            for key in deleted:
                doc = before.get(key)
                labels = {} if doc is None else doc["metadata"].get("labels") or {}
                assert labels.get(CLUSTER) != target, (
                    f"deleted {key} while {target} was unreachable and still linked"
                )
            STATS["partition_checks"] += 1
            if last and now - since >= self.grace and not report.pending and not report.failed:
                cached, _ = self.reconciler.cached_states()
                for doc in self._owned():
                    labels = doc["metadata"].get("labels") or {}
                    if doc["kind"] != "Endpoints" or labels.get(CLUSTER) != target:
                        continue
                    seen = cached.endpoints_of(doc["metadata"]["namespace"], _key(doc)[2])
                    if seen is None or seen.resource_version != doc["metadata"]["resourceVersion"]:
                        # A hand edit its watch has not delivered yet (a dropped watch is
                        # resumed by the next run): the settle invariant sees it repaired.
                        STATS["unseen_edits"] += 1
                        continue
                    svc = self.west.get("Service", doc["metadata"]["namespace"], _key(doc)[2])
                    ready = [a for s in doc.get("subsets") or [] for a in s.get("addresses", [])]
                    if svc is not None and svc["spec"].get("clusterIP") == "None":
                        continue  # a headless mirror's Endpoints point at per-pod mirrors
                    if svc is None and ready and all("hostname" in a for a in ready):
                        continue  # the same, its Service deleted by hand and held with it
                    assert not ready, f"{_key(doc)} still ready {now - since}s into a partition"
                    STATS["dead_checks"] += 1

    @rule()
    def settle(self) -> None:
        """Faults stop: the reconciler settles on exactly the plan."""
        STATS["steps"] += 1
        self.heal()
        last = self._checked(lambda: self.reconciler.run_until_idle(max_rounds=8).runs)
        assert last.settled, f"not settled: {last}"
        self._assert_caches_are_the_clusters()
        self._assert_matches_plan()
        assert self._run_once().writes == 0

    def _assert_caches_are_the_clusters(self) -> None:
        """Lists, resumed watches and 410 re-lists left every cache equal to its cluster."""
        source, remotes = self.reconciler.cached_states()
        real = cluster_state("west", self.west.dump())
        assert dict(source.services) == dict(real.services)
        assert dict(source.endpoints) == dict(real.endpoints)
        assert dict(source.namespaces) == dict(real.namespaces)
        assert dict(source.links) == dict(real.links)
        for name, cached in remotes.items():
            state = cluster_state(name, self.clusters[name].dump())
            assert dict(cached.services) == dict(state.services)
            assert dict(cached.endpoints) == dict(state.endpoints)

    def _assert_matches_plan(self) -> None:
        source = cluster_state("west", self.west.dump())
        remotes = {n: cluster_state(n, self.clusters[n].dump()) for n in REMOTES}
        planned = plan(source, remotes, options=self.options)
        changes = diff(planned, source)
        assert not changes, changes.describe()
        want = {o.ref: to_manifest(o) for o in planned.objects if o.kind != "Namespace"}
        have: dict[ObjectRef, Manifest] = {}
        for obj in [*source.services.values(), *source.endpoints.values()]:
            if obj.labels.get(OWNED) == "true":
                have[obj.ref] = plain(to_manifest(obj))
        assert have == want
        STATS["settles"] += 1
        STATS["owned_at_settle"] += len(have)
        STATS["skips_at_settle"] += len(planned.skipped)
        for sk in planned.skipped:
            STATS["skip:" + sk.code.value] += 1
        for m in planned.mirrors:
            STATS["mode:" + m.mode] += 1
        STATS["federated"] += len(planned.federated)

    @invariant()
    def nothing_written_to_remotes(self) -> None:
        for name in REMOTES:
            if name in getattr(self, "clusters", {}):
                assert self.clusters[name].writes == []

    @precondition(lambda self: hasattr(self, "reconciler"))
    @invariant()
    def status_names_everygateway_link(self) -> None:
        for key, status in self.reconciler.status().items():
            assert key == f"{status.link.namespace}/{status.link.name}"
            if status.last_error is not None:
                assert key in status.last_error

    def teardown(self) -> None:
        if hasattr(self, "reconciler"):
            self.settle()
            STATS["steps"] -= 1


TestReconcilerStateful = ReconcilerMachine.TestCase
TestReconcilerStateful.settings = settings(stateful_step_count=150)
