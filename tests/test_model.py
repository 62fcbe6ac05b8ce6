"""The value classes: FrozenMap's contract (a sorted, immutable, hashable dict) and the
Mirror record's refs."""

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

from meshmirror.decisions.mirror import Mirror
from meshmirror.values.model import FrozenMap, ObjectRef, Service, frozen_map

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
