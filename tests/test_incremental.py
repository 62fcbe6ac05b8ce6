"""meshmirror.decisions.incremental agrees with a full plan and diff.

From a settled source (the plan applied), each random remote change (a Service or
Endpoints put or deleted, exported in any mode, federated or not, headless, colliding
names) is handled by ``replan`` and by ``diff(plan(...))`` over the same states: the
Changes must be identical, and the index's planned objects must be the plan's.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from meshmirror import Changes, ClusterState, PlanOptions, diff, plan, to_manifest
from meshmirror.decisions.diff import _normal, same
from meshmirror.decisions.incremental import PlanIndex, RemoteChange, replan
from meshmirror.testing import (
    HOSTNAMES,
    NAMESPACES,
    SERVICE_NAMES,
    endpoints_for,
    services,
    topologies,
)
from meshmirror.values.labels import Selector
from meshmirror.values.model import (
    EndpointAddress,
    Endpoints,
    EndpointSubset,
    Link,
    Namespace,
    Service,
    ServicePort,
)


def _apply(state: ClusterState, changes: Changes) -> ClusterState:
    put = [*changes.creates, *(u.after for u in changes.updates)]
    return state.replace(*put, remove=[o.ref for o in changes.deletes])


def _settled(
    source: ClusterState, remotes: dict[str, ClusterState], options: PlanOptions
) -> ClusterState | None:
    for _ in range(4):
        changes = diff(plan(source, remotes, options=options), source)
        if not changes:
            return source
        source = _apply(source, changes)
    return None


def _shown(changes: Changes) -> tuple[list[Any], list[Any], list[Any]]:
    return (
        [to_manifest(o) for o in changes.creates],
        [(to_manifest(u.before), to_manifest(u.after)) for u in changes.updates],
        [to_manifest(o) for o in changes.deletes],
    )


def _no_duplicate_refs(objects: Any) -> bool:
    refs = [o.ref for o in objects]
    return len(refs) == len(set(refs))


@st.composite
def _changes(draw: st.DrawFn, remotes: dict[str, ClusterState]) -> list[RemoteChange]:
    out = []
    for _ in range(draw(st.integers(1, 6))):
        cluster = draw(st.sampled_from(sorted(remotes)))
        namespace = draw(st.sampled_from(NAMESPACES))
        # Pod hostnames as Service names too: their mirrors clash with per-pod mirrors.
        name = draw(st.sampled_from(SERVICE_NAMES + HOSTNAMES))
        what = draw(st.sampled_from(("service", "service", "endpoints", "delete", "delete-eps")))
        if what == "delete":
            out.append(RemoteChange.delete(cluster, "Service", namespace, name))
        elif what == "delete-eps":
            out.append(RemoteChange.delete(cluster, "Endpoints", namespace, name))
        else:
            svc = draw(services(namespace=namespace, name=name, owned=None))
            if what == "service":
                out.append(RemoteChange.put(cluster, svc))
            else:
                out.append(RemoteChange.put(cluster, draw(endpoints_for(svc))))
    return out


@given(topologies(stale_mirrors=False), st.data(), st.booleans(), st.booleans())
def test_replan_agrees_with_a_full_plan_and_diff(
    topology: tuple[ClusterState, dict[str, ClusterState]],
    data: st.DataObject,
    headless: bool,
    namespace_creation: bool,
) -> None:
    source, remotes = topology
    remotes = dict(remotes)
    options = PlanOptions(
        enable_headless_services=headless, enable_namespace_creation=namespace_creation
    )
    settled = _settled(source, remotes, options)
    assume(settled is not None)
    assert settled is not None
    source = settled
    index = PlanIndex.build(source, remotes, options=options)
    assert index.objects() == list(plan(source, remotes, options=options).objects)
    for change in data.draw(_changes(remotes)):
        remote = remotes[change.cluster]
        if change.obj is None:
            ref = (change.kind, change.namespace, change.name)
            remotes[change.cluster] = remote.replace(remove=[remote_ref(ref)])
        else:
            remotes[change.cluster] = remote.replace(change.obj)
        full_plan = plan(source, remotes, options=options)
        assert _no_duplicate_refs(full_plan.objects)  # the planner never plans a ref twice
        expected = diff(full_plan, source)
        got = replan(index, change)
        assert _shown(got) == _shown(expected)
        assert index.objects() == list(full_plan.objects)
        source = _apply(source, got)
        index.applied(got)
        assert not diff(plan(source, remotes, options=options), source)


def remote_ref(ref: tuple[str, str, str]) -> Any:
    from meshmirror.values.model import ObjectRef

    return ObjectRef(*ref)


def test_a_change_to_an_unknown_cluster_changes_nothing() -> None:
    source = ClusterState.build("west", [])
    index = PlanIndex.build(source, {})
    svc = Service("shop", "web")
    assert not replan(index, RemoteChange.put("east", svc))


def test_the_index_changes_its_own_copies_and_hands_out_frozen_states() -> None:
    web = Service("shop", "web", labels={"mirror.linkerd.io/exported": "true"})
    east = ClusterState.build("east", [Namespace("shop")])
    source = ClusterState.build("west", [Namespace("shop"), _link("east", "x=y")])
    index = PlanIndex.build(source, {"east": east})
    replan(index, RemoteChange.put("east", web))
    # The states given stay as they were; the index's views are new immutable values.
    assert east.services == {} and hash(east) == hash(
        ClusterState.build("east", [Namespace("shop")])
    )
    seen = index.remote("east")
    assert seen is not None and seen.service("shop", "web") is web and seen != east
    assert hash(seen) == hash(east.replace(web))
    with pytest.raises(TypeError):
        seen.services[("shop", "x")] = web  # type: ignore[index]
    assert hash(index.source) == hash(source) and index.source == source
    with pytest.raises(TypeError, match="working copy"):
        hash(index._source)  # its own copy changes: not a value


def test_a_change_must_name_its_object() -> None:
    with pytest.raises(ValueError, match="is not"):
        RemoteChange("east", "Service", "shop", "other", Service("shop", "web"))
    with pytest.raises(ValueError, match="Service or Endpoints"):
        RemoteChange("east", "Link", "shop", "web")  # type: ignore[arg-type]


@given(services(owned=None), services(owned=None), st.data())
def test_same_is_normal_form_equality(a: Service, b: Service, data: st.DataObject) -> None:
    """diff.same compares field by field what the normal forms compare."""
    for x, y in ((a, b), (a, attrs.evolve(a, resource_version="1", uid="u")), (b, b)):
        assert same(x, y) == (_normal(x) == _normal(y))
    ea: Endpoints = data.draw(endpoints_for(a))
    eb: Endpoints = data.draw(endpoints_for(a))
    assert same(ea, eb) == (_normal(ea) == _normal(eb))
    assert same(ea, attrs.evolve(ea, resource_version="9"))


def test_same_ignores_exactly_the_server_fields_and_defaults() -> None:
    """The rule of docs/design.md (Diffing): what the API server assigns or defaults,
    and what kubectl adds, never counts; every field the service mirror writes does."""
    planned = Service(
        "shop",
        "web-east",
        labels={"app": "web"},
        annotations={"a": "1"},
        ports=(ServicePort(80, name="http"),),
    )
    served = attrs.evolve(
        planned,
        annotations={"a": "1", "kubectl.kubernetes.io/last-applied-configuration": "{}"},
        ports=(ServicePort(80, name="http", protocol="TCP", target_port=80),),
        cluster_ip="10.0.0.7",
        session_affinity="None",
        selector={},
        resource_version="5",
        uid="u-1",
        creation_timestamp="2026-01-01T00:00:00Z",
    )
    assert same(planned, served) and _normal(planned) == _normal(served)
    for changed in (
        attrs.evolve(planned, labels={"app": "api"}),
        attrs.evolve(planned, annotations={"a": "2"}),
        attrs.evolve(planned, ports=(ServicePort(80, name="http", target_port=8080),)),
        attrs.evolve(planned, ports=(ServicePort(80, name="http", node_port=30080),)),
        attrs.evolve(planned, ports=(ServicePort(80, name="http", app_protocol="http"),)),
        attrs.evolve(planned, ports=(ServicePort(80, name="http", protocol="UDP"),)),
        attrs.evolve(planned, ports=()),
        attrs.evolve(planned, type="NodePort"),
        attrs.evolve(planned, cluster_ip="None"),
        attrs.evolve(planned, session_affinity="ClientIP"),
        attrs.evolve(planned, selector={"app": "web"}),
        attrs.evolve(planned, external_name="web.example.com"),
    ):
        assert not same(planned, changed), changed
        assert _normal(planned) != _normal(changed), changed
    eps = Endpoints("shop", "web-east", labels={"app": "web"}, annotations={"a": "1"})
    served_eps = attrs.evolve(
        eps,
        annotations={"a": "1", "kubectl.kubernetes.io/last-applied-configuration": "{}"},
        resource_version="5",
        uid="u-2",
        creation_timestamp="2026-01-01T00:00:00Z",
    )
    assert same(eps, served_eps) and _normal(eps) == _normal(served_eps)
    assert not same(eps, attrs.evolve(eps, labels={}))
    assert not same(eps, attrs.evolve(eps, annotations={"a": "2"}))
    subsets = (EndpointSubset(addresses=(EndpointAddress("192.0.2.1"),)),)
    assert not same(eps, attrs.evolve(eps, subsets=subsets))
    assert not same(planned, eps) and not same(eps, planned)


def _link(name: str, selector: str) -> Link:
    return Link(
        "linkerd-multicluster",
        name,
        "east",
        gateway_address="192.0.2.1",
        gateway_port="4143",
        selector=Selector.parse(selector),
    )


def test_a_later_link_takes_over_a_name_the_first_one_frees() -> None:
    """Two Links to one cluster want ``web-east``: the first holds it; when it stops
    selecting ``web`` the second takes the name over (and the full plan agrees)."""
    source = ClusterState.build(
        "west", [Namespace("shop"), _link("a", "exported=yes"), _link("b", "team=x")]
    )
    web = Service("shop", "web", labels={"exported": "yes", "team": "x"}, ports=[ServicePort(80)])
    remotes = {"east": ClusterState.build("east", [Namespace("shop"), web])}
    source = _apply(source, diff(plan(source, remotes), source))
    index = PlanIndex.build(source, remotes)
    first = plan(source, remotes)
    assert [str(m.link) for m in first.mirrors] == ["Link linkerd-multicluster/a"]
    web2 = attrs.evolve(web, labels={"team": "x"})
    remotes = {"east": remotes["east"].replace(web2)}
    changes = replan(index, RemoteChange.put("east", web2))
    full = plan(source, remotes)
    assert [str(m.link) for m in full.mirrors] == ["Link linkerd-multicluster/b"]
    assert _shown(changes) == _shown(diff(full, source))
    assert index.objects() == list(full.objects)


def test_a_name_freed_by_another_service_is_taken_over() -> None:
    """The per-pod mirror ``web-0-east`` of headless ``db`` holds the name the mirror of
    Service ``web-0`` wants; when ``db`` goes, ``web-0``'s mirror takes the name."""
    from meshmirror.values.model import EndpointAddress, EndpointPort, EndpointSubset

    options = PlanOptions(enable_headless_services=True)
    source = ClusterState.build("west", [Namespace("shop"), _link("a", "exported=yes")])
    labels = {"exported": "yes"}
    db = Service("shop", "db", labels=labels, ports=[ServicePort(80)], cluster_ip="None")
    db_eps = Endpoints(
        "shop",
        "db",
        labels={"service.kubernetes.io/headless": ""},
        subsets=[
            EndpointSubset(
                addresses=[EndpointAddress("10.0.0.1", hostname="web-0")],
                ports=[EndpointPort(80)],
            )
        ],
    )
    web0 = Service("shop", "web-0", labels=labels, ports=[ServicePort(81)])
    east = ClusterState.build("east", [Namespace("shop"), db, db_eps, web0])
    remotes = {"east": east}
    source = _apply(source, diff(plan(source, remotes, options=options), source))
    index = PlanIndex.build(source, remotes, options=options)
    before = plan(source, remotes, options=options)
    codes = [s.code.value for s in before.skipped if s.code.value != "HeadlessAwaitingClusterIP"]
    assert codes == ["NameCollision"]
    remotes = {"east": east.replace(remove=[db.ref])}
    changes = replan(index, RemoteChange.delete("east", "Service", "shop", "db"))
    full = plan(source, remotes, options=options)
    assert "Service shop/web-0-east" in {str(o.ref) for o in full.objects}
    assert _shown(changes) == _shown(diff(full, source))
    assert index.objects() == list(full.objects)
