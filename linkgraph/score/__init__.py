"""Score stage: coupon-abuse score per cluster (and person cluster), with reason codes.

Coupon abuse is one person collecting what is meant for many. Each cluster
gets points from reasons; every point is explained by one reason, and there
is no opaque model::

    points(code) = min(cap[code], weight[code] * max(0, units(code) - free[code]))
    coupon_abuse_score = min(100, sum of points over codes)      (0 when not eligible)

``weight``, ``free`` and ``cap`` are ``CouponConfig.weights/free/caps``
(defaults in ``CouponConfig.REASONS``). The reasons, in their fixed report
order, and the units they count among the cluster's *redeemers* (accounts
with at least one new-user coupon order):

=================  =============================================================
code               units
=================  =============================================================
NEW_USER_xN_BY_P   N new-user redemptions by P distinct persons; units N - P.
                   P = max(distinct person clusters among the redeemers, the
                   redeemers with an unshared card AND an unshared device + 1
                   for the rest): a family with a card and a phone each has
                   about one redemption per person, a farmer many
SHARED_CARD_xN     N redeemers on the cluster's most shared card (fingerprint
                   or digits)
SHARED_DEVICE_xN   N redeemers on the most shared device
SHARED_ADDRESS_xN  N redeemers at the most shared (non pickup) delivery address
PICKUP_xN          N redeemers at the most shared pickup point
BURST_xN           N redeemers created within ``burst_days`` of each other;
                   counted only when N >= lam + 4 sqrt(lam) + 2, lam the
                   ``burst_expected`` of the cluster's redeemers spread evenly
                   over the data's span (a burst by chance in a big cluster
                   does not count)
COUPON_ONLY_xN     N redeemers with at most ``coupon_only_max_orders`` orders,
                   all with a coupon, small (``small_order_amount`` or the
                   currency's ``small_order_quantile``), and silent for
                   ``silence_days`` before the newest order of the data;
                   counted only when N >= ``min_share`` of the redeemers
NEAR_MIN_xN        N new-user orders within ``near_min_margin`` above their
                   coupon's minimum, inferred per (coupon_code, currency) as the
                   ``near_min_quantile`` of its orders' amounts (codes with at
                   least ``near_min_min_orders`` orders); counted only when
                   N >= ``min_share`` of the new-user orders
DISPOSABLE_EMAIL_xN  N redeemers with a disposable mailbox
COUPON_HUB_xN      the cluster's accounts are in a burst of N coupon-only
                   redeemers at one card/device/phone/address spread over
                   several clusters (see ``linkgraph.score.hubs``): the hub's
                   signal fed back to every cluster it serves, so a farm split
                   into singletons by varying everything else still scores
BLOCKED_xB_OF_N    B of the cluster's N accounts are blocked; units B / N
=================  =============================================================

Eligibility: a cluster with fewer than ``min_redemptions`` (2) new-user
redemptions and no COUPON_HUB burst scores 0 with no reasons: one coupon
cannot be farmed. ``free`` leaves room for families: with the defaults a
family of four, each with one coupon, a card and a phone of their own and a
history of orders, earns at most the shared address and the odd order near a
minimum; eight coupon-only accounts created in a burst on one card earn
NEW_USER, SHARED_CARD, BURST and COUPON_ONLY points and reach 100.

Person clusters are scored by the same rules (``Scores.persons``). The
feature columns (``schemas.SCORE_FEATURE_COLUMNS``) are output next to the
score, so a moderator can check every number of every reason.

Inputs are read defensively: only ``account_id``
and the clustering ids are required; a missing optional column (amounts,
timestamps, masked, suppressed, n_accounts...) switches its reasons off
rather than failing. ``links.profiles`` supplies ``disposable_email`` when
the graph stage has it; otherwise a short built-in list of throwaway mailbox
domains is used. Coupon-only, bursts and the rest are computed here from
the tables, not taken from ``profiles``, so the explanation matches the data.

"""

from linkgraph.score.clusters import HandedOver, Scores, score_clusters
from linkgraph.score.facts import (
    AccountFacts,
    TableFacts,
    facts_before_clusters,
    order_summary,
    table_facts,
)

__all__ = ["AccountFacts", "HandedOver", "Scores", "TableFacts", "facts_before_clusters",
           "order_summary", "score_clusters", "table_facts"]
