"""The graph of one cluster for people: accounts and identifiers as typed nodes."""

from __future__ import annotations

from collections.abc import Collection, Iterable

import networkx as nx
import pandas as pd

from linkgraph import schemas as s
from linkgraph.errors import InputError
from linkgraph.graph import LinkSet

_PAIR_NEEDED = (s.ACCOUNT_A, s.ACCOUNT_B, s.KIND, s.MASKED)


def cluster_graph(
    links: LinkSet | pd.DataFrame,
    cluster_accounts: Iterable[str],
    *,
    identifiers: pd.DataFrame | None = None,
    accounts: pd.DataFrame | None = None,
    tiers: Collection[str] = s.TIERS,
) -> nx.Graph:
    """The bipartite graph of one cluster: accounts and the identifiers they share.

    Works from a finished run's frames as well as from a live ``LinkSet``:
    ``run.links`` (pairs inside clusters) and ``run.identifiers``. Only values
    shared inside the cluster appear (hubs and junk never make pairs, so they
    are left out); an account with no shared value is an isolated node.

    Nodes: account ids with ``type="account"`` (plus every column of
    ``accounts`` for that account, e.g. ``action``); identifiers keyed
    ``"kind:value"`` (``"kind:masked"`` when the raw value is not kept) with
    ``type="identifier"``, ``kind``, ``masked``, ``tier`` and, from
    ``identifiers``, ``n_accounts``. Edges account–identifier: ``kind``,
    ``tier`` and ``weight`` (the account's identifier weight when
    ``identifiers`` has it, else the largest pair weight of the value).

    Args:
        links: a ``LinkSet`` (its ``pairs`` and ``incidence`` are used) or a
            pairs frame with account_a, account_b, kind, masked and optionally
            value, tier, weight.
        cluster_accounts: the accounts of the cluster.
        identifiers: account_id, kind, value, masked (+ tier, weight,
            n_accounts) to decorate nodes and edges; optional.
        accounts: one row per account (account_id + attributes); optional.
        tiers: the value tiers to draw (default all: person, household, weak).

    Returns:
        A ``networkx.Graph``.

    Raises:
        InputError: ``links`` lacks a needed column.

    >>> pairs = pd.DataFrame({"account_a": ["a1"], "account_b": ["a2"], "kind": ["card"],
    ...     "value": ["fp9"], "masked": ["card ••12"], "tier": ["person"], "weight": [0.9]})
    >>> g = cluster_graph(pairs, ["a1", "a2", "a3"])
    >>> sorted(g.nodes), g.nodes["card:fp9"]["type"], g.edges["a1", "card:fp9"]["kind"]
    (['a1', 'a2', 'a3', 'card:fp9'], 'identifier', 'card')
    """
    if isinstance(links, LinkSet):
        identifiers = links.incidence if identifiers is None else identifiers
        links = links.pairs
    missing = [c for c in _PAIR_NEEDED if c not in links.columns]
    if missing:
        raise InputError(
            f"cluster_graph: the links frame has no column {', '.join(map(repr, missing))} "
            f"(found: {', '.join(map(str, links.columns))}). Pass run.links or LinkSet.pairs."
        )
    members = pd.Index(pd.unique(pd.Series(list(cluster_accounts), dtype="str")))
    pairs = links[links[s.ACCOUNT_A].isin(members) & links[s.ACCOUNT_B].isin(members)]
    if s.TIER in pairs.columns:
        pairs = pairs[pairs[s.TIER].isin(list(tiers))]
    value = pairs[s.VALUE] if s.VALUE in pairs.columns else pairs[s.MASKED]
    value = value.where(value.notna(), pairs[s.MASKED])
    ends = pd.concat([
        pd.DataFrame({s.ACCOUNT_ID: pairs[col].to_numpy(), s.KIND: pairs[s.KIND].to_numpy(),
                      s.VALUE: value.to_numpy(), s.MASKED: pairs[s.MASKED].to_numpy(),
                      s.TIER: pairs[s.TIER].to_numpy() if s.TIER in pairs.columns else None,
                      s.WEIGHT: pairs[s.WEIGHT].to_numpy() if s.WEIGHT in pairs.columns else 1.0})
        for col in (s.ACCOUNT_A, s.ACCOUNT_B)
    ], ignore_index=True)
    edges = (
        ends.groupby([s.ACCOUNT_ID, s.KIND, s.VALUE], sort=True, dropna=False)
        .agg(**{s.MASKED: (s.MASKED, "first"), s.TIER: (s.TIER, "first"), s.WEIGHT: (s.WEIGHT, "max")})
        .reset_index()
    )
    if identifiers is not None and len(edges):
        edges = _decorate(edges, identifiers)

    graph = nx.Graph()
    attributes = _account_attributes(accounts, members)
    for account in sorted(members):
        graph.add_node(account, type="account", **attributes.get(account, {}))
    for row in edges.itertuples(index=False):  # one cluster: small
        node = f"{row.kind}:{row.value}"
        graph.add_node(node, type="identifier", kind=row.kind, masked=row.masked, tier=row.tier,
                       **({"n_accounts": int(row.n_accounts)}
                          if "n_accounts" in edges.columns and pd.notna(row.n_accounts) else {}))
        graph.add_edge(row.account_id, node, kind=row.kind, tier=row.tier, weight=float(row.weight))
    return graph


def _decorate(edges: pd.DataFrame, identifiers: pd.DataFrame) -> pd.DataFrame:
    """Take tier, weight and n_accounts of each (account, kind, value) from ``identifiers``."""
    extra = [c for c in (s.TIER, s.WEIGHT, s.N_ACCOUNTS) if c in identifiers.columns]
    if s.VALUE not in identifiers.columns or not extra:
        return edges
    own = identifiers[[s.ACCOUNT_ID, s.KIND, s.VALUE, *extra]].drop_duplicates(
        [s.ACCOUNT_ID, s.KIND, s.VALUE]
    )
    merged = edges.merge(own, on=[s.ACCOUNT_ID, s.KIND, s.VALUE], how="left", suffixes=("", "_own"))
    for column in extra:
        if f"{column}_own" in merged.columns:
            own_value = merged.pop(f"{column}_own")
            merged[column] = own_value.where(own_value.notna(), merged[column])
    return merged


def _account_attributes(accounts: pd.DataFrame | None, members: pd.Index) -> dict[str, dict[str, object]]:
    if accounts is None or s.ACCOUNT_ID not in accounts.columns:
        return {}
    rows = accounts[accounts[s.ACCOUNT_ID].isin(members)].drop_duplicates(s.ACCOUNT_ID)
    rows = rows.set_index(s.ACCOUNT_ID)
    # "type" is the node's role in this graph; an input column of that name must not replace it.
    rows = rows.drop(columns=[c for c in ("type",) if c in rows.columns])
    return {str(k): {c: v for c, v in row.items() if not _is_missing(v)}
            for k, row in rows.to_dict(orient="index").items()}


def _is_missing(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
