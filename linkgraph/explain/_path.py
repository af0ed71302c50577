"""The path from an account to the blocked account behind its action, rebuilt from the links."""

from __future__ import annotations

import itertools
import re

import networkx as nx
import pandas as pd

from linkgraph import schemas as s

#: how many shortest paths to try against the evidence (a dense cluster has many)
_MAX_CANDIDATE_PATHS = 200


def _find_path(links: pd.DataFrame, accounts: pd.DataFrame, start: str, target: str, *,
               action: str, hops: int | None, evidence: str | None) -> list[str] | None:
    """The accounts from ``start`` to ``target`` along the cluster's links.

    The path the evidence names (``... shared with B, which shares ... with C``)
    when every hop of it is a link; otherwise, over the links the rule behind
    ``action`` may travel (strictest set first), a path of ``hops`` links, else
    the shortest one.
    """
    if links.empty:
        return None
    graph = nx.Graph()
    graph.add_edges_from(zip(links[s.ACCOUNT_A], links[s.ACCOUNT_B], strict=True))
    if start not in graph or target not in graph:
        return None
    named = [start, *_named_accounts(evidence, list(graph.nodes))]
    if named[-1] == target and all(graph.has_edge(a, b) for a, b in itertools.pairwise(named)):
        return named
    person = accounts.set_index(s.ACCOUNT_ID)[s.PERSON_CLUSTER_ID]
    same_person = (links[s.ACCOUNT_A].map(person) == links[s.ACCOUNT_B].map(person)).to_numpy()
    tier = links[s.TIER].astype(str).to_numpy() if s.TIER in links else None
    edge_sets = []
    if tier is not None:
        if action in ("ban", "suspend", "restrict"):
            edge_sets.append((tier == s.T_PERSON) & same_person)
        edge_sets.append((tier == s.T_PERSON) | (tier == s.T_HOUSEHOLD))
    edge_sets.append(None)
    shortest: list[str] | None = None
    for usable in edge_sets:
        rows = links if usable is None else links[usable]
        graph = nx.Graph()
        graph.add_edges_from(zip(rows[s.ACCOUNT_A], rows[s.ACCOUNT_B], strict=True))
        if start not in graph or target not in graph or not nx.has_path(graph, start, target):
            continue
        if hops is not None:
            paths = nx.all_simple_paths(graph, start, target, cutoff=hops)
            exact = [p for p in itertools.islice(paths, _MAX_CANDIDATE_PATHS)
                     if len(p) - 1 == hops]
            if exact:
                return exact[0]
        shortest = shortest or nx.shortest_path(graph, start, target)
    return shortest


def _named_accounts(evidence: str | None, accounts: list[str]) -> list[str]:
    """The accounts the evidence names, in order: ``X shared with B, which shares Y with C (...)``."""
    if not evidence:
        return []
    found = []
    for account in accounts:
        pattern = re.compile(r" with " + re.escape(str(account)) + r"(?=,| \(|$)")
        found += [(m.start(), str(account)) for m in pattern.finditer(evidence)]
    return [account for _, account in sorted(found)]

