"""The layering of docs/design.md, section 1, enforced on the source text (``ast``).

values (labels, names, model, scheme, codes) <- decisions (mirror, federated, plan, diff,
topology, checks, resolve, graph) and formats (manifest); tools (testing) use values
only; the pure layers import nothing but the standard library, attrs and
typing_extensions, hold no module-level mutable state and never reach for the clock,
randomness, files or the network. The adapter (``meshmirror_k8s``) uses meshmirror's
public API only.
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

VALUES = ("labels", "names", "model", "scheme", "codes", "display")
DECISIONS = (
    "mirror",
    "federated",
    "plan",
    "diff",
    "incremental",
    "decide",
    "topology",
    "checks",
    "resolve",
    "graph",
    "summary",
    "status",
    "liveness",
)
FORMATS = ("manifest",)
PURE = VALUES + DECISIONS + FORMATS
# What each layer may import from meshmirror itself (arrows point inwards only).
# Decisions may use formats: the planner renders through `manifest` and federated
# precedence parses timestamps with it. Both stay pure.
ALLOWED_OWN = {
    "values": set(VALUES),
    "formats": set(VALUES),
    "decisions": set(VALUES + DECISIONS + FORMATS),
    "tools": set(VALUES),
}
NEVER = ("cli", "loader", "backends", "reconcile", "testing", "__main__")
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


def _layer(module: str) -> str:
    if module in VALUES:
        return "values"
    if module in DECISIONS:
        return "decisions"
    if module in FORMATS:
        return "formats"
    raise AssertionError(module)


def existing(modules: tuple[str, ...]) -> list[str]:
    return [m for m in modules if (PKG / f"{m}.py").exists()]


def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text("utf-8"), filename=str(path))


def imports(tree: ast.Module, module: str) -> Iterator[tuple[str, tuple[str, ...], int]]:
    """Every import as (absolute module, imported names, line), relative ones resolved
    against ``module`` (a package's ``__init__`` given as ``pkg.__init__``); imports under
    ``if TYPE_CHECKING:`` and ``importlib.import_module("...")`` count too."""
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
                # `from meshmirror import labels` imports the module meshmirror.labels.
                submodules = [n for n in names if (PKG / f"{n}.py").exists()]
                for n in submodules:
                    yield f"meshmirror.{n}", (), node.lineno
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


def offences(module: str, tools: bool = False) -> list[str]:
    layer = "tools" if tools else _layer(module)
    tree = parse(PKG / f"{module}.py")
    bad: list[str] = []
    extra = {"hypothesis"} if tools else set()
    for name, _, line in imports(tree, f"meshmirror.{module}"):
        top = name.split(".")[0]
        where = f"meshmirror/{module}.py:{line} imports {name}"
        if top == "meshmirror":
            parts = name.split(".")
            own = parts[1] if len(parts) > 1 else ""
            if own in NEVER or own not in ALLOWED_OWN[layer]:
                bad.append(f"{where} ({layer} may use {sorted(ALLOWED_OWN[layer])})")
        elif top == "__future__":
            continue
        elif top in sys.stdlib_module_names:
            if top in IMPURE_STDLIB:
                bad.append(f"{where} (I/O, clock, randomness or threads)")
        elif top not in THIRD_PARTY_PURE | extra:
            bad.append(f"{where} (not stdlib, attrs or typing_extensions)")
    return bad


@pytest.mark.parametrize("module", existing(PURE))
def test_pure_modules_import_only_stdlib_attrs_and_inner_layers(module: str) -> None:
    assert offences(module) == []


def test_the_layers_are_complete() -> None:
    """Every module of the package is placed in a layer (or is a known effect/tool), so a
    new module cannot slip past the boundary test."""
    effects = {
        "__init__",
        "__main__",
        "cli",
        "linkstatus",
        "loader",
        "reconcile",
        "render",
        "secretdump",
        "testing",
    }
    modules = {p.stem for p in PKG.glob("*.py")}
    unplaced = modules - set(PURE) - effects
    assert unplaced == set(), f"add {sorted(unplaced)} to a layer in this test"
    for required in ("labels", "names", "model", "scheme", "codes", "manifest", "plan", "diff"):
        assert required in modules


def test_testing_uses_values_and_hypothesis_only() -> None:
    assert offences("testing", tools=True) == []


def test_import_boundary_catches_offences() -> None:
    """The checker itself: a forbidden import in each form is seen."""
    tree = ast.parse(
        "import socket\n"
        "from meshmirror import cli\n"
        "from meshmirror.loader import load_cluster\n"
        "from .backends import memory\n"
        "import importlib\nimportlib.import_module('meshmirror_k8s')\n"
    )
    seen = {name for name, _, _ in imports(tree, "meshmirror.plan")}
    assert {"socket", "meshmirror.cli", "meshmirror.loader", "meshmirror.backends"} <= seen
    assert "meshmirror_k8s" in seen


def _adapter_files() -> list[Path]:
    return sorted(ADAPTER.rglob("*.py")) if ADAPTER.is_dir() else []


def _public(module: str) -> object:
    parts = module.split(".")
    assert not any(p.startswith("_") for p in parts), f"{module} is private"
    return importlib.import_module(module)


@pytest.mark.skipif(not _adapter_files(), reason="meshmirror_k8s does not exist yet")
@pytest.mark.parametrize("path", _adapter_files(), ids=lambda p: p.name)
def test_adapter_uses_only_the_public_api(path: Path) -> None:
    module = ".".join(("meshmirror_k8s", *path.relative_to(ADAPTER).with_suffix("").parts))
    bad = []
    for name, names, line in imports(parse(path), module):
        if name != "meshmirror" and not name.startswith("meshmirror."):
            continue
        where = f"{path.name}:{line} imports {name}"
        parts = name.split(".")
        if any(p.startswith("_") for p in parts) or (len(parts) > 1 and parts[1] == "testing"):
            bad.append(f"{where} (private module)")
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
        where = f"meshmirror/{module}.py:{node.lineno} {', '.join(names)}"
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
                bad.append(f"meshmirror/{module}.py:{node.lineno} calls {ast.unparse(node.func)}")
            if name == "astimezone" and not node.args:
                bad.append(f"meshmirror/{module}.py:{node.lineno} reads the local time zone")
        elif isinstance(node, ast.Global):
            bad.append(f"meshmirror/{module}.py:{node.lineno} rebinds module state (global)")
    return bad


@pytest.mark.parametrize("module", existing(PURE))
def test_pure_modules_hold_no_module_level_mutable_state(module: str) -> None:
    found = module_state_offences(parse(PKG / f"{module}.py"), module)
    assert not found, "\n".join(found)


@pytest.mark.parametrize("module", existing(PURE))
def test_pure_modules_call_no_clock_randomness_files_or_network(module: str) -> None:
    assert impure_calls(parse(PKG / f"{module}.py"), module) == []


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
        "       'meshmirror.loader', 'meshmirror.testing', 'meshmirror_k8s') if m in sys.modules]\n"
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
