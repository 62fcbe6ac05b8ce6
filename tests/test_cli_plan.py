"""`meshmirror plan` and `meshmirror diff` as docs/design.md, section 4.2 specifies them."""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from builders import EXPORTED, link, namespace, service
from meshmirror.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "topology"
CLUSTERS = [f"{n}={EXAMPLES / n}.yaml" for n in ("west", "east", "north")]


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def write(path: Path, docs: list[dict[str, Any]]) -> str:
    path.write_text(yaml.safe_dump_all(docs))
    return str(path)


def test_plan_example_yaml_is_a_list_of_owned_objects() -> None:
    code, out, err = run("plan", "--source", "west", *CLUSTERS)
    assert code == 0
    doc = yaml.safe_load(out)
    assert doc["apiVersion"] == "v1" and doc["kind"] == "List"
    keys = [(i["kind"], i["metadata"]["namespace"], i["metadata"]["name"]) for i in doc["items"]]
    assert keys == sorted(keys)
    for item in doc["items"]:
        assert item["metadata"]["labels"]["mirror.linkerd.io/mirrored-service"] == "true"
        assert set(item["metadata"]) == {"name", "namespace", "labels", "annotations"}
        if item["kind"] == "Service":
            assert set(item["spec"]) <= {"ports", "clusterIP"}
            for p in item["spec"]["ports"]:
                assert set(p) <= {"name", "protocol", "port", "targetPort"}
    assert {i["metadata"]["name"] for i in doc["items"]} == {
        "web-east",
        "web-north",
        "api-east",
        "db-east",
        "cart-federated",
    }
    lines = err.splitlines()
    assert all(line.startswith("warning: ") for line in lines)
    codes = {line.split(":")[1].strip() for line in lines}
    assert codes == {"NamespaceMissing", "NotOwned", "PortConflict", "SessionAffinityConflict"}


def test_plan_json_equals_yaml() -> None:
    _, out_yaml, _ = run("plan", "--source", "west", *CLUSTERS)
    _, out_json, _ = run("plan", "--source", "west", *CLUSTERS, "-o", "json")
    assert json.loads(out_json) == yaml.safe_load(out_yaml)


def test_plan_table_shows_federated_members_and_winner() -> None:
    code, out, _ = run("plan", "--source", "west", *CLUSTERS, "-o", "table")
    assert code == 0
    assert "cart-federated" in out and "cart@west,cart@east,cart@north" in out
    assert "WINNER" in out and "remote-discovery" in out


def test_plan_is_byte_identical_and_order_independent(tmp_path: Path) -> None:
    _, first, _ = run("plan", "--source", "west", *CLUSTERS)
    _, again, _ = run("plan", "--source", "west", *reversed(CLUSTERS))
    assert first == again
    rng = random.Random(7)
    shuffled = []
    for spec in CLUSTERS:
        name, _, path = spec.partition("=")
        docs = [d for d in yaml.safe_load_all(Path(path).read_text()) if d]
        items = [i for d in docs for i in (d["items"] if d.get("kind") == "List" else [d])]
        rng.shuffle(items)
        shuffled.append(f"{name}={write(tmp_path / f'{name}.yaml', items)}")
    _, reordered, _ = run("plan", "--source", "west", *shuffled)
    assert reordered == first


def test_directory_input(tmp_path: Path) -> None:
    (tmp_path / "west").mkdir()
    write(tmp_path / "west" / "a.yaml", [namespace("ns1")])
    write(tmp_path / "west" / "b.yml", [link("east")])
    (tmp_path / "west" / "ignored.txt").write_text("not yaml: [")
    east = write(tmp_path / "east.json", [])
    (tmp_path / "east.json").write_text(
        json.dumps(
            {
                "kind": "List",
                "apiVersion": "v1",
                "items": [namespace("ns1"), service("web", "ns1", labels=EXPORTED)],
            }
        )
    )
    code, out, _ = run("plan", "--source", "west", f"west={tmp_path / 'west'}", f"east={east}")
    assert code == 0
    assert {i["metadata"]["name"] for i in yaml.safe_load(out)["items"]} == {"web-east"}


def test_unknown_link_target_is_a_warning_not_an_error() -> None:
    code, out, err = run("plan", "--source", "west", CLUSTERS[0], CLUSTERS[1])
    assert code == 0
    assert "warning: UnknownCluster:" in err and "north" in err


def test_headless_flag(tmp_path: Path) -> None:
    code, out, _ = run("plan", "--source", "west", *CLUSTERS, "--enable-headless-services")
    names = {i["metadata"]["name"] for i in yaml.safe_load(out)["items"]}
    assert {"db-0-east", "db-1-east"} <= names


def test_namespace_creation_flag() -> None:
    code, out, err = run("plan", "--source", "west", *CLUSTERS, "--enable-namespace-creation")
    items = yaml.safe_load(out)["items"]
    assert ("Namespace", "payments") in {(i["kind"], i["metadata"]["name"]) for i in items}
    assert "NamespaceMissing" not in err


def test_diff_exit_codes(tmp_path: Path) -> None:
    code, out, _ = run("diff", "--source", "west", *CLUSTERS)
    assert code == 1
    assert "+ Service shop/web-east" in out
    _, planned, _ = run("plan", "--source", "west", *CLUSTERS)
    west_docs = list(yaml.safe_load_all((EXAMPLES / "west.yaml").read_text()))
    settled = write(tmp_path / "west.yaml", [*west_docs, yaml.safe_load(planned)])
    code, out, _ = run("diff", "--source", "west", f"west={settled}", *CLUSTERS[1:])
    assert (code, out) == (0, "")


def test_python_dash_m() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "meshmirror", "plan", "--source", "west", *CLUSTERS, "-o", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["kind"] == "List"


def bad_link_selector(tmp_path: Path) -> list[str]:
    doc = link("east", selector={"matchExpressions": [{"key": "a", "operator": "Gt"}]})
    return ["--source", "west", f"west={write(tmp_path / 'w.yaml', [doc])}"]


@pytest.mark.parametrize(
    ("case", "needle"),
    [
        ("missing-file", "no such file"),
        ("invalid-yaml", "invalid YAML"),
        ("source-not-given", "--source"),
        ("malformed-object", "spec.ports[0].port"),
        ("bad-cluster-arg", "CLUSTER=PATH"),
        ("bad-selector", "Gt"),
        ("not-a-mapping", "mapping"),
        ("duplicate-cluster", "twice"),
    ],
)
def test_bad_input_is_error_and_exit_2(tmp_path: Path, case: str, needle: str) -> None:
    good = write(tmp_path / "good.yaml", [namespace("ns1")])
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("kind: Service\nmetadata: {name: [\n")
    malformed = service("web", "ns1")
    malformed["spec"]["ports"][0]["port"] = "eighty"
    argv = {
        "missing-file": ["--source", "west", f"west={tmp_path / 'nope.yaml'}"],
        "invalid-yaml": ["--source", "west", f"west={bad_yaml}"],
        "source-not-given": ["--source", "west", f"east={good}"],
        "malformed-object": ["--source", "west", f"west={write(tmp_path / 'm.yaml', [malformed])}"],
        "bad-cluster-arg": ["--source", "west", good],
        "bad-selector": bad_link_selector(tmp_path),
        "not-a-mapping": ["--source", "west", f"west={write(tmp_path / 'l.yaml', [['a list']])}"],  # type: ignore[list-item]
        "duplicate-cluster": ["--source", "west", f"west={good}", f"west={good}"],
    }[case]
    for command in ("plan", "diff"):
        code, out, err = run(command, *argv)
        assert code == 2, (case, err)
        assert out == ""
        assert err.startswith("error: ") and "Traceback" not in err
        assert needle in err
        assert len(err.strip().splitlines()) == 1


def test_error_names_file_and_document(tmp_path: Path) -> None:
    malformed = service("web", "ns1")
    malformed["spec"]["ports"][0]["port"] = "eighty"
    path = write(tmp_path / "m.yaml", [namespace("ns1"), malformed])
    code, _, err = run("plan", "--source", "west", f"west={path}")
    assert code == 2
    assert "m.yaml, document 2" in err and "Service ns1/web" in err
