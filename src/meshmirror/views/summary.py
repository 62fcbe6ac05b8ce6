"""A fleet's plan at a glance: one row per Link (pure).

Each row counts what one Link brings in: mirrors by mode, federated Services its target
is a member of, conflicts involving that target, and skips by code. A ``(local)`` row
holds what belongs to no Link (the source's own federated members and their skips), and
a total row ends the table, so a dump of a hundred clusters is a hundred rows, not a
hundred thousand objects. ``meshmirror plan -o summary`` prints :meth:`Summary.text`.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Iterable

import attrs

from meshmirror.decisions.plan import Plan
from meshmirror.values.display import html_table, text_table
from meshmirror.values.model import ClusterState, ObjectRef

__all__ = ["LinkSummary", "Summary", "summarize"]

_LOCAL = "(local)"


def _pairs(value: Iterable[tuple[str, int]]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(value))


@attrs.frozen
class LinkSummary:
    """What one Link brings in (``link`` is ``namespace/name``; ``(local)`` for the
    source's own members). ``skips`` are (code, count) pairs, sorted by code."""

    link: str
    target: str
    gateway: int = 0
    headless: int = 0
    remote_discovery: int = 0
    federated: int = 0
    conflicts: int = 0
    skips: tuple[tuple[str, int], ...] = attrs.field(default=(), converter=_pairs)

    @property
    def mirrors(self) -> int:
        return self.gateway + self.headless + self.remote_discovery

    @property
    def skipped(self) -> int:
        return sum(n for _, n in self.skips)

    def cells(self) -> list[str]:
        skips = ",".join(f"{code}={n}" for code, n in self.skips) or "-"
        counts = (self.gateway, self.headless, self.remote_discovery, self.federated)
        return [self.link, self.target, *map(str, counts), str(self.conflicts), skips]


_HEADER = (
    "LINK",
    "TARGET",
    "GATEWAY",
    "HEADLESS",
    "REMOTE-DISCOVERY",
    "FEDERATED",
    "CONFLICTS",
    "SKIPPED",
)


@attrs.frozen
class Summary:
    """One row per Link of ``source`` (sorted by namespace/name), the ``(local)`` row
    when it holds anything, and totals. ``federated`` and ``conflicts`` count each
    federated Service and conflict once (rows count them per target)."""

    source: str
    rows: tuple[LinkSummary, ...]
    objects: int
    federated: int
    conflicts: int

    @property
    def total(self) -> LinkSummary:
        """The sum of the rows (federated Services and conflicts each counted once)."""
        skips: Counter[str] = Counter()
        for row in self.rows:
            skips.update(dict(row.skips))
        return LinkSummary(
            "TOTAL",
            f"{sum(1 for r in self.rows if r.link != _LOCAL)} links",
            gateway=sum(r.gateway for r in self.rows),
            headless=sum(r.headless for r in self.rows),
            remote_discovery=sum(r.remote_discovery for r in self.rows),
            federated=self.federated,
            conflicts=self.conflicts,
            skips=skips.items(),
        )

    def table(self) -> list[list[str]]:
        """A header, one row per Link (and ``(local)``), and the total row."""
        return [list(_HEADER), *(r.cells() for r in self.rows), self.total.cells()]

    def headline(self) -> str:
        t = self.total
        return (
            f"plan for {self.source}: {len(self.rows) - self._has_local} links, "
            f"{t.mirrors} mirrors, {self.federated} federated, {self.objects} objects, "
            f"{t.skipped} skipped, {self.conflicts} conflicts"
        )

    @property
    def _has_local(self) -> int:
        return int(any(r.link == _LOCAL for r in self.rows))

    def text(self) -> str:
        """The headline and the table, as ``meshmirror plan -o summary`` prints them."""
        return self.headline() + "\n\n" + text_table(self.table())

    def __repr__(self) -> str:
        return f"<Summary {self.headline()}>"

    def _repr_html_(self) -> str:
        table = html_table(self.table(), footer=True)
        return f"<p>{html.escape(self.headline())}</p>{table}"


def summarize(plan: Plan, source: ClusterState) -> Summary:
    """The plan at a glance, one row per Link of ``source``.

    >>> from meshmirror.decisions.plan import plan
    >>> west = ClusterState.build("west", [])
    >>> summarize(plan(west, {}), west)
    <Summary plan for west: 0 links, 0 mirrors, 0 federated, 0 objects, 0 skipped, 0 conflicts>
    """
    links = source.sorted_links()
    counts: dict[str, Counter[str]] = {_ns(link.ref): Counter() for link in links}
    counts[_LOCAL] = Counter()
    skips: dict[str, Counter[str]] = {key: Counter() for key in counts}
    by_target: dict[str, list[str]] = {}
    for link in links:
        by_target.setdefault(link.target_cluster_name, []).append(_ns(link.ref))

    for m in plan.mirrors:
        counts[_ns(m.link)][m.mode] += 1
    for f in plan.federated:
        for key in {_ns(x.link.ref) if x.link is not None else _LOCAL for x in f.members}:
            counts[key]["federated"] += 1
    for conflict in plan.conflicts:
        involved = {e.partition("@")[2] for e in (*conflict.members, conflict.winner)}
        for key in _rows_of(involved, by_target, source.name):
            counts[key]["conflicts"] += 1
    for s in plan.skipped:
        if s.ref.kind == "Link" and _ns(s.ref) in skips:
            skips[_ns(s.ref)][s.code.value] += 1
            continue
        for key in _rows_of({s.cluster}, by_target, source.name):
            skips[key][s.code.value] += 1

    rows = []
    for key in [*(_ns(link.ref) for link in links), _LOCAL]:
        c = counts[key]
        if key == _LOCAL and not (sum(c.values()) or skips[key]):
            continue
        target = source.name if key == _LOCAL else source.links[_key(key)].target_cluster_name
        rows.append(
            LinkSummary(
                key,
                target,
                gateway=c["gateway"],
                headless=c["headless"],
                remote_discovery=c["remote-discovery"],
                federated=c["federated"],
                conflicts=c["conflicts"],
                skips=skips[key].items(),
            )
        )
    return Summary(
        source.name, tuple(rows), len(plan.objects), len(plan.federated), len(plan.conflicts)
    )


def _ns(ref: ObjectRef) -> str:
    return f"{ref.namespace}/{ref.name}"


def _key(text: str) -> tuple[str, str]:
    namespace, _, name = text.partition("/")
    return namespace, name


def _rows_of(clusters: Iterable[str], by_target: dict[str, list[str]], source: str) -> set[str]:
    """The rows a cluster's findings belong to: each Link targeting it, or ``(local)``
    for the source itself (and for a cluster no Link targets)."""
    out: set[str] = set()
    for cluster in clusters:
        if cluster and cluster != source and cluster in by_target:
            out.update(by_target[cluster])
        else:
            out.add(_LOCAL)
    return out
