"""Pictures: dot and Mermaid text name every cluster and planned object, label the modes
and mark failing checks; SVG needs Graphviz and says so clearly when it is missing."""

from __future__ import annotations

import random
import re
import shutil
import subprocess
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshmirror import ClusterState, PlanOptions, plan
from meshmirror.effects.render import Drawing, GraphvizError, dot_to_svg, draw, to_svg
from meshmirror.testing import topologies
from meshmirror.values.model import ObjectRef
from meshmirror.views.checks import CheckResult, check
from meshmirror.views.graph import plan_html, to_dot, to_mermaid
from meshmirror.views.topology import Topology
from test_checks import shuffled
from test_resolve import shop


def example() -> tuple[Any, ClusterState, dict[str, ClusterState]]:
    return shop(options=PlanOptions(enable_namespace_creation=True))


def named(text: str, parts: tuple[Any, ClusterState, dict[str, ClusterState]]) -> None:
    """``text`` names every cluster and every planned object."""
    p, src, rem = parts
    for cluster in [src.name, *rem]:
        assert f"cluster {cluster}" in text
    for obj in p.objects:
        assert (f"{obj.namespace}/{obj.name}" if obj.namespace else obj.name) in text


def balanced(text: str) -> bool:
    depth = 0
    for line in text.splitlines():
        stripped = re.sub(r'"(\\.|[^"\\])*"', '""', line)
        depth += stripped.count("{") - stripped.count("}")
        if depth < 0:
            return False
    return depth == 0


def test_dot_names_everything_and_labels_modes() -> None:
    parts = example()
    text = to_dot(*parts)
    assert text.startswith("digraph meshmirror {")
    assert balanced(text)
    named(text, parts)
    for mode in ("gateway", "remote-discovery", "federated"):
        assert f'label="{mode}"' in text
    assert 'label="namespace linkerd-multicluster"' in text
    assert "Link east\\nto east\\ngateway 192.0.2.20,192.0.2.3:4143" in text


def test_mermaid_names_everything_and_labels_modes() -> None:
    parts = example()
    text = to_mermaid(*parts)
    assert text.startswith("flowchart")
    named(text, parts)
    for mode in ("gateway", "remote-discovery", "federated"):
        assert f"|{mode}|" in text
    assert text.count("subgraph ") == len(re.findall(r"^ *end$", text, re.M))
    assert '"' not in re.sub(
        r'\["[^"]*"\]|\(\["[^"]*"\]\)|\{\{"[^"]*"\}\}|>"[^"]*"\]|\[\["[^"]*"\]\]|\("[^"]*"\)'
        r'|\[/"[^"]*"/\]',
        "",
        text,
    )


def test_failing_checks_are_marked() -> None:
    p, src, rem = example()
    report = check(p, src, rem, Topology())  # default: nothing flat, roots unknown
    assert report.failed
    dot = to_dot(p, src, rem, report)
    mermaid = to_mermaid(p, src, rem, report)
    assert "× flat-network" in dot and "× flat-network" in mermaid
    assert "‼ trust-root" in dot
    assert 'color="#c62828"' in dot
    assert re.search(r"^  class [n0-9,]+ fail$", mermaid, re.M)
    # without checks, nothing is marked
    assert not re.search(r"\\n[×‼] ", to_dot(p, src, rem))


def test_marks_follow_the_check_subject() -> None:
    p, src, rem = example()
    marks = [
        CheckResult(
            "clients-meshed",
            "Namespace shop",
            "fail",
            "m",
            "west",
            ObjectRef("Namespace", "", "shop"),
        ),
        CheckResult(
            "trust-root",
            "Link x",
            "warn",
            "m",
            "west",
            ObjectRef("Link", "linkerd-multicluster", "north"),
        ),
        CheckResult(
            "mirror-name",
            "Service shop/idle@east",
            "fail",
            "m",
            "east",
            ObjectRef("Service", "shop", "idle"),
        ),
        CheckResult(
            "link-credentials",
            "Link y",
            "ok",
            "m",
            "west",
            ObjectRef("Link", "linkerd-multicluster", "east"),
        ),
    ]
    dot = to_dot(p, src, rem, marks)
    # every mirror and federated Service of namespace shop carries the namespace's mark
    assert dot.count("× clients-meshed") == len(p.mirrors) + len(p.federated)
    assert dot.count("‼ trust-root") == 1
    assert dot.count("× mirror-name") == 1
    assert "link-credentials" not in dot


def skipping() -> tuple[Any, ClusterState, dict[str, ClusterState]]:
    """west links east and ghost (not given); its own web-east blocks east's web."""
    from builders import EXPORTED, endpoints, link, namespace, service
    from test_checks import world

    east = [
        namespace("shop"),
        service("web", "shop", labels=EXPORTED),
        endpoints("web", "shop", ["10.0.0.1"]),
    ]
    return world(
        [namespace("shop"), link("east"), link("ghost"), service("web-east", "shop")],
        {"east": east},
    )


def test_unknown_targets_and_skips_are_drawn() -> None:
    parts = skipping()
    text = to_dot(*parts)
    assert "cluster ghost (dump not given)" in text
    assert "skipped: NotOwned" in text
    (skipped,) = [line for line in text.splitlines() if "skipped: NotOwned" in line]
    assert "dashed" in skipped
    assert balanced(text)
    assert "skipped" in to_mermaid(*parts)


def test_empty_plan_draws() -> None:
    west = ClusterState.build("west", [])
    p = plan(west, {})
    assert "cluster west (source)" in to_dot(p, west, {})
    assert "(nothing drawn)" in to_mermaid(p, west, {})


def test_dot_output_is_valid_graphviz(graphviz_dot: str) -> None:
    p, src, rem = example()
    text = to_dot(p, src, rem, check(p, src, rem, Topology()))
    run = subprocess.run(
        [graphviz_dot, "-Tsvg"], input=text, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr
    svg = to_svg(p, src, rem)
    assert "<svg" in svg
    assert "<svg" in draw(p, src, rem)._repr_html_()


def test_svg_without_graphviz_is_a_clear_error() -> None:
    p, src, rem = example()
    with pytest.raises(GraphvizError) as info:
        to_svg(p, src, rem, dot="no-such-graphviz-binary")
    assert "Graphviz" in str(info.value) and "-o mermaid" in str(info.value)


def test_drawing_falls_back_to_mermaid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    p, src, rem = example()
    picture = draw(p, src, rem)
    assert isinstance(picture, Drawing)
    page = picture._repr_html_()
    assert '<pre class="mermaid">flowchart' in page
    assert re.fullmatch(r"<Drawing: \d+ nodes, \d+ edges .*>", repr(picture))
    with pytest.raises(GraphvizError):
        picture.svg()


def test_dot_failure_is_reported(graphviz_dot: str) -> None:
    with pytest.raises(GraphvizError) as info:
        dot_to_svg("digraph {", dot=graphviz_dot)
    assert "failed" in str(info.value)


def test_plan_html() -> None:
    p, _, _ = example()
    page = p._repr_html_()
    assert page == plan_html(p)
    assert page.count("<table>") == 2  # objects, federated Services
    for obj in p.objects:
        assert f"<td>{obj.name}</td>" in page
    assert "&lt;Plan for west" in page
    with_skips = skipping()[0]._repr_html_()
    assert with_skips.count("<table>") == 2  # objects, skips (no federated Service)
    assert "<td>NotOwned</td>" in with_skips


@settings(max_examples=30, deadline=None)
@given(topologies(), st.randoms(use_true_random=False))
def test_pictures_are_deterministic_and_complete(
    world_: tuple[ClusterState, dict[str, ClusterState]], rng: random.Random
) -> None:
    src, remotes = world_
    p = plan(src, remotes)
    report = check(p, src, remotes)
    dot = to_dot(p, src, remotes, report)
    mermaid = to_mermaid(p, src, remotes, report)
    assert balanced(dot)
    named(dot, (p, src, remotes))
    named(mermaid, (p, src, remotes))
    order = list(remotes)
    rng.shuffle(order)
    src2 = shuffled(src, rng)
    remotes2 = {n: shuffled(remotes[n], rng) for n in order}
    p2 = plan(src2, remotes2)
    report2 = check(p2, src2, remotes2)
    assert to_dot(p2, src2, remotes2, report2) == dot
    assert to_mermaid(p2, src2, remotes2, report2) == mermaid
