"""The graph of one cluster (networkx) and its drawing (matplotlib), masked values only."""

from __future__ import annotations

from typing import TYPE_CHECKING

import networkx as nx
import pandas as pd

from linkgraph import schemas as s
from linkgraph.cluster import cluster_graph

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.typing import LineStyleType

    from linkgraph.analysis.view import ClusterView

#: node colour per proposed action, weakest first (grey to dark red)
ACTION_COLOURS = {
    "none": "#b8c4ce", "watch": "#f2d35b", "review": "#f39c34",
    "restrict": "#b05fc4", "suspend": "#e0453a", "ban": "#8e1b1b",
}
#: edge colour and line style per identifier kind: person kinds solid, household
#: dashed, weak dotted (the tier decides what a link may do)
KIND_STYLES: dict[str, tuple[str, LineStyleType]] = {
    s.K_CARD: ("#1f77b4", "solid"), s.K_CARD_DIGITS: ("#17becf", "solid"),
    s.K_DEVICE: ("#2ca02c", "solid"), s.K_PHONE: ("#9467bd", "solid"),
    s.K_EMAIL: ("#8c564b", "solid"), s.K_ADDRESS: ("#ff7f0e", "dashed"),
    s.K_IP: ("#7f7f7f", "dotted"), s.K_NAME: ("#bcbd22", "dotted"),
}
_OTHER_STYLE: tuple[str, LineStyleType] = ("#333333", "dashdot")
#: above this many nodes the identifier labels are left out (they would cover the drawing)
_MAX_LABELLED_NODES = 80


def cluster_networkx(view: ClusterView) -> nx.Graph:
    """The bipartite graph of a cluster: accounts and the identifier values they share.

    Identifier nodes are keyed ``"kind:masked"`` (``"kind:masked#2"`` when two
    different values of the cluster mask alike); raw values never appear.
    Built with :func:`linkgraph.cluster.cluster_graph`.

    >>> import linkgraph as lg
    >>> graph = cluster_networkx(lg.analysis.example_run().cluster("A1"))
    >>> graph.nodes["A2"]["action"], graph.nodes["device:***9c21"]["n_accounts"]
    ('ban', 2)
    """
    pairs = _labelled_pairs(view)
    members = view.accounts[s.ACCOUNT_ID].tolist()
    graph = cluster_graph(pairs, members, identifiers=_labelled_identifiers(view, pairs),
                          accounts=view.accounts)
    graph.graph.update(cluster_id=view.cluster_id, coupon_abuse_score=view.score)
    return graph


def draw_cluster(view: ClusterView, *, ax: Axes | None = None) -> Figure:
    """Draw a cluster: accounts coloured by action (blocked ones ringed in black),
    identifiers as small squares, edges coloured and dashed by identifier kind.

    The figure is built without pyplot (no window, no global state, any
    backend); Jupyter shows it as the cell's output.

    >>> import linkgraph as lg
    >>> figure = draw_cluster(lg.analysis.example_run().cluster("A1"))
    >>> [t.get_text() for t in figure.axes[0].texts if t.get_text().startswith("A")]
    ['A1', 'A2', 'A3']
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    graph = cluster_networkx(view)
    if ax is None:
        figure = Figure(figsize=(8, 6), layout="constrained")
        ax = figure.add_subplot()
    else:
        figure = ax.figure  # type: ignore[assignment]
    positions = _layout(graph)
    accounts = [n for n, kind in graph.nodes(data="type") if kind == "account"]
    values = [n for n, kind in graph.nodes(data="type") if kind == "identifier"]

    kinds_drawn: dict[str, tuple[str, LineStyleType]] = {}
    for kind in sorted({k for _, _, k in graph.edges(data="kind")}):
        colour, style = KIND_STYLES.get(kind, _OTHER_STYLE)
        kinds_drawn[kind] = (colour, style)
        edges = [(a, b) for a, b, k in graph.edges(data="kind") if k == kind]
        nx.draw_networkx_edges(graph, positions, edgelist=edges, ax=ax, edge_color=colour,
                               style=style, width=1.5, alpha=0.8)
    if values:
        nx.draw_networkx_nodes(graph, positions, nodelist=values, ax=ax, node_shape="s",
                               node_size=60, node_color="white", edgecolors="#555555")
    actions = [graph.nodes[n].get(s.ACTION, "none") for n in accounts]
    blocked = [bool(graph.nodes[n].get(s.BLOCKED, False)) for n in accounts]
    nx.draw_networkx_nodes(
        graph, positions, nodelist=accounts, ax=ax, node_size=420,
        node_color=[ACTION_COLOURS.get(a, "#cccccc") for a in actions],
        edgecolors=["black" if b else "white" for b in blocked],
        linewidths=[2.5 if b else 1.0 for b in blocked],
    )
    nx.draw_networkx_labels(graph, positions, labels={n: n for n in accounts}, ax=ax,
                            font_size=8)
    if len(graph) <= _MAX_LABELLED_NODES:
        nx.draw_networkx_labels(
            graph, {n: (x, y - 0.06) for n, (x, y) in positions.items()},
            labels={n: graph.nodes[n].get(s.MASKED, "") for n in values}, ax=ax,
            font_size=6, font_color="#444444",
        )

    handles = [Line2D([], [], marker="o", linestyle="", markersize=9,
                      markerfacecolor=ACTION_COLOURS[a], markeredgecolor="white", label=a)
               for a in s.ACTIONS if a in set(actions)]
    if any(blocked):
        handles.append(Line2D([], [], marker="o", linestyle="", markersize=9,
                              markerfacecolor="white", markeredgecolor="black",
                              markeredgewidth=2, label="blocked in input"))
    handles += [Line2D([], [], color=colour, linestyle=style, label=kind)
                for kind, (colour, style) in kinds_drawn.items()]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8,
              frameon=False)
    title = f"cluster {view.cluster_id}: {view.n_accounts} accounts"
    if view.score:
        title += f", coupon-abuse score {view.score:g}"
    ax.set_title(title, fontsize=10)
    ax.set_axis_off()
    ax.margins(0.12)
    return figure


def _layout(graph: nx.Graph) -> dict[str, tuple[float, float]]:
    """Node positions, the same on every call (seeded), for any size including one node."""
    if len(graph) == 1:
        return {next(iter(graph)): (0.0, 0.0)}
    positions = nx.spring_layout(graph, seed=7, weight="weight", k=1.5 / len(graph) ** 0.5)
    return {n: (float(x), float(y)) for n, (x, y) in positions.items()}


def _labelled_pairs(view: ClusterView) -> pd.DataFrame:
    """The cluster's pairs with ``value`` set to a masked label unique per distinct value.

    The run's coded pairs (``value_code``) say which masked values are one
    value; without them (a hand-built run) the links' masked values stand in.
    """
    pairs = view.pairs if "value_code" in view.pairs.columns else view.links
    if s.MASKED not in pairs.columns:
        return pd.DataFrame(columns=[s.ACCOUNT_A, s.ACCOUNT_B, s.KIND, s.VALUE, s.MASKED])
    identity = "value_code" if "value_code" in pairs.columns else s.MASKED
    distinct = pairs[[s.KIND, s.MASKED, identity]].drop_duplicates().sort_values(
        [s.KIND, s.MASKED, identity], kind="stable")
    rank = distinct.groupby([s.KIND, s.MASKED], sort=False).cumcount()
    label = distinct[s.MASKED].astype("str").where(
        rank == 0, distinct[s.MASKED].astype("str") + "#" + (rank + 1).astype("str"))
    distinct = distinct.assign(**{s.VALUE: label.to_numpy()})
    columns = [c for c in (s.ACCOUNT_A, s.ACCOUNT_B, s.KIND, s.MASKED, s.TIER, s.WEIGHT)
               if c in pairs.columns]
    return pairs[[*columns, identity] if identity not in columns else columns].merge(
        distinct, on=[s.KIND, s.MASKED, identity], how="left", validate="m:1")


def _labelled_identifiers(view: ClusterView, pairs: pd.DataFrame) -> pd.DataFrame | None:
    """The members' identifiers (tier, weight, n_accounts) keyed by the labels of ``pairs``.

    Identifiers carry no value code; two values that mask alike in one
    cluster (rare) share the first one's facts.
    """
    identifiers = view.identifiers
    needed = (s.ACCOUNT_ID, s.KIND, s.MASKED)
    if pairs.empty or any(c not in identifiers.columns for c in needed):
        return None
    ends = pd.concat([
        pairs[[side, s.KIND, s.MASKED, s.VALUE]].rename(columns={side: s.ACCOUNT_ID})
        for side in (s.ACCOUNT_A, s.ACCOUNT_B)
    ], ignore_index=True).drop_duplicates([s.ACCOUNT_ID, s.KIND, s.MASKED])
    extra = [c for c in (s.TIER, s.WEIGHT, s.N_ACCOUNTS) if c in identifiers.columns]
    facts = identifiers[[*needed, *extra]].drop_duplicates(list(needed))
    return ends.merge(facts, on=list(needed), how="inner", validate="1:1")
