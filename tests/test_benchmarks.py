"""The benchmarks still run: the generator at a tiny size, and every measurement of
``benchmarks/run.py`` once, with every key of docs/design.md, section 4.5 in the output.
Nothing here is timed."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH))

import generate  # noqa: E402
import run  # noqa: E402
from meshmirror.decisions.plan import plan  # noqa: E402
from meshmirror.formats.manifest import cluster_state  # noqa: E402

TINY = run.Sizes("tiny", 3, 12, 2, 1, 1, 4, 2, 6, 2)


def test_the_generator_is_deterministic_and_readable() -> None:
    a = generate.generate(3, 15, seed=3)
    b = generate.generate(3, 15, seed=3)
    blobs = {n: generate.to_json(d) for n, d in a.clusters.items()}
    assert blobs == {n: generate.to_json(d) for n, d in b.clusters.items()}
    assert generate.to_json(generate.generate(3, 15, seed=4).clusters["c001"]) != blobs["c001"]
    states = {n: cluster_state(n, [json.loads(blob)]) for n, blob in blobs.items()}
    assert set(states) == {"c000", "c001", "c002"}
    assert sum(len(s.services) for s in states.values()) == a.services == 45
    assert len(states["c000"].links) == 2  # a Link for every other cluster
    for state in states.values():
        for svc in state.services.values():
            assert 1 <= len(svc.ports) <= 5
            assert svc.uid and svc.resource_version and svc.creation_timestamp
        for eps in state.endpoints.values():
            assert all(1 <= len(s.addresses) + len(s.not_ready_addresses) <= 3 for s in eps.subsets)
    p = plan(states["c000"], {n: s for n, s in states.items() if n != "c000"})
    assert p.mirrors  # something is exported


def test_every_contract_key_is_measured() -> None:
    with_k8s = importlib.util.find_spec("kubernetes") is not None
    figures = run.measure(TINY, with_k8s=with_k8s, gc_mode="pause")
    missing = [k for k in run.CONTRACT_KEYS if k not in figures]
    assert missing == []
    for key in ("writes_per_change", "plan_s_small", "linear_growth"):
        assert key in figures
    assert figures["clusters"] == 3
    assert figures["services"] == 36
    assert figures["noop_resync_writes"] == 0
    assert figures["writes_per_change"] == pytest.approx(1.0)
    assert figures["json_load_s"] > 0 and figures["plan_s"] > 0
    assert figures["bytes_per_service"] > 0
    if with_k8s:
        assert figures["k8s_client_version"]
    json.dumps(figures)  # the last line of run.py's output


def test_the_command_line_checks_the_contract(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(run, "QUICK", TINY)
    monkeypatch.setattr(run, "GC_MODE", "pause")
    monkeypatch.setattr(
        run,
        "measure",
        lambda sizes, with_k8s=True, with_writes=True: dict.fromkeys(run.CONTRACT_KEYS, 0),
    )
    assert run.main(["--quick", "--no-k8s"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert set(json.loads(last)) == set(run.CONTRACT_KEYS)


def test_the_controller_benchmark_runs_at_a_tiny_size() -> None:
    """The real controller process against the in-repo servers, 2 linked clusters x 10
    Services, one edit of each kind: one JSON object on the last line, every contract key."""
    import subprocess

    import controller

    done = subprocess.run(
        [sys.executable, str(BENCH / "controller.py"), "--clusters", "2", "--services", "10",
         "--edits", "1", "--burst", "2", "--resync-period", "4", "--idle-periods", "1",
         "--quiet", "0.5", "--timeout", "30"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert [k for k in controller.CONTRACT_KEYS if k not in figures] == []
    assert figures["clusters"] == 2 and figures["services"] == 20
    assert figures["events_not_visible"] == 0 and figures["burst_not_visible"] == 0
    assert set(figures["event_visible_by_kind"]) == set(controller.EDIT_KINDS)
    assert 0 < figures["event_visible_p50_s"] <= figures["event_visible_p99_s"]
    assert figures["cold_start_s"] > 0 and figures["bare_client_create_s"] > 0
    assert set(figures["requests_per_event"]) == set(controller.VERBS)
    assert figures["requests_per_event"]["update"] > 0  # the edits were written
    assert figures["max_rss_bytes"] > figures["rss_start_bytes"] > 0


def test_the_controller_benchmark_checks_what_is_visible() -> None:
    import controller

    edit = {"namespace": "ns", "mirror": "web-c001", "name": "web", "cluster": "c001"}
    svc = {"metadata": {"labels": {controller.EDIT_LABEL: "v1"}}, "spec": {"ports": [{"port": 1}]}}
    verb, kind, _, name, check = controller.edit_expectation(
        {**edit, "kind": "label", "value": "v1"}
    )
    assert (verb, kind, name) == ("write", "Service", "web-c001")
    assert controller.satisfies(svc, check)
    assert not controller.satisfies(svc, ("label", controller.EDIT_LABEL, "v2"))
    assert controller.satisfies(svc, ("port", 1)) and not controller.satisfies(svc, ("port", 2))
    ready = {"subsets": [{"addresses": [{"ip": "192.0.2.1"}]}]}
    assert not controller.satisfies(ready, ("unready",))
    assert controller.satisfies({"subsets": [{"notReadyAddresses": [{"ip": "x"}]}]}, ("unready",))
    assert controller.satisfies({}, ("unready",))
    eps = {"metadata": {}, "subsets": [{"addresses": [{"ip": "1"}], "notReadyAddresses": []}]}
    after = controller.apply_edit(eps, {**edit, "kind": "unready"})
    assert after["subsets"] == [{"notReadyAddresses": [{"ip": "1"}]}]
    assert controller.edit_expectation({**edit, "kind": "unexport"})[0] == "delete"
    assert controller.concurrency_flag("  --write-concurrency N  ...") == "--write-concurrency"
    assert controller.concurrency_flag("--resync-period") is None
