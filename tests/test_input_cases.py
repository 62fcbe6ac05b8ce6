"""Empty, hostile and real-world input through the CLI and the library: each case gives
an answer that says what happened, never a wrong answer that looks right.

See docs/cli.md for what each command does with an empty source, a source without
Links, a Link whose target dump is missing and a cluster no Link targets.
"""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

import meshmirror.effects.loader as loader
from builders import EXPORTED, endpoints, link, namespace, plan_docs, service
from meshmirror import PlanOptions, SkipCode, cluster_state, diff, plan
from meshmirror.cli import main, plan_document
from meshmirror.effects.backends.memory import FakeCluster
from meshmirror.effects.loader import LoadError, load_cluster, load_yaml_file
from meshmirror.formats.manifest import ManifestError
from meshmirror.values.labels import SelectorError, SelectorTypeError, parse_selector
from meshmirror.values.model import ArgumentError
from meshmirror.views.checks import check

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "topology"
WEST, EAST, NORTH = (str(EXAMPLES / f"{n}.yaml") for n in ("west", "east", "north"))
CLUSTERS = [f"west={WEST}", f"east={EAST}", f"north={NORTH}"]


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def write(path: Path, docs: list[dict[str, Any]] | str) -> str:
    path.write_text(docs if isinstance(docs, str) else yaml.safe_dump_all(docs))
    return str(path)


def world(tmp_path: Path, source: list[dict[str, Any]], remote: list[dict[str, Any]]) -> list[str]:
    return [
        f"west={write(tmp_path / 'west.yaml', source)}",
        f"east={write(tmp_path / 'east.yaml', remote)}",
    ]


@pytest.fixture(params=["c", "python"])
def yaml_loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test of YAML reading runs with libyaml's C parser and the pure-Python one."""
    if request.param == "c":
        if not hasattr(yaml, "CSafeLoader"):
            pytest.skip("PyYAML without libyaml")
        monkeypatch.setattr(loader, "YAML_LOADER", loader._Loaders[-1])
    else:
        monkeypatch.setattr(loader, "YAML_LOADER", loader._PyLoader)
    name: str = request.param
    return name


# -- 1. nothing is silently empty ------------------------------------------------------


@pytest.mark.parametrize("command", ["plan", "diff", "check", "graph"])
def test_empty_source_file_is_an_error(tmp_path: Path, command: str) -> None:
    empty = tmp_path / "west.yaml"
    empty.write_text("")
    code, out, err = run(command, "--source", "west", f"west={empty}", f"east={EAST}")
    assert code == 2, err
    assert out == ""
    assert err.startswith("error: west=") and "holds no Namespace, Service" in err
    assert "--allow-empty" in err and "kubectl get" in err


def test_directory_without_dumps_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a dump")
    code, _, err = run("plan", "--source", "west", f"west={tmp_path}", f"east={EAST}")
    assert code == 2
    assert "is a directory without any *.yaml, *.yml or *.json file" in err


def test_items_null_is_an_empty_list_and_so_an_empty_dump(tmp_path: Path) -> None:
    doc = {"apiVersion": "v1", "kind": "List", "items": None}
    state = cluster_state("west", doc)
    assert not state.services and not state.namespaces
    path = write(tmp_path / "west.yaml", [doc])
    code, _, err = run("plan", "--source", "west", f"west={path}", f"east={EAST}")
    assert code == 2 and "items: null" in err


def test_allow_empty_accepts_an_empty_cluster(tmp_path: Path) -> None:
    empty = tmp_path / "north.yaml"
    empty.write_text("")
    code, out, err = run(
        "plan", "--allow-empty", "--source", "west", f"west={WEST}", f"east={EAST}",
        f"north={empty}",
    )  # fmt: skip
    assert code == 0, err
    assert yaml.safe_load(out)["kind"] == "List"


def test_source_without_links_warns_and_check_fails(tmp_path: Path) -> None:
    args = world(tmp_path, [namespace("shop")], [namespace("shop"), service("web", "shop")])
    code, out, err = run("plan", "--source", "west", *args)
    assert code == 0
    assert "warning: NoLinks: the dump of source cluster west holds no Link" in err
    assert "warning: ClusterNotLinked: cluster east is given" in err
    code, out, err = run("check", "--source", "west", "-o", "json", *args)
    assert code == 1
    [result] = json.loads(out)["checks"]
    assert result["id"] == "nothing-checked" and result["status"] == "fail"
    assert "holds no Link" in result["message"]


def test_a_cluster_no_link_targets_is_a_warning() -> None:
    code, _, err = run("plan", "--source", "west", *CLUSTERS, f"south={EAST}")
    assert code == 0
    assert (
        "warning: ClusterNotLinked: cluster south is given, but no Link of west targets it, "
        "so it contributes nothing (the Links target east, north)"
    ) in err


def test_check_fails_when_no_link_target_was_given() -> None:
    code, out, _ = run("check", "--source", "west", f"west={WEST}", "-o", "json")
    assert code == 1
    results = json.loads(out)["checks"]
    nothing = [r for r in results if r["id"] == "nothing-checked"]
    assert len(nothing) == 1 and "add east=PATH" in nothing[0]["message"]
    # With a target given, there is something to check and no such result.
    code, out, _ = run("check", "--source", "west", *CLUSTERS, "-o", "json")
    assert "nothing-checked" not in {r["id"] for r in json.loads(out)["checks"]}


# -- 2. hostile YAML and JSON ----------------------------------------------------------

LAUGHS = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{c}: &{c} [{','.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)


def test_nested_aliases_are_refused_at_once(tmp_path: Path, yaml_loader: str) -> None:
    path = write(tmp_path / "bomb.yaml", LAUGHS)
    assert os.path.getsize(path) < 1000
    started = time.monotonic()
    with pytest.raises(LoadError) as info:
        load_yaml_file(path)
    assert time.monotonic() - started < 5.0  # milliseconds; it took minutes unbounded
    assert "aliases (*name)" in str(info.value) and "line 3" in str(info.value)
    code, _, err = run("plan", "--source", "west", f"west={path}")
    assert code == 2 and err.count("\n") == 1 and "kubectl never writes" in err


def test_aliases_to_a_million_services_are_refused(tmp_path: Path, yaml_loader: str) -> None:
    text = (
        "apiVersion: v1\nkind: List\nitems:\n"
        "- &s {apiVersion: v1, kind: Service, metadata: {name: web, namespace: shop},"
        " spec: {ports: [{port: 80}]}}\n"
        "- &l1 {kind: List, items: [*s, *s, *s, *s, *s, *s, *s, *s, *s, *s]}\n"
        + "".join(
            f"- &l{i + 1} {{kind: List, items: [{', '.join([f'*l{i}'] * 10)}]}}\n"
            for i in range(1, 6)
        )
    )
    path = write(tmp_path / "list.yaml", text)
    started = time.monotonic()
    with pytest.raises(LoadError):
        load_cluster("west", path)
    assert time.monotonic() - started < 5.0


def test_aliases_of_python_shared_objects_still_load(tmp_path: Path, yaml_loader: str) -> None:
    """yaml.safe_dump writes a shared dict once and aliases it; a few repeats are fine."""
    ports = [{"name": "http", "port": 80}]
    docs = [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": n, "namespace": "shop"},
         "spec": {"ports": ports}}
        for n in ("a", "b", "c")
    ]  # fmt: skip
    text = yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": docs})
    assert "*id" in text
    state = load_cluster("west", write(tmp_path / "w.yaml", text))
    assert sorted(state.services) == [("shop", "a"), ("shop", "b"), ("shop", "c")]


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_deep_nesting_is_bad_input_at_once(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"deep{suffix}"
    path.write_text("[" * 200_000 + "]" * 200_000)
    started = time.monotonic()
    code, _, err = run("plan", "--source", "west", f"west={path}")
    assert time.monotonic() - started < 10.0
    assert code == 2 and err.startswith("error: ")


def test_many_small_json_documents_load_in_linear_time(tmp_path: Path) -> None:
    items = [{"apiVersion": "v1", "kind": "Pod", "metadata": {}}] * 100_000
    path = tmp_path / "many.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    started = time.monotonic()
    code, _, err = run("plan", "--source", "west", f"west={path}")
    assert time.monotonic() - started < 30.0  # about 0.5 s; generous for a loaded machine
    assert code == 2 and "only other kinds" in err


@pytest.mark.parametrize(
    "text",
    [
        'x: !!timestamp "bad"',
        "x: !!timestamp 2024-13-45",
        "x: !!int 0x",
        'x: !!int ""',
        "x: !!bool maybe",
        "x: !!float .",
        "x: " + "9" * 5000,
    ],
)
def test_explicit_tags_and_huge_numbers_are_bad_input(
    tmp_path: Path, yaml_loader: str, text: str
) -> None:
    path = write(tmp_path / "t.yaml", text + "\n")
    code, out, err = run("plan", "--source", "w", f"w={path}")
    assert (code, out) == (2, "")
    assert err.startswith(f"error: {path}, document 1: invalid YAML at line 1, column 4: ")
    assert "cannot be read as tag:yaml.org,2002:" in err and err.count("\n") == 1


def test_a_huge_json_number_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text('{"x": ' + "9" * 5000 + "}")
    code, _, err = run("plan", "--source", "w", f"w={path}")
    assert code == 2 and err.startswith(f"error: {path}: invalid JSON: ")


# -- 3. fast loading -------------------------------------------------------------------


def test_the_c_loader_is_used_when_pyyaml_has_libyaml() -> None:
    if not hasattr(yaml, "CSafeLoader"):
        pytest.skip("PyYAML without libyaml")
    assert issubclass(loader.YAML_LOADER, yaml.CSafeLoader)


def test_c_and_python_loaders_read_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not hasattr(yaml, "CSafeLoader"):
        pytest.skip("PyYAML without libyaml")
    tricky = tmp_path / "t.yaml"
    tricky.write_text(
        "a: 2024-01-02T09:00:00Z\nb: 0o17\nc: 1_000\nd: ~\ne: !!str 5\nf: 'x'\n---\n"
        '- yes\n- on\n- 1e3\n- .inf\n- "\\u00e9"\n'
    )
    files = [*sorted(EXAMPLES.parent.rglob("*.yaml")), tricky]
    results = {}
    for name, cls in (("c", loader._Loaders[-1]), ("python", loader._PyLoader)):
        monkeypatch.setattr(loader, "YAML_LOADER", cls)
        results[name] = [load_yaml_file(f) for f in files]
    assert results["c"] == results["python"]
    assert results["c"][-1][0]["a"] == "2024-01-02T09:00:00Z"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_long_load_says_so_on_a_terminal_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loader, "_READ_RATES", {"json": 1.0, "yaml": 1.0, "python-yaml": 1.0})
    args = ["plan", "--source", "west", *CLUSTERS]
    err = _Terminal()
    assert main(args, out=io.StringIO(), err=err) == 0
    lines = [line for line in err.getvalue().splitlines() if line.startswith("read")]
    assert any(line.startswith(f"reading {WEST} (") and "-o json" in line for line in lines)
    assert any(line.startswith(f"read {WEST} in ") for line in lines)
    _, _, plain_err = run(*args)
    assert "reading" not in plain_err


# -- 4. everything planned is valid for a real API server ------------------------------


def gateway_world(address: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    source = [namespace("shop"), link("east", gateway=address)]
    remote = [
        namespace("shop"),
        service("web", "shop", labels=EXPORTED),
        endpoints("web", "shop", ["10.1.0.1"]),
    ]
    return source, remote


def endpoint_ips(p: Any) -> list[str]:
    return [
        a.ip
        for o in p.objects
        if o.kind == "Endpoints"
        for s in o.subsets
        for a in (*s.addresses, *s.not_ready_addresses)
    ]


def test_gateway_list_with_spaces_reports_the_dropped_entry(tmp_path: Path) -> None:
    source, remote = gateway_world("192.0.2.10, 192.0.2.11")
    p = plan_docs(source, {"east": remote}, source="west", resolve={"192.0.2.11": ["192.0.2.11"]})
    assert endpoint_ips(p) == ["192.0.2.10"]
    [dropped] = [s for s in p.skipped if s.code is SkipCode.GATEWAY_ADDRESS_DROPPED]
    assert dropped.ref.kind == "Link"
    assert "' 192.0.2.11'" in dropped.message and "whitespace" in dropped.message
    code, out, err = run(
        "check", "--source", "west", "-o", "json", *world(tmp_path, source, remote)
    )
    assert code == 1
    [address] = [c for c in json.loads(out)["checks"] if c["id"] == "gateway-address"]
    assert address["status"] == "fail" and "' 192.0.2.11'" in address["message"]
    assert "warning: GatewayAddressDropped: " in err


def test_localhost_gateway_is_never_an_endpoint(tmp_path: Path) -> None:
    source, remote = gateway_world("localhost")
    p = plan_docs(source, {"east": remote}, source="west", resolve={"localhost": ["127.0.0.1"]})
    assert endpoint_ips(p) == []
    [skip] = [s for s in p.skipped if s.ref.name == "web"]
    assert skip.code is SkipCode.GATEWAY_UNRESOLVED
    assert "resolves to 127.0.0.1, which is a loopback address" in skip.message
    # The CLI resolves through DNS: localhost is loopback wherever it runs.
    code, out, err = run(
        "check", "--source", "west", "-o", "json", *world(tmp_path, source, remote)
    )
    assert code == 1
    [address] = [c for c in json.loads(out)["checks"] if c["id"] == "gateway-address"]
    assert address["status"] == "fail" and "loopback" in address["message"]


@pytest.mark.parametrize(
    ("address", "kept"),
    [
        ("127.0.0.1,192.0.2.10", ["192.0.2.10"]),
        ("192.0.2.10,", ["192.0.2.10"]),
        ("169.254.1.1,::1,0.0.0.0,224.0.0.5,192.0.2.10", ["192.0.2.10"]),
        ("::ffff:127.0.0.1,2001:db8::1", ["2001:db8::1"]),
    ],
)
def test_unusable_gateway_addresses_are_dropped_and_reported(address: str, kept: list[str]) -> None:
    source, remote = gateway_world(address)
    p = plan_docs(source, {"east": remote}, source="west")
    assert endpoint_ips(p) == kept
    dropped = [s for s in p.skipped if s.code is SkipCode.GATEWAY_ADDRESS_DROPPED]
    assert len(dropped) == address.count(",") + 1 - len(kept)


def test_hostname_gateway_under_no_resolve_says_resolution_is_off(tmp_path: Path) -> None:
    source, remote = gateway_world("gw.example.com")
    code, _, err = run("plan", "--no-resolve", "--source", "west", *world(tmp_path, source, remote))
    assert code == 0
    assert "hostnames are not resolved (resolve=None; the CLI's --no-resolve)" in err
    assert "pass a resolver" not in err


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"labels": {**EXPORTED, "team": "x" * 64}}, "not a valid label value"),
        ({"labels": {**EXPORTED, "bad key!": "x"}}, "not a valid label key"),
        ({"annotations": {"not/valid/key": "x"}}, "not a valid annotation key"),
        ({"port_list": [{"name": "http", "protocol": "FOO", "port": 80}]}, "protocol 'FOO'"),
        ({"port_list": [{"name": "HTTP", "port": 80}]}, "name 'HTTP'"),
        ({"port_list": [{"port": 80}, {"port": 81}]}, "must name each"),
        ({"port_list": [{"name": "a", "port": 80}, {"name": "a", "port": 81}]}, "twice"),
        ({"port_list": [{"name": "a", "port": 80, "targetPort": "Web"}]}, "targetPort 'Web'"),
        ({"type": "Weird"}, "spec.type 'Weird'"),
    ],
)
def test_remote_values_the_api_server_refuses_are_skipped(
    change: dict[str, Any], needle: str
) -> None:
    fields: dict[str, Any] = {"labels": EXPORTED, **change}
    remote = [namespace("shop"), service("web", "shop", **fields)]
    for rd in (False, True):
        labels = {"mirror.linkerd.io/exported": "remote-discovery"} if rd else EXPORTED
        if "labels" in change:
            labels = {**change["labels"], **labels}
        docs = [namespace("shop"), service("web", "shop", **{**fields, "labels": labels})]
        p = plan_docs([namespace("shop"), link("east")], {"east": docs})
        assert p.objects == ()
        [skip] = p.skipped
        assert skip.code is SkipCode.INVALID_REMOTE_VALUE
        assert needle in skip.message and "shop/web" in skip.message
    assert remote  # the gateway-mode world above, built once


def test_valid_remote_values_are_mirrored() -> None:
    docs = [
        namespace("shop"),
        service(
            "web",
            "shop",
            labels={**EXPORTED, "example.com/Team_1": "a" * 63, "empty": ""},
            annotations={"Example.com/x": "y"},
            port_list=[
                {"name": "http", "protocol": "UDP", "port": 80, "targetPort": "http-alt"},
                {"name": "grpc", "protocol": "SCTP", "port": 81, "targetPort": 9000},
            ],
            type="LoadBalancer",
        ),
    ]
    p = plan_docs([namespace("shop"), link("east")], {"east": docs})
    assert p.skipped == () and len(p.objects) == 2


@pytest.mark.parametrize("ip", ["", "not-an-ip", "10.0.0.256", "fe80::1%eth0"])
def test_endpoints_with_an_address_that_is_not_an_ip_are_bad_input(tmp_path: Path, ip: str) -> None:
    remote = [
        namespace("shop"),
        service("web", "shop", labels=EXPORTED),
        endpoints("web", "shop", [ip]),
    ]
    with pytest.raises(ManifestError, match=r"subsets\[0\]\.addresses\[0\]\.ip"):
        cluster_state("east", remote)
    args = world(tmp_path, [namespace("shop"), link("east")], remote)
    code, out, err = run("resolve", "--source", "west", *args, "shop/web-east")
    assert code == 2 and out == ""
    assert "east.yaml, document" in err and "is not an IP address" in err


def test_headless_plan_never_holds_an_empty_ip() -> None:
    code, out, err = run("plan", "--enable-headless-services", "--source", "west", *CLUSTERS)
    assert code == 0
    for item in yaml.safe_load(out)["items"]:
        for subset in item.get("subsets", ()):
            assert all(a["ip"] for a in subset.get("addresses", ()))
    assert "warning: HeadlessAwaitingClusterIP: headless mirror shop/db-east" in err


# -- 5. diff ignores what kubectl and the API server add -------------------------------


def test_diff_after_kubectl_apply_of_the_plan_is_empty(tmp_path: Path) -> None:
    """As `kubectl apply -f plan.yaml` would: each object with kubectl's
    last-applied-configuration annotation and managedFields, server defaults filled in."""
    west = FakeCluster.from_manifests("west", yaml.safe_load_all(Path(WEST).read_text()))
    code, out, _ = run("plan", "--source", "west", *CLUSTERS)
    assert code == 0
    applied = []
    for item in yaml.safe_load(out)["items"]:
        item["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = (
            json.dumps(item, sort_keys=True) + "\n"
        )
        item["metadata"]["managedFields"] = [{"manager": "kubectl-client-side-apply"}]
        applied.append(item)
    west.apply(applied)
    dumped = tmp_path / "west-after.json"
    dumped.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": west.dump()}))
    after = [f"west={dumped}", *CLUSTERS[1:]]
    code, out, err = run("diff", "--source", "west", *after)
    assert (code, out) == (0, ""), out
    # A real change still shows, and the annotation is not reported as one.
    source = load_cluster("west", dumped)
    changes = diff(plan(source, {}), source)
    assert changes.deletes and "last-applied" not in changes.describe()


# -- 6. messages say what happened -----------------------------------------------------


def test_version() -> None:
    from meshmirror import __version__

    assert run("--version") == (0, f"meshmirror {__version__}\n", "")


def test_link_targeting_the_source_says_so(tmp_path: Path) -> None:
    args = world(tmp_path, [namespace("shop"), link("west")], [namespace("shop")])
    code, _, err = run("plan", "--source", "west", *args)
    assert code == 0
    assert "warning: LinkTargetsSource: " in err and "the source cluster itself" in err
    assert "was not given" not in err
    code, out, _ = run("check", "--source", "west", "-o", "json", *args)
    known = [c for c in json.loads(out)["checks"] if c["id"] == "link-target-known"]
    assert "the source cluster itself" in known[0]["message"]


def test_a_symbolic_link_loop_is_not_a_missing_file(tmp_path: Path) -> None:
    loop = tmp_path / "loop.yaml"
    loop.symlink_to(loop)
    code, _, err = run("plan", "--source", "west", f"west={loop}")
    assert code == 2 and "symbolic links" in err and "no such file" not in err
    dangling = tmp_path / "dangling.yaml"
    dangling.symlink_to(tmp_path / "gone.yaml")
    code, _, err = run("plan", "--source", "west", f"west={dangling}")
    assert code == 2 and "is a symbolic link to" in err and "which does not exist" in err


def test_a_cluster_argument_with_two_equals_signs_says_where_the_name_ends() -> None:
    code, _, err = run("plan", "--source", "west", *CLUSTERS, "ea=st=path")
    assert code == 2
    assert "the cluster name is 'ea', the path everything after the first '='" in err


def test_resolve_with_two_targets_says_so() -> None:
    code, _, err = run("resolve", "--source", "west", *CLUSTERS, "shop/web-east", "shop/api")
    assert code == 2
    assert "resolve takes one target NAMESPACE/SERVICE, not 2 (shop/web-east, shop/api)" in err


def test_unknown_clusters_in_the_topology_file_are_warned(tmp_path: Path) -> None:
    topo = tmp_path / "topology.yaml"
    topo.write_text("clusters:\n  nrth: {podNetwork: a}\n  east: {gatewayReachableFrom: [wst]}\n")
    for command in ("check", "graph"):
        _, _, err = run(command, "--source", "west", *CLUSTERS, "--topology", str(topo))
        assert f"warning: TopologyUnknownCluster: topology file {topo} names cluster 'nrth'" in err
        assert "'wst' (clusters.east.gatewayReachableFrom)" in err


def test_link_gen_refuses_a_bad_selector_without_a_gateway() -> None:
    pytest.importorskip("kubernetes")
    code, out, err = run(
        "link", "--cluster-name", "east", "--gateway=false", "--selector", "a in (x"
    )
    assert code == 2 and out == ""
    assert "--selector" in err


# -- library arguments -----------------------------------------------------------------


def test_cluster_state_takes_the_single_list_kubectl_prints() -> None:
    text = Path(EAST).read_text()
    docs = list(yaml.safe_load_all(text))
    listed = {"apiVersion": "v1", "kind": "List", "items": docs}
    assert cluster_state("east", listed) == cluster_state("east", docs)
    assert cluster_state("east", docs[0]).namespaces  # one object dict is one document


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda: cluster_state("c", None), "docs must be an iterable"),
        (lambda: cluster_state("c", "kind: List"), "yaml.safe_load_all"),
        (lambda: cluster_state(None, []), "name must be a cluster's name"),  # type: ignore[arg-type]
    ],
)
def test_cluster_state_argument_errors(call: Any, needle: str) -> None:
    with pytest.raises(ArgumentError, match=needle) as info:
        call()
    assert isinstance(info.value, TypeError)


def test_plan_argument_errors() -> None:
    west = cluster_state("west", yaml.safe_load_all(Path(WEST).read_text()))
    east = cluster_state("east", yaml.safe_load_all(Path(EAST).read_text()))
    with pytest.raises(ArgumentError, match="remotes must be a mapping") as info:
        plan(west, [east])  # type: ignore[arg-type]
    assert info.value.value == [east]
    with pytest.raises(ArgumentError, match="it holds cluster 'east'") as info:
        plan(west, {"wrong": east})
    assert info.value.argument == "remotes['wrong']"
    with pytest.raises(ArgumentError, match="source must be a ClusterState"):
        plan({"west": west}, {"east": east})  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match=r"remotes\['east'\] must be a ClusterState"):
        plan(west, {"east": [east]})  # type: ignore[dict-item]
    assert check(plan(west, {"east": east}), west, {"east": east}).results


@pytest.mark.parametrize("value", [None, 3, b"a=b", ["a"]])
def test_parse_selector_of_a_non_string(value: Any) -> None:
    with pytest.raises(SelectorTypeError) as info:
        parse_selector(value)
    assert isinstance(info.value, SelectorError) and isinstance(info.value, TypeError)
    assert info.value.text == repr(value)


def test_plan_document_of_headless_options_round_trips() -> None:
    """The plan document (what `plan -o yaml` prints) loads back as a dump."""
    west = cluster_state("west", yaml.safe_load_all(Path(WEST).read_text()))
    east = cluster_state("east", yaml.safe_load_all(Path(EAST).read_text()))
    p = plan(west, {"east": east}, options=PlanOptions(enable_headless_services=True))
    assert cluster_state("west", plan_document(p)).services


def test_the_load_benchmark_writes_the_same_objects_as_yaml_and_json(tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import load as load_benchmark

    sizes = load_benchmark.write_dumps(0.05, tmp_path)
    assert sizes["json_bytes"] > sizes["yaml_bytes"] > 0
    for name in ("c000", "c001"):
        as_json = load_cluster(name, tmp_path / f"{name}.json")
        assert as_json == load_cluster(name, tmp_path / f"{name}.yaml")
        assert as_json.services
