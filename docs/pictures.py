"""Regenerate the pictures in docs/pictures/ (``nox -s pictures``, or run this file).

Two pictures, each as the ``meshmirror graph`` dot text, SVG and PNG: the example
topology of ``examples/topology/`` and a generated topology of 3 clusters x 20
Services (``benchmarks/generate.py``). ``tests/test_pictures.py`` regenerates the dot
text and compares it with the committed file, so the pictures cannot drift from the code.

    python docs/pictures.py          # dot, svg and png (needs Graphviz)
    python docs/pictures.py --check  # exit 1 when a committed dot file is out of date
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "pictures"
EXAMPLE = ROOT / "examples" / "topology"
sys.path.insert(0, str(ROOT / "benchmarks"))

from generate import generate, to_json  # noqa: E402
from meshmirror.cli import main as cli  # noqa: E402
from meshmirror.render import dot_render  # noqa: E402

#: The generated picture's size: clusters, Services per cluster.
GENERATED = (3, 20)


def graph_args(name: str, workdir: Path) -> list[str]:
    """The ``meshmirror graph`` arguments of picture ``name`` (files go to ``workdir``)."""
    if name == "example":
        return [
            "graph",
            "--source",
            "west",
            *(f"{c}={EXAMPLE / c}.yaml" for c in ("west", "east", "north")),
            "--topology",
            str(EXAMPLE / "topology.yaml"),
            "--no-resolve",
        ]
    clusters, services = GENERATED
    topo = generate(clusters, services)
    specs = []
    for cluster, doc in topo.clusters.items():
        path = workdir / f"{cluster}.json"
        path.write_bytes(to_json(doc))
        specs.append(f"{cluster}={path}")
    return ["graph", "--source", topo.source, *specs, "--no-resolve"]


NAMES = ("example", f"generated-{GENERATED[0]}x{GENERATED[1]}")


def dot_text(name: str) -> str:
    """Picture ``name`` as the dot text ``meshmirror graph`` prints."""
    with tempfile.TemporaryDirectory() as tmp:
        out, err = io.StringIO(), io.StringIO()
        code = cli([*graph_args(name, Path(tmp)), "-o", "dot"], out=out, err=err)
        if code != 0:
            raise RuntimeError(f"meshmirror graph failed for {name}: {err.getvalue()}")
        return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, write nothing")
    args = parser.parse_args(argv)
    stale = []
    for name in NAMES:
        text = dot_text(name)
        path = OUT / f"{name}.dot"
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path.relative_to(ROOT)))
            continue
        OUT.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        for fmt in ("svg", "png"):
            (OUT / f"{name}.{fmt}").write_bytes(dot_render(text, fmt))
        print(f"wrote {path.relative_to(ROOT)} (.svg, .png)")
    if stale:
        print("out of date (run nox -s pictures): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
