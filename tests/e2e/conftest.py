"""The end-to-end suite: meshmirror against real kube-apiservers with etcd.

Run by ``nox -s e2e`` (or ``pytest tests/e2e``; the default ``pytest`` run leaves this
directory out). Binaries: ``$KUBEBUILDER_ASSETS``, else ``kube/build.sh`` builds them
from the official Go modules once per machine. Without either, the suite is skipped,
except in CI (``CI`` set), where it fails.

One session-wide world: west (the source) linked to east (gateway mode) and north
(gatewayless; its apiserver runs without a watch cache, so watches are served by etcd
and an etcd compaction gives them 410). The Link CRD is installed in west; each target's
remote-access RBAC and each Link with its credentials Secret are exactly what
``meshmirror link`` prints; the remote user is the target's ServiceAccount (a token from
the TokenRequest API) bound only to that ClusterRole, and the controller's user is the
source's ServiceAccount bound only to ``examples/controller/rbac.yaml``. Every audit log
is checked at the end: any 403, any remote write, any source write the controller has no
business making fails the suite.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from e2e_helpers import PROBE_USER, World, build_world  # noqa: E402

from meshmirror_k8s.testing import KubeEnvironment  # noqa: E402


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"end-to-end suite cannot run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def kube_assets() -> str:
    """A directory holding kube-apiserver and etcd (built once per machine if needed)."""
    assets = os.environ.get("KUBEBUILDER_ASSETS")
    if assets:
        return assets
    if shutil.which("go") is None:
        _unavailable("no KUBEBUILDER_ASSETS and no Go toolchain to build kube-apiserver/etcd")
    started = time.monotonic()
    proc = subprocess.run(
        ["bash", str(HERE / "kube" / "build.sh")],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        _unavailable(f"tests/e2e/kube/build.sh failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    out = proc.stdout.strip().splitlines()[-1]
    print(f"kube binaries in {out} ({time.monotonic() - started:.1f}s)", file=sys.stderr)
    return out


@pytest.fixture(scope="session")
def kube_assets_dir() -> str:
    """The binaries' directory, for a test that starts its own servers."""
    return kube_assets()


@pytest.fixture(scope="session")
def kube() -> Iterator[KubeEnvironment]:
    env = KubeEnvironment(
        ["west", "east", "north"],
        assets=kube_assets(),
        apiserver_args={"north": ["--watch-cache=false"]},
        users=[PROBE_USER],
        keep=bool(os.environ.get("MESHMIRROR_E2E_KEEP")),
    )
    with env:
        print(
            f"3 apiservers + etcd ready in {env.started_s:.2f}s; RSS {env.rss_bytes()}",
            file=sys.stderr,
        )
        yield env


@pytest.fixture(scope="session")
def world(kube: KubeEnvironment, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    world = build_world(kube, tmp_path_factory.mktemp("world"))
    yield world
    world.stop_controllers()
    # The whole run, from every audit log: least privilege held throughout.
    world.assert_audit_clean()
