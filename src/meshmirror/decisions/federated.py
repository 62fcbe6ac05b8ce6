"""Federated services: every member of one name and namespace, in the source and every
linked cluster, joined into ``<svc>-federated`` (namespace sameness).

Linkerd builds the federated Service incrementally and its result depends on history;
meshmirror computes it from the current members alone (docs/design.md, section 5):

- members: the source's Services matching the local selector
  (``mirror.linkerd.io/federated=member``) and each linked cluster's Services matching
  its Link's ``federatedServiceSelector`` (absent or empty selects nothing);
- precedence: the local member, then remote members by their Link's
  ``creationTimestamp`` (oldest first), ties by cluster name; the winner gives labels,
  annotations and ports, whole; ``multicluster.linkerd.io/remote-discovery`` lists the
  remote members in precedence order and is absent when there are none;
- members that disagree with the winner are reported as MCS-style conflicts.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator, Mapping, Sequence

import attrs

from meshmirror.decisions.mirror import filter_annotations, filter_labels, mirrored_ports
from meshmirror.formats.manifest import parse_timestamp
from meshmirror.values.codes import Conflict, ConflictCode, Skip, SkipCode
from meshmirror.values.labels import Selector
from meshmirror.values.model import (
    ClusterState,
    Link,
    ObjectRef,
    Service,
    ServicePort,
    linkerd_selector,
)
from meshmirror.values.names import federated_name, service_name_problem
from meshmirror.values.scheme import Scheme

__all__ = ["Federation", "Member", "federate"]

_FAR_FUTURE = datetime.datetime.max.replace(tzinfo=datetime.timezone.utc)


@attrs.frozen
class Member:
    """One member of a federated Service.

    ``cluster`` is the cluster it lives in; ``local`` is true for the source's own.
    ``link`` is the Link that made it a member (None for the local member).
    """

    cluster: str
    service: Service
    local: bool
    link: Link | None = None

    @property
    def entry(self) -> str:
        """``svc@cluster``, as in Linkerd's remote-discovery annotation."""
        return f"{self.service.name}@{self.cluster}"


@attrs.frozen
class Federation:
    """A planned federated Service and who is in it, in precedence order."""

    service: ObjectRef
    members: tuple[Member, ...]

    @property
    def winner(self) -> Member:
        """The member whose labels, annotations and ports the federated Service has."""
        return self.members[0]

    @property
    def remote_members(self) -> tuple[Member, ...]:
        return tuple(m for m in self.members if not m.local)

    @property
    def local_member(self) -> Member | None:
        return next((m for m in self.members if m.local), None)


def _link_age(link: Link | None) -> datetime.datetime:
    if link is None or not link.creation_timestamp:
        return _FAR_FUTURE
    return parse_timestamp(link.creation_timestamp)


def _precedence(member: Member) -> tuple[int, datetime.datetime, str, str, str]:
    link = member.link
    return (
        0 if member.local else 1,
        _link_age(link),
        member.cluster,
        link.namespace if link else "",
        link.name if link else "",
    )


def _port_key(ports: Sequence[ServicePort]) -> tuple[tuple[str, str, int], ...]:
    # targetPort may differ per cluster; order does not matter to the destination.
    return tuple(sorted((p.name, p.protocol, p.port) for p in ports))


def _describe_ports(ports: Sequence[ServicePort]) -> str:
    return ", ".join(f"{p.name or '-'}/{p.protocol}/{p.port}" for p in ports) or "none"


def _ports_of(s: Service) -> tuple[tuple[str, str, int], ...]:
    return _port_key(s.ports)


def _ports_shown(s: Service) -> str:
    return _describe_ports(s.ports)


def _type(s: Service) -> str:
    return s.type


def _affinity(s: Service) -> str:
    return s.effective_session_affinity


# What federated members must agree on: (code, what, the compared value, how it reads).
_ASPECTS: tuple[
    tuple[ConflictCode, str, Callable[[Service], object], Callable[[Service], str]], ...
] = (
    (ConflictCode.PORT_CONFLICT, "ports", _ports_of, _ports_shown),
    (ConflictCode.TYPE_CONFLICT, "type", _type, _type),
    (ConflictCode.SESSION_AFFINITY_CONFLICT, "session affinity", _affinity, _affinity),
)


def _conflicts(ref: ObjectRef, members: Sequence[Member]) -> list[Conflict]:
    if len(members) < 2:
        return []  # a lone member disagrees with nobody
    winner = members[0]
    w = winner.service
    where = f"federated Service {ref.namespace}/{ref.name}"
    out = []
    for code, what, value, show in _ASPECTS:
        expected = value(w)
        differ = [m for m in members[1:] if value(m.service) != expected]
        if not differ:
            continue
        names = ", ".join(f"{m.entry} ({show(m.service)})" for m in differ)
        out.append(
            Conflict(
                code,
                ref,
                tuple(m.entry for m in differ),
                winner.entry,
                f"{where}: {names} {'disagrees' if len(differ) == 1 else 'disagree'} on "
                f"{what} with the winner {winner.entry} ({show(w)}); the federated "
                f"Service takes the winner's {what}, so traffic may reach a member on "
                "something it does not serve. Make the members agree",
            )
        )
    return out


def selected_members(
    source: ClusterState, links: Sequence[tuple[Link, ClusterState]], local_selector: Selector
) -> Iterator[tuple[int, Member]]:
    """Every Service a federated selector picks, as (position, member): position -1 for
    the source's own (``local_selector``), else the index of its Link in ``links``
    (``federatedServiceSelector``; absent or empty selects nothing). The source first,
    then each Link in order; the checks of :func:`federate` come after."""
    for svc in source.services.values():
        if local_selector.matches(svc.labels):
            yield -1, Member(source.name, svc, local=True)
    for pos, (link, remote) in enumerate(links):
        federates = linkerd_selector(link.federated_service_selector)  # link.federates
        if federates.is_nothing():
            continue
        for svc in remote.services.values():
            if federates.matches(svc.labels):
                yield pos, Member(link.target_cluster_name, svc, local=False, link=link)


def federate(
    source: ClusterState,
    links: Sequence[tuple[Link, ClusterState]],
    *,
    scheme: Scheme,
    local_selector: Selector,
    local_excluded_labels: Sequence[str] = (),
    local_excluded_annotations: Sequence[str] = (),
) -> tuple[list[tuple[Federation, Service]], list[Skip], list[Conflict]]:
    """Every federated Service the members ask for, with skips and conflicts.

    ``links`` pairs each Link of the source with its target's state (Links whose target
    is unknown are left out by the caller). Namespace and ownership checks against the
    source are the caller's (they are shared with mirrors).
    """
    groups: dict[tuple[str, str], list[Member]] = {}
    skips: list[Skip] = []
    headless: dict[tuple[str, str], list[Member]] = {}

    def consider(member: Member) -> None:
        svc = member.service
        where = f"Service {svc.namespace}/{svc.name} in cluster {member.cluster}"
        if scheme.is_owned(svc.labels):
            skips.append(
                Skip(
                    SkipCode.REMOTE_IS_MIRROR,
                    svc.ref,
                    f"{where} matches a federated selector but is itself a mirror or a "
                    "federated Service; federating it would loop. Narrow the selector",
                    cluster=member.cluster,
                )
            )
            return
        if svc.headless:
            headless.setdefault((svc.namespace, svc.name), []).append(member)
            skips.append(
                Skip(
                    SkipCode.HEADLESS_MEMBER,
                    svc.ref,
                    f"{where} is headless, and a headless Service cannot join a federated "
                    "Service (as in Linkerd); give it a cluster IP or remove the member label",
                    cluster=member.cluster,
                )
            )
            return
        if not svc.ports:
            # As with headless members: a member that cannot give the federated Service
            # its ports stays out, and never takes the other members down with it.
            skips.append(
                Skip(
                    SkipCode.NO_PORTS,
                    svc.ref,
                    f"{where} has no ports, so it cannot join the federated Service "
                    f"{svc.namespace}/{federated_name(svc.name, scheme.federated_suffix)}; "
                    "add a port to it",
                    cluster=member.cluster,
                )
            )
            return
        groups.setdefault((svc.namespace, svc.name), []).append(member)

    # Unsorted: each (namespace, name) has one Service per cluster, so the members of a
    # name come in link order whatever the order within a cluster, and groups are sorted.
    for _, member in selected_members(source, links, local_selector):
        consider(member)

    planned: list[tuple[Federation, Service]] = []
    conflicts: list[Conflict] = []
    for (namespace, name), members in sorted(groups.items()):
        members.sort(key=_precedence)
        fed_name = federated_name(name, scheme.federated_suffix)
        ref = ObjectRef("Service", namespace, fed_name)
        problem = service_name_problem(fed_name)
        winner = members[0]
        if problem is not None:
            code = SkipCode.NAME_TOO_LONG if len(fed_name) > 63 else SkipCode.INVALID_NAME
            entries = ", ".join(m.entry for m in members)
            skips.append(
                Skip(
                    code,
                    winner.service.ref,
                    f"federated Service name {fed_name!r} for members {entries} {problem}; "
                    "Linkerd would fail to create it. Rename the member Services",
                    cluster=winner.cluster,
                )
            )
            continue
        if winner.local:
            excluded_labels, excluded_annotations = (
                local_excluded_labels,
                local_excluded_annotations,
            )
        else:
            assert winner.link is not None
            excluded_labels = winner.link.excluded_labels
            excluded_annotations = winner.link.excluded_annotations
        labels = filter_labels(winner.service.labels, excluded_labels, scheme)
        labels[scheme.mirrored_service_label] = scheme.true_value
        annotations = filter_annotations(winner.service.annotations, excluded_annotations, scheme)
        remote_entries = [m.entry for m in members if not m.local]
        if remote_entries:
            annotations[scheme.remote_discovery_annotation] = ",".join(remote_entries)
        local = next((m for m in members if m.local), None)
        if local is not None:
            annotations[scheme.local_discovery_annotation] = local.service.name
        service = Service(
            namespace=namespace,
            name=fed_name,
            labels=labels,
            annotations=annotations,
            ports=mirrored_ports(winner.service.ports),
        )
        federation = Federation(ref, tuple(members))
        planned.append((federation, service))
        conflicts.extend(_conflicts(ref, members))
        lost = headless.get((namespace, name), [])
        if lost:
            conflicts.append(
                Conflict(
                    ConflictCode.HEADLESS_CONFLICT,
                    ref,
                    tuple(m.entry for m in lost),
                    winner.entry,
                    f"federated Service {namespace}/{fed_name}: {', '.join(m.entry for m in lost)}"
                    f" are headless while the winner {winner.entry} is not; headless members "
                    "are left out. Make every member headless or none",
                )
            )
    return planned, skips, conflicts


def member_mapping(federations: Sequence[Federation]) -> Mapping[ObjectRef, Federation]:
    """Federations by the federated Service's ref."""
    return {f.service: f for f in federations}
