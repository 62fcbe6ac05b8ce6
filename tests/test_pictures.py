"""The pictures are checked, not only produced: the example topology and a generated
3-cluster x 20-Service one are rendered with Graphviz, and the SVG is read back for what a
reader needs (every edge labelled by its mode and drawn in its colour, each label nearest
its own edge, text inside its shape, the source left of every linked cluster, each mirror
reachable from its Link along its mode's path, a bounded size). The committed pictures in
docs/pictures/ are compared with freshly made ones, so they cannot drift."""

from __future__ import annotations

import functools
import importlib.util
import math
import re
import shutil
import struct
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
import pytest

from meshmirror import ClusterState, plan
from meshmirror.decisions.plan import Plan
from meshmirror.effects.loader import load_cluster
from meshmirror.effects.render import dot_to_svg, svg_size
from meshmirror.views.checks import check
from meshmirror.views.graph import MODE_STYLES, MODES, GraphOptions, to_dot, to_mermaid

ROOT = Path(__file__).resolve().parent.parent
PICTURES = ROOT / "docs" / "pictures"
needs_graphviz = pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz's dot is not installed (CI installs it)"
)
SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}"

# The reader's budget: the generated picture was 979 x 4999 px before it was laid out
# left to right with bundles.
MAX_GENERATED_PX = (2600, 1600)
MAX_EXAMPLE_PX = (2000, 1000)


@functools.cache
def pictures_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pictures", ROOT / "docs" / "pictures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


World = tuple[Plan, ClusterState, dict[str, ClusterState]]


def example_world() -> World:
    ex = ROOT / "examples" / "topology"
    src = load_cluster("west", ex / "west.yaml")
    remotes = {c: load_cluster(c, ex / f"{c}.yaml") for c in ("east", "north")}
    return plan(src, remotes), src, remotes


def generated_world() -> World:
    from meshmirror.formats.manifest import cluster_state

    topo = pictures_module().generate(*pictures_module().GENERATED)
    states = {n: cluster_state(n, doc["items"]) for n, doc in topo.clusters.items()}
    src = states.pop(topo.source)
    return plan(src, states), src, states


# -- reading Graphviz's SVG ---------------------------------------------------------------


@attrs.frozen
class Shape:
    id: str
    label: tuple[str, ...]
    tooltip: str
    box: tuple[float, float, float, float]  # min x, min y, max x, max y
    texts: tuple[tuple[float, float, float, str], ...]  # x, y, font size, text


@attrs.frozen
class Line:
    tail: str
    head: str
    label: str
    label_at: tuple[float, float]
    stroke: str
    classes: str
    points: tuple[tuple[float, float], ...]


def _numbers(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?", text)]


def _bezier(d: str) -> list[tuple[float, float]]:
    """Points along a Graphviz edge path (``M x,y C x,y x,y x,y ...``)."""
    nums = _numbers(d)
    pts = list(zip(nums[0::2], nums[1::2], strict=True))
    out = [pts[0]]
    for i in range(1, len(pts) - 2, 3):
        p0, p1, p2, p3 = pts[i - 1], pts[i], pts[i + 1], pts[i + 2]
        for k in range(1, 21):
            t = k / 20
            out.append(
                tuple(  # type: ignore[arg-type]
                    (1 - t) ** 3 * a + 3 * (1 - t) ** 2 * t * b + 3 * (1 - t) * t**2 * c + t**3 * e
                    for a, b, c, e in zip(p0, p1, p2, p3, strict=True)
                )
            )
    return out


def _outline(g: ET.Element) -> list[tuple[float, float]]:
    pts: list[tuple[float, float]] = []
    for el in g.iter():
        tag = el.tag.removeprefix(SVG)
        if tag in ("polygon", "polyline"):
            nums = _numbers(el.get("points", ""))
            pts += list(zip(nums[0::2], nums[1::2], strict=True))
        elif tag == "path":
            pts += _bezier(el.get("d", ""))
        elif tag == "ellipse":
            cx, cy = float(el.get("cx", 0)), float(el.get("cy", 0))
            rx, ry = float(el.get("rx", 0)), float(el.get("ry", 0))
            pts += [(cx - rx, cy - ry), (cx + rx, cy + ry)]
    return pts


def read_svg(svg: str) -> tuple[dict[str, Shape], list[Line], dict[str, tuple[float, ...]]]:
    """Nodes, edges and cluster boxes (by cluster title) of a Graphviz SVG."""
    root = ET.fromstring(svg)
    shapes: dict[str, Shape] = {}
    lines: list[Line] = []
    clusters: dict[str, tuple[float, ...]] = {}
    for g in root.iter(f"{SVG}g"):
        cls = g.get("class", "")
        title = g.findtext(f"{SVG}title", "")
        texts = [
            (float(t.get("x", 0)), float(t.get("y", 0)), float(t.get("font-size", 10)), t.text)
            for t in g.iter(f"{SVG}text")
            if t.text
        ]
        if cls == "node":
            pts = _outline(g)
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            anchor = g.find(f".//{SVG}a")
            tooltip = "" if anchor is None else anchor.get(f"{XLINK}title", "")
            shapes[title] = Shape(
                title,
                tuple(t[3] for t in texts),
                tooltip,
                (min(xs), min(ys), max(xs), max(ys)),
                tuple(texts),  # type: ignore[arg-type]
            )
        elif cls.startswith("edge"):
            tail, _, head = title.partition("->")
            path = g.find(f"{SVG}path")
            assert path is not None, title
            assert len(texts) == 1, f"edge {title} has {len(texts)} labels"
            x, y, _, label = texts[0]
            lines.append(
                Line(
                    tail,
                    head,
                    label,
                    (x, y),
                    path.get("stroke", ""),
                    cls,
                    tuple(_bezier(path.get("d", ""))),
                )
            )
        elif cls == "cluster":
            pts = _outline(g)
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            clusters[title] = (min(xs), min(ys), max(xs), max(ys))
    return shapes, lines, clusters


def _distance(p: tuple[float, float], points: tuple[tuple[float, float], ...]) -> float:
    return min(math.dist(p, q) for q in points)


# -- what a reader needs -----------------------------------------------------------------


def mode_of(label: str) -> str:
    mode = label.split(" ×")[0]
    assert mode in MODES, f"edge label {label!r} is not a mode"
    return mode


def check_reader_properties(world: World, svg: str) -> dict[str, Any]:
    p, src, remotes = world
    shapes, lines, clusters = read_svg(svg)
    assert lines, "no edges drawn"

    # Every edge labelled by its mode, drawn in that mode's colour and class.
    for e in lines:
        mode = mode_of(e.label)
        assert e.stroke == MODE_STYLES[mode].colour, e
        assert f"mode-{mode}" in e.classes, e

    # Each label sits by its own edge, and is nearer it than any other edge of its colour
    # (labels are drawn in their edge's colour) that is labelled otherwise: a reader can
    # tell which edge it belongs to.
    for e in lines:
        label_centre = (e.label_at[0], e.label_at[1] - 3)
        own = _distance(label_centre, e.points)
        assert own < 40, f"label {e.label!r} of {e.tail}->{e.head} is {own:.0f}pt off its edge"
        for other in lines:
            if other.label != e.label and other.stroke == e.stroke:
                near = _distance(label_centre, other.points)
                assert near > own, (
                    f"label {e.label!r} of {e.tail}->{e.head} ({own:.0f}pt away) is nearer "
                    f"{other.label!r} {other.tail}->{other.head} ({near:.0f}pt)"
                )

    # Text inside its shape: every line's anchor within the outline, and the outline wide
    # enough for the line (Helvetica averages well under 0.6 em per character).
    for s in shapes.values():
        if s.id == "legend":
            continue
        x0, y0, x1, y1 = s.box
        for x, y, size, text in s.texts:
            assert x0 <= x <= x1 and y0 <= y <= y1, (s.id, text)
            assert len(text) * size * 0.5 <= (x1 - x0) + 2, (s.id, text, x1 - x0)

    # The source on the left, every linked cluster to its right.
    source_box = clusters["cluster_0"]
    for title, box in clusters.items():
        if re.fullmatch(r"cluster_\d+", title) and title != "cluster_0":
            assert box[0] > source_box[2], f"{title} is not right of the source"

    # Each mirror reachable from its Link along its mode's path.
    succ: dict[str, list[tuple[str, str]]] = {}
    for e in lines:
        succ.setdefault(e.tail, []).append((e.head, mode_of(e.label)))

    def holding(name: str, cluster_nodes: Iterator[Shape] | None = None) -> list[str]:
        return [
            s.id
            for s in (cluster_nodes or iter(shapes.values()))
            if name in s.label or name in s.tooltip.split(", ")
        ]

    def links_to(target: str) -> list[str]:
        return [s.id for s in shapes.values() if s.label[:2] == (s.label[0], f"to {target}")]

    for m in p.mirrors:
        (mirror_id,) = holding(f"{m.namespace}/{m.name}")
        (link_id,) = [
            s.id
            for s in shapes.values()
            if s.label[0] == f"Link {m.link.name}" and s.label[1] == f"to {m.target}"
        ]
        assert (mirror_id, m.mode) in succ[link_id], m
        after = [h for h, mode in succ[mirror_id] if mode == m.mode]
        remote = f"{m.namespace}/{m.remote_name}"
        if m.mode == "remote-discovery":
            assert any(remote in holding(remote) or h in holding(remote) for h in after), m
        else:
            (gateway,) = after
            assert shapes[gateway].label[0] == f"gateway of {m.target}", m
            assert any(h in holding(remote) for h, _ in succ[gateway]), m
        assert links_to(m.target)

    # A federated Service is one node with an edge to each member.
    for f in p.federated:
        (union,) = holding(f"{f.service.namespace}/{f.service.name}")
        heads = {h for h, mode in succ[union] if mode == "federated"}
        for member in f.members:
            assert heads & set(holding(f"{member.service.namespace}/{member.service.name}"))

    return {"size": svg_size(svg), "edges": len(lines), "nodes": len(shapes)}


def reported(world: World) -> str:
    p, src, remotes = world
    return to_dot(p, src, remotes, check(p, src, remotes))


@needs_graphviz
def test_example_picture_reads_at_a_glance() -> None:
    world = example_world()
    figures = check_reader_properties(world, dot_to_svg(reported(world)))
    width, height = figures["size"]
    assert width <= MAX_EXAMPLE_PX[0] and height <= MAX_EXAMPLE_PX[1], figures


@needs_graphviz
def test_generated_picture_reads_at_a_glance() -> None:
    world = generated_world()
    figures = check_reader_properties(world, dot_to_svg(reported(world)))
    width, height = figures["size"]
    assert width <= MAX_GENERATED_PX[0] and height <= MAX_GENERATED_PX[1], figures
    # Unbundled, the same topology is far taller: bundling is what keeps it bounded.
    p, src, remotes = world
    unbundled = to_dot(p, src, remotes, options=GraphOptions(bundle_above=None))
    assert svg_size(dot_to_svg(unbundled))[1] > height


def generated(clusters: int, services: int, seed: int, **flags: bool) -> World:
    from meshmirror import PlanOptions
    from meshmirror.formats.manifest import cluster_state

    topo = pictures_module().generate(clusters, services, seed=seed)
    states = {n: cluster_state(n, doc["items"]) for n, doc in topo.clusters.items()}
    src = states.pop(topo.source)
    return plan(src, states, options=PlanOptions(**flags)), src, states


@needs_graphviz
@pytest.mark.parametrize(
    ("clusters", "services", "seed", "flags"),
    [
        (3, 20, 1, {}),
        (3, 20, 2, {}),
        (4, 20, 0, {}),
        (3, 40, 3, {"enable_headless_services": True, "enable_namespace_creation": True}),
    ],
)
def test_other_generated_pictures_read_too(
    clusters: int, services: int, seed: int, flags: dict[str, bool]
) -> None:
    world = generated(clusters, services, seed, **flags)
    if flags:
        assert any(m.mode == "headless" for m in world[0].mirrors)
    check_reader_properties(world, dot_to_svg(reported(world)))


@needs_graphviz
def test_every_mirror_is_followable_unbundled() -> None:
    world = example_world()
    p, src, remotes = world
    for options in (GraphOptions(bundle_above=None), GraphOptions(bundle_above=0)):
        check_reader_properties(world, dot_to_svg(to_dot(p, src, remotes, options=options)))


# -- docs/pictures cannot drift ----------------------------------------------------------


@pytest.mark.parametrize("name", ["example", "generated-3x20"])
def test_committed_pictures_are_current(name: str) -> None:
    pictures = pictures_module()
    assert name in pictures.NAMES
    committed = (PICTURES / f"{name}.dot").read_text(encoding="utf-8")
    assert committed == pictures.dot_text(name), "run `nox -s pictures`"
    svg = (PICTURES / f"{name}.svg").read_text(encoding="utf-8")
    # The SVG was drawn from this dot text: every label line is in it.
    for label in re.findall(r'label="((?:\\.|[^"\\])*)"', committed):
        for line in label.split("\\n"):
            text = line.replace('\\"', '"')
            escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            assert escaped.replace("-", "&#45;") in svg or escaped in svg, line
    png = (PICTURES / f"{name}.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    png_size = struct.unpack(">II", png[16:24])
    svg_px = svg_size(svg)
    assert all(abs(a - b) <= 2 for a, b in zip(png_size, svg_px, strict=True)), (png_size, svg_px)
    if name.startswith("generated"):
        assert png_size[0] <= MAX_GENERATED_PX[0] and png_size[1] <= MAX_GENERATED_PX[1]


@needs_graphviz
@pytest.mark.parametrize("name", ["example", "generated-3x20"])
def test_committed_svg_is_what_graphviz_draws(name: str) -> None:
    committed = (PICTURES / f"{name}.dot").read_text(encoding="utf-8")
    fresh = dot_to_svg(committed)
    shapes, lines, _ = read_svg(fresh)
    old_shapes, old_lines, _ = read_svg((PICTURES / f"{name}.svg").read_text(encoding="utf-8"))
    assert {s.label for s in shapes.values()} == {s.label for s in old_shapes.values()}
    assert sorted((e.tail, e.head, e.label) for e in lines) == sorted(
        (e.tail, e.head, e.label) for e in old_lines
    )


# -- mermaid keeps the same structure ----------------------------------------------------


def dot_structure(text: str) -> tuple[set[tuple[str, str, str]], list[str]]:
    edges = set(re.findall(r'^  (n\d+) -> (n\d+) \[label="([^"]*)"', text, re.M))
    nodes = re.findall(r"^\s+(n\d+) \[", text, re.M)
    return {(t, h, label) for t, h, label in edges}, nodes


def mermaid_structure(text: str) -> tuple[set[tuple[str, str, str]], list[str]]:
    edges = set(re.findall(r"^  (n\d+) \S+\|([^|]*)\| (n\d+)$", text, re.M))
    nodes = re.findall(r"^\s+(n\d+)[\[({]", text, re.M)
    return {(t, h, label) for t, label, h in edges}, nodes


@pytest.mark.parametrize("make", [example_world, generated_world])
def test_mermaid_has_the_structure_of_dot(make: Any) -> None:
    p, src, remotes = make()
    report = check(p, src, remotes)
    dot = to_dot(p, src, remotes, report)
    mermaid = to_mermaid(p, src, remotes, report)
    assert mermaid_structure(mermaid) == dot_structure(dot)
    assert re.findall(r'subgraph cluster_\w+ \{\n\s+label="([^"]*)"', dot) == re.findall(
        r'subgraph c\w+\["([^"]*)"\]', mermaid
    )
    for mode in {mode_of(label) for _, _, label in dot_structure(dot)[0]}:
        assert re.search(rf"^  linkStyle [\d,]+ stroke:{MODE_STYLES[mode].colour}", mermaid, re.M)
