"""A Link's ``status`` as Linkerd's service mirror writes it (``multicluster.linkerd.io``
v1alpha3): one entry per remote Service the Link mirrors or federates. Pure.

Each entry of ``status.mirrorServices`` and ``status.federatedServices`` is
``{conditions, controllerName, remoteRef}``; its one condition has type ``Mirrored``,
status ``True``/``False``, a reason (``Mirrored``, ``InvalidService``, ``Error``,
``MissingNamespace``), a message, ``lastTransitionTime`` and, when mirrored, ``localRef``
(the mirror or federated Service); refs carry ``group: core``, the Link CRD's default
for the core group Linkerd leaves out. Unlike Linkerd, a message names the skip or conflict
code that explains it (see :data:`REASONS`), entries are sorted by remote namespace and
name (Linkerd appends them in event order), and the status is a function of the plan: a
quiet cluster gives an identical status, so nothing is written.

>>> from meshmirror.formats.manifest import cluster_state
>>> from meshmirror.decisions.plan import plan
>>> link = {"apiVersion": "multicluster.linkerd.io/v1alpha3", "kind": "Link",
...     "metadata": {"name": "east", "namespace": "linkerd-multicluster"},
...     "spec": {"targetClusterName": "east", "targetClusterDomain": "cluster.local",
...              "gatewayAddress": "192.0.2.10", "gatewayPort": "4143",
...              "selector": {"matchLabels": {"mirror.linkerd.io/exported": "true"}}}}
>>> ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
>>> web = {"apiVersion": "v1", "kind": "Service",
...     "metadata": {"name": "web", "namespace": "shop",
...                  "labels": {"mirror.linkerd.io/exported": "true"}},
...     "spec": {"ports": [{"name": "http", "port": 80}]}}
>>> west, east = cluster_state("west", [ns, link]), cluster_state("east", [ns, web])
>>> p = plan(west, {"east": east})
>>> status = link_status(p, west, {"east": east}, west.link("linkerd-multicluster", "east"),
...                      now=rfc3339(0))
>>> entry = status["mirrorServices"][0]
>>> entry["remoteRef"]
{'group': 'core', 'kind': 'Service', 'name': 'web', 'namespace': 'shop'}
>>> entry["conditions"][0]["reason"], entry["conditions"][0]["localRef"]["name"]
('Mirrored', 'web-east')
>>> link_status(p, west, {"east": east}, west.link("linkerd-multicluster", "east"),
...             now=rfc3339(60), previous=status) == status   # nothing changed: same status
True
"""

from __future__ import annotations

import datetime
import enum
import types
from collections.abc import Mapping
from typing import Any

from meshmirror.decisions.federated import Federation, federate
from meshmirror.decisions.plan import Plan, PlanOptions, parse_local_selector
from meshmirror.values.codes import Conflict, Skip, SkipCode
from meshmirror.values.model import ClusterState, Link, ObjectRef, Service, linkerd_selector
from meshmirror.values.scheme import LINKERD, Scheme

__all__ = [
    "CONDITION_TYPE",
    "CONTROLLER_NAME",
    "CORE_GROUP",
    "REASONS",
    "Reason",
    "StatusIndex",
    "link_status",
    "reason_for",
    "rfc3339",
    "same_status",
]

#: ``controllerName`` of every entry, as Linkerd's service mirror writes it.
CONTROLLER_NAME = "linkerd.io/service-mirror"
#: The one condition type of an entry.
CONDITION_TYPE = "Mirrored"


class Reason(str, enum.Enum):
    """The condition reasons Linkerd's service mirror uses."""

    MIRRORED = "Mirrored"
    INVALID_SERVICE = "InvalidService"
    ERROR = "Error"
    MISSING_NAMESPACE = "MissingNamespace"

    def __str__(self) -> str:
        return self.value


#: Each skip code's condition reason (the status is ``False``). Conflicts keep a
#: federated member ``True``/``Mirrored``: the federated Service still includes it.
REASONS: Mapping[SkipCode, Reason] = types.MappingProxyType(
    {
        SkipCode.NAMESPACE_MISSING: Reason.MISSING_NAMESPACE,
        SkipCode.NAME_TOO_LONG: Reason.INVALID_SERVICE,
        SkipCode.INVALID_NAME: Reason.INVALID_SERVICE,
        SkipCode.REMOTE_IS_MIRROR: Reason.INVALID_SERVICE,
        SkipCode.NO_PORTS: Reason.INVALID_SERVICE,
        SkipCode.HEADLESS_MEMBER: Reason.INVALID_SERVICE,
        SkipCode.HEADLESS_NOT_LABELLED: Reason.INVALID_SERVICE,
        SkipCode.HEADLESS_NO_ENDPOINTS: Reason.INVALID_SERVICE,
        SkipCode.NOT_OWNED: Reason.ERROR,
        SkipCode.NAME_COLLISION: Reason.ERROR,
        SkipCode.NO_GATEWAY: Reason.ERROR,
        SkipCode.GATEWAY_UNRESOLVED: Reason.ERROR,
        SkipCode.UNKNOWN_CLUSTER: Reason.ERROR,
        SkipCode.INVALID_REMOTE_VALUE: Reason.INVALID_SERVICE,
        # Waiting for the API server (per-pod cluster IPs): not mirrored whole yet.
        SkipCode.HEADLESS_AWAITING_CLUSTER_IP: Reason.ERROR,
        # Link-level skips (their ref is the Link): no per-service entry.
        SkipCode.GATEWAY_ADDRESS_DROPPED: Reason.ERROR,
        SkipCode.LINK_TARGETS_SOURCE: Reason.ERROR,
    }
)

_NAME_CODES = (SkipCode.NAME_TOO_LONG, SkipCode.INVALID_NAME)


def reason_for(code: SkipCode) -> Reason:
    """The condition reason of a skip code (:data:`REASONS`)."""
    return REASONS[code]


def rfc3339(seconds: float) -> str:
    """Seconds since the epoch as Kubernetes prints a time (``metav1.Time``: UTC, whole
    seconds).

    >>> rfc3339(0)
    '1970-01-01T00:00:00Z'
    """
    moment = datetime.datetime.fromtimestamp(int(seconds), tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


#: ``group`` of every ref: the Link CRD defaults an absent group to ``core`` (Linkerd
#: leaves it out), so this is what a Link written by Linkerd holds once stored.
CORE_GROUP = "core"


def _ref(namespace: str, name: str) -> dict[str, str]:
    """A ref to a Service (every ref of a Link's status is one)."""
    return {"group": CORE_GROUP, "kind": "Service", "name": name, "namespace": namespace}


def _condition(
    ok: bool, reason: Reason, message: str, local: ObjectRef | None, now: str
) -> dict[str, Any]:
    condition: dict[str, Any] = {
        "type": CONDITION_TYPE,
        "status": "True" if ok else "False",
        "lastTransitionTime": now,
        "reason": reason.value,
        "message": message,
    }
    if local is not None:
        condition["localRef"] = _ref(local.namespace, local.name)
    return condition


def _skipped(skip: Skip) -> tuple[bool, Reason, str, None]:
    return False, REASONS[skip.code], str(skip), None


def _keep_transitions(entries: list[dict[str, Any]], previous: Any) -> list[dict[str, Any]]:
    """Carry each entry's previous ``lastTransitionTime`` over when its status and
    reason are unchanged (the transition is when either changed)."""
    before: dict[tuple[str, str], Mapping[str, Any]] = {}
    for entry in previous if isinstance(previous, list) else ():
        if not isinstance(entry, Mapping):
            continue
        ref = entry.get("remoteRef")
        conditions = entry.get("conditions")
        if isinstance(ref, Mapping) and isinstance(conditions, list) and conditions:
            first = conditions[0]
            if isinstance(first, Mapping):
                before[(str(ref.get("namespace")), str(ref.get("name")))] = first
    for entry in entries:
        ref = entry["remoteRef"]
        old = before.get((ref["namespace"], ref["name"]))
        condition = entry["conditions"][0]
        if (
            old is not None
            and old.get("status") == condition["status"]
            and old.get("reason") == condition["reason"]
            and isinstance(old.get("lastTransitionTime"), str)
        ):
            condition["lastTransitionTime"] = old["lastTransitionTime"]
    return entries


def _entries(
    outcomes: Mapping[tuple[str, str], tuple[bool, Reason, str, ObjectRef | None]],
    now: str,
    previous: Any,
) -> list[dict[str, Any]]:
    entries = [
        {
            "conditions": [_condition(ok, reason, message, local, now)],
            "controllerName": CONTROLLER_NAME,
            "remoteRef": _ref(namespace, name),
        }
        for (namespace, name), (ok, reason, message, local) in sorted(outcomes.items())
    ]
    return _keep_transitions(entries, previous)


def link_status(
    planned: Plan,
    source: ClusterState,
    remotes: Mapping[str, ClusterState],
    link: Link,
    *,
    now: str,
    previous: Mapping[str, Any] | None = None,
    errors: Mapping[ObjectRef, str] | None = None,
    scheme: Scheme = LINKERD,
    options: PlanOptions | None = None,
) -> dict[str, Any] | None:
    """The ``status`` of ``link`` for ``planned`` (the plan of ``source`` and
    ``remotes``, with the same ``scheme`` and ``options``).

    ``now`` is the time a changed condition is stamped with (see :func:`rfc3339`);
    ``previous`` the Link's current status, whose transition times are kept where a
    condition's status and reason did not change. ``errors`` maps a local object to why
    writing it failed: its mirror is ``False``/``Error``. None when the Link's target is
    not in ``remotes`` (its state is unknown, so its status is left as it is). For many
    Links of one plan, build one :class:`StatusIndex`.
    """
    index = StatusIndex(planned, source, remotes, scheme=scheme, options=options)
    return index.status(link, now=now, previous=previous, errors=errors)


_Outcome = tuple[bool, Reason, str, ObjectRef | None]
_Key = tuple[str, str, str]  # (cluster or Link, namespace, name)


class StatusIndex:
    """What the status of every Link of one plan needs, computed once: one pass of the
    federation (which skips are federated ones, which members a skipped federated Service
    had), and the plan's mirrors, skips and conflicts by key. Read-only once built."""

    def __init__(
        self,
        planned: Plan,
        source: ClusterState,
        remotes: Mapping[str, ClusterState],
        *,
        scheme: Scheme = LINKERD,
        options: PlanOptions | None = None,
    ) -> None:
        options = options or PlanOptions()
        self._remotes = remotes
        linked = [
            (lnk, remotes[lnk.target_cluster_name])
            for lnk in source.sorted_links()
            if lnk.target_cluster_name in remotes
        ]
        all_feds, fed_skips, _ = federate(
            source,
            linked,
            scheme=scheme,
            local_selector=parse_local_selector(options.local_federated_selector, scheme),
            local_excluded_labels=options.local_excluded_labels,
            local_excluded_annotations=options.local_excluded_annotations,
        )
        federated_skips = set(fed_skips)
        self._mirror_skips: dict[_Key, Skip] = {}
        self._skips: dict[_Key, Skip] = {}
        for skip in planned.skipped:
            if skip.ref.kind != "Service":
                continue
            key = (skip.cluster, skip.ref.namespace, skip.ref.name)
            if skip not in federated_skips:
                self._mirror_skips.setdefault(key, skip)
            self._skips.setdefault(key, skip)
        self._fed_skips: dict[_Key, Skip] = {}
        self._name_skips: dict[tuple[str, str], Skip] = {}
        for skip in sorted(federated_skips):
            self._fed_skips.setdefault((skip.cluster, skip.ref.namespace, skip.ref.name), skip)
            if skip.code in _NAME_CODES:
                self._name_skips.setdefault((skip.ref.namespace, skip.ref.name), skip)
        self._mirrors = {(str(m.link), m.namespace, m.remote_name): m for m in planned.mirrors}
        self._members: dict[_Key, Federation] = {}
        for fed, _svc in all_feds:
            for member in fed.members:
                if member.link is not None:
                    ref = member.link.ref
                    self._members[(str(ref), member.service.namespace, member.service.name)] = fed
        self._kept = {f.service for f in planned.federated}
        self._conflicts: dict[str, list[Conflict]] = {}
        for conflict in planned.conflicts:
            for entry in conflict.members:
                self._conflicts.setdefault(entry, []).append(conflict)

    def status(
        self,
        link: Link,
        *,
        now: str,
        previous: Mapping[str, Any] | None = None,
        errors: Mapping[ObjectRef, str] | None = None,
    ) -> dict[str, Any] | None:
        """:func:`link_status` of ``link``."""
        remote = self._remotes.get(link.target_cluster_name)
        if remote is None:
            return None
        previous = previous or {}
        errors = errors or {}
        mirrors: dict[tuple[str, str], _Outcome] = {}
        federated: dict[tuple[str, str], _Outcome] = {}
        # Linkerd's rule (absent or empty selects nothing), resolved once per Link.
        discovers = linkerd_selector(link.remote_discovery_selector).matches
        exports = linkerd_selector(link.selector).matches
        federates = linkerd_selector(link.federated_service_selector).matches
        for key, svc in remote.services.items():
            labels = svc.labels
            if discovers(labels) or exports(labels):
                outcome = self._mirror_outcome(link, key, errors)
                if outcome is not None:
                    mirrors[key] = outcome
            if federates(labels):
                outcome = self._federated_outcome(link, key, svc, errors)
                if outcome is not None:
                    federated[key] = outcome
        status: dict[str, Any] = {}
        mirror_entries = _entries(mirrors, now, previous.get("mirrorServices"))
        federated_entries = _entries(federated, now, previous.get("federatedServices"))
        if mirror_entries:
            status["mirrorServices"] = mirror_entries
        if federated_entries:
            status["federatedServices"] = federated_entries
        return status

    def _mirror_outcome(
        self, link: Link, key: tuple[str, str], errors: Mapping[ObjectRef, str]
    ) -> _Outcome | None:
        mirror = self._mirrors.get((str(link.ref), *key))
        if mirror is not None:
            failed = [errors[r] for r in mirror.refs if r in errors] if errors else ()
            if failed:
                return False, Reason.ERROR, failed[0], None
            return True, Reason.MIRRORED, "", mirror.service
        skip = self._mirror_skips.get((link.target_cluster_name, *key))
        return None if skip is None else _skipped(skip)

    def _federated_outcome(
        self, link: Link, key: tuple[str, str], svc: Service, errors: Mapping[ObjectRef, str]
    ) -> _Outcome | None:
        target = link.target_cluster_name
        own = self._fed_skips.get((target, *key))
        if own is not None and own.code not in _NAME_CODES:
            return _skipped(own)  # this member stays out (headless, no ports, a mirror)
        fed = self._members.get((str(link.ref), *key))
        if fed is None:
            named = self._name_skips.get(key)
            return _skipped(named) if named is not None else None
        if fed.service in self._kept:
            if fed.service in errors:
                return False, Reason.ERROR, errors[fed.service], None
            entry = f"{svc.name}@{target}"
            mine = [c for c in self._conflicts.get(entry, ()) if c.ref == fed.service]
            return True, Reason.MIRRORED, "; ".join(str(c) for c in mine), fed.service
        winner = fed.winner
        skip = self._skips.get((winner.cluster, winner.service.namespace, winner.service.name))
        return None if skip is None else _skipped(skip)


def _stored_ref(value: Any) -> Any:
    # What the API server stores: the CRD's defaults filled in.
    if not isinstance(value, Mapping):
        return value
    return {"group": CORE_GROUP, "kind": "Service", **value}


def _stored_entry(entry: Any) -> Any:
    if not isinstance(entry, Mapping):
        return entry
    out = {k: v for k, v in entry.items() if v is not None}
    if "remoteRef" in out:
        out["remoteRef"] = _stored_ref(out["remoteRef"])
    conditions = out.get("conditions")
    if isinstance(conditions, list):
        out["conditions"] = [
            {
                k: (_stored_ref(v) if k == "localRef" else v)
                for k, v in c.items()
                if v is not None  # Go writes an unset lastProbeTime as null
            }
            if isinstance(c, Mapping)
            else c
            for c in conditions
        ]
    return out


def same_status(a: Any, b: Any) -> bool:
    """Whether two Link statuses say the same: absent lists and ``{}`` are equal, and so
    are refs with and without the CRD's defaults (``group: core``, ``kind: Service``).

    >>> ref = {"name": "web", "namespace": "shop"}
    >>> same_status({"mirrorServices": [{"remoteRef": ref}]},
    ...             {"mirrorServices": [{"remoteRef": {**ref, "group": "core"}}]})
    True
    """

    def norm(value: Any) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            return {}
        out: dict[str, Any] = {}
        for key, entries in value.items():
            if entries in (None, [], {}):
                continue
            out[key] = [_stored_entry(e) for e in entries] if isinstance(entries, list) else entries
        return out

    return norm(a) == norm(b)
