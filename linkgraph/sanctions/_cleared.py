"""Moderators' clearings: was a cleared account already linked that way when cleared?

An account a moderator cleared is not flagged again on evidence it already
had. Links into it made only of values it already shared are dropped before
(``_links``); here, for each remaining proposed action on a cleared account (a
rule and a blocked source), the same rule is searched again from the cleared
account over the links that existed at its clearing only: when it reaches the
same blocked account, the moderator saw that connection and the action is
dropped; when it does not, the evidence is new and the action is capped
(``policy.cleared_cap``). So a new second account of the cleared person that
leads back to a sibling already seen is not new evidence, while a new device
shared with the blocked account is.

When a link existed, by rule: a person link when every person-level value it
shares had begun (one that became the same person later is new); a family or
warning link when any person- or household-level value had; a weak link when
any value had. A value of unknown age counts as old.

A breadth-first search from all cleared accounts at once, each path labelled
with its account (the engine's ``labelled_reach``, one call per channel); it
only looks at links within a few hops of cleared accounts, and only their
``pairs`` rows. Those links are found by the engine's ``bounded_reach`` from
the cleared accounts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from linkgraph import schemas as s
from linkgraph.codes import sorted_unique
from linkgraph.engine import LOCAL, Engine
from linkgraph.sanctions._inputs import _epoch_ns, _pair_rows
from linkgraph.sanctions._links import _Channel, _Links
from linkgraph.sanctions._reach import _out_edges

_NEVER = np.iinfo(np.int64).min
_ALWAYS = np.iinfo(np.int64).max


def _link_ages(pairs: pd.DataFrame, account_ids: pd.Index,
               pair_keys: np.ndarray) -> dict[str, np.ndarray]:
    """Per channel kind, when each link of ``pair_keys`` (sorted) began (epoch ns)."""
    rows, row_key = _pair_rows(pairs, account_ids, pair_keys)
    at = np.searchsorted(pair_keys, row_key)
    began = _epoch_ns(rows[s.FIRST_SEEN])
    person = rows[s.TIER].eq(s.T_PERSON).to_numpy(dtype=bool, na_value=False)
    strong = person | rows[s.TIER].eq(s.T_HOUSEHOLD).to_numpy(dtype=bool, na_value=False)
    newest_person = np.full(len(pair_keys), _NEVER, dtype=np.int64)
    np.maximum.at(newest_person, at[person], began[person])
    oldest_strong = np.full(len(pair_keys), _ALWAYS, dtype=np.int64)
    np.minimum.at(oldest_strong, at[strong], began[strong])
    oldest_any = np.full(len(pair_keys), _ALWAYS, dtype=np.int64)
    np.minimum.at(oldest_any, at, began)
    # no value of that tier on record: unknown age, old
    oldest_strong[oldest_strong == _ALWAYS] = _NEVER
    oldest_any[oldest_any == _ALWAYS] = _NEVER
    return {"person": newest_person, "family": oldest_strong, "warning": oldest_strong,
            "weak": oldest_any}


def _seen_when_cleared(candidates: pd.DataFrame, links: _Links, channels: list[_Channel],
                       cleared_ns: np.ndarray, is_cleared: np.ndarray, pairs: pd.DataFrame,
                       account_ids: pd.Index, engine: Engine = LOCAL) -> np.ndarray:
    """Per candidate (node, channel, source): True when the node is cleared and
    the channel already joined it to that source through links older than the
    clearing (the links near cleared accounts found by ``engine``)."""
    node = candidates["node"].to_numpy()
    channel_of = candidates["channel"].to_numpy()
    source_of = candidates["source"].to_numpy()
    seen = np.zeros(len(candidates), dtype=bool)
    on = np.flatnonzero(is_cleared[node])
    if not len(on) or not channels:
        return seen
    graph = links.graph
    # the links any search below can touch, and their ages
    depth = max(c.max_hops for c in channels)
    near = engine.bounded_reach(graph.indptr, graph.target, graph.conf, sorted_unique(node[on]),
                                max_hops=depth - 1, expandable=np.ones(graph.n_nodes, dtype=bool))
    tails = np.flatnonzero(near.hops >= 0)
    _, position, _ = _out_edges(graph, tails)
    key = links.pair_key(position)
    pair_keys = sorted_unique(key)
    ages = _link_ages(pairs, account_ids, pair_keys)
    link = np.searchsorted(pair_keys, key)
    # those links as a graph of their own (the same codes): a search expands nodes at most
    # depth - 1 hops from its cleared account, all of them near
    counts = np.zeros(graph.n_nodes, dtype=np.int64)
    counts[tails] = graph.indptr[tails + 1] - graph.indptr[tails]
    indptr = np.zeros(graph.n_nodes + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    target = graph.target[position]

    for index, channel in enumerate(channels):
        label_rows = on[channel_of[on] == index]
        if not len(label_rows):
            continue
        # paths run through neither other blocked accounts nor cleared ones
        passable = ~is_cleared
        passable[channel.sources] = False
        seen[label_rows] = engine.labelled_reach(
            indptr, target, channel.usable[position], ages[channel.kind][link],
            node[label_rows], source_of[label_rows], cleared_ns[node[label_rows]],
            passable=passable, max_hops=channel.max_hops)
    return seen
