"""Features per group of accounts (a cluster or a person cluster), their points and reasons.

The units each reason counts and the formula are in ``linkgraph.score``'s
docstring; ``REASON_UNITS`` maps each reason code to its feature column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from linkgraph import schemas as s
from linkgraph.config import CouponConfig
from linkgraph.engine import LOCAL, Aggregation, Engine
from linkgraph.memory import release_freed_memory
from linkgraph.score.facts import ADDRESS, CARD, DEVICE, PICKUP

N_NEW_USER_ORDERS = s.N_NEW_USER_ORDERS
N_REDEEMERS = s.N_REDEEMERS
N_REDEEMER_PERSONS = s.N_REDEEMER_PERSONS
TOP_CARD = s.TOP_CARD_REDEEMERS
TOP_DEVICE = s.TOP_DEVICE_REDEEMERS
TOP_ADDRESS = s.TOP_ADDRESS_REDEEMERS
TOP_PICKUP = s.TOP_PICKUP_REDEEMERS
BURST = s.BURST_REDEEMERS
BURST_EXPECTED = s.BURST_EXPECTED
N_COUPON_ONLY = s.N_COUPON_ONLY
N_NEAR_MIN = s.N_NEAR_MIN_ORDERS
N_DISPOSABLE = s.N_DISPOSABLE_EMAIL
HUB_BURST = s.HUB_BURST_REDEEMERS
N_GROUP_ACCOUNTS = s.N_GROUP_ACCOUNTS
N_GROUP_BLOCKED = s.N_GROUP_BLOCKED
FEATURE_COLUMNS = s.SCORE_FEATURE_COLUMNS
#: reason code -> the feature column holding its count, in the fixed report order
REASON_UNITS = {
    "NEW_USER": N_NEW_USER_ORDERS, "SHARED_CARD": TOP_CARD, "SHARED_DEVICE": TOP_DEVICE,
    "SHARED_ADDRESS": TOP_ADDRESS, "PICKUP": TOP_PICKUP, "BURST": BURST,
    "COUPON_ONLY": N_COUPON_ONLY, "NEAR_MIN": N_NEAR_MIN, "DISPOSABLE_EMAIL": N_DISPOSABLE,
    "COUPON_HUB": HUB_BURST, "BLOCKED": N_GROUP_BLOCKED,
}
_TOP_OF_CLASS = {CARD: TOP_CARD, DEVICE: TOP_DEVICE, ADDRESS: TOP_ADDRESS, PICKUP: TOP_PICKUP}


def group_features(
    facts: pd.DataFrame, identifiers: pd.DataFrame, group: np.ndarray, person: np.ndarray,
    hub_burst: np.ndarray, n_groups: int, *, span_days: float, config: CouponConfig,
    engine: Engine = LOCAL,
) -> pd.DataFrame:
    """One row per group code ``0..n_groups-1`` with ``FEATURE_COLUMNS``.

    ``group`` and ``person`` are the group and person-cluster codes of each
    account position; the distinct persons among a group's redeemers are the
    larger of two counts: their person clusters, and their accounts with an
    identity of their own (an unshared card and device) plus one for the rest.
    ``burst_expected`` is the largest burst the group's redeemers would show
    by chance if created evenly over ``span_days`` (the data's span).
    The per-group counts are ``engine`` group-bys (one over accounts, one per
    card/device/address/pickup class over the redeemers' identifiers), the
    largest burst of redeemers an ``engine`` sliding window.

    The integer columns are written, as they are counted, into one int64 block
    that becomes the frame without a copy: at ten million accounts each column
    of the person clusters is 66 MB, and a frame assembled from separate
    arrays would hold every one twice.
    """
    redeemer = facts["redeemer"].to_numpy(dtype=bool)
    counted = [c for c in FEATURE_COLUMNS if c != BURST_EXPECTED]
    block = np.empty((len(counted), n_groups), dtype=np.int64)

    def put(name: str, values: np.ndarray) -> None:
        block[counted.index(name)] = values

    found = engine.group_aggregate(group, n_groups, {
        N_NEW_USER_ORDERS: Aggregation("sum", facts["n_new_user"].to_numpy(dtype=np.int64)),
        N_REDEEMERS: Aggregation("sum", redeemer),
        "own": Aggregation("sum", redeemer & facts["own_identity"].to_numpy(dtype=bool)),
        "by_person_cluster": Aggregation("nunique", np.where(redeemer, person, -1)),
        N_COUPON_ONLY: Aggregation("sum", facts["coupon_only"].to_numpy(dtype=bool)),
        N_NEAR_MIN: Aggregation("sum", facts["n_near_min"].to_numpy(dtype=np.int64)),
        N_DISPOSABLE: Aggregation("sum", redeemer & facts["disposable"].to_numpy(dtype=bool)),
        HUB_BURST: Aggregation("max", np.asarray(hub_burst, dtype=np.int64), fill=0),
        N_GROUP_ACCOUNTS: Aggregation("count"),
        N_GROUP_BLOCKED: Aggregation("sum", facts["blocked"].to_numpy(dtype=bool)),
    })

    for name in (N_NEW_USER_ORDERS, N_REDEEMERS, N_COUPON_ONLY, N_NEAR_MIN, N_DISPOSABLE,
                 HUB_BURST, N_GROUP_ACCOUNTS, N_GROUP_BLOCKED):
        put(name, found.pop(name))
    own = found.pop("own")
    n_redeemers = block[counted.index(N_REDEEMERS)]
    by_own = own + (n_redeemers > own)
    put(N_REDEEMER_PERSONS, np.maximum(found.pop("by_person_cluster"), by_own))
    del own, by_own, found
    release_freed_memory()  # the counts copied into the block: the rest of it is new pages

    for name, top in _top_sharing(identifiers, group, n_groups, engine).items():
        put(name, top)

    put(BURST, engine.largest_window(group[redeemer], n_groups,
                                     facts["created"].to_numpy()[redeemer], config.burst_days))
    features = pd.DataFrame(block.T, columns=counted, copy=False)
    features.insert(list(FEATURE_COLUMNS).index(BURST_EXPECTED), BURST_EXPECTED, np.round(
        n_redeemers * config.burst_days / max(span_days, config.burst_days, 1e-9), 3))
    return features


def _top_sharing(
    identifiers: pd.DataFrame, group: np.ndarray, n_groups: int, engine: Engine
) -> dict[str, np.ndarray]:
    """Per class and group: the most of its redeemers sharing one value of the class.

    The incidence has one row per (account, kind, value): the rows of a
    (group, value) are its accounts. One count per class, of that class's rows
    alone: never a column of every row per class, nor the hash of every
    (group, value) at once.
    """
    cls = identifiers["cls"].to_numpy()
    pos = identifiers["pos"].to_numpy()
    vkey = identifiers["vkey"].to_numpy()
    top = {}
    for code, name in _TOP_OF_CLASS.items():
        rows = np.flatnonzero(cls == code)
        top[name] = engine.group_aggregate(group[pos[rows]], n_groups, {
            name: Aggregation("top_count", vkey[rows])})[name]
    return top


def reason_points(features: pd.DataFrame, *, config: CouponConfig) -> pd.DataFrame:
    """Points per reason code (one column per code) of the eligible groups only.

    A reason earns ``min(cap, weight * max(0, units - free))``; ``units`` is its
    feature count, except NEW_USER (redemptions minus distinct persons) and
    BLOCKED (the blocked share of the group's accounts); BURST counts only
    above chance, COUPON_ONLY and NEAR_MIN only from ``min_share`` of the
    redeemers (new-user orders) up. Groups with fewer than
    ``min_redemptions`` new-user redemptions and no coupon-hub burst are not
    eligible (no rows: 0 points).
    """
    eligible = np.flatnonzero(
        (features[N_NEW_USER_ORDERS].to_numpy() >= config.min_redemptions)
        | (features[HUB_BURST].to_numpy() > 0)
    )
    sub = features.iloc[eligible]
    units = np.column_stack([sub[col].to_numpy(dtype="float64") for col in REASON_UNITS.values()]
                            ) if len(sub) else np.zeros((0, len(REASON_UNITS)))
    codes = list(REASON_UNITS)
    units[:, codes.index("NEW_USER")] -= sub[N_REDEEMER_PERSONS].to_numpy()
    # a big cluster of real people always has some bursts, churned users and
    # orders at a minimum: these count only when they stand out
    lam = sub[BURST_EXPECTED].to_numpy()
    units[:, codes.index("BURST")] *= units[:, codes.index("BURST")] >= lam + 4 * np.sqrt(lam) + 2
    redeemers = np.maximum(sub[N_REDEEMERS].to_numpy(), 1)
    units[:, codes.index("COUPON_ONLY")] *= units[:, codes.index("COUPON_ONLY")] >= (
        config.min_share * redeemers)
    orders = np.maximum(sub[N_NEW_USER_ORDERS].to_numpy(), 1)
    units[:, codes.index("NEAR_MIN")] *= units[:, codes.index("NEAR_MIN")] >= (
        config.min_share * orders)
    units[:, codes.index("BLOCKED")] /= np.maximum(sub[N_GROUP_ACCOUNTS].to_numpy(), 1)
    weight = np.array([config.weights[c] for c in codes])
    free = np.array([config.free[c] for c in codes])
    cap = np.array([config.caps[c] for c in codes])
    raw = np.round(np.minimum(cap, weight * np.maximum(0.0, units - free)), 2)
    return pd.DataFrame(raw, columns=codes, index=sub.index)


def reason_text(features: pd.DataFrame, points: pd.DataFrame) -> pd.Series:
    """``CODE_xN`` for every reason with points, ``"; "``-joined in the fixed order.

    NEW_USER reads ``NEW_USER_x{redemptions}_BY_{persons}``; BLOCKED reads
    ``BLOCKED_x{blocked}_OF_{accounts}``. Groups without points get ``""``.
    """
    text = np.full(len(features), "", dtype=object)
    scored = points.index[points.to_numpy().sum(axis=1) > 0]
    if len(scored):
        sub = features.loc[scored]
        joined = pd.Series("", index=scored, dtype="object")
        for code, col in REASON_UNITS.items():
            label = code + "_x" + sub[col].astype(np.int64).astype(str)
            if code == "NEW_USER":
                label = label + "_BY_" + sub[N_REDEEMER_PERSONS].astype(np.int64).astype(str)
            elif code == "BLOCKED":
                label = label + "_OF_" + sub[N_GROUP_ACCOUNTS].astype(np.int64).astype(str)
            has = points.loc[scored, code].to_numpy() > 0
            sep = np.where((joined != "").to_numpy() & has, "; ", "")
            joined = joined + sep + np.where(has, label, "")
        text[features.index.get_indexer(scored)] = joined.to_numpy()
    return pd.Series(text, index=features.index).astype("str")


def total_score(features: pd.DataFrame, points: pd.DataFrame) -> np.ndarray:
    """The sum of the reasons' points, capped at 100, to one decimal (0 for ineligible groups)."""
    score = np.zeros(len(features))
    score[features.index.get_indexer(points.index)] = np.round(
        np.minimum(100.0, points.to_numpy().sum(axis=1)), 1)
    return score
