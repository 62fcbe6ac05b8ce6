"""The value classes: FrozenMap's contract (a sorted, immutable, hashable dict),
ClusterState's (immutable, hashable, short to show, changed by replace with sharing) and
the Mirror record's refs."""

from __future__ import annotations

import copy
import json
import pickle
from collections.abc import Mapping
from types import MappingProxyType

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshmirror.decisions.diff import Changes
from meshmirror.decisions.mirror import Mirror
from meshmirror.values.model import (
    ClusterState,
    Endpoints,
    FrozenMap,
    Namespace,
    ObjectRef,
    Service,
    frozen_map,
)

pairs = st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=8)


@given(pairs)
def test_frozen_map_is_the_sorted_dict(data: dict[str, str]) -> None:
    m = FrozenMap(data)
    assert list(m) == sorted(data)
    assert m == data and data == m
    assert dict(m) == data and m.to_dict() == data
    assert FrozenMap(data.items()) == m
    assert hash(m) == hash(FrozenMap(reversed(list(data.items()))))
    assert m == MappingProxyType(data)


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m.__setitem__("c", "3"),
        lambda m: m.__delitem__("a"),
        lambda m: m.update({"c": "3"}),
        lambda m: m.pop("a"),
        lambda m: m.popitem(),
        lambda m: m.setdefault("c", "3"),
        lambda m: m.clear(),
        lambda m: m.__ior__({"c": "3"}),
    ],
)
def test_frozen_map_cannot_be_changed(change: object) -> None:
    m = FrozenMap({"b": "2", "a": "1"})
    with pytest.raises(TypeError, match="cannot be changed"):
        change(m)  # type: ignore[operator]
    assert m == {"a": "1", "b": "2"}


def test_calling_init_again_changes_no_map() -> None:
    m = FrozenMap({"a": "1"})
    m.__init__({"c": "3"})  # type: ignore[misc]
    empty = Service("shop", "a").labels
    empty.__init__({"k": "v"})  # type: ignore[misc]
    assert m == {"a": "1"} and empty == {} and Service("shop", "b").annotations == {}


def test_frozen_map_copies_and_serialises_as_itself() -> None:
    m = FrozenMap({"b": "2", "a": "1"})
    assert copy.copy(m) is m and copy.deepcopy(m) is m
    again = pickle.loads(pickle.dumps(m))
    assert type(again) is FrozenMap and again == m and list(again) == ["a", "b"]
    assert json.dumps(m) == '{"a": "1", "b": "2"}'
    assert repr(m) == "FrozenMap({'a': '1', 'b': '2'})"
    # Changing a copy leaves the map alone; merged() makes a new map.
    mutable = m.to_dict()
    mutable["c"] = "3"
    assert "c" not in m
    assert m.merged({"c": "3", "a": "0"}) == {"a": "0", "b": "2", "c": "3"}
    assert isinstance(m | {"c": "3"}, dict) and "c" not in m


def test_frozen_map_converter_reuses_and_shares() -> None:
    m = FrozenMap({"a": "1"})
    assert frozen_map(m) is m
    assert frozen_map(None) is frozen_map({})  # one shared empty map
    assert frozen_map(None) == {} and isinstance(frozen_map(None), Mapping)
    svc = Service("shop", "web", labels={"b": "2", "a": "1"})
    assert type(svc.labels) is FrozenMap and list(svc.labels) == ["a", "b"]
    assert attrs.evolve(svc, labels={"a": "1", "b": "2"}) == svc
    assert hash(attrs.evolve(svc, labels={"a": "1", "b": "2"})) == hash(svc)


def _state(n: int, name: str = "west") -> ClusterState:
    objects: list[Namespace | Service | Endpoints] = [Namespace("shop")]
    for i in range(n):
        objects += [Service("shop", f"s{i}"), Endpoints("shop", f"s{i}")]
    return ClusterState.build(name, objects)


def test_cluster_state_is_hashable_and_equal_states_hash_equal() -> None:
    a = _state(3)
    by_hand = ClusterState(
        "west",
        namespaces={"shop": Namespace("shop")},
        # The same items in another order: still equal, so the same hash.
        services={("shop", f"s{i}"): Service("shop", f"s{i}") for i in (2, 1, 0)},
        endpoints=dict(a.endpoints),
    )
    assert by_hand == a and hash(by_hand) == hash(a)
    assert {a: 1}[by_hand] == 1
    other = a.replace(Service("shop", "s0", labels={"x": "y"}))
    assert other != a and hash(other) != hash(a)
    assert hash(ClusterState("west")) == hash(ClusterState("west", services={}))
    assert ClusterState("west") != ClusterState("east")


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m.__setitem__(("shop", "x"), None),
        lambda m: m.__delitem__(("shop", "s0")),
        lambda m: m.pop(("shop", "s0")),
        lambda m: m.popitem(),
        lambda m: m.clear(),
        lambda m: m.update({}),
        lambda m: m.setdefault(("shop", "x"), None),
    ],
)
@pytest.mark.parametrize("layered", [False, True])
def test_cluster_state_tables_cannot_be_changed(change: object, layered: bool) -> None:
    given = {("shop", "s0"): Service("shop", "s0")}
    state = ClusterState("west", services=given)
    given.clear()  # the caller's dict is copied: changing it changes no state
    assert len(state.services) == 1
    if layered:  # a few changes to a large table: layered over it, as immutable
        state = _state(200).replace(Service("shop", "new"))
    before = dict(state.services)
    with pytest.raises((TypeError, AttributeError)):
        change(state.services)  # type: ignore[operator]
    assert dict(state.services) == before


def test_replace_shares_and_keeps_older_states_as_they_were() -> None:
    base = _state(300)
    model = dict(base.services)
    states = [(base, dict(model))]
    state = base
    for i in range(400):  # past the point where the layers are folded into a table
        key = ("shop", f"s{i % 350}")
        if i % 3 == 2:
            state = state.replace(remove=[ObjectRef("Service", *key)])
            model.pop(key, None)
        else:
            svc = Service("shop", key[1], labels={"v": str(i)})
            state = state.replace(svc)
            model[key] = svc
        states.append((state, dict(model)))
        assert state.endpoints is base.endpoints  # an untouched table is shared
    # A changed old version forks off without touching the newer ones.
    forked = states[10][0].replace(Service("shop", "fork"))
    assert ("shop", "fork") in forked.services
    for st_, expected in states:
        assert dict(st_.services) == expected and len(st_.services) == len(expected)
        assert all(st_.service(*k) == v for k, v in expected.items())
        assert st_.service("shop", "fork") is None
        fresh = ClusterState("west", base.namespaces, expected, base.endpoints)
        assert st_ == fresh and fresh == st_ and hash(st_) == hash(fresh)
    assert pickle.loads(pickle.dumps(state)) == state
    assert copy.deepcopy(state) == state


def test_cluster_state_and_changes_show_one_short_line_and_a_bounded_table() -> None:
    big = _state(5000)
    assert repr(big) == (
        "<ClusterState west: 1 namespace, 5000 Services, 5000 Endpoints, 0 Links, 0 ConfigMaps>"
    )
    assert len(big._repr_html_()) < 500  # one row per namespace, not per object
    changes = Changes(creates=tuple(big.services.values()))
    assert repr(changes) == "<Changes: 5000 to create, 0 to update, 0 to delete>"
    page = changes._repr_html_()
    assert len(page) < 20_000, len(page)
    assert "and 4950 more changes" in page


def test_mirror_refs_come_from_its_names() -> None:
    link = ObjectRef("Link", "linkerd-multicluster", "east")
    gateway = Mirror(link, "east", "gateway", "shop", "web", "web-east")
    assert gateway.remote == ObjectRef("Service", "shop", "web")
    assert gateway.service == ObjectRef("Service", "shop", "web-east")
    assert gateway.endpoints == ObjectRef("Endpoints", "shop", "web-east")
    assert gateway.refs == (gateway.service, gateway.endpoints)
    assert gateway.names == ("web-east",) and gateway.pods == ()

    flat = Mirror(link, "east", "remote-discovery", "shop", "web", "web-east")
    assert flat.endpoints is None and flat.refs == (flat.service,)

    headless = Mirror(link, "east", "headless", "db", "pg", "pg-east", ("pg-0-east",))
    assert headless.pods == (ObjectRef("Service", "db", "pg-0-east"),)
    assert headless.names == ("pg-east", "pg-0-east")
    assert headless.refs == (
        ObjectRef("Service", "db", "pg-east"),
        ObjectRef("Endpoints", "db", "pg-east"),
        ObjectRef("Service", "db", "pg-0-east"),
    )
