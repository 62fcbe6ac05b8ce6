"""Fuzzing: random text and random JSON-like structures into every reader.

Only the documented exceptions may escape (``SelectorError``, ``LabelError``,
``ManifestError``, ``LoadError``), whatever exotic value sits where; and the CLI turns
each into one ``error:`` line and exit 2, never a traceback.
"""

from __future__ import annotations

import copy
import io
import json
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from meshmirror import plan
from meshmirror.cli import main
from meshmirror.effects.loader import LoadError, load_cluster
from meshmirror.formats import manifest as manifest_module
from meshmirror.formats.manifest import ManifestError, cluster_state, from_manifest, to_manifest
from meshmirror.testing import json_like, selector_texts, topologies
from meshmirror.values.labels import LabelError, Selector, SelectorError, parse_selector

SELECTOR_ERRORS = (SelectorError, LabelError)
# The file and CLI fuzzers write files and parse YAML: half the profile's examples.
SLOW = settings(
    max_examples=max(10, settings.default.max_examples // 2),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
READ_ERRORS = (ManifestError, LoadError)

# Field names a manifest uses, so that random structures often land on real fields.
MANIFEST_FIELDS = (
    "apiVersion",
    "kind",
    "metadata",
    "name",
    "namespace",
    "labels",
    "annotations",
    "resourceVersion",
    "creationTimestamp",
    "spec",
    "ports",
    "port",
    "targetPort",
    "protocol",
    "clusterIP",
    "type",
    "selector",
    "subsets",
    "addresses",
    "notReadyAddresses",
    "ip",
    "hostname",
    "items",
    "targetClusterName",
    "gatewayAddress",
    "gatewayPort",
    "matchLabels",
    "matchExpressions",
    "endpoints",
    "conditions",
    "ready",
)
KINDS = (
    "Service",
    "Endpoints",
    "Namespace",
    "Link",
    "ConfigMap",
    "EndpointSlice",
    "List",
    "ServiceList",
    "Pod",
)
API_VERSIONS = (
    "v1",
    "multicluster.linkerd.io/v1alpha3",
    "multicluster.linkerd.io/v1alpha2",
    "discovery.k8s.io/v1",
    "apps/v1",
)
# Values that have broken readers before: wrong types, bounds, odd text.
ODD_VALUES = st.sampled_from(
    [
        None,
        True,
        False,
        0,
        -1,
        65536,
        2**70,
        1.5,
        float("inf"),
        "",
        "None",
        "a\nb",
        "\x00",
        "é",
        "a" * 300,
        "2024-01-01T00:00:00",
        "2024-01-01T00:00:00Z",
        "80",
        [],
        {},
        [None],
        {"": None},
        {"a": {"b": []}},
    ]
)


def fuzz_values() -> st.SearchStrategy[Any]:
    return st.one_of(ODD_VALUES, json_like(MANIFEST_FIELDS, max_leaves=8))


@st.composite
def random_objects(draw: st.DrawFn) -> dict[str, Any]:
    """A mapping with a plausible kind and apiVersion and random everything else."""
    doc: dict[str, Any] = draw(
        st.dictionaries(st.sampled_from(MANIFEST_FIELDS), fuzz_values(), max_size=5)
    )
    doc["kind"] = draw(st.sampled_from(KINDS))
    if draw(st.booleans()):
        doc["apiVersion"] = draw(st.sampled_from(API_VERSIONS))
    return doc


def _slots(node: Any) -> Iterator[tuple[Any, Any]]:
    """Every (container, key or index) inside ``node``."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield node, key
            yield from _slots(value)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield node, i
            yield from _slots(value)


@st.composite
def mutated(draw: st.DrawFn, doc: dict[str, Any], max_changes: int = 3) -> dict[str, Any]:
    """``doc`` with a few values replaced, removed or added somewhere inside it."""
    out = copy.deepcopy(doc)
    for _ in range(draw(st.integers(min_value=1, max_value=max_changes))):
        slots = list(_slots(out))
        if not slots:
            break
        parent, key = slots[draw(st.integers(min_value=0, max_value=len(slots) - 1))]
        action = draw(st.sampled_from(("replace", "replace", "delete", "add")))
        # Copies: what is put in is mutated by later changes, and Hypothesis may hand
        # out the same value object again when it replays an example.
        if action == "replace":
            parent[key] = copy.deepcopy(draw(fuzz_values()))
        elif action == "delete":
            del parent[key]
        elif isinstance(parent, dict):
            parent[draw(st.sampled_from(MANIFEST_FIELDS))] = copy.deepcopy(draw(fuzz_values()))
        else:
            parent.append(copy.deepcopy(draw(fuzz_values())))
    return out


SLICE = {
    "apiVersion": "discovery.k8s.io/v1",
    "kind": "EndpointSlice",
    "metadata": {
        "name": "web-abc",
        "namespace": "shop",
        "labels": {"kubernetes.io/service-name": "web"},
    },
    "addressType": "IPv4",
    "endpoints": [{"addresses": ["10.1.0.5"], "conditions": {"ready": True}, "hostname": "h"}],
    "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
}
CONFIG_MAP = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "linkerd-identity-trust-roots", "namespace": "linkerd"},
    "data": {"ca-bundle.crt": "x"},
}


LINKED_SOURCE = (
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
    {
        "apiVersion": "multicluster.linkerd.io/v1alpha3",
        "kind": "Link",
        "metadata": {"name": "east", "namespace": "linkerd-multicluster"},
        "spec": {
            "targetClusterName": "east",
            "gatewayAddress": "192.0.2.1",
            "gatewayPort": "4143",
            "selector": {"matchLabels": {"mirror.linkerd.io/exported": "true"}},
        },
    },
)
NEWLINE_SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {
        "name": "we\nb",
        "namespace": "shop",
        "labels": {"mirror.linkerd.io/exported": "true"},
    },
    "spec": {"ports": [{"port": 80}]},
}
# The same Service with a bad port: an error that names it.
NEWLINE_NAME = yaml.safe_dump({**NEWLINE_SERVICE, "spec": {"ports": [{"port": 0}]}}).encode()


@st.composite
def manifest_sets(draw: st.DrawFn) -> tuple[list[Any], list[Any]]:
    """(source documents, remote documents) of a real topology, a few of them broken,
    sometimes wrapped in a ``kind: List``."""
    source, remotes = draw(topologies(max_remotes=1, max_services=3))
    (remote_name, remote), *_ = remotes.items()
    sets = []
    for state, extra in ((source, [CONFIG_MAP]), (remote, [SLICE])):
        docs: list[Any] = [to_manifest(o) for o in state.objects()] + extra
        for _ in range(draw(st.integers(min_value=0, max_value=3))):
            i = draw(st.integers(min_value=0, max_value=len(docs) - 1))
            docs[i] = draw(st.one_of(mutated(docs[i]), random_objects(), fuzz_values()))
        if draw(st.booleans()):
            docs = [{"apiVersion": "v1", "kind": "List", "items": docs}]
        sets.append(docs)
    return sets[0], sets[1]


def _explains(err: Exception) -> None:
    assert str(err).strip(), f"{type(err).__name__} without a message"


def _outcome(
    func: Callable[[Any], Any], arg: Any, errors: tuple[type[Exception], ...] = (ManifestError,)
) -> Any:
    """``func(arg)``, or the documented exception it raised (anything else escapes)."""
    try:
        return func(arg)
    except errors as err:
        return err


# --------------------------------------------------------------------------- selectors


@given(st.one_of(selector_texts(), st.text()))
def test_parse_selector_raises_only_selector_errors(text: str) -> None:
    try:
        sel = parse_selector(text)
    except SELECTOR_ERRORS as err:
        _explains(err)
        return
    # Whatever parses prints canonically and parses back to itself.
    assert parse_selector(str(sel)) == sel


@given(st.one_of(json_like(), st.none(), st.dictionaries(st.text(max_size=3), json_like())))
def test_from_label_selector_raises_only_selector_errors(value: Any) -> None:
    try:
        sel = Selector.from_label_selector(value)
    except SELECTOR_ERRORS as err:
        _explains(err)
        return
    assert isinstance(sel, Selector)
    if value is None:
        assert sel.is_nothing()
    else:
        # The dict form survives the trip (duplicate values collapse, as in the text form).
        again = Selector.from_label_selector(sel.to_label_selector())
        assert again == parse_selector(str(sel))


# --------------------------------------------------------------------------- manifests


@given(st.one_of(random_objects(), fuzz_values()))
def test_from_manifest_raises_only_manifest_errors(doc: Any) -> None:
    try:
        obj = from_manifest(doc)
    except ManifestError as err:
        _explains(err)
        return
    if obj is not None:
        assert from_manifest(to_manifest(obj)) is not None


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(manifest_sets())
# An unhashable creationTimestamp: TypeError from the fast path's timestamp cache.
@example(([{**dict(NEWLINE_SERVICE), "metadata": {"name": "w", "creationTimestamp": []}}], []))
def test_cluster_state_and_plan_on_broken_manifests(docs: tuple[list[Any], list[Any]]) -> None:
    """Reading raises only ManifestError; whatever reads is planned without error."""
    source_docs, remote_docs = docs
    try:
        source = cluster_state("west", source_docs)
        remotes = {t: cluster_state(t, remote_docs) for t in ("east", "north", "south", "eu-2")}
    except ManifestError as err:
        _explains(err)
        return
    p = plan(source, remotes)
    for obj in p.objects:
        json.dumps(to_manifest(obj))
    for obj in source.objects():
        cluster_state("again", [to_manifest(obj)])


FAST_READERS: dict[str, Callable[[Any], Any]] = {
    "Service": lambda doc: manifest_module._fast_service(doc, {}, set()),
    "Endpoints": lambda doc: manifest_module._fast_endpoints(doc, {}, set()),
    "Namespace": lambda doc: manifest_module._fast_namespace(doc, set()),
}


@given(st.data())
def test_fast_and_careful_readers_agree_on_broken_objects(data: st.DataObject) -> None:
    """A fast reader reads a broken object as the careful reader (``manifest._careful``)
    does, or gives up on it (``_Unusual``); never does it accept what the careful reader
    rejects. Through the seam (``from_manifest``, ``cluster_state``) the value or the
    error is the careful reader's, message and all."""
    source, _ = data.draw(topologies(max_remotes=1, max_services=3))
    docs = [
        to_manifest(o) for o in source.objects() if o.kind in ("Service", "Endpoints", "Namespace")
    ]
    original = data.draw(st.sampled_from(docs))
    doc = data.draw(mutated(original))
    careful: Any = _outcome(manifest_module._careful, doc)
    fast: Any = _outcome(FAST_READERS[original["kind"]], doc, (manifest_module._Unusual,))
    sent_fast = doc.get("apiVersion") == "v1" and doc.get("kind") == original["kind"]
    if sent_fast and not isinstance(fast, manifest_module._Unusual):
        assert not isinstance(careful, ManifestError), f"the fast path accepted: {careful}"
        assert fast == careful
    for seam in (from_manifest, lambda d: cluster_state("x", [d])):
        found: Any = _outcome(seam, doc)
        if isinstance(careful, ManifestError) or isinstance(found, ManifestError):
            assert str(found) == str(careful)
        elif seam is from_manifest:
            assert found == careful
        else:
            assert found.objects() == ([careful] if careful is not None else [])


# --------------------------------------------------------------------------- loader and CLI


@st.composite
def file_contents(draw: st.DrawFn) -> tuple[str, bytes]:
    """(file suffix, bytes): random bytes or text, or YAML/JSON of broken manifests."""
    choice = draw(st.integers(min_value=0, max_value=4))
    if choice == 0:
        return draw(st.sampled_from((".yaml", ".json"))), draw(st.binary(max_size=200))
    if choice == 1:
        text = draw(st.text(max_size=200))
        return draw(st.sampled_from((".yaml", ".json", ".yml"))), text.encode("utf-8")
    if choice == 2:
        # Text that looks like YAML: keys, colons, dashes, quotes, indentation.
        pieces = st.sampled_from(
            ["kind: ", "Service", "\n", "  ", "- ", ": ", "'", '"', "---\n", "{", "}", "[", "]",
             "metadata:\n  name: x\n", "items:\n", "&a ", "*a", "!!str ", "#", "? ", "|\n",
             "!!int ", "!!float ", "!!bool ", "!!timestamp ", "!!binary ", "0x", "9" * 50]
        )  # fmt: skip
        text = "".join(draw(st.lists(pieces, max_size=30)))
        return ".yaml", text.encode("utf-8")
    docs = draw(manifest_sets())[0]
    if choice == 3:
        return ".yaml", yaml.safe_dump_all(docs).encode("utf-8")
    return ".json", json.dumps({"kind": "List", "apiVersion": "v1", "items": docs}).encode("utf-8")


def _write(folder: Path, suffix: str, content: bytes) -> Path:
    path = folder / f"a{suffix}"
    path.write_bytes(content)
    return path


@SLOW
@given(file_contents())
def test_loader_raises_only_load_and_manifest_errors(content: tuple[str, bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(Path(tmp), *content)
        found = _outcome(lambda p: load_cluster("a", p), path, READ_ERRORS)
    if isinstance(found, Exception):
        assert str(path) in str(found)


def _run(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(args, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@SLOW
@given(file_contents())
@example((".yaml", b"[" * 5000))  # deep nesting: RecursionError in PyYAML's composer
@example((".json", b"[" * 100_000))  # and in the json module
def test_cli_plan_never_crashes_on_random_files(content: tuple[str, bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(Path(tmp), *content)
        code, out, err = _run(["plan", "--source", "a", f"a={path}"])
    assert code in (0, 2)
    assert "Traceback" not in err
    if code == 2:
        assert out == ""
        assert err.startswith("error: ")
    else:
        assert yaml.safe_load(out)["kind"] == "List"


@SLOW
@given(file_contents())
@example((".yaml", b"kind: Service\x07\n"))  # PyYAML's ReaderError prints on two lines
@example((".yaml", NEWLINE_NAME))  # an object name holding a newline
def test_cli_error_is_a_single_line(content: tuple[str, bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(Path(tmp), *content)
        code, _, err = _run(["plan", "--source", "a", f"a={path}"])
    if code == 2:
        assert err.startswith("error: ") and err.count("\n") == 1, err


@SLOW
@given(manifest_sets())
@example(([*LINKED_SOURCE], [dict(NEWLINE_SERVICE)]))  # a warning naming it: two lines
def test_cli_plan_two_clusters_of_broken_manifests(docs: tuple[list[Any], list[Any]]) -> None:
    """Source and remote both partly broken: exit 0 with warnings one per line, or 2."""
    with tempfile.TemporaryDirectory() as tmp:
        west = Path(tmp) / "west.yaml"
        west.write_text(yaml.safe_dump_all(docs[0]), "utf-8")
        east = Path(tmp) / "east.json"
        east.write_text(json.dumps({"kind": "List", "items": docs[1]}), "utf-8")
        clusters = [f"{name}={east}" for name in ("east", "north", "south", "eu-2")]
        code, out, err = _run(
            ["plan", "--no-resolve", "--source", "west", f"west={west}", *clusters]
        )
    assert code in (0, 2), err
    assert "Traceback" not in err
    if code == 0:
        assert yaml.safe_load(out)["kind"] == "List"
        assert all(line.startswith("warning: ") for line in err.splitlines()), err
    else:
        assert err.startswith("error: ") and err.count("\n") == 1, err


# --------------------------------------------------------------------------- the whole CLI

_EXAMPLE_DIR = Path(__file__).resolve().parent.parent / "examples" / "topology"
_EXAMPLE_DOCS = {
    name: list(yaml.safe_load_all((_EXAMPLE_DIR / f"{name}.yaml").read_text()))
    for name in ("west", "east", "north")
}
# Exit codes each command may end with on any input (2: bad input; 1: changes, a failed
# check or resolve).
_COMMANDS: dict[str, tuple[list[str], tuple[int, ...]]] = {
    "plan": (["plan", "-o", "yaml"], (0, 2)),
    "plan-table": (["plan", "-o", "table", "--enable-headless-services"], (0, 2)),
    "diff": (["diff", "--enable-namespace-creation"], (0, 1, 2)),
    "check": (["check", "-o", "json"], (0, 1, 2)),
    "resolve": (["resolve", "-o", "json", "--from", "shop"], (0, 1, 2)),
    "graph": (["graph", "-o", "mermaid"], (0, 2)),
}


@st.composite
def mutated_dumps(draw: st.DrawFn) -> dict[str, bytes]:
    """The example topology's three dumps, objects mutated, then (sometimes) the text
    cut, spliced or written as JSON."""
    out: dict[str, bytes] = {}
    for name, docs in _EXAMPLE_DOCS.items():
        picked = [d for d in docs if draw(st.integers(0, 9)) > 0]  # drop a few objects
        if draw(st.booleans()):
            i = draw(st.integers(0, max(0, len(picked) - 1)))
            picked = [draw(mutated(d)) if j == i else d for j, d in enumerate(picked)]
        if draw(st.booleans()):
            text = json.dumps({"apiVersion": "v1", "kind": "List", "items": picked}).encode()
        else:
            text = yaml.safe_dump_all(picked).encode()
        if draw(st.integers(0, 4)) == 0:  # a byte-level cut or splice
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(st.binary(max_size=8)) + text[at + draw(st.integers(0, 40)) :]
        out[name] = text
    return out


def _api_server_valid(doc: dict[str, Any]) -> None:
    from meshmirror.values.labels import is_valid_key, is_valid_value
    from meshmirror.values.names import endpoint_ip_problem

    for item in doc["items"]:
        meta = item["metadata"]
        for k, v in meta["labels"].items():
            assert is_valid_key(k) and is_valid_value(v), (k, v)
        for k in meta["annotations"]:
            assert is_valid_key(k.lower()), k
        for subset in item.get("subsets", ()):
            for a in (*subset.get("addresses", ()), *subset.get("notReadyAddresses", ())):
                assert endpoint_ip_problem(a["ip"]) is None, a
        for port in item.get("spec", {}).get("ports", ()):
            assert port["protocol"] in ("TCP", "UDP", "SCTP"), port


@SLOW
@given(mutated_dumps(), st.sampled_from(sorted(_COMMANDS)))
def test_the_whole_cli_on_mutated_real_dumps(dumps: dict[str, bytes], command: str) -> None:
    """Every command on the example dumps, mutated: an answer or one ``error:`` line,
    never a traceback or a hang; what ``plan`` prints is valid for an API server."""
    import time

    argv, codes = _COMMANDS[command]
    with tempfile.TemporaryDirectory() as tmp:
        specs = []
        for name, text in dumps.items():
            path = Path(tmp) / f"{name}.{'json' if text[:1] == b'{' else 'yaml'}"
            path.write_bytes(text)
            specs.append(f"{name}={path}")
        target = ["shop/web-east"] if command == "resolve" else []
        started = time.monotonic()
        code, out, err = _run([*argv, "--no-resolve", "--source", "west", *specs, *target])
        assert time.monotonic() - started < 10.0
    assert code in codes, (code, err)
    assert "Traceback" not in err
    if code == 2:
        assert out == "" and err.startswith("error: ") and err.count("\n") == 1, err
        return
    for line in err.splitlines():
        assert line.startswith(("warning: ", "note: ")), line
    if command == "plan":
        _api_server_valid(yaml.safe_load(out))
