"""The layering of docs/design.md, section 1, enforced on the source text (``ast``).

The folder is the declaration: a module's layer is the package it sits in
(``meshmirror/values/``, ``formats/``, ``decisions/``, ``views/``, ``effects/``), and a
module may import only its own layer and the layers below it::

    values < formats < decisions < views < effects < cli < __main__

No import cycle is allowed, within a layer or across (imports inside functions count); no
private name is imported from another module. The pure layers import nothing but the
standard library, attrs and typing_extensions, hold no module-level mutable state and
never reach for the clock, randomness, files or the network. ``testing`` (hypothesis
strategies) uses values only. The top-level modules named like a layer module are
re-export modules keeping the public import paths (``meshmirror.labels``); the root
``meshmirror`` re-exports the public API. The adapter (``meshmirror_k8s``) uses only that
public API.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PKG = SRC / "meshmirror"
ADAPTER = SRC / "meshmirror_k8s"

LAYERS = ("values", "formats", "decisions", "views", "effects")
PURE_LAYERS = ("values", "formats", "decisions", "views")
# Top-level modules that are not re-exports, ranked after the layers.
TOP = {"cli": len(LAYERS), "__main__": len(LAYERS) + 1, "testing": None}
THIRD_PARTY_PURE = {"attrs", "typing_extensions"}
# Standard-library modules that mean I/O, clocks, randomness or concurrency.
IMPURE_STDLIB = {
    "time",
    "random",
    "secrets",
    "socket",
    "ssl",
    "select",
    "selectors",
    "threading",
    "multiprocessing",
    "concurrent",
    "asyncio",
    "subprocess",
    "os",
    "io",
    "shutil",
    "tempfile",
    "pathlib",
    "glob",
    "urllib",
    "http",
    "logging",
    "uuid",
    "signal",
    "sched",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_modules() -> dict[str, Path]:
    """Every module inside a layer package, by dotted name."""
    return {module_name(p): p for layer in LAYERS for p in sorted((PKG / layer).rglob("*.py"))}


def reexport_modules() -> dict[str, Path]:
    """Top-level modules (and the ``backends`` package) that only re-export a layer's."""
    found = {module_name(p): p for p in sorted(PKG.glob("*.py"))}
    found |= {module_name(p): p for p in sorted((PKG / "backends").glob("*.py"))}
    return {m: p for m, p in found.items() if m != "meshmirror" and m.split(".")[1] not in TOP}


def layer_of(module: str) -> str:
    return module.split(".")[1]


def rank(module: str) -> int | None:
    """The module's place in the layer order, None for modules outside it."""
    head = module.split(".")[1] if "." in module else ""
    if head in LAYERS:
        return LAYERS.index(head)
    return TOP.get(head)


def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text("utf-8"), filename=str(path))


def _is_module(name: str) -> bool:
    rel = Path(*name.split("."))
    return (SRC / rel).with_suffix(".py").exists() or (SRC / rel / "__init__.py").exists()


def imports(tree: ast.Module, module: str) -> Iterator[tuple[str, tuple[str, ...], int]]:
    """Every import as (absolute module, imported names, line), relative ones resolved
    against ``module`` (a package's ``__init__`` given as ``pkg.__init__``); imports under
    ``if TYPE_CHECKING:``, inside functions and ``importlib.import_module("...")`` count."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, (), node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = module.split(".")
                base = parts[: len(parts) - node.level]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            names = tuple(a.name for a in node.names)
            if source == "meshmirror" or source.startswith("meshmirror."):
                # `from meshmirror.values import labels` imports the module itself.
                submodules = [n for n in names if _is_module(f"{source}.{n}")]
                for n in submodules:
                    yield f"{source}.{n}", (), node.lineno
                rest = tuple(n for n in names if n not in submodules)
                if rest or not submodules:
                    yield source, rest, node.lineno
            else:
                yield source, names, node.lineno
        elif isinstance(node, ast.Call):
            func = node.func
            if (isinstance(func, ast.Attribute) and func.attr == "import_module") or (
                isinstance(func, ast.Name) and func.id == "__import__"
            ):
                arg = node.args[0] if node.args else None
                target = arg.value if isinstance(arg, ast.Constant) else "<dynamic>"
                yield str(target), (), node.lineno


def _where(module: str, line: int) -> str:
    return f"{module.replace('.', '/')}.py:{line}"


def arrow_offences(module: str, tree: ast.Module) -> list[str]:
    """Imports of meshmirror that point outward, at a re-export module or at the root,
    or that take a private name from another module."""
    own = rank(module)
    assert own is not None, module
    bad = []
    for name, names, line in imports(tree, module):
        if name != "meshmirror" and not name.startswith("meshmirror."):
            continue
        where = f"{_where(module, line)} imports {name}"
        target = rank(name)
        if name == "meshmirror" and all(n.startswith("__") for n in names):
            pass  # __version__
        elif name == "meshmirror" or name in reexport_modules():
            bad.append(f"{where}: a re-export, import the module where the code lives")
        elif target is None:
            bad.append(f"{where}: {name} is outside the layers")
        elif target > own:
            bad.append(
                f"{where}: an arrow pointing outward ({layer_of(name)} > {layer_of(module)})"
            )
        private = [n for n in names if n.startswith("_") and not n.startswith("__")]
        if private and name != module:
            bad.append(f"{where}: private names {private}")
    return bad


def purity_import_offences(
    module: str, tree: ast.Module, *, extra: frozenset[str] = frozenset()
) -> list[str]:
    bad = []
    for name, _, line in imports(tree, module):
        top = name.split(".")[0]
        where = f"{_where(module, line)} imports {name}"
        if top in {"meshmirror", "__future__"}:
            continue
        if top in sys.stdlib_module_names:
            if top in IMPURE_STDLIB:
                bad.append(f"{where} (I/O, clock, randomness or threads)")
        elif top not in THIRD_PARTY_PURE | extra:
            bad.append(f"{where} (not stdlib, attrs or typing_extensions)")
    return bad


def pure_modules() -> list[str]:
    return [m for m in layer_modules() if layer_of(m) in PURE_LAYERS]


@pytest.mark.parametrize(
    "module", [*sorted(layer_modules()), "meshmirror.cli", "meshmirror.__main__"]
)
def test_every_arrow_points_inward(module: str) -> None:
    path = layer_modules().get(module) or PKG / f"{module.split('.')[1]}.py"
    assert arrow_offences(module, parse(path)) == []


@pytest.mark.parametrize("module", pure_modules())
def test_pure_modules_import_only_stdlib_attrs_and_typing_extensions(module: str) -> None:
    assert purity_import_offences(module, parse(layer_modules()[module])) == []


def import_graph() -> dict[str, set[str]]:
    """Module -> the meshmirror modules it imports (re-exports resolved to their homes)."""
    paths = layer_modules() | {f"meshmirror.{m}": PKG / f"{m}.py" for m in TOP}
    homes = {m: _reexported_home(m, p) for m, p in reexport_modules().items()}
    graph: dict[str, set[str]] = {}
    for module, path in paths.items():
        deps = set()
        for name, _, _ in imports(parse(path), module):
            name = homes.get(name, name)
            if name in paths and name != module:
                deps.add(name)
            elif name.rpartition(".")[0] in paths:
                deps.add(name.rpartition(".")[0])
        graph[module] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles() -> None:
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_cycles() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def _reexported_home(module: str, path: Path) -> str:
    tree = parse(path)
    sources = {n.module for n in tree.body if isinstance(n, ast.ImportFrom)}
    assert len(sources) == 1, f"{module} should import from exactly one module"
    return str(sources.pop())


@pytest.mark.parametrize("module", sorted(reexport_modules()))
def test_reexport_modules_keep_the_public_paths(module: str) -> None:
    """``meshmirror.labels`` is ``meshmirror.values.labels``'s public names, nothing
    else: a docstring, then ``from <home> import *`` and ``from <home> import __all__``
    (the form attrs' ``attr`` modules use), the home the same-named module of a layer."""
    home_name = _reexported_home(module, reexport_modules()[module])
    assert home_name.rsplit(".", 1)[-1] == module.rsplit(".", 1)[-1]
    assert layer_of(home_name) in LAYERS
    tree = parse(reexport_modules()[module])
    kinds = [type(n).__name__ for n in tree.body]
    assert kinds == ["Expr", "ImportFrom", "ImportFrom"], kinds
    imported = [tuple(a.name for a in n.names) for n in tree.body[1:]]  # type: ignore[attr-defined]
    assert imported == [("*",), ("__all__",)], imported
    shim, home = importlib.import_module(module), importlib.import_module(home_name)
    assert shim.__all__ == home.__all__
    for name in home.__all__:
        assert getattr(shim, name) is getattr(home, name)


def test_every_top_level_module_is_placed() -> None:
    """A new top-level module is a re-export or named in TOP; a new module elsewhere
    must sit in a layer package."""
    for path in PKG.rglob("*.py"):
        module = module_name(path)
        if module == "meshmirror" or module in reexport_modules():
            continue
        assert rank(module) is not None or module == "meshmirror.testing", module
    assert {"values", "formats", "decisions", "views", "effects"} <= {
        p.name for p in PKG.iterdir() if p.is_dir()
    }


def test_testing_uses_values_and_hypothesis_only() -> None:
    tree = parse(PKG / "testing.py")
    bad = purity_import_offences("meshmirror.testing", tree, extra=frozenset({"hypothesis"}))
    for name, _, line in imports(tree, "meshmirror.testing"):
        if name.startswith("meshmirror.") and layer_of(name) != "values":
            bad.append(f"testing.py:{line} imports {name} (values only)")
    assert bad == []


def test_import_boundary_catches_offences() -> None:
    """The checker itself: a forbidden import in each form is seen."""
    tree = ast.parse(
        "import socket\n"
        "from meshmirror import cli\n"
        "from meshmirror.effects.loader import load_cluster\n"
        "from meshmirror.views import graph\n"
        "from meshmirror.formats.manifest import _private\n"
        "from meshmirror.labels import Selector\n"
        "from ..effects import backends\n"
        "import importlib\nimportlib.import_module('meshmirror_k8s')\n"
    )
    seen = {name for name, _, _ in imports(tree, "meshmirror.decisions.plan")}
    assert {
        "socket",
        "meshmirror.cli",
        "meshmirror.effects.loader",
        "meshmirror.effects.backends",
    } <= seen
    assert {"meshmirror.views.graph", "meshmirror_k8s"} <= seen
    found = arrow_offences("meshmirror.decisions.plan", tree)
    assert sum("outward" in f for f in found) == 4  # cli, loader, graph, backends
    assert sum("private" in f for f in found) == 1
    assert sum("re-export" in f for f in found) == 1
    assert len(purity_import_offences("meshmirror.decisions.plan", tree)) == 2  # socket, k8s


def _adapter_files() -> list[Path]:
    return sorted(ADAPTER.rglob("*.py")) if ADAPTER.is_dir() else []


@pytest.mark.parametrize("path", _adapter_files(), ids=lambda p: p.name)
def test_adapter_uses_only_the_public_api(path: Path) -> None:
    """The adapter imports the public paths (the root, the re-export modules) and only
    names in their ``__all__``; never a layer module, a private one or ``testing``."""
    module = ".".join(("meshmirror_k8s", *path.relative_to(ADAPTER).with_suffix("").parts))
    public = set(reexport_modules()) | {"meshmirror"}
    bad = []
    for name, names, line in imports(parse(path), module):
        if name != "meshmirror" and not name.startswith("meshmirror."):
            continue
        where = f"{path.name}:{line} imports {name}"
        if name not in public:
            bad.append(f"{where} (not a public import path)")
            continue
        exported = set(getattr(importlib.import_module(name), "__all__", ()))
        for n in names:
            if n != "*" and n not in exported:
                bad.append(f"{where}: {n} is not in {name}.__all__")
    assert bad == []


# --------------------------------------------------------------------------- purity

MUTABLE_LITERALS = (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp)
MUTABLE_CALLS = {
    "list",
    "dict",
    "set",
    "bytearray",
    "defaultdict",
    "OrderedDict",
    "Counter",
    "deque",
    "ChainMap",
}
# Calls that read the clock, randomness, files, the network or the environment.
IMPURE_CALLS = {
    "open",
    "input",
    "print",
    "breakpoint",
    "now",
    "utcnow",
    "today",
    "time",
    "monotonic",
    "perf_counter",
    "random",
    "randint",
    "choice",
    "shuffle",
    "uuid1",
    "uuid4",
    "urandom",
    "getenv",
    "getaddrinfo",
    "gethostbyname",
    "socket",
    "create_connection",
}
IMPURE_NAMES = {"time", "random", "socket", "os", "sys", "secrets"}


def _call_name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _targets(node: ast.stmt) -> list[str]:
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    return []


def _bindings(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements binding module or class attributes (class bodies are module state too)."""
    for node in body:
        if isinstance(node, ast.ClassDef):
            yield from _bindings(node.body)
        elif isinstance(node, ast.If | ast.Try):
            yield from _bindings(node.body)
            yield from _bindings(node.orelse)
        else:
            yield node


def module_state_offences(tree: ast.Module, module: str) -> list[str]:
    """Module-level (and class-level) bindings to mutable containers, ``__all__``
    excepted: constants are tuples, frozensets or MappingProxyType."""
    bad = []
    for node in _bindings(tree.body):
        value = getattr(node, "value", None)
        names = _targets(node)
        if not names or value is None or names == ["__all__"]:
            continue
        where = f"{_where(module, node.lineno)} {', '.join(names)}"
        mutable = isinstance(value, MUTABLE_LITERALS) or (
            isinstance(value, ast.Call) and _call_name(value.func) in MUTABLE_CALLS
        )
        if mutable:
            bad.append(f"{where}: a mutable {type(value).__name__} at module level")
    return bad


def impure_calls(tree: ast.Module, module: str) -> list[str]:
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _call_name(node.func)
            base = node.func.value if isinstance(node.func, ast.Attribute) else None
            base_name = _call_name(base) if base is not None else ""
            if name in IMPURE_CALLS or base_name in IMPURE_NAMES:
                # datetime.time(...) builds a value; astimezone() without a zone reads
                # the machine's zone, so it is caught below instead.
                if name == "time" and base_name == "datetime":
                    continue
                bad.append(f"{_where(module, node.lineno)} calls {ast.unparse(node.func)}")
            if name == "astimezone" and not node.args:
                bad.append(f"{_where(module, node.lineno)} reads the local time zone")
        elif isinstance(node, ast.Global):
            bad.append(f"{_where(module, node.lineno)} rebinds module state (global)")
    return bad


@pytest.mark.parametrize("module", pure_modules())
def test_pure_modules_hold_no_module_level_mutable_state(module: str) -> None:
    found = module_state_offences(parse(layer_modules()[module]), module)
    assert not found, "\n".join(found)


@pytest.mark.parametrize("module", pure_modules())
def test_pure_modules_call_no_clock_randomness_files_or_network(module: str) -> None:
    assert impure_calls(parse(layer_modules()[module]), module) == []


def test_purity_checks_catch_offences() -> None:
    tree = ast.parse(
        "import time\n"
        "CACHE = {}\n"
        "_seen: list[str] = []\n"
        "NAMES = [n for n in 'ab']\n"
        "OK = (1, 2)\n"
        "FROZEN = frozenset({1})\n"
        "class C:\n"
        "    registry: dict[str, int] = dict()\n"
        "__all__ = ['x']\n"
        "def f():\n"
        "    global CACHE\n"
        "    open('x')\n"
        "    return time.time(), datetime.datetime.now()\n"
    )
    state = module_state_offences(tree, "x")
    assert [s.split()[1] for s in state] == ["CACHE:", "_seen:", "NAMES:", "registry:"]
    calls = impure_calls(tree, "x")
    assert len(calls) == 4  # global, open, time.time, now


# --------------------------------------------------------------------------- __all__


def _all_modules() -> list[str]:
    out = []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(SRC).with_suffix("")
        parts = [p for p in rel.parts if p != "__init__"]
        if parts[-1] == "__main__":
            continue
        out.append(".".join(parts))
    return out


@pytest.mark.parametrize("name", _all_modules())
def test_every_name_in_all_exists(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    assert len(exported) == len(set(exported)), f"{name}.__all__ repeats a name"
    missing = [n for n in exported if not hasattr(module, n)]
    assert missing == []


# The library contract of docs/design.md, section 4.1, and what a user catches or builds.
PUBLIC = {
    "plan",
    "diff",
    "PlanOptions",
    "Plan",
    "Changes",
    "Update",
    "LINKERD",
    "Scheme",
    "Skip",
    "SkipCode",
    "Conflict",
    "ConflictCode",
    "Selector",
    "SelectorError",
    "LabelError",
    "parse_selector",
    "ManifestError",
    "InvalidNameError",
    "cluster_state",
    "to_manifest",
    "ClusterState",
    "ObjectRef",
    "Service",
    "ServicePort",
    "Endpoints",
    "EndpointSubset",
    "EndpointAddress",
    "EndpointPort",
    "Namespace",
    "Link",
    "ProbeSpec",
    "ConfigMap",
    "FrozenMap",
    "Federation",
    "Member",
    "Mirror",
}


def test_package_reexports_the_public_names() -> None:
    import meshmirror

    assert set(meshmirror.__all__) >= PUBLIC, sorted(PUBLIC - set(meshmirror.__all__))
    # Each is the very object its module defines.
    for name, home in {
        "plan": "plan",
        "PlanOptions": "plan",
        "diff": "diff",
        "Selector": "labels",
        "SelectorError": "labels",
        "cluster_state": "manifest",
        "to_manifest": "manifest",
        "ClusterState": "model",
        "LINKERD": "scheme",
        "SkipCode": "codes",
    }.items():
        module = importlib.import_module(f"meshmirror.{home}")
        assert getattr(meshmirror, name) is getattr(module, name)


def test_importing_the_package_loads_no_effects_or_optional_dependencies() -> None:
    """``import meshmirror`` is the pure core: no CLI, loader, YAML, hypothesis or
    Kubernetes client (extras stay optional)."""
    code = (
        "import sys, meshmirror\n"
        "bad = [m for m in ('yaml', 'hypothesis', 'kubernetes', 'meshmirror.cli',\n"
        "       'meshmirror.effects.loader', 'meshmirror.testing', 'meshmirror_k8s')\n"
        "       if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(SRC), "PATH": ""},
        check=True,
    )
    assert run.stdout.strip() == ""
