"""Every workflow of the project: `nox -s tests`, `nox -s demo`, ... (see README.md)."""

from __future__ import annotations

import os
import shutil

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["tests", "typecheck", "lint"]

TEST_DEPS = [
    "pytest>=7",
    "pytest-asyncio>=0.23",
    "hypothesis>=6.100",
    "kmock>=0.8",
    "pydot>=2",
    # The notebook runs in a real kernel in the tests.
    "nbclient>=0.10",
    "nbformat>=5.9",
    "ipykernel>=6.29",
    "cryptography>=41",  # meshmirror_k8s.testing's certificates (its fast tests too)
]


def graphviz(session: nox.Session) -> None:
    """Graphviz's `dot`, which the picture tests render with: installed on a fresh
    Debian machine run as root (CI), otherwise a warning that those tests will skip."""
    if shutil.which("dot") is not None:
        return
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        session.run("apt-get", "update", "-qq", external=True)
        session.run("apt-get", "install", "-y", "-qq", "graphviz", external=True)
    else:
        session.warn(
            "Graphviz's dot is not installed: the picture tests will be skipped "
            "(apt-get install graphviz, brew install graphviz)"
        )


@nox.session
def tests(session: nox.Session) -> None:
    """Every test: unit, property-based, stateful, CLI, docs, notebook, pictures, adapter
    over HTTP."""
    graphviz(session)
    session.install("-e", ".[k8s,testing]", *TEST_DEPS)
    env = {"HYPOTHESIS_PROFILE": "ci"}
    session.run("pytest", *session.posargs, env=env)


@nox.session
def e2e(session: nox.Session) -> None:
    """The end-to-end suite on real kube-apiservers with etcd: binaries from
    $KUBEBUILDER_ASSETS, else built once per machine from the official Go modules."""
    session.install("-e", ".[k8s,testing,e2e]", *TEST_DEPS)
    env = {"HYPOTHESIS_PROFILE": "ci"}
    if not session.env.get("KUBEBUILDER_ASSETS") and not os.environ.get("KUBEBUILDER_ASSETS"):
        # Built in the open, so its progress shows (minutes the first time); the second
        # call only prints the cached directory.
        session.run("bash", "tests/e2e/kube/build.sh", external=True)
        out = session.run("bash", "tests/e2e/kube/build.sh", silent=True, external=True)
        env["KUBEBUILDER_ASSETS"] = str(out).strip().splitlines()[-1]
    session.run("pytest", "tests/e2e", *session.posargs, env=env)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on both packages."""
    # meshmirror_k8s.testing uses cryptography (the e2e extra) and offers a pytest fixture.
    session.install("-e", ".[k8s,testing,e2e]", "pytest>=7", "mypy>=1.8", "types-PyYAML")
    session.run("mypy", "--strict", "src/meshmirror", "src/meshmirror_k8s")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def demo(session: nox.Session) -> None:
    """The main job: plan the example topology and print it."""
    session.install("-e", ".")
    session.run(
        "meshmirror",
        "plan",
        "--source",
        "west",
        "west=examples/topology/west.yaml",
        "east=examples/topology/east.yaml",
        "north=examples/topology/north.yaml",
        "-o",
        "yaml",
    )


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks; figures printed as JSON on the last line (pass --full for the big run)."""
    session.install("-e", ".[k8s]")
    args = session.posargs or ["--quick"]
    session.run("python", "benchmarks/run.py", *args)


@nox.session
def bench_controller(session: nox.Session) -> None:
    """The controller benchmark: the real controller process against the in-repo API
    servers; figures as JSON on the last line (--quick by default; --full, or
    --clusters N --services M)."""
    session.install("-e", ".[k8s]")
    args = session.posargs or ["--quick"]
    session.run("python", "benchmarks/controller.py", *args)


@nox.session
def soak(session: nox.Session) -> None:
    """The stateful reconciler tests, far longer than CI runs them."""
    session.install("-e", ".[k8s,testing]", *TEST_DEPS)
    session.run(
        "pytest", "tests", "-k", "stateful", *session.posargs, env={"HYPOTHESIS_PROFILE": "soak"}
    )


@nox.session
def pictures(session: nox.Session) -> None:
    """Redraw docs/pictures/ and re-run examples/explore.ipynb from examples/explore.py."""
    graphviz(session)
    session.install("-e", ".", "nbclient>=0.10", "nbformat>=5.9", "ipykernel>=6.29")
    session.run("python", "docs/pictures.py")
    session.run("python", "examples/make_notebook.py", "--execute")


@nox.session
def docs(session: nox.Session) -> None:
    """Execute every example in docs/ and README.md."""
    session.install("-e", ".[testing]", *TEST_DEPS)
    session.run("pytest", "tests/test_docs.py", *session.posargs)
