"""Why an account is in its cluster and why it has its action (``linkgraph explain``).

:func:`explain_account` gathers, for one account of a finished :class:`Run`,
everything a moderator needs to trust or overturn its proposed action: its
family and person clusters, every link it has (masked), the path of shared
identifiers to the blocked account behind its action, its coupon-abuse score
with reasons, and the values of its own that were ignored (hubs, junk,
pickup points) and why. Only masked values are ever shown.

The path is rebuilt hop by hop from the run's ``links`` (inside the cluster,
so one small graph): among the shortest paths over the links the action's
rule may travel (person tier inside the person cluster for a ban or a
suspension, person and household tier for a review, any link for a watch),
the one whose accounts the sanctions stage's evidence names, in order.
"""

from __future__ import annotations

import itertools

import pandas as pd

from linkgraph import schemas as s
from linkgraph.errors import LinkgraphError
from linkgraph.explain._model import CouponReason, Explanation, IgnoredValue, Link, Step
from linkgraph.explain._path import _find_path
from linkgraph.explain.words import (
    KIND_ORDER,
    describe_coupon_reason,
    did_you_mean,
    float_or_none,
    int_or_none,
    is_missing,
    iso_time,
    kind_label,
    seen_words,
    text_or_none,
    value_words,
)
from linkgraph.run import Run

__all__ = [
    "KIND_ORDER", "CouponReason", "Explanation", "IgnoredValue", "Link", "Step",
    "describe_coupon_reason", "did_you_mean", "explain_account", "seen_words", "value_words",
]

#: a suppression code -> why the value was ignored, in words
_SUPPRESSED_WHY = {
    "hub": "a hub: shared by {n} accounts, too many for one person or family",
    "pickup_point": "a pickup point or parcel locker, shared by strangers",
    "junk": "a placeholder or junk value",
    "invalid": "not a valid {label}",
    "private_ip": "a private network address",
    "deny_list": "on the configured deny list (graph.hub_deny)",
}

_WEAK_WHY = "weak evidence (shared by {n}): never joins a cluster, gives a watch at most"


def explain_account(run: Run, account_id: str) -> Explanation:
    """Explain one account of a run: clusters, links, path to the blocked account, score, hubs.

    Args:
        run: a finished run (``linkgraph.load_run(dir)`` or ``linkgraph.run(...)``).
        account_id: the account to explain.

    Returns:
        An :class:`Explanation`; ``.to_text()`` for a terminal, ``.to_dict()`` for JSON.

    Raises:
        LinkgraphError: the run has no such account (the message suggests close ids).

    >>> accounts = pd.DataFrame({"account_id": ["A1", "A2"], "cluster_id": ["C1", "C1"],
    ...     "person_cluster_id": ["P1", "P1"], "action": ["none", "ban"],
    ...     "linked_blocked_account": [None, "A1"], "hops": [0, 1], "sanction": ["banned", None],
    ...     "evidence": [None, "card ****4242 shared with A1 (banned 2026-10-02)"]})
    >>> links = pd.DataFrame({"cluster_id": ["C1"], "account_a": ["A1"], "account_b": ["A2"],
    ...     "kind": ["card"], "masked": ["card ****4242"], "tier": ["person"], "weight": [1.0]})
    >>> empty = pd.DataFrame()
    >>> run = Run(accounts=accounts, clusters=empty, links=links, review_queue=empty,
    ...     hubs=empty, rejects=empty, cluster_changes=empty, cluster_alerts=empty,
    ...     coupon_hubs=empty, identifiers=empty, issued_ids=empty)
    >>> e = explain_account(run, "A2")
    >>> e.linked_blocked_account, [(x.account, x.other_account) for x in e.path]
    ('A1', [('A2', 'A1')])
    >>> print(e.to_text().splitlines()[6])
        A2 -> A1: card ****4242
    """
    accounts = run.accounts
    hit = accounts[accounts[s.ACCOUNT_ID] == account_id]
    if hit.empty:
        raise LinkgraphError(f"account {account_id!r} is not in this run"
                             f"{did_you_mean(account_id, accounts[s.ACCOUNT_ID])}; "
                             "check the id in accounts.csv of the run directory")
    row = hit.iloc[0]
    cluster_id, person_id = str(row[s.CLUSTER_ID]), str(row[s.PERSON_CLUSTER_ID])
    cluster_links = _cluster_links(run.links, cluster_id)
    mine = (cluster_links[s.ACCOUNT_A] == account_id) | (cluster_links[s.ACCOUNT_B] == account_id)
    blocked_account = text_or_none(row.get(s.LINKED_BLOCKED_ACCOUNT))
    hops = int_or_none(row.get(s.HOPS))
    evidence = text_or_none(row.get(s.EVIDENCE))
    path: list[str] | None = None
    if blocked_account is not None and blocked_account != account_id:
        path = _find_path(cluster_links, accounts, account_id, blocked_account,
                          action=str(row.get(s.ACTION, "none")), hops=hops, evidence=evidence)
    steps = tuple(Step(a, b, _links_of(cluster_links, a, only_with=b))
                  for a, b in itertools.pairwise(path or []))
    return Explanation(
        account_id=account_id,
        cluster_id=cluster_id,
        cluster_size=int((accounts[s.CLUSTER_ID] == cluster_id).sum()),
        person_cluster_id=person_id,
        person_cluster_size=int((accounts[s.PERSON_CLUSTER_ID] == person_id).sum()),
        sanction=text_or_none(row.get("sanction")),
        blocked=not is_missing(row.get("blocked")) and bool(row.get("blocked")),
        cleared_at=iso_time(row.get("cleared_at")),
        action=str(text_or_none(row.get(s.ACTION)) or "none"),
        action_reason=text_or_none(row.get(s.ACTION_REASON)),
        linked_blocked_account=blocked_account,
        evidence=evidence,
        confidence=float_or_none(row.get(s.CONFIDENCE)),
        hops=hops,
        path=steps,
        path_found=path is not None,
        links=_links_of(cluster_links[mine], account_id),
        coupon_abuse_score=float_or_none(row.get(s.COUPON_ABUSE_SCORE)) or 0.0,
        cluster_coupon_abuse_score=float_or_none(row.get("cluster_coupon_abuse_score")) or 0.0,
        coupon_reasons=tuple(describe_coupon_reason(code) for code in
                             (text_or_none(row.get(s.COUPON_ABUSE_REASONS)) or "").split(";")
                             if code.strip()),
        ignored=_ignored_values(run.identifiers, account_id),
    )


def _cluster_links(links: pd.DataFrame, cluster_id: str) -> pd.DataFrame:
    if links.empty or s.CLUSTER_ID not in links.columns:
        return links.reindex(columns=[s.CLUSTER_ID, s.ACCOUNT_A, s.ACCOUNT_B, s.KIND, s.TIER])
    return links[links[s.CLUSTER_ID] == cluster_id]


def _links_of(links: pd.DataFrame, account_id: str, *, only_with: str | None = None
              ) -> tuple[Link, ...]:
    """The link rows of ``account_id`` (to ``only_with`` when given), strongest kind first."""
    if links.empty:
        return ()
    a, b = links[s.ACCOUNT_A], links[s.ACCOUNT_B]
    other = b.where(a == account_id, a)
    keep = (a == account_id) | (b == account_id)
    if only_with is not None:
        keep &= other == only_with
    rows = links[keep].assign(_other=other[keep])
    rows = rows.assign(_order=rows[s.KIND].map(KIND_ORDER).fillna(len(KIND_ORDER)))
    rows = rows.sort_values(["_other", "_order", s.KIND], kind="stable")
    return tuple(
        Link(other_account=str(r["_other"]), kind=str(r[s.KIND]), masked=text_or_none(r.get(s.MASKED)),
             tier=text_or_none(r.get(s.TIER)), weight=float_or_none(r.get(s.WEIGHT)),
             first_seen=iso_time(r.get(s.FIRST_SEEN)), last_seen=iso_time(r.get(s.LAST_SEEN)),
             gap_days=float_or_none(r.get(s.GAP_DAYS)))
        for _, r in rows.iterrows()
    )


def _ignored_values(identifiers: pd.DataFrame, account_id: str) -> tuple[IgnoredValue, ...]:
    """The account's values that were suppressed, or shared but too weak to join a cluster."""
    if identifiers.empty or s.SUPPRESSED not in identifiers.columns:
        return ()
    own = identifiers[identifiers[s.ACCOUNT_ID] == account_id]
    n = own[s.N_ACCOUNTS] if s.N_ACCOUNTS in own else pd.Series(1, index=own.index)
    weak = (own[s.TIER] == s.T_WEAK) if s.TIER in own else pd.Series(False, index=own.index)
    ignored = own[own[s.SUPPRESSED].notna() | (weak & (n > 1)).fillna(False)]
    ignored = ignored.assign(_n=n[ignored.index]).sort_values(
        ["_n", s.KIND, s.MASKED], ascending=[False, True, True], kind="stable")
    values = []
    for _, r in ignored.iterrows():
        reason = text_or_none(r[s.SUPPRESSED]) or "weak"
        template = _SUPPRESSED_WHY.get(reason, _WEAK_WHY if reason == "weak" else reason)
        values.append(IgnoredValue(
            kind=str(r[s.KIND]), masked=text_or_none(r.get(s.MASKED)), n_accounts=int(r["_n"]),
            reason=reason, why=template.format(n=int(r["_n"]), label=kind_label(str(r[s.KIND])))))
    return tuple(values)

