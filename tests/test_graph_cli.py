"""`meshmirror graph`'s filters, bundles and PNG output, `plan -o summary`, and the
summary and notebook views of every result type."""

from __future__ import annotations

import io
import re
import shutil
import struct
import sys
from collections import Counter
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings

from meshmirror import ClusterState, diff, plan
from meshmirror.cli import main
from meshmirror.effects.loader import load_cluster
from meshmirror.testing import topologies
from meshmirror.views.checks import check
from meshmirror.views.graph import GraphOptions, to_dot, to_mermaid
from meshmirror.views.summary import summarize

EX = Path(__file__).resolve().parent.parent / "examples" / "topology"
CLUSTERS = ["--source", "west", *(f"{c}={EX / c}.yaml" for c in ("west", "east", "north"))]


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    assert "Traceback" not in err.getvalue()
    return code, out.getvalue(), err.getvalue()


def example() -> tuple[ClusterState, dict[str, ClusterState]]:
    src = load_cluster("west", EX / "west.yaml")
    return src, {c: load_cluster(c, EX / f"{c}.yaml") for c in ("east", "north")}


def node_labels(dot: str) -> list[str]:
    return re.findall(r'^\s+n\d+ \[label="([^"]*)"', dot, re.M)


# -- filters -------------------------------------------------------------------------------


def test_cluster_filter_keeps_the_source_and_that_cluster() -> None:
    code, out, _ = run("graph", *CLUSTERS, "--cluster", "north")
    assert code == 0
    assert "cluster west (source)" in out and "cluster north" in out
    assert "cluster east" not in out
    labels = "\n".join(node_labels(out))
    assert "shop/web-north" in labels and "shop/web-east" not in labels
    assert "Link east" not in labels
    # The federated Service is kept, with its full member count, edges only to drawn ones.
    assert "federated, 3 members" in labels
    assert len(re.findall(r'label="federated"', out)) == 2  # west's and north's cart


def test_service_filter_by_name_or_remote_name() -> None:
    for name in ("web", "shop/web", "web-east"):
        code, out, _ = run("graph", *CLUSTERS, "--service", name, "-o", "mermaid")
        assert code == 0
        assert "shop/web-east" in out
        assert "shop/api-east" not in out and "cart-federated" not in out
    code, out, _ = run("graph", *CLUSTERS, "--service", "cart")
    assert "shop/cart-federated" in out and "shop/web-east" not in out


def test_namespace_filter() -> None:
    code, out, _ = run("graph", *CLUSTERS, "--namespace", "payments")
    assert code == 0
    assert "payments/billing" in out and "shop/" not in "\n".join(node_labels(out))
    code, out, _ = run("graph", *CLUSTERS, "--namespace", "shop", "--namespace", "payments")
    assert "payments/billing" in out and "shop/web-east" in out


def test_filters_are_repeatable_and_unknown_cluster_is_bad_input() -> None:
    code, out, _ = run("graph", *CLUSTERS, "--cluster", "east", "--cluster", "north")
    assert code == 0 and "cluster east" in out and "cluster north" in out
    code, out, err = run("graph", *CLUSTERS, "--cluster", "south")
    assert code == 2 and out == ""
    assert err.startswith("error: --cluster 'south' is not among the clusters")
    code, _, err = run("graph", *CLUSTERS, "--bundle-above", "-1")
    assert code == 2 and "error: --bundle-above must be 0 or more" in err
    code, _, err = run("graph", *CLUSTERS, "--bundle-above", "2", "--no-bundle")
    assert code == 2 and "error:" in err


# -- bundles -------------------------------------------------------------------------------


def test_bundles_count_and_still_name_every_object() -> None:
    src, remotes = example()
    p = plan(src, remotes)
    dot = to_dot(p, src, remotes, options=GraphOptions(bundle_above=0))
    mermaid = to_mermaid(p, src, remotes, options=GraphOptions(bundle_above=0))
    labels = node_labels(dot)
    assert "2 gateway mirrors\\ndb-east, web-east" in labels
    assert "1 remote-discovery mirrors\\napi-east" in labels
    assert 'label="gateway ×2"' in dot
    for m in p.mirrors:  # every planned object is named: tooltips and Mermaid comments
        assert f"{m.namespace}/{m.name}" in dot and f"{m.namespace}/{m.name}" in mermaid
    assert re.search(r"%% n\d+ stands for shop/db-east, shop/web-east", mermaid)
    # By default (more than three to bundle) the small example is drawn one by one.
    assert "gateway mirrors" not in to_dot(p, src, remotes)


def test_cli_bundle_flags() -> None:
    _, bundled, _ = run("graph", *CLUSTERS, "--bundle-above", "0")
    _, single, _ = run("graph", *CLUSTERS, "--no-bundle")
    _, default, _ = run("graph", *CLUSTERS)
    assert "2 gateway mirrors" in bundled
    assert single == default and "gateway mirrors" not in single


# -- png -------------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_png_goes_to_the_binary_stream() -> None:
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="utf-8")
    err = io.StringIO()
    assert main(["graph", *CLUSTERS, "-o", "png"], out=out, err=err) == 0
    png = raw.getvalue()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert 800 < width < 2000 and 400 < height < 1000


def test_png_needs_a_binary_stream_and_graphviz(monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = run("graph", *CLUSTERS, "-o", "png")
    assert code == 2 and out == ""
    assert "error: -o png writes binary data" in err
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    out_b = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    err_s = io.StringIO()
    assert main(["graph", *CLUSTERS, "-o", "png"], out=out_b, err=err_s) == 2
    assert "error: png output needs Graphviz's `dot` program" in err_s.getvalue()


# -- summary ---------------------------------------------------------------------------------


def test_plan_summary_output() -> None:
    code, out, err = run("plan", *CLUSTERS, "-o", "summary")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == (
        "plan for west: 2 links, 4 mirrors, 1 federated, 8 objects, 2 skipped, 2 conflicts"
    )
    assert lines[2].split() == [
        "LINK",
        "TARGET",
        "GATEWAY",
        "HEADLESS",
        "REMOTE-DISCOVERY",
        "FEDERATED",
        "CONFLICTS",
        "SKIPPED",
    ]
    east = lines[3].split()
    assert east == [
        "linkerd-multicluster/east",
        "east",
        "2",
        "0",
        "1",
        "1",
        "0",
        "NamespaceMissing=1,NotOwned=1",
    ]
    assert lines[-1].split()[:3] == ["TOTAL", "2", "links"]
    assert "warning: NotOwned" in err  # skips still go to stderr


@settings(max_examples=40, deadline=None)
@given(topologies())
def test_summary_counts_add_up(world: tuple[ClusterState, dict[str, ClusterState]]) -> None:
    src, remotes = world
    p = plan(src, remotes)
    s = summarize(p, src)
    modes = Counter(m.mode for m in p.mirrors)
    total = s.total
    assert (total.gateway, total.headless, total.remote_discovery) == (
        modes["gateway"],
        modes["headless"],
        modes["remote-discovery"],
    )
    assert total.federated == len(p.federated) and total.conflicts == len(p.conflicts)
    assert total.skipped >= len(p.skipped)  # a skip of a cluster two Links target counts twice
    assert [r.link for r in s.rows if r.link != "(local)"] == [
        f"{link.namespace}/{link.name}" for link in src.sorted_links()
    ]
    for row in s.rows:
        if row.link != "(local)":
            ref = next(lk for lk in src.sorted_links() if f"{lk.namespace}/{lk.name}" == row.link)
            assert row.mirrors == sum(1 for m in p.mirrors if m.link == ref.ref)
    assert len(s.text().splitlines()) == len(s.rows) + 4  # headline, blank, header, total
    assert "\n" not in repr(s)


def test_summary_of_a_hundred_clusters_is_a_screen() -> None:
    sys.path.insert(0, str(EX.parent.parent / "benchmarks"))
    import generate
    from meshmirror.formats.manifest import cluster_state

    topo = generate.generate(100, 10)
    states = {n: cluster_state(n, d["items"]) for n, d in topo.clusters.items()}
    src = states.pop(topo.source)
    p = plan(src, states)
    s = summarize(p, src)
    local = sum(1 for r in s.rows if r.link == "(local)")
    text = s.text()
    # headline, blank, header, 99 links, the local row when it holds anything, total
    assert len(text.splitlines()) == 4 + 99 + local
    assert len(p.objects) > 10 * len(text.splitlines())


# -- views -------------------------------------------------------------------------------------


def test_every_result_has_a_one_line_repr_and_html_tables() -> None:
    from meshmirror.views.resolve import resolve
    from meshmirror.views.topology import Topology

    src, remotes = example()
    p = plan(src, remotes)
    changes = diff(p, src)
    report = check(p, src, remotes, Topology())
    res = resolve(p, src, remotes, Topology(), "shop/web-east", client_namespace="shop")
    for value, first in (
        (src, "<ClusterState west: 2 namespaces, 2 Services, 1 Endpoints, 2 Links"),
        (p, "<Plan for west: "),
        (changes, "<Changes: 8 to create, 0 to update, 0 to delete>"),
        (summarize(p, src), "<Summary plan for west: "),
        (report, "<CheckReport for west: "),
        (res, "<Resolution shop/web-east in west is a gateway-mode mirror"),
    ):
        text = repr(value)
        assert text.startswith(first), text[:100]
        assert len(text.splitlines()[0]) < 160
        page = value._repr_html_()  # type: ignore[attr-defined]
        assert "<table>" in page, type(value)
    for value in (src, changes, report, res, p):
        assert "\n" not in repr(value), repr(value)
    assert repr(report).endswith("failures (× flat-network, mirror-name)>")
    assert repr(diff(p, src.replace())) == repr(changes)
    page = src._repr_html_()
    assert "<td>shop</td><td>2</td><td>1</td>" in page
    assert "<td>linkerd-multicluster/east</td><td>east</td><td>192.0.2.10:4143</td>" in page
    assert "<td>create</td><td>Service</td><td>shop</td><td>web-east</td>" in changes._repr_html_()


def test_changes_html_lists_updated_fields() -> None:
    src, remotes = example()
    p = plan(src, remotes)
    mirror = p.get(next(iter(p.mirrors)).service)
    assert mirror is not None and mirror.kind == "Service"
    edited = src.replace(attrs.evolve(mirror, labels={**mirror.labels, "x": "y"}))
    changes = diff(p, edited)
    assert repr(changes) == "<Changes: 7 to create, 1 to update, 0 to delete>"
    page = changes._repr_html_()
    assert "<td>update</td>" in page and "metadata.labels" in page
    assert repr(diff(p, edited.replace())) == repr(changes)
    empty = diff(p, p_applied(p, src))
    assert repr(empty) == "<Changes: none>" and "<table>" not in empty._repr_html_()


def p_applied(p: object, src: ClusterState) -> ClusterState:
    return src.replace(*p.objects)  # type: ignore[attr-defined]


def test_skips_bundle_per_namespace_and_code() -> None:
    from builders import EXPORTED, link, namespace, service
    from test_checks import world

    names = [f"svc{i}" for i in range(5)]
    west = [namespace("shop"), link("east"), *(service(f"{n}-east", "shop") for n in names)]
    east = [namespace("shop"), *(service(n, "shop", labels=EXPORTED) for n in names)]
    p, src, remotes = world(west, {"east": east})
    assert {s.code.value for s in p.skipped} == {"NotOwned"} and len(p.skipped) == 5
    dot = to_dot(p, src, remotes)
    (bundle,) = [line for line in dot.splitlines() if "5 skipped: NotOwned" in line]
    assert "dashed" in bundle and "shape=box3d" in bundle
    assert "shop/svc0, shop/svc1, shop/svc2, shop/svc3, shop/svc4" in bundle  # tooltip
    single = to_dot(p, src, remotes, options=GraphOptions(bundle_above=None))
    assert single.count("skipped: NotOwned") == 5
