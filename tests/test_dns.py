"""``meshmirror.effects.dns``: the one system resolver the CLI and the controller use."""

from __future__ import annotations

import argparse
import socket
from typing import Any

import pytest

import meshmirror.cli as cli
import meshmirror.dns
from meshmirror.effects import dns


def test_dns_resolver_gives_each_address_once_sorted(monkeypatch: pytest.MonkeyPatch) -> None:
    tcp = (socket.SOCK_STREAM, socket.IPPROTO_TCP, "")
    infos = [
        (socket.AF_INET6, *tcp, ("2001:db8::1", 0, 0, 0)),
        (socket.AF_INET, *tcp, ("192.0.2.9", 0)),
        (socket.AF_INET, *tcp, ("192.0.2.10", 0)),
        (socket.AF_INET, *tcp, ("192.0.2.9", 0)),
    ]
    asked: list[tuple[Any, ...]] = []

    def getaddrinfo(host: str, port: object, *, proto: int = 0) -> list[Any]:
        asked.append((host, port, proto))
        return infos

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    assert dns.dns_resolver("gw.example") == ["192.0.2.10", "192.0.2.9", "2001:db8::1"]
    assert asked == [("gw.example", None, socket.IPPROTO_TCP)]


def test_the_cli_resolves_through_its_dns_resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli.dns_resolver is dns.dns_resolver is meshmirror.dns.dns_resolver

    def fake(host: str) -> list[str]:
        return ["192.0.2.1"]

    monkeypatch.setattr(cli, "dns_resolver", fake)  # what a test of the CLI may do
    assert cli.resolver_from(argparse.Namespace(no_resolve=False)) is fake
    assert cli.resolver_from(argparse.Namespace(no_resolve=True)) is None


def test_the_controller_resolves_with_the_same_function() -> None:
    controller = pytest.importorskip("meshmirror_k8s.controller")
    assert controller.dns_resolver is dns.dns_resolver
    assert controller.ControllerConfig().resolve is dns.dns_resolver
