"""The drawing of a cluster for its case page: networkx layout, matplotlib, PNG bytes."""

from __future__ import annotations

import io
import re
from typing import Any

import networkx as nx
import pandas as pd

from linkgraph import schemas as s
from linkgraph.explain import KIND_ORDER

#: weakest first; the page lists the strongest first
_SEVERITY = {a: i for i, a in enumerate(("none", "watch", "review", "restrict", "suspend", "ban"))}

_ACTION_COLOURS = {"none": "#b8bec9", "watch": "#f2c94c", "review": "#f2994a",
                   "restrict": "#bb6bd9", "suspend": "#eb5757", "ban": "#9b1c1c"}

_BLOCKED_COLOUR = "#1f1f1f"

#: kind -> (line style, colour) in the drawing; a pair is drawn in its strongest kind
_KIND_STYLES: dict[str, tuple[Any, str]] = {
    s.K_CARD: ("solid", "#c0392b"), s.K_CARD_DIGITS: ("solid", "#e67e22"),
    s.K_DEVICE: ("solid", "#8e44ad"), s.K_PHONE: ("solid", "#2471a3"),
    s.K_EMAIL: ("solid", "#1e8449"), s.K_ADDRESS: ("dashed", "#8d5524"),
    s.K_IP: ("dotted", "#7f8c8d"), s.K_NAME: ("dotted", "#b3b6b7"),
}

_MAX_LABELLED = 40

# control characters and bidi controls disguise text even when escaped
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u061c\u2028\u2029"
                     "\u202a-\u202e\u2066-\u2069\ufeff]")


def draw_png(accounts: pd.DataFrame, links: pd.DataFrame) -> bytes:
    """The cluster as a PNG: accounts coloured by action, links styled by their strongest kind.

    Drawn with networkx on a matplotlib ``Figure`` (no pyplot: no global
    state); account ids label the nodes up to ``_MAX_LABELLED`` accounts.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    ids = accounts[s.ACCOUNT_ID].astype(str).tolist()
    graph = nx.Graph()
    graph.add_nodes_from(ids)
    strongest: dict[str, list[tuple[str, str]]] = {}
    if not links.empty:
        order = links[s.KIND].map(KIND_ORDER).fillna(len(KIND_ORDER))
        pairs = (links.assign(_order=order).sort_values("_order", kind="stable")
                 .drop_duplicates([s.ACCOUNT_A, s.ACCOUNT_B]))
        for a, b, kind in zip(pairs[s.ACCOUNT_A], pairs[s.ACCOUNT_B], pairs[s.KIND], strict=True):
            graph.add_edge(str(a), str(b))
            strongest.setdefault(str(kind), []).append((str(a), str(b)))
    layout = nx.spring_layout(graph, seed=7) if len(ids) > 1 else {ids[0]: (0.0, 0.0)}
    size = 6.0 if len(ids) <= 60 else 9.0
    figure = Figure(figsize=(size * 1.6, size), dpi=100)
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    ax.set_axis_off()
    for kind, edges in sorted(strongest.items(), key=lambda kv: KIND_ORDER.get(kv[0], 99)):
        style, colour = _KIND_STYLES.get(kind, ("dotted", "#999999"))
        nx.draw_networkx_edges(graph, layout, edgelist=edges, ax=ax, style=style,
                               edge_color=colour, width=2.0 if style == "solid" else 1.4)
    blocked = (accounts["blocked"].fillna(False).astype(bool).tolist() if "blocked" in accounts
               else [False] * len(ids))
    actions = accounts[s.ACTION].fillna("none").astype(str).tolist()
    colours = [_BLOCKED_COLOUR if b else _ACTION_COLOURS.get(a, "#b8bec9")
               for a, b in zip(actions, blocked, strict=True)]
    node_size = 420 if len(ids) <= _MAX_LABELLED else 90
    nx.draw_networkx_nodes(graph, layout, nodelist=ids, node_color=colours, ax=ax,
                           node_size=node_size, edgecolors="#ffffff", linewidths=1.0)
    if len(ids) <= _MAX_LABELLED:
        labels = {i: _plot_label(i) for i in ids}
        nx.draw_networkx_labels(graph, {k: (x, y + 0.07) for k, (x, y) in layout.items()},
                                labels=labels, font_size=8, ax=ax)
    handles = [Line2D([], [], color=_KIND_STYLES[k][1], linestyle=_KIND_STYLES[k][0], label=k)
               for k in sorted(strongest, key=lambda k: KIND_ORDER.get(k, 99))
               if k in _KIND_STYLES]
    shown = sorted(set(actions), key=lambda a: -_SEVERITY.get(a, 0))
    handles += [Line2D([], [], marker="o", linestyle="", color=_ACTION_COLOURS.get(a, "#b8bec9"),
                       label=f"action {a}") for a in shown]
    if any(blocked):
        handles.append(Line2D([], [], marker="o", linestyle="", color=_BLOCKED_COLOUR,
                              label="blocked in input"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8,
              frameon=False)
    ax.margins(0.12)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _plot_label(account_id: str) -> str:
    # matplotlib reads $...$ as mathematics; an id is plain text
    label = _UNSAFE.sub(" ", account_id)
    label = label if len(label) <= 14 else label[:13] + "\u2026"
    return label.replace("$", r"\$")

