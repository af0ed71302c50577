"""Two nights side by side: accounts added and removed, clusters changed, actions changed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from linkgraph import schemas as s
from linkgraph.analysis.view import _frame_html

if TYPE_CHECKING:
    from linkgraph.run import Run

#: cluster changes, in the order the summary lists them
CHANGE_KINDS = ("new", "merged", "split", "grown", "shrunk", "renamed", "retired")
ACTION_BEFORE = "action_before"
_SEVERITY = {action: rank for rank, action in enumerate(s.ACTIONS)}
_ACTION_CHANGE_COLUMNS = (
    s.ACCOUNT_ID, s.CLUSTER_ID, ACTION_BEFORE, s.ACTION, s.ACTION_REASON,
    s.LINKED_BLOCKED_ACCOUNT, s.EVIDENCE,
)


@dataclass(frozen=True, eq=False)
class Comparison:
    """What changed from an earlier run (``before``) to a later one (``after``).

    accounts_added / accounts_removed: rows of the later / earlier run's
        ``accounts`` for accounts only it holds.
    cluster_changes: one row per changed cluster: ``cluster_id, change,
        previous_cluster_ids, accounts_added, accounts_removed,
        next_cluster_ids``; ``change`` is one of :data:`CHANGE_KINDS`. Taken
        from the later run's ``cluster_changes`` when it was computed against
        the earlier run (``--previous``), else worked out from membership.
    action_changes: accounts in both runs whose proposed action changed:
        ``account_id, cluster_id, action_before, action, action_reason,
        linked_blocked_account, evidence``.
    transitions: ``action_before, action, n_accounts`` for the changed actions.
    summary: ``what, change, n``: one line per count above.
    """

    before: str
    after: str
    accounts_added: pd.DataFrame
    accounts_removed: pd.DataFrame
    cluster_changes: pd.DataFrame
    action_changes: pd.DataFrame
    transitions: pd.DataFrame
    summary: pd.DataFrame

    def __repr__(self) -> str:
        lines = [f"Comparison({self.before} -> {self.after})"]
        lines += [f"  {r.what}: {r.change} {r.n:,}" for r in self.summary.itertuples()]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return "\n".join([
            f"<h4>Changes from {_escape(self.before)} to {_escape(self.after)}</h4>",
            _frame_html(self.summary, ("what", "change", "n"), rows=50),
            "<b>Clusters changed</b>",
            _frame_html(self.cluster_changes, tuple(self.cluster_changes.columns)),
            "<b>Actions changed</b>",
            _frame_html(self.action_changes, _ACTION_CHANGE_COLUMNS),
        ])


def compare_runs(after: Run, before: Run) -> Comparison:
    """What changed from ``before`` (an earlier night) to ``after``.

    >>> import linkgraph as lg
    >>> run = lg.analysis.example_run()
    >>> compare_runs(run, run).summary["n"].tolist()
    [0, 0]
    """
    old_ids = pd.Index(before.accounts[s.ACCOUNT_ID])
    new_ids = pd.Index(after.accounts[s.ACCOUNT_ID])
    added = after.accounts[~new_ids.isin(old_ids)].reset_index(drop=True)
    removed = before.accounts[~old_ids.isin(new_ids)].reset_index(drop=True)

    changes = after.cluster_changes
    if not _changes_against(changes, before):
        changes = _membership_changes(after.accounts, before.accounts)
    changes = changes[changes[s.CHANGE].isin(CHANGE_KINDS)].reset_index(drop=True)

    both = after.accounts.merge(
        before.accounts[[s.ACCOUNT_ID, s.ACTION]].rename(columns={s.ACTION: ACTION_BEFORE}),
        on=s.ACCOUNT_ID, how="inner", validate="1:1",
    )
    moved = both[both[s.ACTION] != both[ACTION_BEFORE]]
    action_changes = moved[[c for c in _ACTION_CHANGE_COLUMNS if c in moved.columns]]
    action_changes = action_changes.sort_values(s.ACCOUNT_ID, ignore_index=True)
    transitions = count_transitions(action_changes)

    rows = [("accounts", "added", len(added)), ("accounts", "removed", len(removed))]
    counts = changes[s.CHANGE].value_counts()
    rows += [("clusters", kind, int(counts[kind])) for kind in CHANGE_KINDS if kind in counts.index]
    rows += [("actions", f"{r.action_before} → {r.action}", int(r.n_accounts))
             for r in transitions.itertuples()]
    summary = pd.DataFrame(rows, columns=["what", "change", "n"]).astype({"n": "int64"})
    return Comparison(
        before=_name(before), after=_name(after), accounts_added=added, accounts_removed=removed,
        cluster_changes=changes, action_changes=action_changes, transitions=transitions,
        summary=summary,
    )


def count_transitions(changed: pd.DataFrame) -> pd.DataFrame:
    """``action_before, action, n_accounts`` of the rows of ``changed``, strongest new action first.

    >>> count_transitions(pd.DataFrame({"action_before": ["none", "none", "review"],
    ...     "action": ["ban", "ban", "watch"]})).to_numpy().tolist()
    [['none', 'ban', 2], ['review', 'watch', 1]]
    """
    counts = changed.groupby([ACTION_BEFORE, s.ACTION], sort=False).size().rename("n_accounts")
    table = counts.reset_index()
    order = np.lexsort((
        table[ACTION_BEFORE].map(_SEVERITY).fillna(-1).to_numpy(),
        -table[s.ACTION].map(_SEVERITY).fillna(-1).to_numpy(),
    ))
    return table.iloc[order].astype({"n_accounts": "int64"}).reset_index(drop=True)


def _name(run: Run) -> str:
    return run.path.name if run.path is not None else "in-memory run"


def _escape(text: str) -> str:
    import html

    return html.escape(text)


def _changes_against(changes: pd.DataFrame, before: Run) -> bool:
    """True when ``changes`` (a run's cluster_changes) was computed against ``before``:
    not empty, and every previous or retired cluster id it names is one of ``before``'s."""
    if changes.empty or s.CHANGE not in changes.columns:
        return False
    known = set(before.clusters[s.CLUSTER_ID])
    named = changes[s.PREVIOUS_CLUSTER_IDS].fillna("").str.split(";").explode()
    retired = changes.loc[changes[s.CHANGE] == "retired", s.CLUSTER_ID]
    names = set(named[named != ""]) | set(retired)
    return names <= known


def _membership_changes(after: pd.DataFrame, before: pd.DataFrame) -> pd.DataFrame:
    """Cluster changes worked out from which accounts each cluster holds on each night.

    The same kinds as the cluster stage's change log: ``merged`` (accounts of
    several earlier clusters), ``split`` (an earlier cluster's accounts now
    in several), ``new`` (no account clustered before), ``grown``/``shrunk``
    (same id, accounts gained/lost), ``renamed`` (the same accounts under a
    new id) and ``retired`` (an earlier id no longer used).
    """
    joined = after[[s.ACCOUNT_ID, s.CLUSTER_ID]].merge(
        before[[s.ACCOUNT_ID, s.CLUSTER_ID]].rename(columns={s.CLUSTER_ID: "previous"}),
        on=s.ACCOUNT_ID, how="outer",
    )
    common = joined.dropna(subset=[s.CLUSTER_ID, "previous"])
    moved = joined[joined[s.CLUSTER_ID].fillna("") != joined["previous"].fillna("")]
    added = moved.dropna(subset=[s.CLUSTER_ID]).groupby(s.CLUSTER_ID).size()
    removed = moved.dropna(subset=["previous"]).groupby("previous").size()
    links = common[[s.CLUSTER_ID, "previous"]].drop_duplicates().sort_values(
        [s.CLUSTER_ID, "previous"], kind="stable")
    sources = links.groupby(s.CLUSTER_ID)["previous"].agg(";".join)
    n_sources = links.groupby(s.CLUSTER_ID).size()
    links = links.sort_values(["previous", s.CLUSTER_ID], kind="stable")
    targets = links.groupby("previous")[s.CLUSTER_ID].agg(";".join)
    n_targets = links.groupby("previous").size()

    new = pd.DataFrame({s.CLUSTER_ID: pd.unique(after[s.CLUSTER_ID])})
    cid = new[s.CLUSTER_ID]
    previous_ids = cid.map(sources).fillna("")
    parts = cid.map(n_sources).fillna(0)
    kept = cid.isin(before[s.CLUSTER_ID])
    gained = cid.map(added).fillna(0).astype("int64")
    lost = cid.map(removed).fillna(0).astype("int64").where(kept, 0)
    spread = cid.map(n_targets).where(kept, previous_ids.map(n_targets)).fillna(0) > 1
    change = np.select(
        [parts > 1, spread, parts == 0, ~kept, (gained == 0) & (lost == 0), gained >= lost],
        ["merged", "split", "new", "renamed", "", "grown"], default="shrunk",
    )
    rows = new.assign(**{
        s.CHANGE: change, s.PREVIOUS_CLUSTER_IDS: previous_ids, s.ACCOUNTS_ADDED: gained,
        s.ACCOUNTS_REMOVED: lost, s.NEXT_CLUSTER_IDS: "",
    })
    rows = rows[rows[s.CHANGE] != ""]
    gone = pd.Index(pd.unique(before[s.CLUSTER_ID])).difference(pd.Index(cid))
    retired = pd.DataFrame({
        s.CLUSTER_ID: gone, s.CHANGE: "retired", s.PREVIOUS_CLUSTER_IDS: "",
        s.ACCOUNTS_ADDED: 0, s.ACCOUNTS_REMOVED: before[s.CLUSTER_ID].value_counts().reindex(gone)
        .fillna(0).astype("int64").to_numpy(),
        s.NEXT_CLUSTER_IDS: pd.Series(gone).map(targets).fillna("").to_numpy(),
    })
    out = pd.concat([rows, retired], ignore_index=True)
    return out.sort_values(s.CLUSTER_ID, kind="stable", ignore_index=True)
