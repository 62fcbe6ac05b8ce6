# ---
# jupyter:
#   jupytext:
#     formats: py:percent,ipynb
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
# This notebook loads the example clusters in `examples/topology/`, plans what Linkerd's
# service mirror would keep in `west`, checks every mode's requirements against the
# topology file, resolves a few names a client in `west` would dial (and what happens if
# `east` goes down), and draws the result. Nothing here talks to a cluster.
#
# `examples/explore.py` is the source (a percent-format script: `python
# examples/explore.py` runs it and prints the text views); `examples/explore.ipynb` is
# made from it by `python examples/make_notebook.py`, and the test suite runs the
# notebook in a real kernel.

# %%
from __future__ import annotations

from pathlib import Path
from typing import Any

from meshmirror import diff, plan
from meshmirror.checks import check
from meshmirror.loader import load_cluster, load_yaml_file
from meshmirror.render import draw
from meshmirror.resolve import resolve
from meshmirror.summary import summarize
from meshmirror.topology import Topology

try:  # in a notebook, show rich output; as a script, print it
    from IPython import get_ipython  # type: ignore[import-not-found]
    from IPython.display import display as _display  # type: ignore[import-not-found]

    if get_ipython() is None:
        _display = None
except ImportError:
    _display = None


def show(value: Any) -> None:
    """Display ``value`` in a notebook (its tables and pictures), print it in a script."""
    if _display is not None:
        _display(value)
    elif hasattr(value, "text"):
        print(value.text())
    else:
        print(repr(value))


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
show(source)
show(topology)

# %% [markdown]
# ## Plan
#
# Every object the service mirror keeps in `west`: gateway and remote-discovery mirrors,
# the federated union, and what is skipped (and why). First the fleet at a glance, one
# row per Link, then every object.

# %%
p = plan(source, remotes)
summary = summarize(p, source)
show(summary)
show(p)

# %% [markdown]
# What it takes to get there from what `west` holds now:

# %%
changes = diff(p, source)
show(changes)

# %% [markdown]
# ## Check
#
# Each mode's requirements, as `meshmirror check` prints them: a shared trust root and
# meshed clients everywhere, a reachable gateway for gateway mode, a flat pod network for
# remote discovery and remote federated members.

# %%
report = check(p, source, remotes, topology)
show(report)

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
# What if `east` went down? The federated Service still reaches west's own member; north
# was never reachable directly (it is not on west's pod network, as the check said).

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
# Source on the left, linked clusters on the right; each edge in its mode's colour and
# labelled with it; failing checks marked. In a notebook this is SVG when Graphviz is
# installed (and a message saying so, with the Mermaid text, when it is not).

# %%
picture = draw(p, source, remotes, report)
show(picture)
