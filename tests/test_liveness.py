"""Gateway liveness, pure: Go durations, probe specs, the consecutive-failure machine."""

from __future__ import annotations

import doctest

import pytest
from hypothesis import given
from hypothesis import strategies as st

import meshmirror.decisions.liveness
from meshmirror.decisions.liveness import (
    DurationError,
    Liveness,
    ProbeConfig,
    ProbeSpecError,
    go_duration,
    observe,
    parse_duration,
    probe_config,
)
from meshmirror.values.model import Link, ProbeSpec


def test_module_doctests() -> None:
    assert doctest.testmod(meshmirror.decisions.liveness).failed == 0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("3s", 3.0),
        ("1m30s", 90.0),
        ("1h", 3600.0),
        ("1.5s", 1.5),
        ("500ms", 0.5),
        ("2us", 2e-6),
        ("-1s", -1.0),
        ("0", 0.0),
        ("1h2m3s4ms", 3723.004),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "3", "s", "3 s", "3x", "1s ", "--1s", "1d"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(DurationError) as info:
        parse_duration(text)
    assert repr(text) in str(info.value)


@given(st.integers(min_value=0, max_value=10**6))
def test_go_duration_round_trips(seconds: int) -> None:
    assert parse_duration(go_duration(seconds)) == seconds


def link(**spec: str) -> Link:
    return Link("linkerd-multicluster", "east", "east", probe_spec=ProbeSpec(**spec))


def test_probe_config_defaults_and_values() -> None:
    assert probe_config(link(path="/ready", port="4191", period="3s")) == ProbeConfig(
        "/ready", 4191, 3.0, 30.0, 3
    )
    cfg = probe_config(
        link(path="/ready", port="4191", period="1s", timeout="200ms", failure_threshold="5")
    )
    assert (cfg.timeout, cfg.failure_threshold) == (0.2, 5)


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"port": "4191", "period": "3s"}, "path"),
        ({"path": "ready", "port": "4191", "period": "3s"}, "path"),
        ({"path": "/ready", "port": "x", "period": "3s"}, "port"),
        ({"path": "/ready", "port": "70000", "period": "3s"}, "port"),
        ({"path": "/ready", "port": "4191"}, "period"),
        ({"path": "/ready", "port": "4191", "period": "3"}, "period"),
        ({"path": "/ready", "port": "4191", "period": "0s"}, "period"),
        ({"path": "/ready", "port": "4191", "period": "3s", "timeout": "x"}, "timeout"),
        ({"path": "/ready", "port": "4191", "period": "3s", "failure_threshold": "0"},
         "failureThreshold"),
    ],
)  # fmt: skip
def test_probe_config_refuses(spec: dict[str, str], field: str) -> None:
    with pytest.raises(ProbeSpecError) as info:
        probe_config(link(**spec))
    assert info.value.field == field
    assert "linkerd-multicluster/east" in str(info.value)


def test_dead_after_threshold_consecutive_failures_only() -> None:
    state = Liveness()
    for ok in (False, False, True, False, False):
        state = observe(state, ok, 3)
    assert state == Liveness(True, 2)  # the success in between reset the count
    state = observe(state, False, 3)
    assert state == Liveness(False, 3)
    assert observe(state, False, 3) == Liveness(False, 4)
    assert observe(state, True, 3) == Liveness(True, 0)


@given(st.lists(st.booleans(), max_size=30), st.integers(min_value=1, max_value=5))
def test_alive_iff_fewer_than_threshold_trailing_failures(outcomes: list[bool], n: int) -> None:
    state = Liveness()
    for ok in outcomes:
        state = observe(state, ok, n)
    trailing = len(outcomes) - len("".join("x" if o else "." for o in outcomes).rstrip("."))
    assert state.failures == trailing
    assert state.alive == (trailing < n)
