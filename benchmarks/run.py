"""meshmirror's benchmarks: docs/design.md, section 4.5. The figures go to stdout as one JSON
object on the last line (progress goes to stderr).

    python benchmarks/run.py            # --quick: under a minute on 2 cores
    python benchmarks/run.py --full     # 100 clusters x 1,000 Services (100,000), minutes

Every figure is the best (least) of several runs in this one process, and every ratio is
taken between figures of this same run. Everything runs under Python's default garbage
collector (``gc`` in the output says so and gives the thresholds): ``json.loads`` and the
official client as they come, meshmirror's loader (``meshmirror.effects.loader.cluster_states``)
as it manages the collector itself (it pauses it while building the states and freezes
them after, ``gc_mode="freeze"``). Before each run the previous run's results are
dropped and a full collection runs, untimed.

What is measured (seconds unless said otherwise):

- ``json_load_s``: ``json.loads`` of every cluster's ``kubectl get -o json`` output;
- ``k8s_deserialize_s``: the official ``kubernetes`` client turning the same parsed
  objects into its models (``ApiClient._ApiClient__deserialize(data, "V1ServiceList")``
  etc. per cluster and kind, as list responses; Links, a custom resource, stay dicts);
- ``load_s``: the same parsed objects into ``ClusterState`` values;
- ``plan_s``: ``plan(source, remotes)`` (``plan_s_small`` at a tenth of the Services:
  ``linear_growth`` is their ratio);
- ``event_s_small``/``event_s_large``: one remote Service edit (a label and its
  resourceVersion) handled by ``meshmirror.decisions.incremental.replan`` and ``PlanIndex.applied``,
  per event (the best of ``EVENT_BATCHES`` batches), at two topologies 100x apart in
  Services (same cluster count);
- ``noop_resync_writes``: writes of a ``Reconciler`` run over a settled source
  (``FakeCluster``); ``writes_per_change``: writes per changed owned object after
  remote edits;
- ``bytes_per_service``: bytes a plan holds (tracemalloc) per mirrored or federated
  Service;
- ``reconciler_events``: per topology (10 x 200; with ``--full`` also 100 x 1,000), one
  remote Service label edit through the whole runtime (``Reconciler.run_events`` over
  ``FakeCluster``: watches polled, the incremental planner, the writes): ``event_p50_s``,
  ``event_max_s``, ``lists_per_event``, ``watches_per_event`` (one per cache: 4 in the
  source, 3 per linked cluster), ``writes_per_event``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from generate import SOURCE, generate, to_json  # noqa: E402
from meshmirror.decisions.diff import diff  # noqa: E402
from meshmirror.decisions.incremental import PlanIndex, RemoteChange, replan  # noqa: E402
from meshmirror.decisions.plan import Plan, plan  # noqa: E402
from meshmirror.effects.loader import GcMode, cluster_states  # noqa: E402
from meshmirror.values.model import ClusterState, Service  # noqa: E402

__all__ = ["CONTRACT_KEYS", "FULL", "QUICK", "Sizes", "main", "measure"]

#: docs/design.md, section 4.5: every one of these is in the output.
CONTRACT_KEYS = (
    "services",
    "clusters",
    "json_load_s",
    "load_s",
    "plan_s",
    "plan_over_json_load",
    "k8s_deserialize_s",
    "plan_over_k8s_deserialize",
    "event_s_small",
    "event_s_large",
    "event_ratio",
    "noop_resync_writes",
    "bytes_per_service",
    "python_version",
    "k8s_client_version",
    "gc",
)

GC_MODE: GcMode = "freeze"
#: Timed batches of events per size (cheap: a batch is a few milliseconds; more batches
#: make the best one less at the mercy of other processes sharing the CPU caches).
EVENT_BATCHES = 15
T = TypeVar("T")


@dataclass(frozen=True)
class Sizes:
    """How big each measurement is, and how often it is repeated."""

    name: str
    clusters: int
    services_per_cluster: int  # the main topology
    event_small_per_cluster: int  # the small event topology (same cluster count)
    repeat: int  # runs per figure (best is kept)
    k8s_repeat: int
    events: int  # events per timed batch
    writes_clusters: int  # the reconciler topology (FakeCluster)
    writes_per_cluster: int
    writes_changes: int  # remote edits for writes_per_change
    #: (clusters, Services per cluster) of the runtime's event figure, and its edits.
    reconciler_sizes: tuple[tuple[int, int], ...] = ((10, 200),)
    reconciler_edits: int = 50


QUICK = Sizes("quick", 10, 1000, 10, 5, 2, 200, 4, 100, 20)
FULL = Sizes("full", 100, 1000, 10, 5, 3, 500, 10, 200, 50, ((10, 200), (100, 1000)), 50)


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def best(runs: int, setup: Callable[[], None], body: Callable[[], T]) -> tuple[float, T]:
    """The least wall time of ``runs`` calls of ``body`` (each after ``setup`` and a full
    collection, untimed), and the last result."""
    times = []
    result: Any = None
    for _ in range(max(1, runs)):
        result = None
        setup()
        gc.collect()
        start = time.perf_counter()
        result = body()
        times.append(time.perf_counter() - start)
    return min(times), result


# -- the measurements -------------------------------------------------------------------


def json_load(blobs: Mapping[str, bytes], runs: int) -> tuple[float, dict[str, Any]]:
    """``json.loads`` of every cluster's JSON (default GC)."""
    return best(runs, lambda: None, lambda: {n: json.loads(b) for n, b in blobs.items()})


def _k8s_lists(docs: Mapping[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """Each cluster's objects as the list responses the API server sends per kind."""
    out = []
    kinds = {"Namespace": "V1NamespaceList", "Service": "V1ServiceList"}
    kinds["Endpoints"] = "V1EndpointsList"
    for doc in docs.values():
        by_kind: dict[str, list[Any]] = {}
        for item in doc["items"]:
            by_kind.setdefault(item["kind"], []).append(item)
        for kind, items in by_kind.items():
            meta = {"resourceVersion": "1"}
            if kind in kinds:
                out.append(
                    (
                        {
                            "apiVersion": "v1",
                            "kind": f"{kind}List",
                            "metadata": meta,
                            "items": items,
                        },
                        kinds[kind],
                    )
                )
            else:  # Links: a custom resource; the client hands back the dict
                out.append(({"items": items, "metadata": meta}, "object"))
    return out


def k8s_deserialize(docs: Mapping[str, Any], runs: int) -> tuple[float, str, int]:
    """The official client deserialising the same objects (default GC)."""
    import kubernetes  # type: ignore[import-untyped]
    from kubernetes.client import ApiClient  # type: ignore[import-untyped]

    client = ApiClient()
    deserialize = client._ApiClient__deserialize
    lists = _k8s_lists(docs)
    count = sum(len(d["items"]) for d, _ in lists)
    seconds, _ = best(runs, lambda: None, lambda: [deserialize(d, t) for d, t in lists])
    return seconds, kubernetes.__version__, count


def load(docs: Mapping[str, Any], runs: int, mode: GcMode = GC_MODE) -> tuple[float, Any]:
    """kubectl dicts -> ClusterState, through the loader (which manages the GC)."""
    lists = {n: [d] for n, d in docs.items()}
    return best(runs, lambda: None, lambda: cluster_states(lists, gc_mode=mode))


def split(states: Mapping[str, ClusterState]) -> tuple[ClusterState, dict[str, ClusterState]]:
    return states[SOURCE], {n: s for n, s in states.items() if n != SOURCE}


def plan_time(states: Mapping[str, ClusterState], runs: int) -> tuple[float, Plan]:
    source, remotes = split(states)
    return best(runs, lambda: None, lambda: plan(source, remotes))


def plan_time_gc_paused(states: Mapping[str, ClusterState], runs: int) -> float:
    """A diagnostic, not a contract figure: the plan with the collector off (what its
    own work costs, without the collector's passes over the objects it makes)."""
    gc.disable()
    try:
        seconds, _ = plan_time(states, runs)
    finally:
        gc.enable()
    return seconds


def bytes_per_service(states: Mapping[str, ClusterState]) -> tuple[float, int]:
    """Bytes the plan's objects hold (tracemalloc), per mirrored or federated Service."""
    source, remotes = split(states)
    gc.collect()
    tracemalloc.start()
    try:
        p = plan(source, remotes)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    mirrored = len(p.mirrors) + len(p.federated)
    return held / max(1, mirrored), mirrored


def _settled_source(source: ClusterState, remotes: Mapping[str, ClusterState]) -> ClusterState:
    changes = diff(plan(source, remotes), source)
    put = [*changes.creates, *(u.after for u in changes.updates)]
    return source.replace(*put, remove=[o.ref for o in changes.deletes])


def _gateway_mirrored(index: PlanIndex, remotes: Mapping[str, ClusterState]) -> list[Any]:
    """Remote Services with a gateway mirror, spread over the clusters."""
    planned = {(o.namespace, o.name) for o in index.objects() if o.kind == "Endpoints"}
    by_cluster = []
    for name in sorted(remotes):
        state = remotes[name]
        by_cluster.append(
            [
                (name, svc)
                for key, svc in sorted(state.services.items())
                if (key[0], f"{key[1]}-{name}") in planned
            ]
        )
    out = []
    for i in range(max(map(len, by_cluster), default=0)):
        out.extend(group[i] for group in by_cluster if i < len(group))
    return out


def _edits(picked: list[tuple[str, Service]], round_: int) -> Iterator[RemoteChange]:
    for i, (cluster, svc) in enumerate(picked):
        labels = {**svc.labels, "example.com/bench": f"r{round_}"}
        rv = str(10_000_000 + round_ * len(picked) + i)
        edited = Service(
            svc.namespace,
            svc.name,
            labels,
            svc.annotations,
            svc.ports,
            svc.type,
            svc.cluster_ip,
            svc.session_affinity,
            svc.selector,
            svc.external_name,
            rv,
            svc.uid,
            svc.creation_timestamp,
        )
        yield RemoteChange.put(cluster, edited)


@dataclass
class EventFigures:
    seconds: float
    services: int
    index_build_s: float
    changes_per_event: float


def events(states: Mapping[str, ClusterState], count: int, runs: int) -> EventFigures:
    """Seconds per remote edit handled incrementally (replan + applied), best batch."""
    source, remotes = split(states)
    source = _settled_source(source, remotes)
    start = time.perf_counter()
    index = PlanIndex.build(source, remotes)
    build_s = time.perf_counter() - start
    picked = _gateway_mirrored(index, remotes)
    if not picked:
        raise RuntimeError("no gateway mirror to edit")
    picked = (picked * (count // len(picked) + 1))[:count]
    batches = [list(_edits(picked, r + 1)) for r in range(runs + 1)]
    changed = 0

    def run(batch: list[RemoteChange]) -> int:
        total = 0
        for change in batch:
            result = replan(index, change)
            index.applied(result)
            total += len(result)
        return total

    run(batches[0])  # warm-up (caches, first-touch)
    times = []
    for batch in batches[1:]:
        gc.collect()
        start = time.perf_counter()
        changed = run(batch)
        times.append((time.perf_counter() - start) / len(batch))
    services = sum(len(s.services) for s in states.values())
    return EventFigures(min(times), services, build_s, changed / len(picked))


def writes(sizes: Sizes) -> dict[str, Any]:
    """Writes of a no-op resync, and per changed owned object, through the reconciler."""
    from meshmirror.effects.backends.memory import FakeCluster
    from meshmirror.effects.reconcile import ManualClock, Reconciler

    topo = generate(sizes.writes_clusters, sizes.writes_per_cluster, seed=7)
    clock = ManualClock(0.0)
    clusters = {
        n: FakeCluster.from_manifests(n, [d], clock=clock) for n, d in topo.clusters.items()
    }
    source = clusters[SOURCE]
    remotes = {n: c for n, c in clusters.items() if n != SOURCE}
    first = Reconciler(source=source, remotes=remotes, clock=clock).run_until_idle()
    fresh = Reconciler(source=source, remotes=remotes, clock=clock)
    noop = fresh.run_once().writes
    # Edit remote Services (a label: both mirror objects change; an annotation: only
    # the mirror Service), then count the owned objects whose plan changed.
    edited = 0
    for name in sorted(remotes)[: sizes.writes_changes]:
        cluster = remotes[name]
        for doc in cluster.dump():
            labels = doc["metadata"].get("labels", {})
            if doc["kind"] != "Service" or labels.get("mirror.linkerd.io/exported") != "true":
                continue
            if edited % 2:
                doc["metadata"]["labels"]["example.com/edited"] = "yes"
            else:
                doc["metadata"].setdefault("annotations", {})["example.com/edited"] = "yes"
            cluster.apply([doc])
            edited += 1
            if edited >= sizes.writes_changes:
                break
        if edited >= sizes.writes_changes:
            break
    state = {n: c.dump() for n, c in clusters.items()}
    src, rem = split({n: cluster_states({n: d})[n] for n, d in state.items()})
    expected = len(diff(plan(src, rem), src))
    after = fresh.run_until_idle()
    return {
        "noop_resync_writes": noop,
        "writes_per_change": after.writes / expected if expected else None,
        "changed_owned_objects": expected,
        "writes_after_changes": after.writes,
        "remote_edits": edited,
        "writes_settle_writes": first.writes,
        "writes_services": sum(
            1 for c in remotes.values() for d in c.dump() if d["kind"] == "Service"
        ),
        "writes_measured_with": "meshmirror.effects.reconcile.Reconciler over FakeCluster",
    }


def reconciler_events(clusters: int, per_cluster: int, edits: int) -> dict[str, Any]:
    """Remote edits through the whole runtime: ``Reconciler.run_events`` over
    ``FakeCluster`` (the watches polled, the incremental planner, the writes), per event.

    The source starts settled (the plan applied to it), so the Reconciler's first run
    lists every cluster and writes nothing; each edit is then one remote Service label
    (its mirror Service and Endpoints both change), applied as a user would, untimed."""
    from meshmirror.effects.backends.memory import FakeCluster
    from meshmirror.effects.reconcile import ManualClock, Reconciler
    from meshmirror.formats.manifest import cluster_state, to_manifest

    topo = generate(clusters, per_cluster, seed=11)
    clock = ManualClock(0.0)
    fakes = {n: FakeCluster.from_manifests(n, [d], clock=clock) for n, d in topo.clusters.items()}
    source = fakes[SOURCE]
    remotes = {n: c for n, c in fakes.items() if n != SOURCE}
    states = {n: cluster_state(n, c.dump()) for n, c in fakes.items()}
    src, rem = split(states)
    source.apply([to_manifest(o) for o in plan(src, rem).objects])
    del states, src, rem
    r = Reconciler(source=source, remotes=remotes, clock=clock, relist_period=None)
    start = time.perf_counter()
    first = r.run_once()
    cold = time.perf_counter() - start
    picked = []
    for name in sorted(remotes):
        for doc in remotes[name].dump():
            labels = doc["metadata"].get("labels") or {}
            if doc["kind"] == "Service" and labels.get("mirror.linkerd.io/exported") == "true":
                picked.append((name, doc))
                break
    for c in fakes.values():
        c.reset_counters()
    times: list[float] = []
    written = 0
    for i in range(edits):
        name, doc = picked[i % len(picked)]
        doc["metadata"]["labels"]["example.com/edit"] = str(i)
        remotes[name].apply([doc])
        t = time.perf_counter()
        report = r.run_events()
        times.append(time.perf_counter() - t)
        written += report.writes
    times.sort()
    full_runs = r.full_runs - 1  # after the first run, during the edits
    lists = sum(c.requests["list"] for c in fakes.values())
    watches = sum(c.requests["watch"] for c in fakes.values())
    return {
        "services": sum(1 for c in remotes.values() for d in c.dump() if d["kind"] == "Service"),
        "resync_writes_after": r.run_once().writes,  # 0: the events missed nothing
        "clusters": clusters,
        "first_run_s": round(cold, 3),
        "first_run_writes": first.writes,
        "event_p50_s": times[len(times) // 2],
        "event_max_s": times[-1],
        "lists_per_event": lists / edits,
        "watches_per_event": watches / edits,
        "writes_per_event": written / edits,
        "full_runs_during_edits": full_runs,
        "edits": edits,
    }


# -- the run ----------------------------------------------------------------------------


def _machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "nproc": os.cpu_count(), "platform": platform.platform()}


def _blobs(clusters: int, per_cluster: int, seed: int = 0) -> dict[str, bytes]:
    topo = generate(clusters, per_cluster, seed=seed)
    return {n: to_json(d) for n, d in topo.clusters.items()}


def _states(
    clusters: int, per_cluster: int, seed: int, mode: GcMode = GC_MODE
) -> dict[str, ClusterState]:
    blobs = _blobs(clusters, per_cluster, seed)
    return cluster_states({n: [json.loads(b)] for n, b in blobs.items()}, gc_mode=mode)


def measure(
    sizes: Sizes, *, with_k8s: bool = True, with_writes: bool = True, gc_mode: GcMode = GC_MODE
) -> dict[str, Any]:
    """Every figure at ``sizes``, as the JSON object (a dict). ``gc_mode`` is the
    loader's (``"freeze"`` freezes everything alive: not for use inside a test run)."""
    out: dict[str, Any] = {"mode": sizes.name}
    t0 = time.perf_counter()
    _log(f"generating {sizes.clusters} x {sizes.services_per_cluster} Services")
    blobs = _blobs(sizes.clusters, sizes.services_per_cluster)
    out["generate_s"] = round(time.perf_counter() - t0, 3)
    out["json_bytes"] = sum(map(len, blobs.values()))
    gc.collect()

    _log("json.loads")
    out["json_load_s"], docs = json_load(blobs, sizes.repeat)
    out["objects"] = sum(len(d["items"]) for d in docs.values())
    if with_k8s:
        _log("official client")
        out["k8s_deserialize_s"], out["k8s_client_version"], out["k8s_objects"] = k8s_deserialize(
            docs, sizes.k8s_repeat
        )
    else:
        out["k8s_deserialize_s"] = out["k8s_client_version"] = None
    _log("load")
    out["load_s"], states = load(docs, sizes.repeat, gc_mode)
    out["load_s_gc_pause"], _ = load(docs, sizes.repeat, "pause")
    del docs
    out["services"] = sum(len(s.services) for s in states.values())
    out["clusters"] = len(states)

    _log("plan")
    out["plan_s"], p = plan_time(states, sizes.repeat)
    out["mirrors"] = len(p.mirrors)
    out["federated"] = len(p.federated)
    out["planned_objects"] = len(p.objects)
    del p
    out["plan_s_gc_paused"] = plan_time_gc_paused(states, sizes.repeat)
    out["plan_over_json_load"] = (out["load_s"] + out["plan_s"]) / out["json_load_s"]
    if out["k8s_deserialize_s"]:
        out["plan_over_k8s_deserialize"] = (out["load_s"] + out["plan_s"]) / out[
            "k8s_deserialize_s"
        ]
    else:
        out["plan_over_k8s_deserialize"] = None

    _log("memory")
    out["bytes_per_service"], _ = bytes_per_service(states)

    _log("events (large)")
    large = events(states, sizes.events, EVENT_BATCHES)
    del states
    gc.collect()

    _log("plan at a tenth of the Services")
    small_per_cluster = max(1, sizes.services_per_cluster // 10)
    tenth = _states(sizes.clusters, small_per_cluster, seed=1, mode=gc_mode)
    out["plan_s_small"], _ = plan_time(tenth, sizes.repeat)
    out["plan_s_small_gc_paused"] = plan_time_gc_paused(tenth, sizes.repeat)
    out["services_small"] = sum(len(s.services) for s in tenth.values())
    out["linear_growth"] = out["plan_s"] / out["plan_s_small"]
    out["linear_growth_gc_paused"] = out["plan_s_gc_paused"] / out["plan_s_small_gc_paused"]
    del tenth

    _log("events (small)")
    small_states = _states(sizes.clusters, sizes.event_small_per_cluster, seed=2, mode=gc_mode)
    small = events(small_states, sizes.events, EVENT_BATCHES)
    del small_states
    out["event_s_small"] = small.seconds
    out["event_s_large"] = large.seconds
    out["event_ratio"] = large.seconds / small.seconds
    out["event_services_small"] = small.services
    out["event_services_large"] = large.services
    out["event_changes_per_event"] = large.changes_per_event
    out["index_build_s"] = large.index_build_s

    if with_writes:
        _log("reconciler writes")
        out.update(writes(sizes))
        _log("reconciler events")
        out["reconciler_events"] = [
            reconciler_events(c, n, sizes.reconciler_edits) for c, n in sizes.reconciler_sizes
        ]
    else:
        out["noop_resync_writes"] = None

    out["python_version"] = platform.python_version()
    out["gc"] = (
        f"default on both sides of every ratio: gc enabled, thresholds {gc.get_threshold()}; "
        "json.loads and the official client run under it as they come; meshmirror's "
        f"loader (cluster_states, gc_mode={gc_mode!r}) pauses the collector while building "
        "the states and freezes them after (load_s_gc_pause: the same with 'pause')"
    )
    out.update(_machine())
    out["loadavg"] = os.getloadavg()
    out["repeat"] = sizes.repeat
    out["event_batches"] = EVENT_BATCHES
    out["events_per_batch"] = sizes.events
    out["timer"] = "time.perf_counter, wall clock, best of repeat"
    out["total_s"] = round(time.perf_counter() - t0, 1)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="meshmirror benchmarks (docs/design.md, section 4.5)"
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="under a minute (the default)")
    group.add_argument("--full", action="store_true", help=">= 100 clusters, 100,000 Services")
    parser.add_argument("--no-k8s", action="store_true", help="skip the official client")
    args = parser.parse_args(argv)
    sizes = FULL if args.full else QUICK
    figures = measure(sizes, with_k8s=not args.no_k8s)
    missing = [k for k in CONTRACT_KEYS if k not in figures]
    if missing:
        raise SystemExit(f"missing keys: {missing}")
    print(json.dumps(figures, sort_keys=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
