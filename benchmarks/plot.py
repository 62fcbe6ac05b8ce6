"""Full-plan time against topology size: measures, writes docs/plan_scaling.json, draws
docs/plan_scaling.png.

    pip install matplotlib            # only this script needs it
    python benchmarks/plot.py         # measure (a few minutes) and draw
    python benchmarks/plot.py --draw  # draw from docs/plan_scaling.json only

Topologies come from ``generate.py`` with 100 clusters and 10 to 1,000 Services per
cluster (1,000 to 100,000 Services); each point is the best of ``--repeat`` runs of
``plan(source, remotes)`` (and of the loader, for comparison) under the default garbage
collector, the states loaded as ``run.py`` loads them; the plan is also timed with the
collector paused, to show how much of the growth is the collector's.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DOCS = HERE.parent / "docs"
sys.path.insert(0, str(HERE))

import run  # noqa: E402

PER_CLUSTER = (10, 30, 100, 300, 1000)


def measure(clusters: int, repeat: int) -> list[dict[str, Any]]:
    points = []
    for per_cluster in PER_CLUSTER:
        blobs = run._blobs(clusters, per_cluster, seed=5)
        docs = {n: json.loads(b) for n, b in blobs.items()}
        del blobs
        load_s, states = run.load(docs, repeat)
        del docs
        plan_s, p = run.plan_time(states, repeat)
        paused_s = run.plan_time_gc_paused(states, repeat)
        point = {
            "clusters": clusters,
            "services": sum(len(s.services) for s in states.values()),
            "mirrors": len(p.mirrors),
            "federated": len(p.federated),
            "load_s": load_s,
            "plan_s": plan_s,
            "plan_s_gc_paused": paused_s,
        }
        run._log(f"{point}")
        points.append(point)
        del states, p
        gc.collect()
    return points


def draw(points: list[dict[str, Any]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    services = [p["services"] for p in points]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    ax.loglog(services, [p["plan_s"] for p in points], "o-", label="plan (full)")
    if all("plan_s_gc_paused" in p for p in points):
        paused = [p["plan_s_gc_paused"] for p in points]
        ax.loglog(services, paused, "^-.", label="plan, collector paused (diagnostic)")
    ax.loglog(
        services, [p["load_s"] for p in points], "s--", label="load (kubectl dicts -> states)"
    )
    first = points[0]
    linear = [first["plan_s"] * s / first["services"] for s in services]
    ax.loglog(services, linear, ":", color="grey", label="linear from the smallest point")
    ax.set_xlabel(f"Services in the topology ({first['clusters']} clusters)")
    ax.set_ylabel("seconds (best of runs)")
    ax.set_title("meshmirror: full-plan time against topology size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draw", action="store_true", help="only draw from the JSON")
    parser.add_argument("--clusters", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    data = DOCS / "plan_scaling.json"
    if args.draw:
        points = json.loads(data.read_text())["points"]
    else:
        points = measure(args.clusters, args.repeat)
        info = {"python_version": run.platform.python_version(), **run._machine()}
        data.write_text(json.dumps({"points": points, "machine": info}, indent=2) + "\n")
    draw(points, DOCS / "plan_scaling.png")
    print(f"wrote {DOCS / 'plan_scaling.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
