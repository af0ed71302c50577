"""Propose an action for every account from the blocked accounts and the links.

Each rule of the policy is a *channel*: a set of source accounts, the links
it may travel, how far, and the action it gives:

=========  =====================  ===============================  ===================
channel    sources                links                            action (default)
=========  =====================  ===============================  ===================
person     banned / suspended     person tier, inside the person   ban / suspend
                                  cluster, <= max_person_hops
family     banned / suspended     person or household tier,        review
                                  inside the family cluster,
                                  <= max_family_hops
weak       banned / suspended     any pair (weak values), 1 hop    watch
warning    warning, rating        person or household tier,        watch
           revoked, restricted    <= max_warning_hops
=========  =====================  ===============================  ===================

Hubs and junk values are not pairs, so they carry nothing. The strongest
action over all channels wins; ties go to fewer hops, then higher confidence,
then the smaller source id. A link's confidence grows with the number of
identifier kinds the two accounts share (person tier ``1 - 0.5 ** (1 + k)``,
household tier ``1 - 0.5 ** max(k, 1)``, weak 0.25); a path's is the product.

Moderators' clearings: a cleared account is reached but passes nothing on (a
moderator judged it innocent: its own links do not carry a sanction onwards).
An action on it is dropped when its link carries only values it was already
sharing before the decision (``_links``), or when the same rule already joined
it to the same blocked account through links older than the decision
(``_cleared``); otherwise it is new evidence, capped at ``policy.cleared_cap``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from linkgraph import schemas as s
from linkgraph.codes import strictly_ascending
from linkgraph.config import PolicyConfig
from linkgraph.engine import LOCAL, Engine
from linkgraph.errors import InputError
from linkgraph.graph import LinkSet
from linkgraph.sanctions._actions import (
    _SEVERITY,
    REVIEW_QUEUE_COLUMNS,
    _account_actions,
    _review_queue,
)
from linkgraph.sanctions._cleared import _seen_when_cleared
from linkgraph.sanctions._inputs import _cleared_table, _source_table
from linkgraph.sanctions._links import _Channel, _link_graph, _Links
from linkgraph.sanctions._reach import _best_per_node

logger = logging.getLogger(__name__)

_INHERIT = {"banned": "ban", "suspended": "suspend"}
__all__ = ["REVIEW_QUEUE_COLUMNS", "Actions", "propagate"]


@dataclass(frozen=True)
class Actions:
    """The sanctions stage's output.

    accounts: ``schemas.ACTION_COLUMNS``, one row per account, sorted by
        account_id: the proposed action, why, the blocked account it comes
        from, the evidence path in words (masked), its confidence (0-1) and
        length in links (0 for the blocked accounts themselves).
    review_queue: ``REVIEW_QUEUE_COLUMNS``, one row per account whose proposed
        action is not ``none`` or ``watch``, ranked (1 = most urgent: ban,
        suspend, restrict, review; then confidence; then account id).
    """

    accounts: pd.DataFrame
    review_queue: pd.DataFrame


def propagate(
    accounts: pd.DataFrame,
    links: LinkSet,
    sanctions: pd.DataFrame,
    decisions: pd.DataFrame,
    *,
    policy: PolicyConfig,
    engine: Engine = LOCAL,
) -> Actions:
    """Propose an action for every account, with the evidence for it.

    Args:
        accounts: one row per account: ``account_id, cluster_id, person_cluster_id``.
        links: the graph stage's links; uses ``pair_tiers`` (account_a,
            account_b, tier, n_person_kinds, n_household_kinds) and ``pairs``
            (account_a, account_b, kind, value, masked, tier, first_seen).
        sanctions: input sanctions (account_id, action, created_at).
        decisions: moderators' decisions (account_id, decision, created_at).
        policy: which links give which action, and how far.
        engine: where the searches from the sources (and the search for links near
            cleared accounts) run (``linkgraph.engine``).

    Returns:
        :class:`Actions`: one row per account, and the ranked review queue.

    Raises:
        InputError: a frame lacks a column, or ``accounts`` repeats an id.

    >>> from linkgraph.graph import LinkSet
    >>> accounts = pd.DataFrame({"account_id": ["A1", "A2", "A3"],
    ...     "cluster_id": ["C1", "C1", "C3"], "person_cluster_id": ["P1", "P1", "P3"]})
    >>> pairs = pd.DataFrame({"account_a": ["A1", "A1"], "account_b": ["A2", "A2"],
    ...     "kind": ["card", "device"], "value": ["fp1", "d1"],
    ...     "masked": ["****4242", "dev-***a1b2"], "tier": ["person", "person"],
    ...     "first_seen": pd.to_datetime(["2026-01-01", "2026-01-01"], utc=True)})
    >>> pair_tiers = pd.DataFrame({"account_a": ["A1"], "account_b": ["A2"],
    ...     "tier": ["person"], "n_person_kinds": [2], "n_household_kinds": [0]})
    >>> links = LinkSet(incidence=pd.DataFrame(), pairs=pairs, pair_tiers=pair_tiers,
    ...     hubs=pd.DataFrame(), profiles=pd.DataFrame())
    >>> sanctions = pd.DataFrame({"account_id": ["A1"], "action": ["banned"],
    ...     "created_at": pd.to_datetime(["2026-10-02"], utc=True)})
    >>> decisions = pd.DataFrame({"account_id": pd.Series([], dtype=str),
    ...     "decision": pd.Series([], dtype=str),
    ...     "created_at": pd.Series([], dtype="datetime64[ns, UTC]")})
    >>> actions = propagate(accounts, links, sanctions, decisions, policy=PolicyConfig())
    >>> actions.accounts["action"].tolist()
    ['none', 'ban', 'none']
    >>> actions.accounts.loc[1, "evidence"]
    'card ****4242 and device dev-***a1b2 shared with A1 (banned 2026-10-02)'
    """
    s.require_columns({
        "accounts": (accounts, (s.ACCOUNT_ID, s.CLUSTER_ID, s.PERSON_CLUSTER_ID)),
        "links.pair_tiers": (links.pair_tiers, (s.ACCOUNT_A, s.ACCOUNT_B, s.TIER,
                                                s.N_PERSON_KINDS, s.N_HOUSEHOLD_KINDS)),
        "links.pairs": (links.pairs, (s.ACCOUNT_A, s.ACCOUNT_B, s.KIND, s.VALUE, s.MASKED, s.TIER,
                                      s.FIRST_SEEN)),
        "sanctions": (sanctions, (s.ACCOUNT_ID, s.ACTION, s.CREATED_AT)),
        "decisions": (decisions, (s.ACCOUNT_ID, s.DECISION, s.CREATED_AT)),
    }, stage="sanctions stage", hint="It comes from an earlier stage: check that stage's output.")
    # sorted and unique (the usual case) is checked in Arrow: pandas' checks would build
    # and keep a hash table of every id
    ids = accounts[s.ACCOUNT_ID]
    ascending = strictly_ascending(ids) if pd.api.types.is_string_dtype(ids.dtype) else bool(
        ids.is_monotonic_increasing and ids.is_unique)
    if not ascending:
        accounts = accounts.sort_values(s.ACCOUNT_ID, kind="stable", ignore_index=True)
    account_ids = pd.Index(accounts[s.ACCOUNT_ID])
    if not ascending and not account_ids.is_unique:
        repeated = accounts[s.ACCOUNT_ID].duplicated(keep=False)
        raise InputError(
            f"sanctions stage: accounts repeats {int(repeated.sum())} account ids "
            f"(e.g. {accounts.loc[repeated, s.ACCOUNT_ID].iloc[0]!r}); "
            "expected one row per account.",
            rows=accounts[repeated],
        )
    accounts = accounts.reset_index(drop=True)
    n = len(account_ids)

    sources = _source_table(sanctions, account_ids)
    cleared = _cleared_table(decisions, account_ids)
    is_cleared = np.zeros(n, dtype=bool)
    is_cleared[cleared["code"].to_numpy()] = True
    cleared_ns = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
    cleared_ns[cleared["code"].to_numpy()] = cleared["cleared_ns"].to_numpy()
    link_graph = _link_graph(links, accounts, account_ids, cleared_ns)
    channels = _channels(policy, sources, link_graph)
    logger.info("sanctions: %d accounts, %d blocked sources, %d cleared, %d links",
                n, int(sources["blocked"].sum()), len(cleared), len(link_graph.tail) // 2)

    blocked = np.zeros(n, dtype=bool)
    blocked[sources.loc[sources["blocked"], "code"].to_numpy()] = True
    candidates, preds = _candidates(link_graph, channels, is_cleared, engine)
    candidates["stale"] |= _seen_when_cleared(candidates, link_graph, channels, cleared_ns,
                                              is_cleared, links.pairs, account_ids, engine)
    # the link graph (both directions of every pair: ~0.1 GB at a million accounts) and
    # the candidates go before the texts are written
    del link_graph
    winners = _choose(candidates, channels, blocked, is_cleared, policy)
    del candidates
    frame = _account_actions(winners, channels, preds, sources, cleared, account_ids, links.pairs)
    return Actions(accounts=frame, review_queue=_review_queue(frame, accounts))


def _channels(policy: PolicyConfig, sources: pd.DataFrame, links: _Links) -> list[_Channel]:
    """The policy as channels (see the module docstring); channels giving ``none`` are dropped."""
    blocked = sources[sources["blocked"]]
    person = (links.tier == 0) & links.same_person
    family = (links.tier <= 1) & links.same_family
    channels = []
    if policy.same_person_action == "inherit":
        inherited = blocked["action"].map(_INHERIT)
    else:
        inherited = pd.Series(policy.same_person_action, index=blocked.index)
    for action in sorted(inherited.unique(), key=_SEVERITY.__getitem__, reverse=True):
        codes = blocked.loc[inherited == action, "code"].to_numpy()
        channels.append(_Channel("person", action, codes, person, policy.max_person_hops, False))
    codes = blocked["code"].to_numpy()
    channels.append(_Channel("family", policy.family_action, codes, family,
                             policy.max_family_hops, False))
    channels.append(_Channel("weak", policy.weak_action, codes, np.ones_like(person), 1, True))
    warned = sources.loc[~sources["blocked"], "code"].to_numpy()
    channels.append(_Channel("warning", policy.warning_action, warned, family,
                             policy.max_warning_hops, False))
    return [c for c in channels if c.action != "none" and len(c.sources)]


def _candidates(links: _Links, channels: list[_Channel],
                is_cleared: np.ndarray, engine: Engine) -> tuple[pd.DataFrame, list[np.ndarray]]:
    """Every channel's best path to every account it reaches (cleared accounts are
    reached, over links that are not stale into them, but not passed through);
    for cleared accounts also the best path over stale links (``stale``, to say
    why they get nothing); and each channel's predecessor array."""
    graph = links.graph
    frames, preds = [], []
    for index, channel in enumerate(channels):
        stale = links.stale_any if channel.weak_evidence else links.stale_strong
        expandable = ~is_cleared
        expandable[channel.sources] = True
        reach = engine.bounded_reach(graph.indptr, graph.target, graph.conf, channel.sources,
                                     max_hops=channel.max_hops, expandable=expandable,
                                     usable=channel.usable & ~stale)
        preds.append(reach.pred)
        node = np.flatnonzero(reach.hops >= 1)
        frames.append(pd.DataFrame({
            "node": node, "channel": index, "hops": reach.hops[node],
            "conf": reach.conf[node], "source": reach.source[node], "pred": reach.pred[node],
            "stale": False,
        }))
        # the best path over stale links, to say why a cleared account gets nothing
        position = np.flatnonzero(channel.usable & stale)
        tail = links.tail[position]
        ok = (reach.hops[tail] >= 0) & (reach.hops[tail] < channel.max_hops) & expandable[tail]
        position, tail = position[ok], tail[ok]
        head = graph.target[position]
        conf = reach.conf[tail] * graph.conf[position]
        best = _best_per_node(head, conf, reach.source[tail], tail)
        frames.append(pd.DataFrame({
            "node": head[best], "channel": index, "hops": reach.hops[tail[best]] + 1,
            "conf": conf[best], "source": reach.source[tail[best]], "pred": tail[best],
            "stale": True,
        }))
    if not frames:
        empty = np.array([], dtype=np.int64)
        frames.append(pd.DataFrame({"node": empty, "channel": empty, "hops": empty,
                                    "conf": empty.astype(float), "source": empty,
                                    "pred": empty, "stale": empty.astype(bool)}))
    return pd.concat(frames, ignore_index=True), preds


def _choose(candidates: pd.DataFrame, channels: list[_Channel], blocked: np.ndarray,
            is_cleared: np.ndarray, policy: PolicyConfig) -> pd.DataFrame:
    """One candidate per account: strongest action, fewer hops, higher confidence,
    smaller source. Cleared accounts are capped; paths the moderator already saw
    (``stale``) only explain a ``none``."""
    candidates = candidates[~blocked[candidates["node"].to_numpy()]]
    node = candidates["node"].to_numpy()
    stale = candidates["stale"].to_numpy(bool)
    severity = np.array([_SEVERITY[c.action] for c in channels], dtype=np.int64)
    severity = severity[candidates["channel"].to_numpy()] if len(channels) else node * 0
    capped = is_cleared[node] & ~stale & (severity > _SEVERITY[policy.cleared_cap])
    severity = np.where(capped, _SEVERITY[policy.cleared_cap], severity)
    severity = np.where(stale, 0, severity)
    conf = np.round(candidates["conf"].to_numpy(), 9)
    order = np.lexsort((candidates["channel"].to_numpy(), candidates["source"].to_numpy(), -conf,
                        candidates["hops"].to_numpy(), -severity, stale, node))
    first = np.ones(len(order), dtype=bool)
    first[1:] = node[order][1:] != node[order][:-1]
    pick = order[first]
    return candidates.iloc[pick].assign(
        severity=severity[pick], capped=capped[pick]
    ).sort_values("node", ignore_index=True)


