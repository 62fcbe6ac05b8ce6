"""Files and directories of kubectl output (``meshmirror.effects.loader``), and how the CLI
reports what cannot be read."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshmirror.cli import main
from meshmirror.effects.loader import LoadError, load_cluster, load_documents, load_yaml_file
from meshmirror.formats.manifest import ManifestError

NS = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
SVC = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web", "namespace": "shop"},
    "spec": {"ports": [{"name": "http", "port": 80}]},
}


def svc(name: str) -> dict[str, Any]:
    # SVC renamed (not builders.svc): the files round-trip SVC's exact document.
    return {**SVC, "metadata": {"name": name, "namespace": "shop"}}


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, "utf-8")
    return path


def run_plan(*clusters: str, source: str = "a") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["plan", "--no-resolve", "--source", source, *clusters], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


# --------------------------------------------------------------------------- files


def test_multi_document_yaml(tmp_path: Path) -> None:
    text = (
        "# kubectl get ... -o yaml, several documents\n"
        "---\n" + yaml.safe_dump(NS) + "---\n"  # then an empty document
        "---\n" + yaml.safe_dump(SVC) + "...\n"
        "---\n"
        "# only a comment\n"
    )
    f = write(tmp_path / "a.yaml", text)
    assert load_yaml_file(f) == [NS, None, SVC, None]
    assert [(n, d["kind"]) for _, n, d in load_documents(f)] == [(1, "Namespace"), (3, "Service")]
    state = load_cluster("a", f)
    assert state.name == "a"
    assert sorted(state.namespaces) == ["shop"]
    assert state.service("shop", "web") is not None


def test_json_file(tmp_path: Path) -> None:
    f = write(
        tmp_path / "a.json", json.dumps({"apiVersion": "v1", "kind": "List", "items": [NS, SVC]})
    )
    assert load_yaml_file(f) == [{"apiVersion": "v1", "kind": "List", "items": [NS, SVC]}]
    assert [d["kind"] for _, _, d in load_documents(f)] == ["Namespace", "Service"]
    assert load_cluster("a", f).service("shop", "web") is not None


def test_json_in_a_yaml_file(tmp_path: Path) -> None:
    f = write(tmp_path / "a.yaml", json.dumps(SVC, indent=2))
    assert load_cluster("a", f).service("shop", "web") is not None


@pytest.mark.parametrize("kind", ["List", "ServiceList"])
def test_kind_list(tmp_path: Path, kind: str) -> None:
    f = write(
        tmp_path / "a.yaml",
        yaml.safe_dump({"apiVersion": "v1", "kind": kind, "items": [SVC, svc("api")]}),
    )
    found = list(load_documents(f))
    assert [(n, d["metadata"]["name"]) for _, n, d in found] == [(1, "web"), (1, "api")]
    assert sorted(load_cluster("a", f).services) == [("shop", "api"), ("shop", "web")]


def test_empty_file_is_an_empty_cluster(tmp_path: Path) -> None:
    f = write(tmp_path / "a.yaml", "")
    assert load_cluster("a", f).objects() == []


def test_timestamps_stay_text(tmp_path: Path) -> None:
    """kubectl prints creationTimestamp unquoted; YAML would make it a datetime."""
    text = (
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n"
        "  creationTimestamp: 2024-01-02T09:00:00Z\n"
    )
    f = write(tmp_path / "a.yaml", text)
    assert load_yaml_file(f)[0]["metadata"]["creationTimestamp"] == "2024-01-02T09:00:00Z"
    assert load_cluster("a", f).namespaces["shop"].creation_timestamp == "2024-01-02T09:00:00Z"


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    f = write(tmp_path / "a.yaml", "\ufeff" + yaml.safe_dump(SVC))
    assert load_cluster("a", f).service("shop", "web") is not None


def test_other_kinds_in_a_dump_are_ignored(tmp_path: Path) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "shop"}}
    f = write(tmp_path / "a.yaml", yaml.safe_dump_all([pod, SVC]))
    assert [o.kind for o in load_cluster("a", f).objects()] == ["Service"]


# --------------------------------------------------------------------------- directories


def test_directory_in_name_order(tmp_path: Path) -> None:
    d = tmp_path / "dump"
    d.mkdir()
    write(d / "b.yml", yaml.safe_dump(svc("b")))
    write(d / "a.yaml", yaml.safe_dump_all([NS, svc("a")]))
    write(d / "c.json", json.dumps({"kind": "List", "apiVersion": "v1", "items": [svc("c")]}))
    write(d / "A.yaml", yaml.safe_dump(svc("upper")))  # "A" sorts before "a"
    write(d / "notes.txt", "not: [yaml")  # other suffixes are not read
    write(d / "README.md", "# nope")
    (d / "sub.yaml").mkdir()  # a directory named like a file is not read
    write(d / "sub.yaml" / "x.yaml", yaml.safe_dump(svc("nested")))
    found = [(Path(f).name, n, doc["metadata"]["name"]) for f, n, doc in load_documents(d)]
    assert found == [
        ("A.yaml", 1, "upper"),
        ("a.yaml", 1, "shop"),
        ("a.yaml", 2, "a"),
        ("b.yml", 1, "b"),
        ("c.json", 1, "c"),
    ]
    state = load_cluster("west", d)
    assert sorted(n for _, n in state.services) == ["a", "b", "c", "upper"]


def test_empty_directory_is_an_empty_cluster(tmp_path: Path) -> None:
    assert load_cluster("a", tmp_path).objects() == []


def test_the_same_object_in_two_files_is_fine_two_versions_are_not(tmp_path: Path) -> None:
    d = tmp_path / "dump"
    d.mkdir()
    write(d / "1.yaml", yaml.safe_dump(SVC))
    write(d / "2.yaml", yaml.safe_dump(SVC))
    assert len(load_cluster("a", d).services) == 1
    write(d / "3.yaml", yaml.safe_dump({**SVC, "spec": {"ports": [{"port": 81}]}}))
    with pytest.raises(ManifestError, match="Service shop/web"):
        load_cluster("a", d)


# --------------------------------------------------------------------------- errors


def test_broken_yaml_names_the_file_and_document(tmp_path: Path) -> None:
    f = write(
        tmp_path / "west.yaml", yaml.safe_dump(NS) + "---\n" + "kind: Service\nmetadata: [a\n"
    )
    with pytest.raises(LoadError) as info:
        load_yaml_file(f)
    err = info.value
    assert err.path == str(f)
    assert err.document == 2
    assert str(err).startswith(f"{f}, document 2: invalid YAML at line ")
    assert "\n" not in str(err)
    code, out, errout = run_plan(f"a={f}")
    assert (code, out) == (2, "")
    assert errout == f"error: {err}\n"


def test_broken_yaml_in_a_directory_names_the_file(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", yaml.safe_dump(NS))
    bad = write(tmp_path / "b.yaml", "a: b: c\n")
    with pytest.raises(LoadError) as info:
        load_cluster("a", tmp_path)
    assert info.value.path == str(bad) and info.value.document == 1


def test_broken_json_names_line_and_column(tmp_path: Path) -> None:
    f = write(tmp_path / "a.json", '{"kind": "List",\n  "items": [}\n')
    with pytest.raises(LoadError) as info:
        load_yaml_file(f)
    assert str(info.value).startswith(f"{f}: invalid JSON at line 2, column ")


@pytest.mark.parametrize("name", ["missing.yaml", "missing-dir"])
def test_missing_path(tmp_path: Path, name: str) -> None:
    with pytest.raises(LoadError) as info:
        load_cluster("a", tmp_path / name)
    assert str(info.value) == f"{tmp_path / name}: no such file or directory"
    code, _, err = run_plan(f"a={tmp_path / name}")
    assert code == 2 and err == f"error: {info.value}\n"


def test_missing_file_read_directly(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="no such file"):
        load_yaml_file(tmp_path / "nope.yaml")


def test_not_utf8(tmp_path: Path) -> None:
    f = write(tmp_path / "a.yaml", b"kind: Service\nmetadata: {name: caf\xe9}\n")
    with pytest.raises(LoadError) as info:
        load_cluster("a", f)
    assert str(info.value).startswith(f"{f}: not UTF-8 text")
    code, _, err = run_plan(f"a={f}")
    assert code == 2 and err.startswith("error: ") and "not UTF-8" in err


def test_a_document_that_is_not_an_object(tmp_path: Path) -> None:
    f = write(tmp_path / "a.yaml", yaml.safe_dump(NS) + "---\n- just\n- a list\n")
    with pytest.raises(LoadError) as info:
        list(load_documents(f))
    assert info.value.document == 2
    assert "must be a mapping, not list" in str(info.value)


def test_list_items_not_a_list(tmp_path: Path) -> None:
    f = write(tmp_path / "a.yaml", "kind: List\nitems: 5\n")
    with pytest.raises(LoadError) as info:
        list(load_documents(f))
    assert info.value.document == 1 and "items" in str(info.value)


def test_malformed_object_names_file_document_object_and_field(tmp_path: Path) -> None:
    bad = {**SVC, "spec": {"ports": [{"name": "http", "port": "eighty"}]}}
    f = write(tmp_path / "a.yaml", yaml.safe_dump_all([NS, svc("ok"), bad]))
    with pytest.raises(ManifestError) as info:
        load_cluster("a", f)
    err = info.value
    assert err.where == f"{f}, document 3"
    assert str(err) == (
        f"{f}, document 3, Service shop/web: field spec.ports[0].port: "
        "must be an integer, not 'eighty'"
    )
    code, out, errout = run_plan(f"a={f}")
    assert (code, out, errout) == (2, "", f"error: {err}\n")


def test_malformed_object_inside_a_list_names_the_list_document(tmp_path: Path) -> None:
    bad = {**SVC, "metadata": {"name": "web", "namespace": "shop", "labels": {"a": 1}}}
    f = write(tmp_path / "a.yaml", yaml.safe_dump_all([NS, {"kind": "List", "items": [SVC, bad]}]))
    with pytest.raises(ManifestError) as info:
        load_cluster("a", f)
    assert info.value.where == f"{f}, document 2"
    assert info.value.field == "metadata.labels.a"


def test_yaml_booleans_where_strings_belong_are_reported(tmp_path: Path) -> None:
    """``exported: true`` unquoted is a YAML boolean, not the label value "true"."""
    f = write(
        tmp_path / "a.yaml",
        "kind: Service\napiVersion: v1\nmetadata:\n  name: web\n  namespace: shop\n"
        "  labels:\n    mirror.linkerd.io/exported: true\n",
    )
    with pytest.raises(ManifestError) as info:
        load_cluster("a", f)
    assert info.value.field == "metadata.labels.mirror.linkerd.io/exported"
    assert "must be a string, not bool" in str(info.value)


def test_unsafe_yaml_tags_are_refused(tmp_path: Path) -> None:
    f = write(tmp_path / "a.yaml", "!!python/object/apply:os.system ['true']\n")
    with pytest.raises(LoadError) as info:
        load_yaml_file(f)
    assert info.value.document == 1


# --------------------------------------------------------------------------- found bugs


def test_control_characters_give_a_one_line_error(tmp_path: Path) -> None:
    """BUG: PyYAML's ReaderError has no ``problem``; the loader falls back to ``str(err)``,
    which spans two lines, so the CLI prints a second line that is not ``error: ...``."""
    f = write(tmp_path / "a.yaml", "kind: Service\x07\n")
    with pytest.raises(LoadError) as info:
        load_yaml_file(f)
    assert info.value.document == 1
    assert "\n" not in str(info.value), str(info.value)
    code, _, err = run_plan(f"a={f}")
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: "), err


@pytest.mark.parametrize(
    ("name", "text"),
    [("deep.yaml", "[" * 5000), ("deep.json", "[" * 100_000), ("deep-map.yaml", "{a: " * 5000)],
    ids=["yaml-lists", "json-lists", "yaml-mappings"],
)
def test_deeply_nested_input_is_bad_input_not_a_crash(tmp_path: Path, name: str, text: str) -> None:
    """BUG: deeply nested YAML or JSON raises RecursionError out of the loader; the CLI
    then dies with a traceback and exit 1 instead of ``error:`` and exit 2."""
    f = write(tmp_path / name, text)
    with pytest.raises(LoadError) as info:
        load_cluster("a", f)
    assert info.value.path == str(f)
    code, _, err = run_plan(f"a={f}")
    assert code == 2 and err.startswith("error: ")
