"""Coupon hubs: one card, device, phone or pickup point behind a burst of
coupon-only new users spread over several clusters.

Such a value does not link (it is a hub or a pickup point, or the accounts
vary everything else), so the farm it serves is split into many small
clusters. The hub is reported on its own row and each cluster whose accounts
are in the hub's burst receives ``COUPON_HUB`` points (see ``linkgraph.score``).

A busy parcel locker sees new users every day, and a marketing campaign
brings many at once everywhere; a value is a coupon hub only when its
coupon-only redeemers bunch up beyond both: at least ``hub_min_burst``
created within ``burst_days`` AND more than chance explains. A window starting
at ``t`` expects ``lam = share * G(t)`` of them, where ``share`` is the value's
part of all coupon-only redeemers created outside the window and ``G(t)`` how
many coupon-only redeemers were created anywhere in ``[t, t + burst_days]``; the window's
count must reach ``lam + 4 * sqrt(lam) + 2`` (a Poisson count that high is
rare even over every window scanned).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from linkgraph import schemas as s
from linkgraph.config import CouponConfig
from linkgraph.engine import LOCAL, Engine
from linkgraph.score.windows import burst_members, counted_windows

HUB_BURST = s.BURST_REDEEMERS
N_REDEEMERS = s.N_REDEEMERS
N_CLUSTERS = s.N_CLUSTERS
N_COUPON_ONLY = s.N_COUPON_ONLY
EXPECTED = s.EXPECTED_IN_WINDOW
COUPON_HUB_COLUMNS = s.COUPON_HUB_COLUMNS


def find_coupon_hubs(
    facts: pd.DataFrame, identifiers: pd.DataFrame, incidence: pd.DataFrame,
    cluster: np.ndarray, *, config: CouponConfig, engine: Engine = LOCAL,
) -> tuple[pd.DataFrame, np.ndarray]:
    """The coupon hubs, and for each account the size of the hub burst it belongs to.

    Args:
        facts: per-account facts (``created``, ``coupon_only``), by position.
        identifiers: the redeemers' identifiers (``pos, kind, vkey, row``).
        incidence: the graph stage's incidence (kind, value, masked of each ``row``).
        cluster: the cluster code of each account position.
        config: ``hub_kinds``, ``hub_min_burst``, ``burst_days``.
        engine: where each redeemer's window count per value is made
            (``Engine.window_counts``); the rest runs here, on the small results.

    Returns:
        ``hubs`` (``COUPON_HUB_COLUMNS``, sorted by kind, value) and an int array
        per account position: the largest hub burst it is a member of (0: none).
    """
    hub_burst = np.zeros(len(facts), dtype=np.int64)
    hub_kinds = [code for code, kind in enumerate(s.KINDS) if kind in config.hub_kinds]
    # the columns' rows of the hub kinds as arrays (a filtered frame would copy every column)
    rows = np.flatnonzero(np.isin(identifiers[s.KIND].to_numpy(), hub_kinds))
    empty = pd.DataFrame({c: pd.Series(dtype="object") for c in COUPON_HUB_COLUMNS})
    if not len(rows):
        return empty, hub_burst
    vcode, vkeys = pd.factorize(identifiers["vkey"].to_numpy()[rows])
    n_values = len(vkeys)
    del vkeys
    pos = identifiers["pos"].to_numpy()[rows]
    n_redeemers = np.bincount(vcode, minlength=n_values)
    pairs = vcode.astype(np.int64)
    pairs *= int(cluster.max()) + 1
    pairs += cluster[pos]
    pairs = pd.unique(pairs)
    n_clusters = np.bincount(pairs // (int(cluster.max()) + 1), minlength=n_values)
    del pairs

    created = facts["created"].to_numpy(dtype="float64")
    coupon_only = facts["coupon_only"].to_numpy(dtype=bool)[pos]
    n_coupon_only = np.bincount(vcode, weights=coupon_only, minlength=n_values).astype(np.int64)
    candidate = (n_clusters >= 2) & (n_coupon_only >= config.hub_min_burst)
    take = candidate[vcode] & coupon_only
    if not take.any():
        return empty, hub_burst

    group, when = vcode[take], created[pos[take]]
    windows = counted_windows(group, *engine.window_counts(group, when, config.burst_days))
    start = when[windows.order]
    # campaign-aware background: the hub's share of all coupon-only redeemers
    # times how many of them were created in the same window anywhere. Not an
    # engine call: one sorted array of at most one time per account, searched with
    # the times themselves (not the windows' composite keys) and from the first of
    # equal times
    everyone = np.sort(created[facts["coupon_only"].to_numpy(dtype=bool) & ~np.isnan(created)])
    same_time = (np.searchsorted(everyone, start + config.burst_days, side="right")
                 - np.searchsorted(everyone, start, side="left"))
    # the share is measured outside the window, or a farm would explain itself
    outside = np.maximum(len(everyone) - same_time, 1)
    lam = (n_coupon_only[windows.group] - windows.count) / outside * same_time
    qualifies = windows.count >= np.maximum(config.hub_min_burst, lam + 4.0 * np.sqrt(lam) + 2.0)
    if not qualifies.any():
        return empty, hub_burst
    burst = np.zeros(n_values, dtype=np.int64)
    np.maximum.at(burst, windows.group[qualifies], windows.count[qualifies])
    expected = np.zeros(n_values)
    np.maximum.at(expected, windows.group[qualifies], lam[qualifies])
    hub = burst > 0

    member = burst_members(windows, qualifies)
    member_pos = pos[take][windows.order[member]]
    np.maximum.at(hub_burst, member_pos, burst[windows.group[member]])

    # each value's first incidence row (every code has rows: no fill is left)
    row = identifiers["row"].to_numpy()[rows]
    first = np.full(n_values, np.iinfo(row.dtype).max, dtype=row.dtype)
    np.minimum.at(first, vcode, row)
    chosen = np.flatnonzero(hub)
    picked = incidence.iloc[first[chosen]]
    masked = picked[s.MASKED] if s.MASKED in picked.columns else picked[s.VALUE]
    hubs = pd.DataFrame({
        s.KIND: picked[s.KIND].to_numpy(), s.VALUE: picked[s.VALUE].to_numpy(),
        s.MASKED: masked.to_numpy(), N_REDEEMERS: n_redeemers[chosen],
        N_CLUSTERS: n_clusters[chosen], N_COUPON_ONLY: n_coupon_only[chosen],
        HUB_BURST: burst[chosen], EXPECTED: np.round(expected[chosen], 2),
    })
    hubs[s.REASON] = (
        hubs[HUB_BURST].astype(str) + " coupon-only new-user accounts created within "
        + f"{config.burst_days:g} days (about " + hubs[EXPECTED].astype(str)
        + " expected); " + hubs[N_REDEEMERS].astype(str) + " new-user redeemers in "
        + hubs[N_CLUSTERS].astype(str) + " clusters"
    )
    hubs = hubs.sort_values([s.KIND, s.VALUE], kind="stable", ignore_index=True)
    return hubs[list(COUPON_HUB_COLUMNS)], hub_burst
