"""Cluster-id stability between two nights.

Last night's and tonight's clusters are compared by the accounts they share
(an account absent from one night is *new* tonight or *gone* since
yesterday). Tonight's cluster C is

- *unchanged* when exactly one of last night's clusters P overlaps it, all
  of P's accounts are in C, and C has no other account (same member set);
- *grown* when likewise P lies wholly inside C, and C also has new accounts;
- *merged* when two or more of last night's clusters overlap it and each of
  them lies wholly inside C.

An id is *reused* when tonight's cluster carries an id that last night named
a cluster with none of its accounts: the id now means an unrelated set; it
is *reissued* when it was retired before last night (in the previous run's
registry of issued ids, not in use last night) and is in use again tonight.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from linkgraph import schemas as s


def _rate(hits: pd.Series) -> float:
    return float(hits.mean()) if len(hits) else float("nan")


def stability_metrics(
    accounts: pd.DataFrame,
    previous_accounts: pd.DataFrame,
    *,
    truth: pd.DataFrame | None = None,
    previous_truth: pd.DataFrame | None = None,
    previous_issued_ids: pd.Series | None = None,
) -> dict[str, float | int]:
    """How well ``cluster_id`` is kept from last night to tonight.

    Args:
        accounts: tonight's ``account_id, cluster_id``.
        previous_accounts: last night's ``account_id, cluster_id``.
        truth, previous_truth: ``account_id, household_id`` of both nights;
            when both are given, households that merged in the truth (people
            moving in together) are scored too.
        previous_issued_ids: every cluster id issued up to last night (the
            previous run's registry); an id from it that was not in use last
            night but is tonight is a retired id issued again.

    Returns:
        ``stability.*`` metrics (see docs/metrics.md).

    >>> last = pd.DataFrame({"account_id": ["a", "b", "c"], "cluster_id": ["X", "X", "Y"]})
    >>> tonight = pd.DataFrame({"account_id": ["a", "b", "c", "d"],
    ...                         "cluster_id": ["X", "X", "Y", "Y"]})
    >>> m = stability_metrics(tonight, last)
    >>> m["stability.unchanged_clusters"], m["stability.grown_clusters"]
    (1, 1)
    """
    both = _align(previous_accounts, accounts)
    common = both[(both["prev"] >= 0) & (both["cur"] >= 0)]
    overlap = common.groupby(["prev", "cur"], sort=True).size().rename("n").reset_index()

    gone = both.loc[both["cur"] < 0].groupby("prev").size()
    new = both.loc[both["prev"] < 0].groupby("cur").size()
    prev_parts = overlap.groupby("prev").size()  # tonight's clusters each old one went to
    cur_parts = overlap.groupby("cur").size()  # last night's clusters each new one came from

    # an old cluster lies wholly inside one new cluster: one part, nothing gone
    whole = overlap["prev"].map(prev_parts).eq(1) & ~overlap["prev"].isin(gone.index)
    whole_inside = overlap.assign(whole=whole.to_numpy()).groupby("cur")["whole"].all()
    cur = pd.DataFrame({"parts": cur_parts, "all_whole": whole_inside})
    cur["new"] = new.reindex(cur.index).fillna(0).to_numpy(dtype=np.int64)
    single = overlap.groupby("cur")["prev"].first()
    cur["kept"] = cur.index.to_numpy() == single.reindex(cur.index).to_numpy()
    kept_old = overlap.assign(same=overlap["prev"] == overlap["cur"]).groupby("cur")["same"].any()
    cur["kept_old"] = kept_old.reindex(cur.index).to_numpy()

    unchanged = cur[(cur["parts"] == 1) & cur["all_whole"] & (cur["new"] == 0)]
    grown = cur[(cur["parts"] == 1) & cur["all_whole"] & (cur["new"] > 0)]
    merged = cur[(cur["parts"] >= 2) & cur["all_whole"]]

    current_ids = pd.Index(np.unique(both.loc[both["cur"] >= 0, "cur"]))
    previous_ids = pd.Index(np.unique(both.loc[both["prev"] >= 0, "prev"]))
    carried = current_ids.intersection(previous_ids)
    same_id_overlap = pd.Index(overlap.loc[overlap["prev"] == overlap["cur"], "cur"].unique())
    reused = carried.difference(same_id_overlap)

    metrics: dict[str, float | int] = {
        "stability.common_accounts": len(common),
        "stability.unchanged_clusters": len(unchanged),
        "stability.unchanged_kept_id": _rate(unchanged["kept"]),
        "stability.grown_clusters": len(grown),
        "stability.grown_kept_id": _rate(grown["kept"]),
        "stability.merged_clusters": len(merged),
        "stability.merged_kept_old_id": _rate(merged["kept_old"]),
        "stability.retired_ids": len(previous_ids.difference(current_ids)),
        "stability.reused_ids": len(reused),
    }
    if previous_issued_ids is not None:
        used_last_night = previous_accounts[s.CLUSTER_ID].dropna().astype(str)
        retired = pd.Index(previous_issued_ids.dropna().astype(str).unique()).difference(
            pd.Index(used_last_night.unique())
        )
        tonight = pd.Index(accounts[s.CLUSTER_ID].dropna().astype(str).unique())
        metrics["stability.reissued_retired_ids"] = len(tonight.intersection(retired))
    if truth is not None and previous_truth is not None:
        metrics.update(_true_merge_metrics(both, truth, previous_truth))
    return metrics


def _align(previous_accounts: pd.DataFrame, accounts: pd.DataFrame) -> pd.DataFrame:
    """One row per account of either night: ``account_id`` and cluster codes ``prev``, ``cur``.

    Cluster ids of both nights share one code space (the same id string is
    the same code), -1 where the account is absent that night.
    """
    prev_ids = previous_accounts[s.ACCOUNT_ID].astype(str)
    cur_ids = accounts[s.ACCOUNT_ID].astype(str)
    account, account_ids = pd.factorize(pd.concat([prev_ids, cur_ids], ignore_index=True))
    clusters = pd.concat(
        [previous_accounts[s.CLUSTER_ID], accounts[s.CLUSTER_ID]], ignore_index=True
    ).astype("string")
    cluster = pd.factorize(clusters)[0]
    n_accounts = int(account.max(initial=-1)) + 1
    prev = np.full(n_accounts, -1, dtype=np.int64)
    cur = np.full(n_accounts, -1, dtype=np.int64)
    n_prev = len(prev_ids)
    prev[account[:n_prev]] = cluster[:n_prev]
    cur[account[n_prev:]] = cluster[n_prev:]
    # an account with no cluster that night is in none: count it as absent
    return pd.DataFrame({s.ACCOUNT_ID: np.asarray(account_ids), "prev": prev, "cur": cur})


def _true_merge_metrics(
    both: pd.DataFrame, truth: pd.DataFrame, previous_truth: pd.DataFrame
) -> dict[str, float | int]:
    """Households formed tonight from two or more of last night's (people moving in together).

    Such a merge is *followed* when tonight's run puts all its accounts in
    one cluster whose id is one of their clusters' ids of last night.
    """
    households = (
        both.merge(truth[[s.ACCOUNT_ID, s.HOUSEHOLD_ID]], on=s.ACCOUNT_ID, how="inner")
        .merge(
            previous_truth[[s.ACCOUNT_ID, s.HOUSEHOLD_ID]].rename(
                columns={s.HOUSEHOLD_ID: "prev_household"}
            ),
            on=s.ACCOUNT_ID, how="left",
        )
        .query("cur >= 0")
    )
    per_household = households.groupby(s.HOUSEHOLD_ID, sort=True).agg(
        prev_households=("prev_household", "nunique"),
        clusters=("cur", "nunique"),
        cluster=("cur", "first"),
    )
    merges = per_household[per_household["prev_households"] >= 2].reset_index()
    old_ids = (
        households.loc[households["prev"] >= 0, [s.HOUSEHOLD_ID, "prev"]]
        .drop_duplicates()
        .rename(columns={"prev": "cluster"})
        .assign(old=True)
    )
    merges = merges.merge(old_ids, on=[s.HOUSEHOLD_ID, "cluster"], how="left")
    followed = (merges["clusters"] == 1) & merges["old"].fillna(False).astype(bool)
    return {
        "stability.true_household_merges": len(merges),
        "stability.true_merges_followed": _rate(followed),
    }
