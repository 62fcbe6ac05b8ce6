"""How long a large kubectl dump takes to read and plan, as YAML and as JSON.

Writes a generated source-cluster dump of about ``--mb`` megabytes (and its remote) in
both formats, as ``kubectl get ... -o json`` and ``-o yaml`` print them, then measures
each in a fresh process: :func:`meshmirror.effects.loader.load_cluster` (wall and CPU time, and
peak resident memory), with libyaml's C parser and, with ``--python-yaml``, PyYAML's
pure-Python one; and the whole ``meshmirror plan`` over the JSON and the YAML dumps.
Prints one JSON object on the last line of stdout.

    python benchmarks/load.py --mb 100
    python benchmarks/load.py --quick          # about 5 MB, a few seconds
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import SOURCE, cluster_name, generate, to_json


def _yaml_text(doc: dict[str, Any]) -> bytes:
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    # kubectl prints keys sorted, block style, no aliases (generated objects share none).
    text: str = yaml.dump(doc, Dumper=dumper, default_flow_style=False, allow_unicode=True)
    return text.encode()


def write_dumps(mb: float, out: Path) -> dict[str, Any]:
    """Dumps of a source cluster of about ``mb`` MB of JSON, and of its remote."""
    sample = len(to_json(generate(2, 500).clusters[SOURCE])) / 500
    per_cluster = max(10, int(mb * 1e6 / sample))
    topo = generate(2, per_cluster)
    sizes: dict[str, Any] = {"services_per_cluster": per_cluster}
    for name, doc in topo.clusters.items():
        (out / f"{name}.json").write_bytes(to_json(doc))
        (out / f"{name}.yaml").write_bytes(_yaml_text(doc))
    sizes["json_bytes"] = (out / f"{SOURCE}.json").stat().st_size
    sizes["yaml_bytes"] = (out / f"{SOURCE}.yaml").stat().st_size
    return sizes


def _measure_load(path: str, yaml_loader: str) -> None:
    """In a child process: load one dump, print seconds, objects and peak RSS."""
    import meshmirror.effects.loader as loader

    if yaml_loader == "python":
        loader.YAML_LOADER = loader._PyLoader
    started, cpu = time.perf_counter(), time.process_time()
    state = loader.load_cluster("c", path)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(
        json.dumps(
            {"s": seconds, "cpu_s": cpu, "services": len(state.services), "max_rss_bytes": rss}
        )
    )


def _child(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True
    )
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _plan_cli(out: Path, suffix: str) -> tuple[float, float]:
    """Wall and CPU seconds of one ``meshmirror plan`` over the two dumps."""
    remote = cluster_name(1)
    started, cpu = time.perf_counter(), _children_cpu()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "meshmirror",
            "plan",
            "--no-resolve",
            "--source",
            SOURCE,
            f"{SOURCE}={out / (SOURCE + suffix)}",
            f"{remote}={out / (remote + suffix)}",
            "-o",
            "json",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started, _children_cpu() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=100.0, help="size of the JSON dump")
    parser.add_argument("--quick", action="store_true", help="about 5 MB")
    parser.add_argument("--python-yaml", action="store_true", help="also PyYAML's own parser")
    parser.add_argument("--measure", nargs=2, metavar=("PATH", "LOADER"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        _measure_load(*args.measure)
        return 0
    mb = 5.0 if args.quick else args.mb
    with tempfile.TemporaryDirectory(prefix="meshmirror-load-") as tmp:
        out = Path(tmp)
        figures: dict[str, Any] = {"mb": mb, **write_dumps(mb, out)}
        source_json, source_yaml = str(out / f"{SOURCE}.json"), str(out / f"{SOURCE}.yaml")
        runs = [("json", source_json, "c"), ("yaml_c", source_yaml, "c")]
        if args.python_yaml:
            runs.append(("yaml_python", source_yaml, "python"))
        for key, path, which in runs:
            print(f"loading {key} ...", file=sys.stderr, flush=True)
            got = _child("--measure", path, which)
            figures[f"{key}_load_s"] = round(got["s"], 2)
            figures[f"{key}_load_cpu_s"] = round(got["cpu_s"], 2)
            figures[f"{key}_max_rss_bytes"] = got["max_rss_bytes"]
            figures["services"] = got["services"]
        for key, suffix in (("json", ".json"), ("yaml_c", ".yaml")):
            print(f"meshmirror plan over {key} ...", file=sys.stderr, flush=True)
            wall, cpu = _plan_cli(out, suffix)
            figures[f"plan_cli_{key}_s"] = round(wall, 2)
            figures[f"plan_cli_{key}_cpu_s"] = round(cpu, 2)
        figures["json_mb_per_s"] = round(figures["json_bytes"] / 1e6 / figures["json_load_s"], 1)
        figures["yaml_c_mb_per_s"] = round(
            figures["yaml_bytes"] / 1e6 / figures["yaml_c_load_s"], 1
        )
        if args.python_yaml:
            figures["yaml_python_mb_per_s"] = round(
                figures["yaml_bytes"] / 1e6 / figures["yaml_python_load_s"], 1
            )
        figures["libyaml"] = bool(getattr(yaml, "__with_libyaml__", False))
        figures["python_version"] = platform.python_version()
        figures["nproc"] = os.cpu_count()
        figures["load_average"] = round(os.getloadavg()[0], 1)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
