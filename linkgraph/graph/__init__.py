"""Graph stage: account-identifier incidence, hubs and junk, link tiers and weights.

``identifiers`` (normalize) -> :class:`LinkSet`, in six steps, each a module:

- :mod:`~linkgraph.graph.incidence`: integer codes, tiers, sharing counts, weights;
- :mod:`~linkgraph.graph.hubs`: values too widely shared to link, per kind;
- :mod:`~linkgraph.graph.pairs`: account pairs through shared values, bounded by caps;
- :mod:`~linkgraph.graph.profiles`: per-account facts (own identity, bursts, orders);
- :mod:`~linkgraph.graph.names`: registered names: same person, another person, unknown;
- :mod:`~linkgraph.graph.corroborate`: each pair's tier after corroboration.

Home addresses are judged twice: once by their account counts, then, once the
person-tier pairs are known, by the number of *persons* sharing each
(``hubs.household_hubs``); pairs through addresses that fail the second test
are dropped and the tiers decided again.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from linkgraph import schemas as s
from linkgraph.codes import categorical
from linkgraph.config import GraphConfig
from linkgraph.engine import LOCAL, Engine
from linkgraph.errors import InputError
from linkgraph.graph.corroborate import (
    PERSON_TIER_CODE,
    PairSummary,
    account_facts,
    pair_reasons,
    pair_tier_codes,
    pair_tier_frame,
    resolve_recycled,
    summarize_pairs,
)
from linkgraph.graph.farms import farm_ties
from linkgraph.graph.hubs import HUB, ValueFlags, flag_values, household_hubs, hub_frame
from linkgraph.graph.incidence import (
    TIER_CODES,
    CodedIncidence,
    base_weights,
    code_identifiers,
    rarity_weight,
    tier_codes,
)
from linkgraph.graph.names import NameAgreement, name_agreement, registered_names
from linkgraph.graph.pairs import PairRows, pair_frame, pair_rows
from linkgraph.graph.profiles import (
    account_profiles,
    farmed_accounts,
    index_accounts,
    with_burst_sizes,
)
from linkgraph.load import Tables

logger = logging.getLogger(__name__)

__all__ = ["LinkSet", "build_links"]


@dataclass(frozen=True)
class LinkSet:
    """Everything the later stages know about links between accounts.

    incidence: one row per (account_id, kind, value): the identifiers frame plus
        ``tier`` (person/household/weak), ``n_accounts`` (accounts sharing the
        value), ``weight`` and ``linking`` (True when the value may join
        clusters: not junk, not a hub, tier person or household, shared).
        ``suppressed`` also names the graph's own reasons: ``hub``, ``deny_list``,
        ``business_address``, ``shared by N persons`` (a home address of more
        persons than a family has).
    pairs: one row per (account_a, account_b, kind, value), account_a <
        account_b, for every non-suppressed value shared by 2..cap accounts,
        weak kinds included: schemas.PAIR_COLUMNS.
    pair_tiers: one row per linked (account_a, account_b) with the pair's
        tier after corroboration: schemas.PAIR_TIER_COLUMNS. Clusters use it:
        person tier -> person_cluster_id, person + household -> cluster_id.
    hubs: one row per (kind, value) that stopped linking: schemas.HUB_COLUMNS.
    Account ids, values and masked values are categoricals of sorted distinct
    strings in every frame (the incidence's own, shared by the rows taken from
    it); the report writes them as strings.
    profiles: one row per account (account_id + facts such as
        ``has_own_identity``, ``disposable_email``, ``burst_size``,
        ``coupon_only``) used by corroboration and scoring.
    order_accounts: per row of the orders frame the graph read, the row in
        ``profiles`` of its account (-1: not in the accounts table), int32;
        None when not made. The score stage reads it rather than look the
        account of every order up again (millions of text ids).
    """

    incidence: pd.DataFrame
    pairs: pd.DataFrame
    pair_tiers: pd.DataFrame
    hubs: pd.DataFrame
    profiles: pd.DataFrame
    order_accounts: np.ndarray | None = None


def build_links(
    identifiers: pd.DataFrame, tables: Tables, *, config: GraphConfig, engine: Engine = LOCAL
) -> LinkSet:
    """Decide which shared identifiers link which accounts, and how strongly.

    Weights: a value of kind K shared by n accounts weighs
    ``BASE_WEIGHT[K] * log2(3) / log2(1 + n)`` (shared by 2 is the kind's base,
    by 20 about a third of it); for recyclable kinds (phone, IP) a pair's
    weight halves every ``gap_half_life_days`` of gap between the two
    accounts' use, and a gap over ``recycle_gap_days`` is no link. Suppressed
    values weigh 0 in the incidence.

    Args:
        identifiers: the normalize stage's frame, schemas.IDENTIFIER_COLUMNS;
            any row order (sorted input is fastest).
        tables: the loaded tables; ``accounts`` (account_id, created_at) and
            ``orders`` (account_id, coupon_code, coupon_type) are used.
        config: hub limits, allow/deny lists, burst and recycling settings.
        engine: where the sharing counts (and the times of repeated keys) are computed
            (``linkgraph.engine``).

    Returns:
        A :class:`LinkSet`, every frame sorted by its key.

    Raises:
        InputError: ``identifiers`` lacks columns of schemas.IDENTIFIER_COLUMNS.

    >>> from linkgraph.load import Tables
    >>> def frame(**columns): return pd.DataFrame(columns)
    >>> accounts = frame(account_id=["a1", "a2", "a3"])
    >>> ids = frame(account_id=["a1", "a2", "a1", "a2", "a3"],
    ...             kind=["card", "card", "device", "device", "ip"],
    ...             value=["fp9", "fp9", "d1", "d1", "203.0.113.7"],
    ...             masked=["****fp9", "****fp9", "d***", "d***", "203.0.113.*"],
    ...             first_seen=pd.NaT, last_seen=pd.NaT, source="payments", suppressed=None)
    >>> empty = pd.DataFrame({"account_id": []})
    >>> tables = Tables(accounts=accounts, addresses=empty, payments=empty, logins=empty,
    ...                 orders=empty, sanctions=empty, decisions=empty, rejects=empty)
    >>> links = build_links(ids, tables, config=GraphConfig())
    >>> links.pair_tiers[["account_a", "account_b", "tier", "corroboration"]].to_numpy().tolist()
    [['a1', 'a2', 'person', 'card+device']]
    """
    missing = [c for c in s.IDENTIFIER_COLUMNS if c not in identifiers.columns]
    if missing:
        raise InputError(
            f"identifiers frame has no column(s) {', '.join(missing)} "
            f"(found: {', '.join(map(str, identifiers.columns))}); the graph stage needs "
            f"{', '.join(s.IDENTIFIER_COLUMNS)} as the normalize stage returns them."
        )
    coded = code_identifiers(identifiers, engine=engine)
    flags = flag_values(coded, config=config, engine=engine)
    # the accounts and the orders' accounts, looked up once for the farms and the profiles
    account_index = index_accounts(tables.accounts, tables.orders, coded,
                                   summary=tables.order_facts)
    flags = farm_ties(coded, flags, farmed_accounts(account_index), config=config)
    # a common name is no hub for telling one person from a family (see names.py)
    names = registered_names(coded, (flags.reason == 0) | (flags.reason == flags.reasons.index(HUB)))
    own_number_or_card, phones, identities = _phones_and_cards(coded, flags)

    pairs = pair_rows(coded, flags, config=config)
    summary, agreement = _summary(coded, flags, pairs, names)
    profiles = account_profiles(
        tables.accounts, account_index, coded, flags.suppressed, flags.n_accounts,
        summary.linking(), config=config,
    )
    profile_code = account_index.code
    reasons = _reasons(summary, agreement, profiles, profile_code, own_number_or_card, phones,
                       identities, config=config)

    # home addresses shared by more persons than a family has stop linking; persons
    # come from the person-tier pairs, which addresses never decide (bursts aside)
    household_flags = household_hubs(
        coded, flags, _person_labels(coded, summary, reasons), config=config)
    if household_flags is not flags:
        pairs = pairs.without_groups(coded, household_flags.suppressed & ~flags.suppressed)
        flags = household_flags
        summary, agreement = _summary(coded, flags, pairs, names)
        profiles = with_burst_sizes(profiles, coded, profile_code, summary.linking(),
                                    config=config)
        reasons = _reasons(summary, agreement, profiles, profile_code, own_number_or_card,
                           phones, identities, config=config)

    # the frames are made one at a time, each step's arrays let go before the next
    # (at a million accounts they are hundreds of megabytes each): the pairs' tiers
    # last need the summary, the pairs frame the pair rows
    order_accounts = account_index.order_rows
    del account_index, profile_code, names, agreement, own_number_or_card, phones, identities
    pair_tiers = pair_tier_frame(coded, summary, reasons)
    del summary, reasons
    hubs = hub_frame(coded, flags)
    pairs_frame = pair_frame(coded, pairs)
    del pairs
    links = LinkSet(
        incidence=_incidence_frame(coded, flags),
        pairs=pairs_frame,
        pair_tiers=pair_tiers,
        hubs=hubs,
        profiles=profiles,
        order_accounts=order_accounts,
    )
    logger.info(
        "graph: %d identifier rows, %d hubs, %d value pairs, %d account pairs",
        len(links.incidence), len(links.hubs), len(links.pairs), len(links.pair_tiers),
    )
    return links


def _summary(
    coded: CodedIncidence, flags: ValueFlags, pairs: PairRows, names: np.ndarray
) -> tuple[PairSummary, NameAgreement]:
    """One entry per pair, recycled values judged, with the pairs' name agreement."""
    summary = summarize_pairs(coded, pairs)
    agreement = name_agreement(coded, flags.first_row, names, summary.a, summary.b,
                               compare=summary.person_level())
    return resolve_recycled(summary, agreement)


def _reasons(
    summary: PairSummary, agreement: NameAgreement, profiles: pd.DataFrame,
    profile_code: np.ndarray, own_number_or_card: np.ndarray, phones: np.ndarray,
    identities: np.ndarray, *, config: GraphConfig,
) -> np.ndarray:
    """Each pair's corroboration rule (``corroborate.pair_reasons``)."""
    facts = account_facts(profiles, profile_code, own_number_or_card, phones, identities,
                          config=config)
    return pair_reasons(summary, facts, agreement, config=config)


def _person_labels(coded: CodedIncidence, summary: PairSummary, reasons: np.ndarray) -> np.ndarray:
    """Per account code, its person: components of the person-tier pairs."""
    n = len(coded.accounts)
    person = pair_tier_codes(reasons) == PERSON_TIER_CODE
    graph = coo_matrix((np.ones(int(person.sum()), dtype=np.int8),
                        (summary.a[person], summary.b[person])), shape=(n, n))
    return connected_components(graph.tocsr(), directed=False)[1].astype(np.int64)


def _phones_and_cards(
    coded: CodedIncidence, flags: ValueFlags
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per account code: a phone number or a card only it has; any phone number; how
    many phone numbers, cards and devices it has.

    Only values that link count (a card: a provider fingerprint or bin+last4+expiry).
    """
    n = len(coded.accounts)
    own_number_or_card, phones = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    wanted = np.zeros(max(len(coded.kinds), 1), dtype=np.int8)  # 1 phone, 2 card, 3 device
    for kind, code in ((s.K_PHONE, 1), (s.K_CARD, 2), (s.K_CARD_DIGITS, 2), (s.K_DEVICE, 3)):
        if kind in coded.kinds:
            wanted[coded.kinds.index(kind)] = code
    # the few phone, card and device rows first, then their values' flags
    rows = np.flatnonzero(wanted[coded.kind])
    group = coded.group[rows]
    linking = ~flags.suppressed[group]
    rows, group = rows[linking], group[linking]
    account = coded.account[rows]
    identities = np.bincount(account, minlength=n)
    wanted_of_row = wanted[coded.kind[rows]]
    phones[account[wanted_of_row == 1]] = True
    number_or_card = wanted_of_row <= 2
    own_number_or_card[account[number_or_card & (flags.n_accounts[group] == 1)]] = True
    return own_number_or_card, phones, identities


def _incidence_frame(coded: CodedIncidence, flags: ValueFlags) -> pd.DataFrame:
    """The identifiers with the graph's facts: tier, n_accounts, weight, linking.

    ``suppressed`` is the value's reason (one per value, the normalize stage's
    first or the graph's ``hub``/``deny_list``).
    """
    frame = coded.frame
    # each fact is decided once per value, then spread to the value's rows
    group_kind = coded.kind[coded.first_row]
    suppressed, n_accounts = flags.suppressed, flags.n_accounts
    weight = np.where(suppressed, 0.0, rarity_weight(base_weights(coded, group_kind), n_accounts))
    tier = tier_codes(coded, group_kind)
    linking = ~suppressed & (tier <= TIER_CODES.index(s.T_HOUSEHOLD)) & (n_accounts >= 2)
    group = coded.group
    # reason 0 (the value links) is missing; the names start at reason 1
    reason = flags.reason - 1
    # kind, source, tier and reason repeat a handful of words over every row: as
    # categoricals they take a byte a row instead of a string (~0.5 GB at 1M accounts).
    # A new frame of the identifiers' columns (shared, not copied) and the new arrays
    # as they are: setting each on a copy of the frame would copy each array again
    columns = {c: frame[c] for c in frame.columns}
    with ThreadPoolExecutor(max_workers=1) as pool:
        # the spreads are random gathers over every row (cache misses, ~0.8 s at a
        # million accounts) and numpy releases the GIL for them: the wide ones run
        # on the second core meanwhile
        wide = pool.submit(lambda: (n_accounts.astype(np.int64, copy=False)[group],
                                    weight[group]))
        narrow = reason[group], tier[group], linking[group]
        n_rows, weight_rows = wide.result()
    columns.update({
        s.KIND: categorical(coded.kind, coded.kinds),
        s.SOURCE: frame[s.SOURCE].astype("category"),
        s.SUPPRESSED: categorical(narrow[0], flags.reasons[1:]),
        s.TIER: categorical(narrow[1], TIER_CODES),
        s.N_ACCOUNTS: n_rows,
        s.WEIGHT: weight_rows,
        s.LINKING: narrow[2],
    })
    return pd.DataFrame(columns, copy=False)

