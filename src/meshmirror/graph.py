"""Pictures of a plan: Graphviz dot and Mermaid text, and HTML tables for notebooks. Pure.

Both pictures show every cluster (the source, each remote, each Link target that was not
given), the source's Links (with their gateway), every planned object, the remote
Services they come from, skipped exports, and federated unions. Edges carry the mode:
``gateway``, ``remote-discovery``, ``headless``, ``federated``. Results of
:func:`meshmirror.checks.check` mark what they are about: failures in red with ``×``,
warnings in orange with ``‼``.

Rendering to SVG needs Graphviz's ``dot`` binary and lives in :mod:`meshmirror.render`.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType

import attrs

from meshmirror.checks import CheckResult
from meshmirror.model import ClusterState, ObjectRef
from meshmirror.plan import Plan

__all__ = ["plan_html", "to_dot", "to_mermaid"]

_KIND_ORDER = MappingProxyType(
    {"link": 0, "gateway": 1, "mirror": 2, "federated": 3, "service": 4, "namespace": 5}
)


@attrs.define
class _Node:
    id: str
    cluster: str
    kind: str
    lines: list[str]
    dashed: bool = False
    marks: list[tuple[str, str]] = attrs.field(factory=list)  # (status, check id)

    @property
    def status(self) -> str:
        statuses = {s for s, _ in self.marks}
        return "fail" if "fail" in statuses else ("warn" if "warn" in statuses else "ok")

    def label_lines(self) -> list[str]:
        marks = sorted(set(self.marks), key=lambda m: (m[0] != "fail", m[1]))
        return self.lines + [f"{'×' if s == 'fail' else '‼'} {cid}" for s, cid in marks]


@attrs.frozen
class _Edge:
    tail: str
    head: str
    label: str
    dashed: bool = False


@attrs.define
class _Graph:
    title: str
    clusters: list[tuple[str, str]]  # (name, label)
    nodes: list[_Node]
    edges: list[_Edge]


def _service_key(ref: ObjectRef) -> str:
    return f"Service {ref.namespace}/{ref.name}"


def _build(
    plan: Plan,
    source: ClusterState,
    remotes: Mapping[str, ClusterState],
    checks: Iterable[CheckResult] | None,
) -> _Graph:
    src = source.name
    links = source.sorted_links()
    targets = sorted({link.target_cluster_name for link in links} - set(remotes) - {src})
    clusters = [(src, f"cluster {src} (source)")]
    clusters += [(name, f"cluster {name}") for name in sorted(remotes) if name != src]
    clusters += [(name, f"cluster {name} (dump not given)") for name in targets]

    specs: dict[tuple[str, str, str], tuple[list[str], bool]] = {}
    edges: set[tuple[tuple[str, str, str], tuple[str, str, str], str, bool]] = set()

    def node(
        cluster: str, kind: str, key: str, lines: list[str], dashed: bool = False
    ) -> tuple[str, str, str]:
        k = (cluster, kind, key)
        specs.setdefault(k, (lines, dashed))
        return k

    gateway_links = {m.link for m in plan.mirrors if m.mode in ("gateway", "headless")}
    for link in links:
        target = link.target_cluster_name
        gw = (
            f"gateway {link.gateway_address}:{link.gateway_port}"
            if link.gateway_address
            else "no gateway"
        )
        lk = node(
            src,
            "link",
            f"{link.namespace}/{link.name}",
            [f"Link {link.namespace}/{link.name}", f"to {target}", gw],
        )
        if link.gateway_address:
            g = node(target, "gateway", link.gateway_address, [gw, f"of {target}"])
            edges.add((lk, g, "gateway" if link.ref in gateway_links else "link", False))

    for m in plan.mirrors:
        lines = [_service_key(m.service)]
        if m.endpoints is not None:
            lines.append(f"Endpoints {m.endpoints.namespace}/{m.endpoints.name}")
        lines += [f"Service {p.namespace}/{p.name}" for p in m.pods]
        lines.append(f"{m.mode} mirror")
        mk = node(src, "mirror", _service_key(m.service), lines)
        rk = node(m.target, "service", _service_key(m.remote), [_service_key(m.remote)])
        label = {"headless": "headless (gateway)"}.get(m.mode, m.mode)
        edges.add((mk, rk, label, False))

    for f in plan.federated:
        fk = node(src, "federated", _service_key(f.service), [_service_key(f.service), "federated"])
        for member in f.members:
            mk = node(
                member.cluster,
                "service",
                _service_key(member.service.ref),
                [_service_key(member.service.ref)],
            )
            edges.add((fk, mk, "federated", False))

    for obj in plan.objects:
        if obj.kind == "Namespace":
            node(src, "namespace", obj.name, [f"Namespace {obj.name}", "created"])

    for skip in plan.skipped:
        where = skip.cluster or src
        if skip.ref.kind == "Service" and where in {name for name, _ in clusters}:
            node(
                where,
                "service",
                _service_key(skip.ref),
                [_service_key(skip.ref), f"skipped: {skip.code.value}"],
                dashed=True,
            )

    # Stable ids: clusters in order, nodes by kind then label.
    nodes: list[_Node] = []
    ids: dict[tuple[str, str, str], _Node] = {}
    order = {name: i for i, (name, _) in enumerate(clusters)}
    for k in sorted(specs, key=lambda k: (order.get(k[0], len(order)), _KIND_ORDER[k[1]], k[2])):
        lines, dashed = specs[k]
        n = _Node(f"n{len(nodes) + 1}", k[0], k[1], list(lines), dashed)
        nodes.append(n)
        ids[k] = n

    for result in checks or ():
        if result.status == "ok" or result.ref is None:
            continue
        for n in _targets(result, ids, src):
            n.marks.append((result.status, result.id))

    edge_list = [
        _Edge(ids[t].id, ids[h].id, label, dashed)
        for t, h, label, dashed in sorted(
            edges, key=lambda e: (int(ids[e[0]].id[1:]), int(ids[e[1]].id[1:]), e[2])
        )
    ]
    return _Graph(f"meshmirror plan for {src}", clusters, nodes, edge_list)


def _targets(
    result: CheckResult, ids: Mapping[tuple[str, str, str], _Node], src: str
) -> list[_Node]:
    ref = result.ref
    assert ref is not None
    cluster = result.cluster or src
    if ref.kind == "Link":
        found = ids.get((cluster, "link", f"{ref.namespace}/{ref.name}"))
        return [found] if found else []
    if ref.kind == "Namespace":
        return [
            n
            for (c, kind, key), n in ids.items()
            if c == src
            and kind in ("mirror", "federated")
            and key.startswith(f"Service {ref.name}/")
        ]
    key = _service_key(ref)
    return [
        n for kind in ("mirror", "federated", "service") if (n := ids.get((cluster, kind, key)))
    ]


# -- dot ----------------------------------------------------------------------------------


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


_DOT_COLOURS = MappingProxyType({"fail": "#c62828", "warn": "#b26a00"})
_DOT_SHAPES = MappingProxyType(
    {
        "link": "cds",
        "gateway": "hexagon",
        "mirror": "box",
        "federated": "box3d",
        "service": "ellipse",
        "namespace": "folder",
    }
)


def to_dot(
    plan: Plan,
    source: ClusterState,
    remotes: Mapping[str, ClusterState],
    checks: Iterable[CheckResult] | None = None,
) -> str:
    """The plan as a Graphviz digraph (one cluster subgraph per cluster).

    >>> from meshmirror.plan import plan
    >>> from meshmirror.model import ClusterState
    >>> west = ClusterState.build("west", [])
    >>> to_dot(plan(west, {}), west, {}).splitlines()[0]
    'digraph meshmirror {'
    """
    g = _build(plan, source, remotes, checks)
    out = [
        "digraph meshmirror {",
        f"  graph [rankdir=LR, fontname=Helvetica, label={_dot_quote(g.title)}, labelloc=t];",
        "  node [fontname=Helvetica, fontsize=10];",
        "  edge [fontname=Helvetica, fontsize=9];",
    ]
    for i, (name, label) in enumerate(g.clusters):
        out.append(f"  subgraph cluster_{i} {{")
        out.append(f"    label={_dot_quote(label)};")
        out.append("    style=rounded;")
        members = [n for n in g.nodes if n.cluster == name]
        if not members:
            out.append(f"    c{i}_empty [label={_dot_quote('(nothing drawn)')}, shape=plaintext];")
        for n in members:
            attrs_ = [f"label={_dot_quote(chr(10).join(n.label_lines()))}"]
            attrs_.append(f"shape={_DOT_SHAPES[n.kind]}")
            styles = ["dashed"] if n.dashed else []
            if n.status in _DOT_COLOURS:
                colour = _DOT_COLOURS[n.status]
                attrs_ += [f'color="{colour}"', f'fontcolor="{colour}"', "penwidth=2"]
            if styles:
                attrs_.append(f"style={','.join(styles)}")
            out.append(f"    {n.id} [{', '.join(attrs_)}];")
        out.append("  }")
    for e in g.edges:
        style = ", style=dashed" if e.dashed else ""
        out.append(f"  {e.tail} -> {e.head} [label={_dot_quote(e.label)}{style}];")
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


def to_mermaid(
    plan: Plan,
    source: ClusterState,
    remotes: Mapping[str, ClusterState],
    checks: Iterable[CheckResult] | None = None,
) -> str:
    """The plan as a Mermaid flowchart (one subgraph per cluster).

    >>> from meshmirror.plan import plan
    >>> from meshmirror.model import ClusterState
    >>> west = ClusterState.build("west", [])
    >>> to_mermaid(plan(west, {}), west, {}).splitlines()[0]
    'flowchart LR'
    """
    g = _build(plan, source, remotes, checks)
    out = ["flowchart LR"]
    for i, (name, label) in enumerate(g.clusters):
        out.append(f'  subgraph c{i}["{_mermaid_text(label)}"]')
        members = [n for n in g.nodes if n.cluster == name]
        if not members:
            out.append(f'    c{i}_empty["(nothing drawn)"]')
        for n in members:
            text = _mermaid_text("\n".join(n.label_lines()))
            open_, close = {
                "link": (">", "]"),
                "gateway": ("{{", "}}"),
                "federated": ("[[", "]]"),
                "service": ("([", "])"),
            }.get(n.kind, ("[", "]"))
            out.append(f'    {n.id}{open_}"{text}"{close}')
        out.append("  end")
    for e in g.edges:
        arrow = "-.->" if e.dashed else "-->"
        out.append(f"  {e.tail} {arrow}|{_mermaid_text(e.label)}| {e.head}")
    out.append("  classDef fail stroke:#c62828,stroke-width:3px,color:#c62828")
    out.append("  classDef warn stroke:#b26a00,stroke-width:2px,color:#b26a00")
    out.append("  classDef skipped stroke-dasharray:4 3")
    for status in ("fail", "warn"):
        marked = [n.id for n in g.nodes if n.status == status]
        if marked:
            out.append(f"  class {','.join(marked)} {status}")
    skipped = [n.id for n in g.nodes if n.dashed and n.status == "ok"]
    if skipped:
        out.append(f"  class {','.join(skipped)} skipped")
    return "\n".join(out) + "\n"


# -- html ---------------------------------------------------------------------------------


def _html_table(rows: Sequence[Sequence[str]]) -> str:
    head = "<tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in rows[0]) + "</tr>"
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows[1:]
    )
    return f"<table>{head}{body}</table>"


def plan_html(plan: Plan) -> str:
    """A plan as HTML tables (``Plan._repr_html_``): planned objects with their mode and
    origin, federated Services with their members, and every skip and conflict."""
    origin: dict[ObjectRef, tuple[str, str]] = {}
    for m in plan.mirrors:
        for ref in m.refs:
            origin[ref] = (m.mode, f"{m.remote.namespace}/{m.remote.name}@{m.target}")
    for f in plan.federated:
        origin[f.service] = ("federated", ", ".join(x.entry for x in f.members))
    rows = [["kind", "namespace", "name", "mode", "from"]]
    for o in plan.objects:
        mode, src = origin.get(o.ref, ("namespace", "-"))
        rows.append([o.kind, o.namespace or "-", o.name, mode, src])
    parts = [f"<p><strong>{html.escape(repr(plan))}</strong></p>", _html_table(rows)]
    if plan.federated:
        fed = [["federated", "namespace", "winner", "members"]]
        for f in plan.federated:
            fed.append(
                [
                    f.service.name,
                    f.service.namespace,
                    f.winner.entry,
                    ", ".join(x.entry for x in f.members),
                ]
            )
        parts.append(_html_table(fed))
    findings = [["code", "about", "message"]]
    findings += [[s.code.value, f"{s.ref} in {s.cluster}", s.message] for s in plan.skipped]
    findings += [[c.code.value, str(c.ref), c.message] for c in plan.conflicts]
    if len(findings) > 1:
        parts.append(_html_table(findings))
    return "".join(parts)
