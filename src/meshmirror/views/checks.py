"""Will it work? Each requirement of each mode, checked from the plan, the dumps and the
topology, before anything is deployed. Pure.

Check ids and their meaning are stable (docs/design.md, sections 4.3 and 4.4):

=====================  ==============================================================
``link-target-known``  every Link: warn (never fail) when its target was not given
``link-credentials``   every Link: ok when it names its credentials Secret
``gateway-address``    Links with gateway-mode mirrors: the gateway has an address
``gateway-identity``   Links with gateway-mode mirrors: ``gatewayIdentity`` is set
``gateway-reachable``  Links with gateway-mode mirrors: the source's pods reach it
``flat-network``       remote-discovery mirrors and remote federated members: a shared
                       ``podNetwork``
``trust-root``         every Link: ok when both roots are known and equal, fail when
                       known and different, warn when either is unknown
``clients-meshed``     every source namespace holding planned mirrors or federated
                       Services is annotated ``linkerd.io/inject: enabled``
``mirror-name``        every planned mirror and federated Service has a usable name;
                       a fail for each export that cannot get one
``federated-conflict`` each conflict between federated members (absent otherwise)
``nothing-checked``    a fail when no Link of the source targets a cluster given, so
                       that a check of nothing never passes
``link-valid``         every Link: gateway port, probe spec, selectors usable
``link-credentials-secret``  every Link, when the source dump holds Secrets: its
                       credentials Secret is there and its kubeconfig parses
``mirror-endpoints``   every planned gateway mirror has a ready address
``orphaned-mirror``    owned mirrors in the source whose ``cluster-name`` no Link targets
=====================  ==============================================================

A requirement is only checked where its mode needs it: a gatewayless Link is never
failed for its gateway (Linkerd's own check does: linkerd2 #11428).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Literal, TypeAlias, overload

import attrs

from meshmirror.decisions.federated import Federation
from meshmirror.decisions.liveness import ProbeSpecError, probe_config
from meshmirror.decisions.mirror import Mirror
from meshmirror.decisions.plan import Plan
from meshmirror.values.codes import Conflict, ConflictCode, Skip, SkipCode
from meshmirror.values.display import html_table
from meshmirror.values.model import ClusterState, Endpoints, Link, ObjectRef, ProbeSpec
from meshmirror.values.scheme import LINKERD, Scheme
from meshmirror.views.topology import Topology, is_meshed

__all__ = [
    "CHECK_IDS",
    "GROUPS",
    "CheckReport",
    "CheckResult",
    "CredentialsSecret",
    "Status",
    "check",
    "gateway_endpoints",
]

Status: TypeAlias = Literal["ok", "warn", "fail"]

#: Every check id, in the order results of one subject are listed.
CHECK_IDS: tuple[str, ...] = (
    "link-target-known",
    "link-credentials",
    "trust-root",
    "gateway-address",
    "gateway-identity",
    "gateway-reachable",
    "flat-network",
    "mirror-name",
    "clients-meshed",
    "federated-conflict",
    "nothing-checked",
    # Parity with `linkerd multicluster check` (see _parity_checks).
    "link-valid",
    "link-credentials-secret",
    "mirror-endpoints",
    "orphaned-mirror",
)

#: How ``meshmirror check`` groups its results (like ``linkerd multicluster check``).
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("links", ("nothing-checked", "link-target-known", "link-credentials")),
    ("trust roots", ("trust-root",)),
    ("gateways", ("gateway-address", "gateway-identity", "gateway-reachable")),
    ("pod networks", ("flat-network",)),
    ("names", ("mirror-name",)),
    ("meshed clients", ("clients-meshed",)),
    ("federated services", ("federated-conflict",)),
    ("link resources", ("link-valid", "link-credentials-secret")),
    ("mirror services", ("mirror-endpoints", "orphaned-mirror")),
)

_GROUP_OF = MappingProxyType({cid: i for i, (_, ids) in enumerate(GROUPS) for cid in ids})
_ID_ORDER = MappingProxyType({cid: i for i, cid in enumerate(CHECK_IDS)})
SYMBOLS: Mapping[str, str] = MappingProxyType({"ok": "✔", "warn": "‼", "fail": "×"})

_GATEWAY_MODES = ("gateway", "headless")
# The status column's colour, by the row's class (html_table classes).
_STATUS_STYLE = (
    "<style>tr.meshmirror-ok>td:first-child{color:#2e7d32}"
    "tr.meshmirror-warn>td:first-child{color:#b26a00}"
    "tr.meshmirror-fail>td:first-child{color:#c62828}</style>"
)
_GATEWAY_SKIPS = (SkipCode.NO_GATEWAY, SkipCode.GATEWAY_UNRESOLVED)
_NAME_SKIPS = (
    SkipCode.NAME_TOO_LONG,
    SkipCode.INVALID_NAME,
    SkipCode.NOT_OWNED,
    SkipCode.NAME_COLLISION,
)


@attrs.frozen
class CheckResult:
    """One check of one subject.

    ``subject`` names what was checked (a Link, a Service with its name, a Namespace);
    ``message`` says what was found and, for ``warn`` and ``fail``, what to fix.
    ``cluster`` and ``ref`` point at the object (for pictures); they are not part of the
    JSON output.
    """

    id: str
    subject: str
    status: Status
    message: str
    cluster: str = ""
    ref: ObjectRef | None = None

    @property
    def symbol(self) -> str:
        """``✔``, ``‼`` or ``×``."""
        return SYMBOLS[self.status]

    def to_dict(self) -> dict[str, str]:
        """``{"id", "subject", "status", "message"}``: the JSON shape."""
        return {
            "id": self.id,
            "subject": self.subject,
            "status": self.status,
            "message": self.message,
        }

    def __str__(self) -> str:
        return f"{self.symbol} [{self.id}] {self.subject}: {self.message}"


def _sort_key(r: CheckResult) -> tuple[int, str, int, str, str, str]:
    return (
        _GROUP_OF.get(r.id, len(GROUPS)),
        r.subject,
        _ID_ORDER.get(r.id, len(CHECK_IDS)),
        r.message,
        r.cluster,
        str(r.ref),
    )


@attrs.frozen
class CheckReport(Sequence[CheckResult]):
    """The results of :func:`check`, grouped and sorted; ``notes`` state the topology
    defaults that were assumed."""

    source: str
    results: tuple[CheckResult, ...]
    notes: tuple[str, ...] = ()

    @overload
    def __getitem__(self, index: int) -> CheckResult: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[CheckResult]: ...

    def __getitem__(self, index: int | slice) -> CheckResult | Sequence[CheckResult]:
        return self.results[index]

    def __len__(self) -> int:
        return len(self.results)

    def __iter__(self) -> Iterator[CheckResult]:
        return iter(self.results)

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        """The failing results (truthy when any check failed)."""
        return tuple(r for r in self.results if r.status == "fail")

    @property
    def warnings(self) -> tuple[CheckResult, ...]:
        return tuple(r for r in self.results if r.status == "warn")

    @property
    def ok(self) -> bool:
        """No check failed (warnings allowed)."""
        return not self.failed

    def by_id(self, check_id: str) -> tuple[CheckResult, ...]:
        """The results of one check id."""
        return tuple(r for r in self.results if r.id == check_id)

    def to_dict(self) -> dict[str, Any]:
        """``{"checks": [...]}``: the ``meshmirror check -o json`` document."""
        return {"checks": [r.to_dict() for r in self.results]}

    def groups(self) -> list[tuple[str, tuple[CheckResult, ...]]]:
        """Non-empty groups in display order, each with its results."""
        out = []
        for name, ids in GROUPS:
            members = tuple(r for r in self.results if r.id in ids)
            if members:
                out.append((name, members))
        return out

    def headline(self) -> str:
        """``3 ok, 1 warning, 2 failures`` (every result type's one line is ``headline()``)."""
        n_ok = sum(1 for r in self.results if r.status == "ok")
        n_warn, n_fail = len(self.warnings), len(self.failed)
        return (
            f"{n_ok} ok, {n_warn} warning{'' if n_warn == 1 else 's'}, "
            f"{n_fail} failure{'' if n_fail == 1 else 's'}"
        )

    # Its first name, kept for existing callers.
    summary = headline

    def text(self) -> str:
        """The report as ``meshmirror check`` prints it."""
        lines: list[str] = []
        for name, results in self.groups():
            lines += [name, "-" * len(name)]
            lines += [str(r) for r in results]
            lines.append("")
        status = "×" if self.failed else ("‼" if self.warnings else "✔")
        lines.append(f"Status check results are {status} ({self.summary()})")
        return "\n".join(lines) + "\n"

    def __repr__(self) -> str:
        # One line (a notebook shows the tables of _repr_html_, text() has every result).
        if not self.results:
            return f"<CheckReport for {self.source}: no checks apply>"
        failing = sorted({r.id for r in self.failed})
        which = f" (× {', '.join(failing)})" if failing else ""
        return f"<CheckReport for {self.source}: {self.summary()}{which}>"

    def _repr_html_(self) -> str:
        rows = [["status", "check", "subject", "message"]]
        rows += [[f"{r.symbol} {r.status}", r.id, r.subject, r.message] for r in self.results]
        table = html_table(rows, classes=[f"meshmirror-{r.status}" for r in self.results])
        notes = "".join(f"<p><em>{html.escape(n)}</em></p>" for n in self.notes)
        return (
            f"{_STATUS_STYLE}<p><strong>meshmirror check</strong> for "
            f"{html.escape(self.source)}: {html.escape(self.summary())}</p>{notes}{table}"
        )


# -- the checks --------------------------------------------------------------------------


@attrs.frozen
class _Context:
    plan: Plan
    source: ClusterState
    remotes: Mapping[str, ClusterState]
    topology: Topology
    scheme: Scheme
    # Indexes of the plan, so each check is a lookup, not a scan.
    gateway_mirrors: Mapping[ObjectRef, Sequence[Mirror]]
    gateway_skips: Mapping[str, Sequence[Skip]]
    federations: Mapping[ObjectRef, Federation]

    @property
    def name(self) -> str:
        return self.source.name

    @classmethod
    def build(
        cls,
        plan: Plan,
        source: ClusterState,
        remotes: Mapping[str, ClusterState],
        topology: Topology,
        scheme: Scheme,
    ) -> _Context:
        mirrors: dict[ObjectRef, list[Mirror]] = {}
        for m in plan.mirrors:
            if m.mode in _GATEWAY_MODES:
                mirrors.setdefault(m.link, []).append(m)
        skips: dict[str, list[Skip]] = {}
        for skip in plan.skipped:
            if skip.code in _GATEWAY_SKIPS:
                skips.setdefault(skip.cluster, []).append(skip)
        federations = {f.service: f for f in plan.federated}
        return cls(plan, source, remotes, topology, scheme, mirrors, skips, federations)


_Result: TypeAlias = Callable[[str, Status, str], CheckResult]


def _link_subject(link: Link) -> str:
    return f"Link {link.namespace}/{link.name}"


def _link_checks(ctx: _Context, link: Link) -> list[CheckResult]:
    src, target = ctx.name, link.target_cluster_name
    subject = _link_subject(link)

    def result(cid: str, status: Status, message: str) -> CheckResult:
        return CheckResult(cid, subject, status, message, src, link.ref)

    out = []
    if target in ctx.remotes:
        out.append(
            result(
                "link-target-known",
                "ok",
                f"targets cluster {target}, whose dump was given",
            )
        )
    elif target == src:
        out.append(
            result(
                "link-target-known",
                "warn",
                f"targets cluster {target!r}, the source cluster itself, so nothing is "
                "checked or planned for it; fix spec.targetClusterName",
            )
        )
    else:
        out.append(
            result(
                "link-target-known",
                "warn",
                f"targets cluster {target!r}, whose dump was not given, so nothing is "
                f"checked or planned for it; add {target}=PATH to the command line",
            )
        )
    if link.cluster_credentials_secret:
        out.append(
            result(
                "link-credentials",
                "ok",
                f"names its credentials Secret {link.cluster_credentials_secret}",
            )
        )
    else:
        out.append(
            result(
                "link-credentials",
                "fail",
                f"names no credentials Secret, so the service mirror cannot read cluster "
                f"{target}; set spec.clusterCredentialsSecret (`linkerd multicluster link` "
                f"writes {ctx.scheme.credentials_secret_prefix}{target})",
            )
        )
    out.append(_trust_root(ctx, link, result))
    out.extend(_gateway_checks(ctx, link, result))
    return out


def _trust_root(ctx: _Context, link: Link, result: _Result) -> CheckResult:
    src, target = ctx.name, link.target_cluster_name
    topo = ctx.topology
    verdict = topo.compare_trust_roots(src, target)
    root_src, root_target = topo.describe_trust_root(src), topo.describe_trust_root(target)
    if verdict == "same":
        status: Status = "ok"
        message = f"{src} and {target} share trust root {topo.trust_root(src)}"
    elif verdict == "different":
        status = "fail"
        message = (
            f"{src} uses trust root {root_src} and {target} uses {root_target}: proxies "
            "cannot verify each other over mTLS, in every mode; install both control planes "
            "with the same trust anchor (or a bundle holding both)"
        )
    else:
        status = "warn"
        unknown = [c for c in (src, target) if topo.trust_root(c) is None]
        if unknown:
            message = (
                f"trust root of {' and '.join(unknown)} unknown, so a mismatch (which breaks "
                f"mTLS in every mode) cannot be ruled out; give trustRoot for "
                f"{' and '.join(unknown)} in the topology file, or include the "
                f"{ctx.scheme.trust_roots_config_map} ConfigMap in the dump"
            )
        else:
            message = (
                f"{src} has trust root {root_src} and {target} {root_target}: a name cannot "
                "be compared with a certificate fingerprint; give both as names or both "
                "from the ConfigMap"
            )
    return result("trust-root", status, message)


def _gateway_checks(ctx: _Context, link: Link, result: _Result) -> list[CheckResult]:
    src, target = ctx.name, link.target_cluster_name
    mirrors = ctx.gateway_mirrors.get(link.ref, ())
    skips = ctx.gateway_skips.get(target, ()) if target in ctx.remotes else ()
    if not mirrors and not skips:
        return []  # no gateway-mode export on this Link: its gateway is not needed
    out: list[CheckResult] = []
    if skips:
        names = ", ".join(sorted({f"{s.ref.namespace}/{s.ref.name}" for s in skips}))
        if any(s.code is SkipCode.NO_GATEWAY for s in skips):
            problem = (
                f"has no usable gateway (gatewayAddress {link.gateway_address!r}, "
                f"gatewayPort {link.gateway_port!r})"
            )
            fix = (
                "set spec.gatewayAddress and spec.gatewayPort to the target's gateway, or "
                "export those Services in remote-discovery mode"
            )
        else:
            # The skip ends with the gateway's problem, which names every entry and why.
            reasons = skips[0].message.partition(" gives no usable address: ")[2]
            problem = f"has gatewayAddress {link.gateway_address!r}, which gives no usable address"
            if reasons:
                problem += f" ({reasons})"
            fix = "check the name in DNS or give the gateway's IP (and do not pass --no-resolve)"
        out.append(
            result(
                "gateway-address",
                "fail",
                f"{problem}, so the gateway-mode exports {names} of {target} are not "
                f"mirrored; {fix}",
            )
        )
    elif dropped := [
        s.message
        for s in ctx.plan.skipped
        if s.code is SkipCode.GATEWAY_ADDRESS_DROPPED and s.ref == link.ref
    ]:
        out.append(
            result(
                "gateway-address",
                "fail",
                f"has gatewayAddress {link.gateway_address!r} with unusable entries: "
                + "; ".join(dropped)
                + "; fix spec.gatewayAddress so that every entry is a usable address",
            )
        )
    else:
        addresses = sorted(
            {
                a.ip
                for m in mirrors
                for eps in ctx.plan.gateway_endpoints(m)
                for subset in eps.subsets
                for a in (*subset.addresses, *subset.not_ready_addresses)
            }
        )
        shown = ", ".join(addresses or link.gateway_addresses)
        out.append(
            result(
                "gateway-address",
                "ok",
                f"gateway {shown} port {link.gateway_port} carries {len(mirrors)} "
                f"gateway-mode mirror{'' if len(mirrors) == 1 else 's'}",
            )
        )
    if link.gateway_identity:
        out.append(result("gateway-identity", "ok", f"gateway identity {link.gateway_identity}"))
    else:
        out.append(
            result(
                "gateway-identity",
                "fail",
                f"has no spec.gatewayIdentity, so clients in {src} cannot verify {target}'s "
                "gateway over mTLS; set it to the gateway's identity (the "
                f"{ctx.scheme.gateway_identity_annotation} annotation on {target}'s gateway "
                "Service)",
            )
        )
    allowed = ctx.topology.cluster(target).gateway_reachable_from
    if allowed is None:
        out.append(
            result(
                "gateway-reachable",
                "ok",
                f"pods of {src} reach {target}'s gateway (default: every cluster does)",
            )
        )
    elif src in allowed:
        out.append(
            result(
                "gateway-reachable",
                "ok",
                f"pods of {src} reach {target}'s gateway (gatewayReachableFrom: "
                f"{', '.join(sorted(allowed))})",
            )
        )
    else:
        out.append(
            result(
                "gateway-reachable",
                "fail",
                f"the topology says only {', '.join(sorted(allowed)) or 'no cluster'} reach "
                f"{target}'s gateway, not {src}; open the path from {src}'s pods to the "
                f"gateway and add {src} to clusters.{target}.gatewayReachableFrom",
            )
        )
    return out


def gateway_endpoints(plan: Plan, mirror: Mirror) -> list[Endpoints]:
    """:meth:`Plan.gateway_endpoints`: the planned Endpoints listing the gateway."""
    return plan.gateway_endpoints(mirror)


def _flat(
    ctx: _Context, remote: str, subject: str, ref: ObjectRef, what: str, fix: str
) -> CheckResult:
    topo, src = ctx.topology, ctx.name
    if topo.same_pod_network(src, remote):
        return CheckResult(
            "flat-network",
            subject,
            "ok",
            f"{src} and {remote} share pod network {topo.pod_network(src)}",
            src,
            ref,
        )
    return CheckResult(
        "flat-network",
        subject,
        "fail",
        f"{src} ({topo.describe_pod_network(src)}) and {remote} "
        f"({topo.describe_pod_network(remote)}) are not one flat network, but {what} sends "
        f"traffic straight to {remote}'s pod IPs; connect the pod networks and give both the "
        f"same podNetwork in the topology file, or {fix}",
        src,
        ref,
    )


def _mirror_checks(ctx: _Context, mirror: Mirror) -> list[CheckResult]:
    subject = f"Service {mirror.service.namespace}/{mirror.service.name}"
    out = [
        CheckResult(
            "mirror-name",
            subject,
            "ok",
            f"{mirror.mode} mirror of {mirror.remote.namespace}/{mirror.remote.name} in "
            f"{mirror.target}",
            ctx.name,
            mirror.service,
        )
    ]
    if mirror.mode == "remote-discovery":
        out.append(
            _flat(
                ctx,
                mirror.target,
                subject,
                mirror.service,
                "remote discovery",
                f"export {mirror.remote.name} in gateway mode "
                f"({ctx.scheme.export_label}={ctx.scheme.export_gateway_value})",
            )
        )
    return out


def _federated_checks(ctx: _Context, federation: Federation) -> list[CheckResult]:
    ref = federation.service
    subject = f"Service {ref.namespace}/{ref.name}"
    entries = ", ".join(m.entry for m in federation.members)
    out = [
        CheckResult(
            "mirror-name",
            subject,
            "ok",
            f"federated Service of {entries}",
            ctx.name,
            ref,
        )
    ]
    for member in federation.remote_members:
        out.append(
            _flat(
                ctx,
                member.cluster,
                f"{subject} member {member.entry}",
                ref,
                "a federated Service",
                f"take {member.service.name} in {member.cluster} out of the federation "
                f"(remove its {ctx.scheme.federated_label} label)",
            )
        )
    return out


def _name_skip_check(ctx: _Context, skip: Skip) -> CheckResult:
    where = skip.cluster or ctx.name
    return CheckResult(
        "mirror-name",
        f"Service {skip.ref.namespace}/{skip.ref.name}@{where}",
        "fail",
        f"{skip.code.value}: {skip.message}",
        where,
        skip.ref,
    )


def _conflict_status(ctx: _Context, conflict: Conflict) -> Status:
    if conflict.code is not ConflictCode.PORT_CONFLICT:
        return "warn"  # type, affinity, headless: the winner's are used, traffic still flows
    federation = ctx.federations.get(conflict.ref)
    if federation is None:
        return "fail"
    needed = {(p.protocol, p.port) for p in federation.winner.service.ports}
    for member in federation.members:
        if member.entry in conflict.members:
            served = {(p.protocol, p.port) for p in member.service.ports}
            if not needed <= served:
                return "fail"  # the destination sends the dialled port to every member
    return "warn"  # only extra ports or other names: every port of the union is served


def _conflict_check(ctx: _Context, conflict: Conflict) -> CheckResult:
    return CheckResult(
        "federated-conflict",
        f"Service {conflict.ref.namespace}/{conflict.ref.name}",
        _conflict_status(ctx, conflict),
        f"{conflict.code.value}: {conflict.message}",
        ctx.name,
        conflict.ref,
    )


def _meshed_checks(ctx: _Context) -> list[CheckResult]:
    namespaces = {m.service.namespace for m in ctx.plan.mirrors} | {
        f.service.namespace for f in ctx.plan.federated
    }
    s = ctx.scheme
    out = []
    for ns in sorted(namespaces):
        subject = f"Namespace {ns}"
        ref = ObjectRef("Namespace", "", ns)
        if is_meshed(ctx.source, ns, s):
            out.append(
                CheckResult(
                    "clients-meshed",
                    subject,
                    "ok",
                    f"annotated {s.inject_annotation}: {s.inject_enabled_value}, so its "
                    "clients are meshed",
                    ctx.name,
                    ref,
                )
            )
            continue
        present = ctx.source.namespaces.get(ns)
        found = (
            f"does not exist in {ctx.name} yet"
            if present is None
            else f"is not annotated {s.inject_annotation}: {s.inject_enabled_value}"
        )
        out.append(
            CheckResult(
                "clients-meshed",
                subject,
                "fail",
                f"holds mirrors or federated Services but {found}; unmeshed clients cannot "
                "use them (gateways admit only meshed mTLS, remote-discovery and federated "
                f"Services have no Endpoints). Annotate it ({s.inject_annotation}="
                f"{s.inject_enabled_value}) and restart its workloads",
                ctx.name,
                ref,
            )
        )
    return out


def _nothing_checked(
    source: ClusterState, remotes: Mapping[str, ClusterState]
) -> CheckResult | None:
    """A fail when no Link can be checked: an empty report must not read as a pass."""
    targets = sorted({link.target_cluster_name for link in source.links.values()})
    if any(t in remotes and t != source.name for t in targets):
        return None
    if not targets:
        message = (
            f"the dump of {source.name} holds no Link (multicluster.linkerd.io), so there "
            "is nothing to check; include links.multicluster.linkerd.io in the kubectl get "
            "that made the dump, or pass the right --source"
        )
    else:
        message = (
            f"no Link of {source.name} targets a cluster whose dump was given (they target "
            f"{', '.join(targets)}), so no Link, mirror or remote member was checked; add "
            f"{targets[0]}=PATH to the command line"
        )
    return CheckResult("nothing-checked", f"cluster {source.name}", "fail", message, source.name)


def check(
    plan: Plan,
    source: ClusterState,
    remotes: Mapping[str, ClusterState],
    topology: Topology | None = None,
    *,
    scheme: Scheme = LINKERD,
    secrets: Mapping[tuple[str, str], CredentialsSecret] | None = None,
) -> CheckReport:
    """Every requirement of every Link, planned mirror and federated Service.

    ``topology`` None means every default; trust roots it does not give are read from
    the dumps' ``linkerd-identity-trust-roots`` ConfigMaps. ``secrets`` are the source's
    Secrets by (namespace, name), as :class:`CredentialsSecret` summaries (None: the dump
    holds none, and ``link-credentials-secret`` is not checked). The order is
    deterministic: by group, then subject, then check id.
    """
    topo = (topology or Topology()).with_dumps([source, *remotes.values()], scheme)
    ctx = _Context.build(plan, source, remotes, topo, scheme)
    results: list[CheckResult] = []
    for link in source.sorted_links():
        results.extend(_link_checks(ctx, link))
    for mirror in plan.mirrors:
        results.extend(_mirror_checks(ctx, mirror))
    for federation in plan.federated:
        results.extend(_federated_checks(ctx, federation))
    results.extend(_name_skip_check(ctx, s) for s in plan.skipped if s.code in _NAME_SKIPS)
    results.extend(_conflict_check(ctx, c) for c in plan.conflicts)
    results.extend(_meshed_checks(ctx))
    nothing = _nothing_checked(source, remotes)
    if nothing is not None:
        results.append(nothing)
    results.extend(_parity_checks(ctx, secrets))
    clusters = {source.name, *remotes}
    clusters |= {link.target_cluster_name for link in source.links.values()}
    return CheckReport(
        source=source.name,
        results=tuple(sorted(set(results), key=_sort_key)),
        notes=topo.defaults_used(clusters, scheme),
    )


# -- parity with `linkerd multicluster check` ------------------------------------------


@attrs.frozen
class CredentialsSecret:
    """What ``check`` needs to know of a Secret: never its data, only which keys it has
    and whether its kubeconfig parses (``problem`` says why not; ``mechanism`` names an
    ``exec``/``auth-provider``/file credential meshmirror refuses by default)."""

    namespace: str
    name: str
    type: str = ""
    keys: tuple[str, ...] = ()
    problem: str | None = None
    server: str = ""
    mechanism: str | None = None


def _parity_checks(
    ctx: _Context, secrets: Mapping[tuple[str, str], CredentialsSecret] | None
) -> list[CheckResult]:
    out: list[CheckResult] = []
    for link in ctx.source.sorted_links():
        out.append(_link_valid(ctx, link))
        if secrets is not None:
            out.append(_link_secret(ctx, link, secrets))
    for mirror in ctx.plan.mirrors:
        if mirror.mode == "gateway":
            out.append(_mirror_endpoints(ctx, mirror))
    out.extend(_orphans(ctx))
    return out


def _link_valid(ctx: _Context, link: Link) -> CheckResult:
    subject = _link_subject(link)
    problems: list[str] = []
    warnings: list[str] = []
    found: list[str] = []
    if link.gateway_address:
        port = link.gateway_port
        if port.isascii() and port.isdigit() and 1 <= int(port) <= 65535:
            found.append(f"gateway port {port}")
        else:
            problems.append(
                f"spec.gatewayPort {port!r} is not a port number (set it to the gateway's "
                f"{ctx.scheme.gateway_port_name} port)"
            )
        try:
            probe = probe_config(link)
        except ProbeSpecError as err:
            if link.probe_spec == ProbeSpec():
                found.append("no probeSpec (the gateway is not probed and counts as alive)")
            else:
                warnings.append(
                    f"{err}, so the gateway is never probed and always counts as alive "
                    "(set probeSpec as `linkerd multicluster link-gen` writes it)"
                )
        else:
            found.append(
                f"probe GET {probe.path} on port {probe.port} every {link.probe_spec.period} "
                f"(dead after {probe.failure_threshold} failures)"
            )
    selects = [
        name
        for name, selector in (
            ("selector", link.selector),
            ("remoteDiscoverySelector", link.remote_discovery_selector),
            ("federatedServiceSelector", link.federated_service_selector),
        )
        if selector is not None and not selector.is_everything() and not selector.is_nothing()
    ]
    if selects:
        found.append(f"selects with {', '.join(selects)}")
    else:
        warnings.append(
            "none of selector, remoteDiscoverySelector and federatedServiceSelector selects "
            "anything (an absent or empty selector selects nothing), so the Link mirrors "
            "nothing; set one"
        )
    status: Status = "fail" if problems else ("warn" if warnings else "ok")
    message = "; ".join([*problems, *warnings]) if status != "ok" else ", ".join(found)
    return CheckResult("link-valid", subject, status, message, ctx.name, link.ref)


def _link_secret(
    ctx: _Context, link: Link, known: Mapping[tuple[str, str], CredentialsSecret]
) -> CheckResult:
    subject = _link_subject(link)
    s = ctx.scheme
    name = link.cluster_credentials_secret
    where = f"Secret {link.namespace}/{name}"

    def result(status: Status, message: str) -> CheckResult:
        return CheckResult(
            "link-credentials-secret",
            subject,
            status,
            message,
            ctx.name,
            ObjectRef("Secret", link.namespace, name) if name else link.ref,
        )

    if not name:
        return result("fail", "names no credentials Secret (see link-credentials)")
    secret = known.get((link.namespace, name))
    if secret is None:
        return result(
            "fail",
            f"{where} is not in the source dump, so the mirror cannot read cluster "
            f"{link.target_cluster_name}; apply what `meshmirror link` (or link-gen) prints",
        )
    if s.credentials_kubeconfig_key not in secret.keys:
        return result(
            "fail",
            f"{where} has no {s.credentials_kubeconfig_key!r} key (it has "
            f"{', '.join(secret.keys) or 'none'}); recreate it with `meshmirror link`",
        )
    if secret.problem is not None:
        return result("fail", f"{where}: its kubeconfig {secret.problem}")
    notes = []
    if secret.type != s.credentials_secret_type:
        notes.append(f"its type is {secret.type!r}, not {s.credentials_secret_type}")
    if secret.mechanism is not None:
        notes.append(
            f"it authenticates with {secret.mechanism}, which meshmirror refuses unless "
            "allowed (--allow-exec, --allow-auth-provider, --allow-file-references)"
        )
    if notes:
        return result("warn", f"{where} parses (server {secret.server}), but {'; '.join(notes)}")
    return result("ok", f"{where} holds a kubeconfig for {secret.server}")


def _mirror_endpoints(ctx: _Context, mirror: Mirror) -> CheckResult:
    subject = f"Service {mirror.namespace}/{mirror.name}"
    ready = [a.ip for eps in ctx.plan.gateway_endpoints(mirror) for a in eps.ready_addresses()]
    if ready:
        return CheckResult(
            "mirror-endpoints",
            subject,
            "ok",
            f"has {len(ready)} ready gateway address{'' if len(ready) == 1 else 'es'}",
            ctx.name,
            mirror.service,
        )
    return CheckResult(
        "mirror-endpoints",
        subject,
        "warn",
        f"has no ready endpoint: Service {mirror.namespace}/{mirror.remote_name} in cluster "
        f"{mirror.target} has no ready address, or its gateway is dead, so clients of the "
        "mirror get no destination; check the remote Service's pods and the gateway",
        ctx.name,
        mirror.service,
    )


def _orphans(ctx: _Context) -> list[CheckResult]:
    s = ctx.scheme
    targets = {link.target_cluster_name for link in ctx.source.links.values()}
    out = []
    for svc in sorted(ctx.source.services.values(), key=lambda o: (o.namespace, o.name)):
        cluster = svc.labels.get(s.cluster_name_label)
        if not s.is_owned(svc.labels) or not cluster or s.mirrored_gateway_label in svc.labels:
            continue
        if cluster in targets:
            continue
        out.append(
            CheckResult(
                "orphaned-mirror",
                f"Service {svc.namespace}/{svc.name}",
                "warn",
                f"is a mirror from cluster {cluster!r}, which no Link targets any more; "
                "the meshmirror controller deletes it (and its Endpoints), Linkerd's leaves "
                "it behind",
                ctx.name,
                svc.ref,
            )
        )
    return out
