# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Will it work, and where will my request go?
#
# This notebook (a plain Python script in percent format: open it with Jupyter via
# jupytext, or run `python examples/explore.py`) loads the example clusters in
# `examples/topology/`, plans what Linkerd's service mirror would keep in `west`, checks
# every mode's requirements against the topology file, resolves a few names a client in
# `west` would dial, and draws the result. Nothing here talks to a cluster.

# %%
from __future__ import annotations

from pathlib import Path
from typing import Any

from meshmirror import plan
from meshmirror.checks import check
from meshmirror.graph import to_mermaid
from meshmirror.loader import load_cluster, load_yaml_file
from meshmirror.render import draw
from meshmirror.resolve import resolve
from meshmirror.topology import Topology

try:  # in a notebook, show rich output; as a script, print it
    from IPython.display import display as _display  # type: ignore[import-not-found]

    get_ipython()  # type: ignore[name-defined]
except (ImportError, NameError):
    _display = None


def show(value: Any) -> None:
    """Display ``value`` in a notebook, print its text form in a script."""
    if _display is not None:
        _display(value)
    elif hasattr(value, "text"):
        print(value.text())
    else:
        print(value)


HERE = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
EXAMPLE = HERE / "topology" if (HERE / "topology").is_dir() else HERE / "examples" / "topology"

# %% [markdown]
# ## Load the dumps and the topology file
#
# Each cluster's state is what `kubectl get namespaces,services,endpoints,links -A -o yaml`
# prints. The topology file says what dumps cannot: which clusters share a pod network,
# which trust root each uses, and whose pods reach which gateway.

# %%
source = load_cluster("west", EXAMPLE / "west.yaml")
remotes = {name: load_cluster(name, EXAMPLE / f"{name}.yaml") for name in ("east", "north")}
topology = Topology.from_dict(load_yaml_file(EXAMPLE / "topology.yaml")[0])
show(topology)

# %% [markdown]
# ## Plan
#
# Every object the service mirror keeps in `west`: gateway and remote-discovery mirrors,
# the federated union, and what is skipped (and why).

# %%
p = plan(source, remotes)
show(p)
for skip in p.skipped:
    print(f"skipped: {skip}")

# %% [markdown]
# ## Check
#
# Each mode's requirements, as `meshmirror check` prints them: a shared trust root and
# meshed clients everywhere, a reachable gateway for gateway mode, a flat pod network for
# remote discovery and remote federated members.

# %%
report = check(p, source, remotes, topology)
show(report)
for assumed in report.notes:
    print(f"note: {assumed}")

# %% [markdown]
# ## Resolve
#
# Where does a request from a client in namespace `shop` go, by which path, and whose
# identity does the server see?

# %%
resolutions = {
    target: resolve(p, source, remotes, topology, target, client_namespace="shop")
    for target in ("shop/web-east", "shop/api-east", "shop/cart-federated", "shop/cart")
}
for resolution in resolutions.values():
    show(resolution)

# %% [markdown]
# What if `east` went down? The federated Service still reaches the other members.

# %%
what_if = resolve(
    p,
    source,
    remotes,
    topology,
    "shop/cart-federated",
    client_namespace="shop",
    unreachable=["east"],
)
show(what_if)

# %% [markdown]
# ## Draw
#
# Clusters, Links with their gateways, mirrors and the federated union, failing checks
# marked. In a notebook, `draw(...)` shows SVG when Graphviz is installed and the Mermaid
# text otherwise; here is the Mermaid text.

# %%
mermaid = to_mermaid(p, source, remotes, report)
print(mermaid)
picture = draw(p, source, remotes, report)
if _display is not None:
    _display(picture)
