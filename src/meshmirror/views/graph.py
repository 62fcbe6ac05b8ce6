"""Pictures of a plan: Graphviz dot and Mermaid text, and HTML tables for notebooks. Pure.

The picture reads left to right, the way a request goes: the source cluster on the left
(its Links, then the mirrors each Link makes, grouped per namespace), the linked clusters
on the right (each one's gateway, then the remote Services). Every edge is drawn in its
mode's colour and line style and labelled with the mode:

- ``gateway`` (and ``headless``): Link -> mirror -> the target's gateway -> remote Service;
- ``remote-discovery``: Link -> mirror -> remote Service, straight to its pods;
- ``federated``: one union node per federated Service, with an edge to each member.

A legend says which is which. Skipped exports are dashed grey with their skip code;
results of :func:`meshmirror.views.checks.check` mark what they are about (failures in red
with ``×``, warnings in orange with ``‼``). At fleet size a Link's mirrors of one mode in
one namespace become one counted bundle (above :attr:`GraphOptions.bundle_above`), and
:class:`GraphOptions` filters by namespace, cluster or Service to zoom in.

Rendering to SVG or PNG needs Graphviz's ``dot`` binary and lives in
:mod:`meshmirror.effects.render`.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType

import attrs

from meshmirror.decisions.plan import Plan
from meshmirror.values.model import ClusterState, ObjectRef
from meshmirror.views.checks import CheckResult

__all__ = ["MODES", "MODE_STYLES", "GraphOptions", "ModeStyle", "plan_html", "to_dot", "to_mermaid"]

#: Every edge's mode, in legend order.
MODES = ("gateway", "headless", "remote-discovery", "federated")


@attrs.frozen
class ModeStyle:
    """How a mode is drawn: line colour, node fill, Graphviz line style, Mermaid arrow,
    and what its legend line says."""

    colour: str
    fill: str
    dot_style: str
    mermaid_arrow: str
    meaning: str


#: One colour and line style per mode (blue, purple, green, orange: told apart without
#: colour too, by the line style).
MODE_STYLES: Mapping[str, ModeStyle] = MappingProxyType(
    {
        "gateway": ModeStyle(
            "#1f5fbf", "#e3ecfa", "solid", "-->", "Link → mirror → gateway → Service"
        ),
        "headless": ModeStyle(
            "#7b3fa0", "#efe4f5", "bold", "==>", "per-pod mirrors, through the gateway"
        ),
        "remote-discovery": ModeStyle(
            "#1b7f3b", "#e2f3e7", "dashed", "-.->", "Link → mirror → Service's pods"
        ),
        "federated": ModeStyle(
            "#c15c00", "#fbeadb", "dotted", "-.->", "one Service, an edge to each member"
        ),
    }
)
_STATUS_COLOUR = MappingProxyType({"fail": "#c62828", "warn": "#b26a00"})
_SKIPPED_COLOUR = "#757575"
# How many names a bundle shows before "+N more" (the rest are in its tooltip).
_BUNDLE_NAMES = 6
_KIND_ORDER = MappingProxyType(
    {"link": 0, "gateway": 1, "mirror": 2, "federated": 3, "service": 4, "namespace": 5}
)


def _names(value: Iterable[str]) -> frozenset[str]:
    return frozenset(value)


@attrs.frozen
class GraphOptions:
    """What to draw.

    ``namespaces``, ``clusters`` and ``services`` keep only what they name (empty: all).
    A cluster filter keeps the source and the named linked clusters; a Service filter
    takes a name or ``namespace/name`` and keeps mirrors, remote Services and federated
    Services of that name (a mirror also under its remote's name). A Link's mirrors of
    one mode in one namespace are drawn as one counted bundle when there are more than
    ``bundle_above`` of them (0 bundles every group; None never bundles).
    """

    namespaces: frozenset[str] = attrs.field(default=frozenset(), converter=_names)
    clusters: frozenset[str] = attrs.field(default=frozenset(), converter=_names)
    services: frozenset[str] = attrs.field(default=frozenset(), converter=_names)
    bundle_above: int | None = 3

    def keeps_cluster(self, name: str) -> bool:
        return not self.clusters or name in self.clusters

    def keeps(self, namespace: str, *names: str) -> bool:
        """Whether an object in ``namespace`` known by any of ``names`` is drawn."""
        if self.namespaces and namespace not in self.namespaces:
            return False
        if not self.services:
            return True
        return any(n in self.services or f"{namespace}/{n}" in self.services for n in names)

    def bundles(self, count: int) -> bool:
        return self.bundle_above is not None and count > self.bundle_above


_ALL = GraphOptions()


@attrs.define
class _Node:
    id: str
    cluster: str
    namespace: str  # "" for a node drawn in its cluster, outside any namespace
    kind: str
    lines: list[str]
    mode: str = ""
    skipped: bool = False
    members: tuple[str, ...] = ()  # what a bundle stands for (its tooltip)
    order: str = ""  # where it goes among its kind in its cluster (default: its key)
    marks: set[tuple[str, str]] = attrs.field(factory=set)  # (status, check id)

    @property
    def status(self) -> str:
        statuses = {s for s, _ in self.marks}
        return "fail" if "fail" in statuses else ("warn" if "warn" in statuses else "ok")

    def label_lines(self) -> list[str]:
        marks = sorted(self.marks, key=lambda m: (m[0] != "fail", m[1]))
        return self.lines + [f"{'×' if s == 'fail' else '‼'} {cid}" for s, cid in marks]


@attrs.frozen
class _Edge:
    tail: str
    head: str
    mode: str
    count: int

    @property
    def label(self) -> str:
        return self.mode if self.count == 1 else f"{self.mode} ×{self.count}"


@attrs.define
class _Graph:
    title: str
    clusters: list[tuple[str, str]]  # (name, label), the source first
    nodes: list[_Node]
    edges: list[_Edge]

    def namespaces(self, cluster: str) -> list[tuple[str, list[_Node]]]:
        """The cluster's nodes by namespace ("" first: drawn outside any namespace)."""
        out: dict[str, list[_Node]] = {}
        for n in self.nodes:
            if n.cluster == cluster:
                out.setdefault(n.namespace, []).append(n)
        return sorted(out.items())

    def modes(self) -> list[str]:
        used = {e.mode for e in self.edges}
        return [m for m in MODES if m in used]


_NodeKey = tuple[str, str, str]  # (cluster, kind, key)


def _ns_name(ref: ObjectRef) -> str:
    return f"{ref.namespace}/{ref.name}"


def _bundle_lines(title: str, namespace: str, names: Sequence[str]) -> list[str]:
    shown = [n.removeprefix(f"{namespace}/") for n in names[:_BUNDLE_NAMES]]
    lines = [title]
    for i in range(0, len(shown), 2):
        lines.append(", ".join(shown[i : i + 2]))
    if len(names) > _BUNDLE_NAMES:
        lines.append(f"+{len(names) - _BUNDLE_NAMES} more")
    return lines


class _Builder:
    """Collects nodes (by a stable key) and counted edges, then numbers them."""

    def __init__(self) -> None:
        self.specs: dict[_NodeKey, _Node] = {}
        self.edges: dict[tuple[_NodeKey, _NodeKey, str], int] = {}
        # Where a Service (cluster, "Service ns/name") is drawn: its node or its bundle.
        self.drawn: dict[tuple[str, str], list[_NodeKey]] = {}

    def node(
        self,
        key: _NodeKey,
        namespace: str,
        lines: list[str],
        *,
        mode: str = "",
        skipped: bool = False,
        members: tuple[str, ...] = (),
        order: str = "",
    ) -> _NodeKey:
        if key not in self.specs:
            self.specs[key] = _Node(
                "", key[0], namespace, key[1], lines, mode, skipped, members, order or key[2]
            )
        return key

    def bundle(
        self,
        key: _NodeKey,
        namespace: str,
        title: str,
        refs: Sequence[ObjectRef],
        *,
        mode: str = "",
        skipped: bool = False,
        order: str = "",
    ) -> _NodeKey:
        """One counted node standing for ``refs`` (drawn there from now on)."""
        names = tuple(_ns_name(r) for r in refs)
        lines = _bundle_lines(title, namespace, names)
        self.node(key, namespace, lines, mode=mode, skipped=skipped, members=names, order=order)
        for ref in refs:
            self.shows(key[0], ref, key)
        return key

    def edge(self, tail: _NodeKey, head: _NodeKey, mode: str, count: int = 1) -> None:
        k = (tail, head, mode)
        self.edges[k] = self.edges.get(k, 0) + count

    def shows(self, cluster: str, ref: ObjectRef, key: _NodeKey) -> None:
        where = self.drawn.setdefault((cluster, f"Service {_ns_name(ref)}"), [])
        if key not in where:
            where.append(key)


def _build(
    plan: Plan,
    source: ClusterState,
    remotes: Mapping[str, ClusterState],
    checks: Iterable[CheckResult] | None,
    options: GraphOptions,
) -> _Graph:
    src = source.name
    links = [
        link for link in source.sorted_links() if options.keeps_cluster(link.target_cluster_name)
    ]
    given = {name for name in remotes if name != src and options.keeps_cluster(name)}
    missing = {link.target_cluster_name for link in links} - given - {src} - set(remotes)
    clusters = [(src, f"cluster {src} (source)")]
    clusters += [(name, f"cluster {name}") for name in sorted(given)]
    clusters += [(name, f"cluster {name} (dump not given)") for name in sorted(missing)]
    drawn_clusters = {name for name, _ in clusters}
    b = _Builder()

    link_nodes: dict[ObjectRef, _NodeKey] = {}
    gateways: dict[ObjectRef, _NodeKey] = {}
    gateway_lines: dict[ObjectRef, list[str]] = {}
    for link in links:
        target = link.target_cluster_name
        where = (
            f"gateway {link.gateway_address}:{link.gateway_port}"
            if link.gateway_address
            else "no gateway"
        )
        link_nodes[link.ref] = b.node(
            (src, "link", _ns_name(link.ref)),
            link.namespace,
            [f"Link {link.name}", f"to {target}", where],
        )
        if link.gateway_address:
            gateways[link.ref] = (target, "gateway", f"{link.gateway_address}:{link.gateway_port}")
            gateway_lines[link.ref] = [
                f"gateway of {target}",
                *link.gateway_addresses,
                f"port {link.gateway_port}",
            ]

    _add_mirrors(b, plan, src, gateways, gateway_lines, link_nodes, options)
    _add_federated(b, plan, src, drawn_clusters, options)
    _add_skips(b, plan, src, drawn_clusters, link_nodes, options)

    for obj in plan.objects:
        if obj.kind == "Namespace" and options.keeps(obj.name, obj.name) and not options.services:
            b.node((src, "namespace", obj.name), obj.name, [f"Namespace {obj.name}", "created"])

    if options.namespaces or options.services:
        # Zoomed in: a Link with nothing drawn from it (and nothing to say) is left out.
        used = {k for t, h, _ in b.edges for k in (t, h)}
        for key in [k for k, n in b.specs.items() if n.kind == "link"]:
            if key not in used and not b.specs[key].skipped:
                del b.specs[key]

    # Stable ids: clusters in order, nodes by kind then key.
    order = {name: i for i, (name, _) in enumerate(clusters)}
    nodes: list[_Node] = []
    for key in sorted(
        b.specs, key=lambda k: (order[k[0]], _KIND_ORDER[k[1]], b.specs[k].order, k[2])
    ):
        n = b.specs[key]
        n.id = f"n{len(nodes) + 1}"
        nodes.append(n)

    for result in checks or ():
        if result.status == "ok" or result.ref is None:
            continue
        for key in _marked(result, b, src):
            b.specs[key].marks.add((result.status, result.id))

    number = {key: int(n.id[1:]) for key, n in b.specs.items()}
    edges = [
        _Edge(b.specs[t].id, b.specs[h].id, mode, count)
        for (t, h, mode), count in sorted(
            b.edges.items(), key=lambda e: (number[e[0][0]], number[e[0][1]], e[0][2])
        )
    ]
    return _Graph(f"meshmirror plan for {src}", clusters, nodes, edges)


def _add_mirrors(
    b: _Builder,
    plan: Plan,
    src: str,
    gateways: Mapping[ObjectRef, _NodeKey],
    gateway_lines: Mapping[ObjectRef, list[str]],
    link_nodes: Mapping[ObjectRef, _NodeKey],
    options: GraphOptions,
) -> None:
    groups: dict[tuple[ObjectRef, str, str], list[int]] = {}
    mirrors = plan.mirrors
    for i, m in enumerate(mirrors):
        if m.link in link_nodes and options.keeps(m.namespace, m.name, m.remote_name):
            groups.setdefault((m.link, m.namespace, m.mode), []).append(i)
    for (link_ref, ns, mode), members in sorted(groups.items(), key=lambda g: str(g[0])):
        group = [mirrors[i] for i in members]
        target = group[0].target
        gateway = gateways.get(link_ref) if mode != "remote-discovery" else None
        if gateway is not None:
            b.node(gateway, "", list(gateway_lines[link_ref]), mode="gateway")
        # A Link's mirrors side by side, in Link order, and their Services likewise: fewer
        # crossings for dot to undo.
        place = f"{ns}/{link_ref.namespace}/{link_ref.name}/{MODES.index(mode)}/"
        bundled = options.bundles(len(group))
        if bundled:
            suffix = f"{link_ref.namespace}/{link_ref.name} {mode}"
            local = b.bundle(
                (src, "mirror", f"{ns}/ {suffix}"),
                ns,
                f"{len(group)} {mode} mirrors",
                [m.service for m in group],
                mode=mode,
                order=place,
            )
            remote = b.bundle(
                (target, "service", f"{ns}/ {suffix}"),
                ns,
                f"{len(group)} Services",
                [m.remote for m in group],
                order=place,
            )
            pairs = [(local, remote, len(group))]
        else:
            pairs = []
            for m in group:
                lines = [_ns_name(m.service), f"{mode} mirror"]
                lines += [f"pod {_ns_name(p)}" for p in m.pods]
                local = b.node(
                    (src, "mirror", _ns_name(m.service)),
                    ns,
                    lines,
                    mode=mode,
                    order=place + m.name,
                )
                remote = b.node(
                    (target, "service", _ns_name(m.remote)),
                    ns,
                    [_ns_name(m.remote)],
                    order=place + m.name,
                )
                b.shows(src, m.service, local)
                b.shows(target, m.remote, remote)
                pairs.append((local, remote, 1))
        for local, remote, count in pairs:
            b.edge(link_nodes[link_ref], local, mode, count)
            if gateway is not None:
                b.edge(local, gateway, mode, count)
                b.edge(gateway, remote, mode, count)
            else:
                b.edge(local, remote, mode, count)


def _add_federated(
    b: _Builder, plan: Plan, src: str, drawn_clusters: set[str], options: GraphOptions
) -> None:
    by_ns: dict[str, list[tuple[ObjectRef, list[tuple[str, ObjectRef]], int]]] = {}
    for f in plan.federated:
        members = [(m.cluster, m.service.ref) for m in f.members if m.cluster in drawn_clusters]
        names = (f.service.name, *(m.service.name for m in f.members))
        if members and options.keeps(f.service.namespace, *names):
            if options.clusters and not any(c != src for c, _ in members):
                continue
            by_ns.setdefault(f.service.namespace, []).append((f.service, members, len(f.members)))
    for ns, feds in sorted(by_ns.items()):
        if options.bundles(len(feds)):
            union = b.bundle(
                (src, "federated", f"{ns}/ federated"),
                ns,
                f"{len(feds)} federated Services",
                [ref for ref, _, _ in feds],
                mode="federated",
            )
            per_cluster: dict[str, list[ObjectRef]] = {}
            for _, members, _ in feds:
                for cluster, member in members:
                    per_cluster.setdefault(cluster, []).append(member)
            for cluster, refs in sorted(per_cluster.items()):
                node = b.bundle(
                    (cluster, "service", f"{ns}/ federated members"),
                    ns,
                    f"{len(refs)} federated members",
                    refs,
                )
                b.edge(union, node, "federated", len(refs))
            continue
        for ref, members, total in feds:
            union = b.node(
                (src, "federated", _ns_name(ref)),
                ns,
                [_ns_name(ref), f"federated, {total} member{'' if total == 1 else 's'}"],
                mode="federated",
            )
            b.shows(src, ref, union)
            for cluster, member in members:
                node = b.node((cluster, "service", _ns_name(member)), ns, [_ns_name(member)])
                b.shows(cluster, member, node)
                b.edge(union, node, "federated")


def _add_skips(
    b: _Builder,
    plan: Plan,
    src: str,
    drawn_clusters: set[str],
    link_nodes: Mapping[ObjectRef, _NodeKey],
    options: GraphOptions,
) -> None:
    groups: dict[tuple[str, str, str], list[ObjectRef]] = {}
    for skip in plan.skipped:
        where = skip.cluster or src
        ref = skip.ref
        if ref.kind == "Link":
            link_key = link_nodes.get(ref)
            if link_key is not None:
                node = b.specs[link_key]
                node.skipped = True
                line = f"skipped: {skip.code.value}"
                if line not in node.lines:
                    node.lines.append(line)
        elif (
            ref.kind == "Service"
            and where in drawn_clusters
            and options.keeps(ref.namespace, ref.name)
        ):
            groups.setdefault((where, ref.namespace, skip.code.value), []).append(ref)
    for (cluster, ns, code), refs in sorted(groups.items()):
        unique = sorted(set(refs), key=_ns_name)
        if options.bundles(len(unique)):
            b.bundle(
                (cluster, "service", f"{ns}/ skipped {code}"),
                ns,
                f"{len(unique)} skipped: {code}",
                unique,
                skipped=True,
            )
            continue
        for r in unique:
            key = (cluster, "service", _ns_name(r))
            if key in b.specs:  # drawn already (a federated member, say): say so there
                b.specs[key].lines.append(f"skipped: {code}")
            else:
                b.node(key, ns, [_ns_name(r), f"skipped: {code}"], skipped=True)
            b.shows(cluster, r, key)


def _marked(result: CheckResult, b: _Builder, src: str) -> list[_NodeKey]:
    ref = result.ref
    assert ref is not None
    cluster = result.cluster or src
    if ref.kind == "Link":
        key = (cluster, "link", _ns_name(ref))
        return [key] if key in b.specs else []
    if ref.kind == "Namespace":
        return sorted(
            {
                k
                for k, n in b.specs.items()
                if k[0] == src and n.kind in ("mirror", "federated") and n.namespace == ref.name
            }
        )
    return list(b.drawn.get((cluster, f"Service {_ns_name(ref)}"), ()))


# -- dot ----------------------------------------------------------------------------------


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _dot_node(n: _Node) -> str:
    label = "\n".join(n.label_lines())
    out = [f"label={_dot_quote(label)}"]
    styles = ["filled"]
    fill = "#ffffff"
    if n.kind == "link":
        out.append("shape=box")
        fill = "#eeeeee"
    elif n.kind == "gateway":
        out += ["shape=hexagon", f'color="{MODE_STYLES["gateway"].colour}"']
        fill = MODE_STYLES["gateway"].fill
    elif n.kind in ("mirror", "federated"):
        out.append("shape=box")
        styles.append("rounded")
        fill = MODE_STYLES[n.mode].fill
        out.append(f'color="{MODE_STYLES[n.mode].colour}"')
        if n.kind == "federated":
            out.append("peripheries=2")
    elif n.kind == "namespace":
        out.append("shape=folder")
    else:  # a Service in its own cluster
        out.append("shape=box")
        styles.append("rounded")
    if n.members:
        out.append("shape=box3d")  # a stack: many objects
        styles = [s for s in styles if s != "rounded"]
        out.append(f"tooltip={_dot_quote(', '.join(n.members))}")
    if n.skipped:
        styles.append("dashed")
        out += [f'color="{_SKIPPED_COLOUR}"', f'fontcolor="{_SKIPPED_COLOUR}"']
        fill = "#fafafa"
    if n.status in _STATUS_COLOUR:
        colour = _STATUS_COLOUR[n.status]
        out += [f'color="{colour}"', f'fontcolor="{colour}"', "penwidth=2"]
    out += [f'style="{",".join(styles)}"', f'fillcolor="{fill}"']
    return f"{n.id} [{', '.join(out)}];"


def _dot_edge(tail: str, head: str, mode: str, label: str, minlen: int) -> str:
    colour = MODE_STYLES[mode].colour
    extra = f", minlen={minlen}" if minlen > 1 else ""
    return (
        f'{tail} -> {head} [label={_dot_quote(label)}, color="{colour}", '
        f'fontcolor="{colour}", style={MODE_STYLES[mode].dot_style}, class="mode-{mode}"{extra}];'
    )


def _column(n: _Node, source: str) -> int:
    if n.cluster != source:
        return 3 if n.kind == "gateway" else 4
    return {"link": 0, "federated": 1, "mirror": 1, "namespace": 1}.get(n.kind, 1)


_LEGEND_LINE = MappingProxyType(
    {"solid": "━━━━━▶", "bold": "▬▬▬▬▶", "dashed": "╺━ ╺━ ▶", "dotted": "· · · · · ▶"}
)


def _dot_legend(g: _Graph) -> list[str]:
    """One node: each mode's line (in its colour and style) and what it means."""
    modes = g.modes()
    if not modes:
        return []
    rows = ['<tr><td colspan="3" align="left"><b>legend</b></td></tr>']
    for mode in modes:
        colour = MODE_STYLES[mode].colour
        rows.append(
            f'<tr><td align="left"><font color="{colour}">'
            f"{_LEGEND_LINE[MODE_STYLES[mode].dot_style]}</font></td>"
            f'<td align="left"><font color="{colour}">{html.escape(mode)}</font></td>'
            f'<td align="left">{html.escape(MODE_STYLES[mode].meaning)}</td></tr>'
        )
    rows.append(
        '<tr><td align="left">- - -</td><td align="left">skipped</td>'
        '<td align="left">not mirrored, with the skip code</td></tr>'
    )
    rows.append(
        f'<tr><td align="left"><font color="{_STATUS_COLOUR["fail"]}">× </font>'
        f'<font color="{_STATUS_COLOUR["warn"]}">‼</font></td>'
        '<td align="left">check</td><td align="left">failing or warning check</td></tr>'
    )
    table = (
        '<table border="0" cellborder="0" cellspacing="1" cellpadding="1">'
        + "".join(rows)
        + "</table>"
    )
    return [f'  legend [shape=box, style="rounded", color="#9e9e9e", fontsize=9, label=<{table}>];']


def to_dot(
    plan: Plan,
    source: ClusterState,
    remotes: Mapping[str, ClusterState],
    checks: Iterable[CheckResult] | None = None,
    options: GraphOptions = _ALL,
) -> str:
    """The plan as a Graphviz digraph: one cluster subgraph per cluster, one per
    namespace inside it, edges coloured and labelled by mode, and a legend.

    >>> from meshmirror.decisions.plan import plan
    >>> from meshmirror.values.model import ClusterState
    >>> west = ClusterState.build("west", [])
    >>> to_dot(plan(west, {}), west, {}).splitlines()[0]
    'digraph meshmirror {'
    """
    g = _build(plan, source, remotes, checks, options)
    out = [
        "digraph meshmirror {",
        f"  graph [rankdir=LR, newrank=true, splines=true, nodesep=0.3, ranksep=0.7, "
        f"fontname=Helvetica, fontsize=12, label={_dot_quote(g.title)}, labelloc=t];",
        '  node [fontname=Helvetica, fontsize=10, margin="0.12,0.05"];',
        "  edge [fontname=Helvetica, fontsize=9, arrowsize=0.7];",
    ]
    for i, (name, label) in enumerate(g.clusters):
        out.append(f"  subgraph cluster_{i} {{")
        out.append(f'    label={_dot_quote(label)}; style="rounded"; color="#424242";')
        groups = g.namespaces(name)
        if not groups:
            out.append(f"    c{i}_empty [label={_dot_quote('(nothing drawn)')}, shape=plaintext];")
        for j, (ns, members) in enumerate(groups):
            indent = "    "
            if ns:
                out.append(f"    subgraph cluster_{i}_{j} {{")
                out.append(
                    f'      label={_dot_quote(f"namespace {ns}")}; style="dashed,rounded"; '
                    'color="#9e9e9e"; labeljust=r; fontsize=10;'
                )
                indent = "      "
            out += [indent + _dot_node(n) for n in members]
            if ns:
                out.append("    }")
        out.append("  }")
    out += _dot_legend(g)
    # Columns, left to right: the source's Links and federated Services, its mirrors, its
    # own federated members, then each linked cluster's gateway and Services. Fixing them
    # keeps the source on the left and the linked clusters on the right.
    columns: dict[int, list[str]] = {}
    for n in g.nodes:
        columns.setdefault(_column(n, g.clusters[0][0]), []).append(n.id)
    for _, ids in sorted(columns.items()):
        out.append(f"  {{rank=same; {'; '.join(ids)};}}")
    column = {n.id: _column(n, g.clusters[0][0]) for n in g.nodes}
    for e in g.edges:
        span = column[e.head] - column[e.tail]
        out.append("  " + _dot_edge(e.tail, e.head, e.mode, e.label, max(span, 1)))
    out.append("}")
    return "\n".join(out) + "\n"


# -- mermaid ------------------------------------------------------------------------------


def _mermaid_text(text: str) -> str:
    return (
        html.escape(text, quote=False)
        .replace('"', "#quot;")
        .replace("|", "#124;")
        .replace("\n", "<br/>")
    )


_MERMAID_SHAPE = MappingProxyType(
    {
        "link": ("[", "]"),
        "gateway": ("{{", "}}"),
        "mirror": ("(", ")"),
        "federated": ("[[", "]]"),
        "service": ("([", "])"),
        "namespace": ("[/", "/]"),
    }
)


def _mermaid_class(mode: str) -> str:
    return "mode_" + mode.replace("-", "_")


def to_mermaid(
    plan: Plan,
    source: ClusterState,
    remotes: Mapping[str, ClusterState],
    checks: Iterable[CheckResult] | None = None,
    options: GraphOptions = _ALL,
) -> str:
    """The plan as a Mermaid flowchart with the structure of :func:`to_dot`: a subgraph
    per cluster and per namespace, edges labelled, coloured and styled by mode, a legend.

    >>> from meshmirror.decisions.plan import plan
    >>> from meshmirror.values.model import ClusterState
    >>> west = ClusterState.build("west", [])
    >>> to_mermaid(plan(west, {}), west, {}).splitlines()[0]
    'flowchart LR'
    """
    g = _build(plan, source, remotes, checks, options)
    out = ["flowchart LR"]
    for i, (name, label) in enumerate(g.clusters):
        out.append(f'  subgraph c{i}["{_mermaid_text(label)}"]')
        groups = g.namespaces(name)
        if not groups:
            out.append(f'    c{i}_empty["(nothing drawn)"]')
        for j, (ns, members) in enumerate(groups):
            indent = "    "
            if ns:
                out.append(f'    subgraph c{i}_{j}["{_mermaid_text(f"namespace {ns}")}"]')
                indent = "      "
            for n in members:
                if n.members:
                    out.append(f"{indent}%% {n.id} stands for {', '.join(n.members)}")
                open_, close = ("[(", ")]") if n.members else _MERMAID_SHAPE[n.kind]
                text = _mermaid_text("\n".join(n.label_lines()))
                out.append(f'{indent}{n.id}{open_}"{text}"{close}')
            if ns:
                out.append("    end")
        out.append("  end")
    modes = g.modes()
    styled: list[tuple[int, str]] = []
    if modes:
        out.append('  subgraph legend["legend"]')
        for i, mode in enumerate(modes):
            out.append(
                f'    legend_{i}a[" "] {MODE_STYLES[mode].mermaid_arrow}|{mode}| legend_{i}b'
            )
            out.append(f'    legend_{i}b["{_mermaid_text(MODE_STYLES[mode].meaning)}"]')
            styled.append((i, mode))
        out.append("  end")
    for k, e in enumerate(g.edges, start=len(styled)):
        out.append(
            f"  {e.tail} {MODE_STYLES[e.mode].mermaid_arrow}|{_mermaid_text(e.label)}| {e.head}"
        )
        styled.append((k, e.mode))
    for mode in modes:
        indices = ",".join(str(k) for k, m in styled if m == mode)
        colour = MODE_STYLES[mode].colour
        out.append(f"  linkStyle {indices} stroke:{colour},color:{colour}")
    out.append("  classDef fail stroke:#c62828,stroke-width:3px,color:#c62828")
    out.append("  classDef warn stroke:#b26a00,stroke-width:2px,color:#b26a00")
    out.append(f"  classDef skipped stroke:{_SKIPPED_COLOUR},stroke-dasharray:4 3")
    for mode in modes:
        look = MODE_STYLES[mode]
        out.append(f"  classDef {_mermaid_class(mode)} fill:{look.fill},stroke:{look.colour}")
    classes: dict[str, list[str]] = {}
    for n in g.nodes:
        if n.status != "ok":
            cls = n.status
        elif n.skipped:
            cls = "skipped"
        elif n.mode in modes:
            cls = _mermaid_class(n.mode)
        else:
            continue
        classes.setdefault(cls, []).append(n.id)
    for cls, ids in sorted(classes.items()):
        out.append(f"  class {','.join(ids)} {cls}")
    return "\n".join(out) + "\n"


# -- html ---------------------------------------------------------------------------------


def plan_html(plan: Plan) -> str:
    """A plan as HTML tables (``Plan._repr_html_``): planned objects with their mode and
    origin, federated Services with their members, and every skip and conflict."""
    return plan._repr_html_()
