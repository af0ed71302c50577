"""A finished run: the output frames, and what an analyst does with them.

A :class:`Run` is a value: the frames of the output contract plus the
manifest. It comes from :func:`linkgraph.pipeline.run` (in memory) or from
:func:`linkgraph.load_run` (a run directory written earlier).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from linkgraph import schemas as s

if TYPE_CHECKING:
    from linkgraph.cluster import Clustering
    from linkgraph.config import Config
    from linkgraph.graph import LinkSet
    from linkgraph.load import Tables
    from linkgraph.sanctions import Actions
    from linkgraph.score import Scores

#: strongest input sanction first, for the ``sanction`` column of accounts
_SANCTION_ORDER = {a: i for i, a in enumerate(s.SANCTION_ACTIONS)}


@dataclass(frozen=True)
class Run:
    """The output of one run, as DataFrames.

    accounts: one row per valid input account: ``account_id, cluster_id,
        person_cluster_id, action, action_reason, linked_blocked_account``,
        the evidence, the input ``sanction`` and ``blocked`` flag, the
        coupon-abuse score of the account's person (``coupon_abuse_score``,
        the ranking of accounts: a farmer's family sharing his home address
        is not a farmer) and of its family cluster (``cluster_coupon_abuse_score``).
    clusters: one row per cluster (a singleton is its own cluster).
    links: one row per (account pair, kind, value) inside a cluster.
    review_queue, hubs, rejects, cluster_changes, cluster_alerts, coupon_hubs:
        as in the output contract.
    identifiers: one row per (account, kind, value), masked, with its tier,
        sharing count and why it was suppressed, for explanations.
    issued_ids: every cluster id ever issued, carried to the next run.
    """

    accounts: pd.DataFrame
    clusters: pd.DataFrame
    links: pd.DataFrame
    review_queue: pd.DataFrame
    hubs: pd.DataFrame
    rejects: pd.DataFrame
    cluster_changes: pd.DataFrame
    cluster_alerts: pd.DataFrame
    coupon_hubs: pd.DataFrame
    identifiers: pd.DataFrame
    issued_ids: pd.DataFrame
    manifest: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @classmethod
    def from_stages(
        cls,
        *,
        tables: Tables,
        links: LinkSet,
        clusters: Clustering,
        actions: Actions,
        scores: Scores,
        config: Config,
    ) -> Run:
        """Join the stages' outputs into the frames of the output contract."""
        sanction = _strongest_sanction(tables.sanctions)
        accounts = (
            clusters.accounts.merge(actions.accounts, on=s.ACCOUNT_ID, how="left", validate="1:1")
            .merge(sanction, on=s.ACCOUNT_ID, how="left", validate="1:1")
            .merge(_last_cleared(tables.decisions), on=s.ACCOUNT_ID, how="left", validate="1:1")
            .merge(
                scores.persons[[s.PERSON_CLUSTER_ID, s.COUPON_ABUSE_SCORE, s.COUPON_ABUSE_REASONS]],
                on=s.PERSON_CLUSTER_ID, how="left", validate="m:1",
            )
            .merge(
                scores.clusters[[s.CLUSTER_ID, s.COUPON_ABUSE_SCORE]].rename(
                    columns={s.COUPON_ABUSE_SCORE: "cluster_coupon_abuse_score"}),
                on=s.CLUSTER_ID, how="left", validate="m:1",
            )
        )
        accounts["blocked"] = accounts["sanction"].isin(s.BLOCKING_ACTIONS)
        accounts[s.ACTION] = accounts[s.ACTION].fillna("none")
        for column in (s.COUPON_ABUSE_SCORE, "cluster_coupon_abuse_score"):
            accounts[column] = accounts[column].fillna(0.0)
        accounts = accounts.sort_values(s.ACCOUNT_ID, kind="stable", ignore_index=True)

        cluster_frame = clusters.clusters.merge(
            scores.clusters, on=s.CLUSTER_ID, how="left", validate="1:1"
        ).sort_values(s.CLUSTER_ID, kind="stable", ignore_index=True)

        cluster_of = clusters.accounts.set_index(s.ACCOUNT_ID)[s.CLUSTER_ID]
        pairs = links.pairs
        same = pairs[s.ACCOUNT_A].map(cluster_of).to_numpy() == pairs[s.ACCOUNT_B].map(
            cluster_of
        ).to_numpy()
        inside = pairs[same].copy()
        inside.insert(0, s.CLUSTER_ID, inside[s.ACCOUNT_A].map(cluster_of))
        inside = inside.sort_values(
            [s.CLUSTER_ID, s.ACCOUNT_A, s.ACCOUNT_B, s.KIND, s.VALUE], kind="stable",
            ignore_index=True,
        )
        return cls(
            accounts=accounts,
            clusters=cluster_frame,
            links=inside,
            review_queue=actions.review_queue,
            hubs=links.hubs,
            rejects=tables.rejects,
            cluster_changes=clusters.changes,
            cluster_alerts=clusters.alerts,
            coupon_hubs=scores.coupon_hubs,
            identifiers=links.incidence,
            issued_ids=clusters.issued_ids,
            manifest={"inputs": [dataclasses.asdict(source) for source in tables.sources]},
        )


def _last_cleared(decisions: pd.DataFrame) -> pd.DataFrame:
    """account_id, cleared_at: the latest `cleared` decision of each account."""
    cleared = decisions[decisions[s.DECISION] == s.CLEARED]
    latest = cleared.groupby(s.ACCOUNT_ID, sort=True)[s.CREATED_AT].max()
    return latest.rename("cleared_at").reset_index()


def _strongest_sanction(sanctions: pd.DataFrame) -> pd.DataFrame:
    """account_id, sanction (the strongest input action), sanctioned_at."""
    if sanctions.empty:
        return pd.DataFrame({s.ACCOUNT_ID: pd.Series(dtype="str"),
                             "sanction": pd.Series(dtype="str"),
                             "sanctioned_at": pd.Series(dtype="datetime64[ns, UTC]")})
    ranked = sanctions.assign(_rank=sanctions[s.ACTION].map(_SANCTION_ORDER))
    ranked = ranked.sort_values([s.ACCOUNT_ID, "_rank", s.CREATED_AT], kind="stable")
    strongest = ranked.drop_duplicates(s.ACCOUNT_ID, keep="last")
    return strongest.rename(columns={s.ACTION: "sanction", s.CREATED_AT: "sanctioned_at"})[
        [s.ACCOUNT_ID, "sanction", "sanctioned_at"]
    ].reset_index(drop=True)
