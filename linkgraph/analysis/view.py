"""One cluster as a value (:class:`ClusterView`), and the HTML Jupyter shows for a run."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from linkgraph import schemas as s
from linkgraph.errors import LinkgraphError

if TYPE_CHECKING:
    import networkx as nx
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from linkgraph.run import Run

#: rows shown per table in HTML; the frames themselves hold everything
_HTML_ROWS = 30
#: the columns shown for a cluster's accounts / links / actions (when present)
_ACCOUNT_COLUMNS = (
    s.ACCOUNT_ID, s.PERSON_CLUSTER_ID, s.ACTION, s.ACTION_REASON, s.LINKED_BLOCKED_ACCOUNT,
    s.SANCTION, s.COUPON_ABUSE_SCORE, s.COUPON_ABUSE_REASONS,
)
_LINK_COLUMNS = (s.ACCOUNT_A, s.ACCOUNT_B, s.KIND, s.MASKED, s.TIER, s.WEIGHT)
_ACTION_COLUMNS = (s.RANK, s.ACCOUNT_ID, s.ACTION, s.CONFIDENCE, s.HOPS, s.EVIDENCE)
_CLUSTER_COLUMNS = (
    s.CLUSTER_ID, s.N_ACCOUNTS, s.N_PERSONS, s.N_BLOCKED, s.LINK_KINDS, s.COUPON_ABUSE_SCORE,
    s.COUPON_ABUSE_REASONS,
)


@dataclass(frozen=True, eq=False)
class ClusterView:
    """One family cluster of a run: who is in it, what links them, what is proposed.

    cluster_id: the cluster.
    accounts: its rows of ``run.accounts`` (sorted by account id).
    links: its rows of ``run.links`` (pairs of accounts and the masked value they share).
    actions: its rows of ``run.review_queue`` (proposed actions other than none/watch).
    score, reasons: the cluster's coupon-abuse score (0-100) and reason codes.
    summary: the cluster's row of ``run.clusters`` as a dict.
    alerts: its rows of ``run.cluster_alerts`` (a giant cluster, a bridge).
    pairs, identifiers: the members' coded pairs and identifiers, for the graph.
    """

    cluster_id: str
    accounts: pd.DataFrame
    links: pd.DataFrame
    actions: pd.DataFrame
    score: float
    reasons: str
    summary: dict[str, Any] = field(default_factory=dict)
    alerts: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    pairs: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    identifiers: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    @property
    def n_accounts(self) -> int:
        """How many accounts the cluster holds."""
        return len(self.accounts)

    def to_networkx(self) -> nx.Graph:
        """The graph of the cluster (see :meth:`linkgraph.run.Run.to_networkx`)."""
        from linkgraph.analysis.network import cluster_networkx

        return cluster_networkx(self)

    def draw(self, ax: Axes | None = None) -> Figure:
        """Draw the cluster (see :meth:`linkgraph.run.Run.draw`)."""
        from linkgraph.analysis.network import draw_cluster

        return draw_cluster(self, ax=ax)

    def __repr__(self) -> str:
        return (f"ClusterView({self.cluster_id}: {self.n_accounts} accounts, "
                f"{len(self.links)} links, {len(self.actions)} actions, score {self.score:g})")

    def _repr_html_(self) -> str:
        facts = {
            "accounts": self.n_accounts,
            "persons": self.summary.get(s.N_PERSONS, ""),
            "blocked in input": self.summary.get(s.N_BLOCKED, ""),
            "link kinds": self.summary.get(s.LINK_KINDS, ""),
            "coupon-abuse score": f"{self.score:g}",
            "reasons": self.reasons or "",
        }
        parts = [f"<h4>Cluster {html.escape(self.cluster_id)}</h4>", _facts_html(facts)]
        if len(self.alerts):
            parts += ["<b>Alerts</b>", _frame_html(self.alerts, (s.REASON, s.BRIDGE, "part_sizes"))]
        parts += ["<b>Accounts</b>", _frame_html(self.accounts, _ACCOUNT_COLUMNS)]
        parts += ["<b>Proposed actions</b>", _frame_html(self.actions, _ACTION_COLUMNS)]
        parts += ["<b>Links</b>", _frame_html(self.links, _LINK_COLUMNS)]
        return "\n".join(parts)


def cluster_view(run: Run, cluster_id: str) -> ClusterView:
    """The :class:`ClusterView` of ``cluster_id`` (or of the cluster of an account id).

    Raises:
        LinkgraphError: neither a cluster nor an account of this run has that id.

    >>> import linkgraph as lg
    >>> view = cluster_view(lg.analysis.example_run(), "A4")
    >>> view.n_accounts, len(view.links), view.score
    (1, 0, 0.0)
    """
    cid = resolve_cluster(run, cluster_id)
    members = run.accounts[run.accounts[s.CLUSTER_ID] == cid]
    in_cluster = members[s.ACCOUNT_ID]
    row = run.clusters[run.clusters[s.CLUSTER_ID] == cid]
    summary = row.iloc[0].to_dict() if len(row) else {}
    score = summary.get(s.COUPON_ABUSE_SCORE)
    reasons = summary.get(s.COUPON_ABUSE_REASONS)

    def rows(frame: pd.DataFrame, column: str = s.CLUSTER_ID) -> pd.DataFrame:
        if column not in frame.columns:
            return frame.iloc[0:0]
        return frame[frame[column] == cid].reset_index(drop=True)

    pairs = run.pairs
    if s.ACCOUNT_A in pairs.columns:
        pairs = pairs[pairs[s.ACCOUNT_A].isin(in_cluster) & pairs[s.ACCOUNT_B].isin(in_cluster)]
    identifiers = run.identifiers
    if s.ACCOUNT_ID in identifiers.columns:
        identifiers = identifiers[identifiers[s.ACCOUNT_ID].isin(in_cluster)]
    return ClusterView(
        cluster_id=cid,
        accounts=members.reset_index(drop=True),
        links=rows(run.links),
        actions=rows(run.review_queue),
        score=0.0 if score is None or pd.isna(score) else float(score),
        reasons="" if reasons is None or pd.isna(reasons) else str(reasons),
        summary=summary,
        alerts=rows(run.cluster_alerts),
        pairs=pairs.reset_index(drop=True),
        identifiers=identifiers.reset_index(drop=True),
    )


def resolve_cluster(run: Run, key: str) -> str:
    """The cluster id ``key`` names: a cluster id, an account id or a person cluster id.

    Raises:
        LinkgraphError: no cluster, account or person cluster has that id.
    """
    key = str(key)
    if (run.clusters[s.CLUSTER_ID] == key).any():
        return key
    accounts = run.accounts
    for column in (s.ACCOUNT_ID, s.PERSON_CLUSTER_ID):
        hit = accounts.loc[accounts[column] == key, s.CLUSTER_ID]
        if len(hit):
            return str(hit.iloc[0])
    example = run.clusters[s.CLUSTER_ID].iloc[0] if len(run.clusters) else "C..."
    raise LinkgraphError(
        f"no cluster, account or person cluster {key!r} in this run "
        f"(cluster ids look like {example!r}); see run.clusters or run.accounts for the ids"
    )


def run_html(run: Run) -> str:
    """The HTML Jupyter shows for a run: counts, actions, the largest and the top-scored clusters.

    Only counts, ids, reasons and masked values appear.

    >>> import linkgraph as lg
    >>> "Largest clusters" in run_html(lg.analysis.example_run())
    True
    """
    clusters = run.clusters
    multi = int((clusters[s.N_ACCOUNTS] > 1).sum()) if s.N_ACCOUNTS in clusters else 0
    facts = {
        "run": str(run.path) if run.path is not None else "in memory",
        "accounts": f"{len(run.accounts):,}",
        "clusters": f"{len(clusters):,} ({multi:,} with more than one account)",
        "links": f"{len(run.links):,}",
        "review queue": f"{len(run.review_queue):,}",
        "hubs (values that stopped linking)": f"{len(run.hubs):,}",
        "rejected input rows": f"{len(run.rejects):,}",
    }
    if s.ACTION in run.accounts.columns:
        counts = run.accounts[s.ACTION].value_counts()
        facts["actions"] = ", ".join(
            f"{action} {int(counts[action]):,}" for action in reversed(s.ACTIONS)
            if action != "none" and action in counts.index
        ) or "none"
    parts = ["<h4>linkgraph run</h4>", _facts_html(facts)]
    if s.N_ACCOUNTS in clusters:
        largest = clusters.sort_values([s.N_ACCOUNTS, s.CLUSTER_ID], ascending=[False, True])
        parts += ["<b>Largest clusters</b>", _frame_html(largest, _CLUSTER_COLUMNS, rows=10)]
    if s.COUPON_ABUSE_SCORE in clusters:
        scored = clusters[clusters[s.COUPON_ABUSE_SCORE] > 0].sort_values(
            [s.COUPON_ABUSE_SCORE, s.CLUSTER_ID], ascending=[False, True])
        parts += ["<b>Top coupon-abuse clusters</b>", _frame_html(scored, _CLUSTER_COLUMNS, rows=10)]
    return "\n".join(parts)


def _facts_html(facts: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><th style='text-align:left'>{html.escape(str(k))}</th>"
        f"<td style='text-align:left'>{html.escape(str(v))}</td></tr>"
        for k, v in facts.items()
    )
    return f"<table>{rows}</table>"


def _frame_html(frame: pd.DataFrame, columns: tuple[str, ...], *, rows: int = _HTML_ROWS) -> str:
    """An escaped HTML table of ``columns`` (those present), at most ``rows`` rows.

    The raw ``value`` column is never among ``columns``: the HTML holds masked values only.
    """
    shown = frame[[c for c in columns if c in frame.columns]]
    if shown.empty:
        return "<p><i>none</i></p>"
    table = shown.head(rows).to_html(index=False, escape=True, na_rep="", border=0)
    more = len(shown) - rows
    return table + (f"<p><i>… {more:,} more rows</i></p>" if more > 0 else "")
