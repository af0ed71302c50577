"""Coupon hubs: one card, device, phone or pickup point behind a burst of
coupon-only new users spread over several clusters.

Such a value does not link (it is a hub or a pickup point, or the accounts
vary everything else), so the farm it serves is split into many small
clusters. The hub is reported on its own row and each cluster whose accounts
are in the hub's burst receives ``COUPON_HUB`` points (see ``linkgraph.score``).

A busy parcel locker sees new users every day; it is a coupon hub only when
its coupon-only redeemers bunch up: at least ``hub_min_burst`` created within
``burst_days`` AND more than its own background rate explains. With ``n``
coupon-only redeemers over a data span of ``T`` days, a window of ``w`` days
expects ``lam = n * w / T``; the burst must reach ``lam + 4 * sqrt(lam) + 2``
(a Poisson count that high is rare even over the ``T / w`` windows scanned).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from linkgraph import schemas as s
from linkgraph.config import CouponConfig
from linkgraph.score.windows import burst_members, largest_burst, sliding_windows

HUB_BURST = "burst_redeemers"
N_REDEEMERS = "n_redeemers"
N_CLUSTERS = "n_clusters"
N_COUPON_ONLY = "n_coupon_only"
EXPECTED = "expected_in_window"
COUPON_HUB_COLUMNS = (
    s.KIND, s.VALUE, s.MASKED, N_REDEEMERS, N_CLUSTERS, N_COUPON_ONLY, HUB_BURST, EXPECTED,
    s.REASON,
)


def find_coupon_hubs(
    facts: pd.DataFrame, identifiers: pd.DataFrame, incidence: pd.DataFrame,
    cluster: np.ndarray, *, config: CouponConfig,
) -> tuple[pd.DataFrame, np.ndarray]:
    """The coupon hubs, and for each account the size of the hub burst it belongs to.

    Args:
        facts: per-account facts (``created``, ``coupon_only``), by position.
        identifiers: the redeemers' identifiers (``pos, kind, vkey, row``).
        incidence: the graph stage's incidence (kind, value, masked of each ``row``).
        cluster: the cluster code of each account position.
        config: ``hub_kinds``, ``hub_min_burst``, ``burst_days``.

    Returns:
        ``hubs`` (``COUPON_HUB_COLUMNS``, sorted by kind, value) and an int array
        per account position: the largest hub burst it is a member of (0: none).
    """
    hub_burst = np.zeros(len(facts), dtype=np.int64)
    hub_kinds = [code for code, kind in enumerate(s.KINDS) if kind in config.hub_kinds]
    rows = identifiers[np.isin(identifiers[s.KIND].to_numpy(), hub_kinds)]
    empty = pd.DataFrame({c: pd.Series(dtype="object") for c in COUPON_HUB_COLUMNS})
    if rows.empty:
        return empty, hub_burst
    vcode, vkeys = pd.factorize(rows["vkey"].to_numpy())
    n_values = len(vkeys)
    pos = rows["pos"].to_numpy()
    n_redeemers = np.bincount(vcode, minlength=n_values)
    pairs = pd.unique(vcode.astype(np.int64) * (int(cluster.max()) + 1) + cluster[pos])
    n_clusters = np.bincount(pairs // (int(cluster.max()) + 1), minlength=n_values)

    created = facts["created"].to_numpy(dtype="float64")
    coupon_only = facts["coupon_only"].to_numpy(dtype=bool)[pos]
    n_coupon_only = np.bincount(vcode, weights=coupon_only, minlength=n_values).astype(np.int64)
    candidate = (n_clusters >= 2) & (n_coupon_only >= config.hub_min_burst)
    take = candidate[vcode] & coupon_only
    if not take.any():
        return empty, hub_burst

    windows = sliding_windows(vcode[take], created[pos[take]], config.burst_days)
    burst = largest_burst(windows, n_values)
    span = np.nanmax(created) - np.nanmin(created)
    lam = n_coupon_only * config.burst_days / max(span, config.burst_days, 1e-9)
    threshold = np.maximum(config.hub_min_burst, lam + 4.0 * np.sqrt(lam) + 2.0)
    hub = candidate & (burst >= threshold)
    if not hub.any():
        return empty, hub_burst

    member = burst_members(windows, np.where(hub, threshold, np.inf))
    member_pos = pos[take][windows.order[member]]
    np.maximum.at(hub_burst, member_pos, burst[windows.group[member]])

    first = pd.Series(rows["row"].to_numpy()).groupby(vcode).min().to_numpy()
    chosen = np.flatnonzero(hub)
    picked = incidence.iloc[first[chosen]]
    masked = picked[s.MASKED] if s.MASKED in picked.columns else picked[s.VALUE]
    hubs = pd.DataFrame({
        s.KIND: picked[s.KIND].to_numpy(), s.VALUE: picked[s.VALUE].to_numpy(),
        s.MASKED: masked.to_numpy(), N_REDEEMERS: n_redeemers[chosen],
        N_CLUSTERS: n_clusters[chosen], N_COUPON_ONLY: n_coupon_only[chosen],
        HUB_BURST: burst[chosen], EXPECTED: np.round(lam[chosen], 2),
    })
    hubs[s.REASON] = (
        hubs[HUB_BURST].astype(str) + " coupon-only new-user accounts created within "
        + f"{config.burst_days:g} days (about " + hubs[EXPECTED].astype(str)
        + " expected); " + hubs[N_REDEEMERS].astype(str) + " new-user redeemers in "
        + hubs[N_CLUSTERS].astype(str) + " clusters"
    )
    hubs = hubs.sort_values([s.KIND, s.VALUE], kind="stable", ignore_index=True)
    return hubs[list(COUPON_HUB_COLUMNS)], hub_burst
