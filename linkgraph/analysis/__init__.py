"""The analyst's side of a run: one cluster at a time, two nights side by side, what-if.

What :class:`~linkgraph.run.Run`'s methods return, and the functions behind
them. Everything here shows masked identifiers only (the display forms the
report writes); raw values never reach a table, a graph or a drawing.

Modules: ``view`` (:class:`ClusterView`, the HTML of a run and of a cluster),
``network`` (the graph of one cluster, its drawing), ``compare`` (two nights),
``whatif`` (sanctions recomputed under another policy).

>>> example_run().cluster("A1").actions["action"].tolist()
['ban', 'review']
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from linkgraph.analysis.compare import Comparison, compare_runs
from linkgraph.analysis.network import cluster_networkx, draw_cluster
from linkgraph.analysis.view import ClusterView, cluster_view, run_html
from linkgraph.analysis.whatif import PolicyWhatIf, policy_what_if

if TYPE_CHECKING:
    from linkgraph.run import Run

__all__ = [
    "ClusterView",
    "Comparison",
    "PolicyWhatIf",
    "cluster_networkx",
    "cluster_view",
    "compare_runs",
    "draw_cluster",
    "example_data",
    "example_run",
    "policy_what_if",
    "run_html",
]


def example_data() -> Path:
    """A four-account input directory shipped with the package, for examples.

    A1 is banned; A2 shares A1's phone and device (the same person: ``ban``);
    A3 shares only A1's home address (family: ``review``); A4 shares nothing.

    >>> sorted(p.name for p in example_data().iterdir())
    ['accounts.csv', 'addresses.csv', 'sanctions.csv']
    """
    return Path(__file__).resolve().parent.parent / "data" / "example"


@cache
def example_run() -> Run:
    """The run of :func:`example_data`, computed once per process (a Run is immutable).

    >>> example_run().accounts["action"].tolist()
    ['none', 'ban', 'review', 'none']
    """
    from linkgraph.pipeline import run

    return run(example_data())
