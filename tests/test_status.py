"""Link status (``meshmirror.decisions.status``): Linkerd's v1alpha3 shape, each reason, our codes
in the messages, transition times kept, and a function of the plan."""

from __future__ import annotations

import copy
import doctest
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import meshmirror.decisions.status
from builders import DISCOVERED, EXPORTED, MEMBER, endpoints, link, namespace, service
from meshmirror import PlanOptions, SkipCode, cluster_state, plan
from meshmirror.decisions.status import REASONS, Reason, link_status, rfc3339, same_status
from meshmirror.values.model import ObjectRef

NOW = "2026-01-01T00:00:00Z"
LATER = "2026-01-01T00:05:00Z"


def status_of(
    source_docs: list[dict[str, Any]],
    remote_docs: list[dict[str, Any]],
    *,
    previous: dict[str, Any] | None = None,
    now: str = NOW,
    errors: dict[ObjectRef, str] | None = None,
    options: PlanOptions | None = None,
    target: str = "remote",
) -> dict[str, Any] | None:
    src = cluster_state("local", source_docs)
    remotes = {target: cluster_state(target, remote_docs)}
    p = plan(src, remotes, options=options)
    lnk = src.link("linkerd-multicluster", target)
    assert lnk is not None
    return link_status(
        p, src, remotes, lnk, now=now, previous=previous, errors=errors, options=options
    )


def only(entries: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(entries) == 1, entries
    [condition] = entries[0]["conditions"]
    return {**entries[0], "condition": condition}


def test_module_doctests() -> None:
    assert doctest.testmod(meshmirror.decisions.status).failed == 0


def test_every_skip_code_has_a_reason() -> None:
    assert set(REASONS) == set(SkipCode)


def test_mirrored_entry_has_linkerds_shape() -> None:
    st_ = status_of(
        [namespace("ns1"), link()],
        [
            namespace("ns1"),
            service("service-one", "ns1", labels=EXPORTED),
            endpoints("service-one", "ns1", ["10.0.0.1"]),
        ],
    )
    assert st_ == {
        "mirrorServices": [
            {
                "conditions": [
                    {
                        "type": "Mirrored",
                        "status": "True",
                        "lastTransitionTime": NOW,
                        "reason": "Mirrored",
                        "message": "",
                        "localRef": {
                            "group": "core",
                            "kind": "Service",
                            "name": "service-one-remote",
                            "namespace": "ns1",
                        },
                    }
                ],
                "controllerName": "linkerd.io/service-mirror",
                # group: the CRD's default, which a stored Linkerd status holds.
                "remoteRef": {
                    "group": "core",
                    "kind": "Service",
                    "name": "service-one",
                    "namespace": "ns1",
                },
            }
        ]
    }


def test_missing_namespace() -> None:
    st_ = status_of([link()], [namespace("ns1"), service("svc", "ns1", labels=EXPORTED)])
    assert st_ is not None
    entry = only(st_["mirrorServices"])
    c = entry["condition"]
    assert (c["status"], c["reason"]) == ("False", "MissingNamespace")
    assert c["message"].startswith("NamespaceMissing: ")
    assert "localRef" not in c


def test_remote_discovery_and_federated() -> None:
    st_ = status_of(
        [namespace("ns1"), link()],
        [
            namespace("ns1"),
            service("flat", "ns1", labels=DISCOVERED),
            service("fed", "ns1", labels=MEMBER),
        ],
    )
    assert st_ is not None
    m = only(st_["mirrorServices"])
    assert m["remoteRef"]["name"] == "flat"
    assert m["condition"]["localRef"]["name"] == "flat-remote"
    f = only(st_["federatedServices"])
    assert f["remoteRef"]["name"] == "fed"
    assert f["condition"]["localRef"]["name"] == "fed-federated"
    assert f["condition"]["reason"] == "Mirrored"


def test_invalid_service_reasons() -> None:
    st_ = status_of(
        [namespace("ns1"), link()],
        [
            namespace("ns1"),
            service("noports", "ns1", labels=EXPORTED, port_list=[]),
            service("x" * 60, "ns1", labels=EXPORTED),
            service("hl", "ns1", labels=MEMBER, headless=True),
        ],
    )
    assert st_ is not None
    by_name = {e["remoteRef"]["name"]: e["conditions"][0] for e in st_["mirrorServices"]}
    assert by_name["noports"]["reason"] == "InvalidService"
    assert by_name["noports"]["message"].startswith("NoPorts: ")
    assert by_name["x" * 60]["message"].startswith("NameTooLong: ")
    fed = only(st_["federatedServices"])["condition"]
    assert (fed["status"], fed["reason"]) == ("False", "InvalidService")
    assert fed["message"].startswith("HeadlessMember: ")


def test_error_reasons_not_owned_and_no_gateway() -> None:
    mine = service("svc-remote", "ns1")  # a user's Service, without our labels
    st_ = status_of(
        [namespace("ns1"), link(), mine],
        [namespace("ns1"), service("svc", "ns1", labels=EXPORTED)],
    )
    assert st_ is not None
    c = only(st_["mirrorServices"])["condition"]
    assert (c["status"], c["reason"]) == ("False", "Error")
    assert c["message"].startswith("NotOwned: ")
    st_ = status_of(
        [namespace("ns1"), link(gateway="")],
        [namespace("ns1"), service("svc", "ns1", labels=EXPORTED)],
    )
    assert st_ is not None
    assert only(st_["mirrorServices"])["condition"]["message"].startswith("NoGateway: ")


def test_write_error_is_an_error_condition() -> None:
    ref = ObjectRef("Endpoints", "ns1", "svc-remote")
    st_ = status_of(
        [namespace("ns1"), link()],
        [namespace("ns1"), service("svc", "ns1", labels=EXPORTED)],
        errors={ref: "create Endpoints ns1/svc-remote failed: boom"},
    )
    assert st_ is not None
    c = only(st_["mirrorServices"])["condition"]
    assert (c["status"], c["reason"], c["message"]) == (
        "False",
        "Error",
        "create Endpoints ns1/svc-remote failed: boom",
    )


def test_conflict_keeps_member_mirrored_with_code_in_message() -> None:
    local = service("fed", "ns1", labels=MEMBER, port_list=[{"name": "a", "port": 1}])
    st_ = status_of(
        [namespace("ns1"), link(), local],
        [namespace("ns1"), service("fed", "ns1", labels=MEMBER)],
    )
    assert st_ is not None
    c = only(st_["federatedServices"])["condition"]
    assert (c["status"], c["reason"]) == ("True", "Mirrored")
    assert c["message"].startswith("PortConflict: ")


def test_federated_service_skipped_for_every_member() -> None:
    # No namespace locally: the federated Service is not planned.
    st_ = status_of([link()], [namespace("ns1"), service("fed", "ns1", labels=MEMBER)])
    assert st_ is not None
    c = only(st_["federatedServices"])["condition"]
    assert (c["status"], c["reason"]) == ("False", "MissingNamespace")


def test_unselected_and_unknown_target() -> None:
    st_ = status_of([namespace("ns1"), link()], [namespace("ns1"), service("plain", "ns1")])
    assert st_ == {}
    src = cluster_state("local", [link()])
    lnk = src.link("linkerd-multicluster", "remote")
    assert lnk is not None
    assert link_status(plan(src, {}), src, {}, lnk, now=NOW) is None


def test_transition_time_kept_until_status_or_reason_changes() -> None:
    source = [link()]
    remote = [namespace("ns1"), service("svc", "ns1", labels=EXPORTED)]
    first = status_of(source, remote)
    again = status_of(source, remote, previous=first, now=LATER)
    assert again == first
    # The namespace appears: a transition, stamped with the new time.
    fixed = status_of([namespace("ns1"), *source], remote, previous=first, now=LATER)
    assert fixed is not None
    c = only(fixed["mirrorServices"])["condition"]
    assert (c["reason"], c["lastTransitionTime"]) == ("Mirrored", LATER)


def test_order_is_by_remote_namespace_and_name() -> None:
    remote = [namespace("a"), namespace("b")]
    remote += [service(n, ns, labels=EXPORTED) for ns in ("b", "a") for n in ("z", "y")]
    st_ = status_of([namespace("a"), namespace("b"), link()], remote)
    assert st_ is not None
    refs = [(e["remoteRef"]["namespace"], e["remoteRef"]["name"]) for e in st_["mirrorServices"]]
    assert refs == sorted(refs)


def test_same_status() -> None:
    assert same_status(None, {})
    assert same_status({"mirrorServices": []}, {})
    assert not same_status({"mirrorServices": [{"x": 1}]}, {})


def test_a_status_the_api_server_defaulted_is_the_same() -> None:
    """A real API server fills in the CRD's defaults (group, kind) and drops nulls; such a
    stored status must not look changed, or every sync would write it again."""
    status = status_of(
        [namespace("ns1"), link()], [namespace("ns1"), service("svc", "ns1", labels=EXPORTED)]
    )
    assert status is not None
    stored = copy.deepcopy(status)
    for entry in stored["mirrorServices"]:
        del entry["remoteRef"]["group"]
        del entry["remoteRef"]["kind"]
        entry["conditions"][0]["lastProbeTime"] = None
        del entry["conditions"][0]["localRef"]["group"]
    assert stored != status
    assert same_status(stored, status)
    changed = copy.deepcopy(status)
    changed["mirrorServices"][0]["conditions"][0]["reason"] = "Error"
    assert not same_status(changed, status)


@given(st.integers(min_value=0, max_value=4_000_000_000))
def test_rfc3339_round_trips(seconds: int) -> None:
    from meshmirror.formats.manifest import parse_timestamp

    assert parse_timestamp(rfc3339(seconds)).timestamp() == seconds


def test_reason_values() -> None:
    assert [r.value for r in Reason] == ["Mirrored", "InvalidService", "Error", "MissingNamespace"]


@pytest.mark.parametrize("code", list(SkipCode))
def test_reason_for(code: SkipCode) -> None:
    assert meshmirror.decisions.status.reason_for(code) is REASONS[code]
