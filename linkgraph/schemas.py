"""Column names and the frames that pass between stages.

Every stage names its columns through these constants; the ``load`` package renames
input columns once, at the boundary, and the ``report`` package writes them out.

The input contract (``INPUT_TABLES``) and the output files are fixed by
DESIGN.md: other systems depend on them. Extend, never rename.

Frames between stages (one row per ..., sorted by the key given):

``Tables`` (load)
    one frame per input table with every contract column present (missing
    optional columns are all-NA), ids and free text as strings, timestamps as
    UTC ``datetime64``, ``amount``/``discount`` as ``float64``.

``identifiers`` (normalize) -- one row per (account_id, kind, value):
    ``account_id, kind, value, masked, first_seen, last_seen, source,
    suppressed`` where ``value`` is the canonical key, ``masked`` its display
    form for moderators, ``suppressed`` a reason (``junk``, ``invalid``,
    ``private_ip``, ``pickup_point`` ...) or NA when the value may link.

``LinkSet`` (graph) -- see ``graph.LinkSet``:
    ``incidence``: identifiers + ``tier, n_accounts, weight, linking``;
    ``pairs``: one row per (account_a, account_b, kind, value), a < b, for
    every value shared by a bounded number of accounts, with ``tier`` of the
    value and ``weight``, ``first_seen``, ``last_seen``, ``gap_days``;
    ``pair_tiers``: one row per (account_a, account_b) with the pair's
    ``tier`` after corroboration (``person``, ``household`` or ``weak``) and
    the evidence counts that decided it;
    ``hubs``: one row per (kind, value) that stopped linking;
    ``profiles``: one row per account with the facts corroboration and
    scoring use.
"""

from __future__ import annotations

from typing import Any, Final

# --- input tables -----------------------------------------------------------

ACCOUNT_ID: Final = "account_id"
CREATED_AT: Final = "created_at"
EMAIL: Final = "email"
PHONE: Final = "phone"
FULL_NAME: Final = "full_name"
REGISTRATION_IP: Final = "registration_ip"
DEVICE_ID: Final = "device_id"
COUNTRY: Final = "country"

ADDRESS_ID: Final = "address_id"
RECIPIENT_NAME: Final = "recipient_name"
LINE1: Final = "line1"
LINE2: Final = "line2"
CITY: Final = "city"
REGION: Final = "region"
POSTAL_CODE: Final = "postal_code"

PAYMENT_ID: Final = "payment_id"
METHOD: Final = "method"
FINGERPRINT: Final = "fingerprint"
CARD_BIN: Final = "card_bin"
CARD_LAST4: Final = "card_last4"
CARD_EXPIRY: Final = "card_expiry"
HOLDER_NAME: Final = "holder_name"

IP: Final = "ip"
SEEN_AT: Final = "seen_at"

ORDER_ID: Final = "order_id"
AMOUNT: Final = "amount"
CURRENCY: Final = "currency"
COUPON_CODE: Final = "coupon_code"
COUPON_TYPE: Final = "coupon_type"
DISCOUNT: Final = "discount"

ACTION: Final = "action"
REASON: Final = "reason"
DECISION: Final = "decision"

#: table name -> (required columns, all contract columns in order)
INPUT_TABLES: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "accounts": (
        (ACCOUNT_ID,),
        (ACCOUNT_ID, CREATED_AT, EMAIL, PHONE, FULL_NAME, REGISTRATION_IP, DEVICE_ID, COUNTRY),
    ),
    "addresses": (
        (ACCOUNT_ID,),
        (ACCOUNT_ID, ADDRESS_ID, RECIPIENT_NAME, LINE1, LINE2, CITY, REGION, POSTAL_CODE, COUNTRY),
    ),
    "payments": (
        (ACCOUNT_ID,),
        (ACCOUNT_ID, PAYMENT_ID, METHOD, FINGERPRINT, CARD_BIN, CARD_LAST4, CARD_EXPIRY, HOLDER_NAME),
    ),
    "logins": ((ACCOUNT_ID, IP), (ACCOUNT_ID, IP, DEVICE_ID, SEEN_AT)),
    "orders": (
        (ORDER_ID, ACCOUNT_ID),
        (ORDER_ID, ACCOUNT_ID, CREATED_AT, AMOUNT, CURRENCY, COUPON_CODE, COUPON_TYPE, DISCOUNT,
         ADDRESS_ID, PAYMENT_ID),
    ),
    "sanctions": ((ACCOUNT_ID, ACTION), (ACCOUNT_ID, ACTION, REASON, CREATED_AT)),
    "decisions": ((ACCOUNT_ID, DECISION), (ACCOUNT_ID, DECISION, CREATED_AT)),
}
TABLE_NAMES: Final = tuple(INPUT_TABLES)

#: columns parsed as UTC timestamps / as numbers, per table
TIMESTAMP_COLUMNS: Final = {
    "accounts": (CREATED_AT,),
    "logins": (SEEN_AT,),
    "orders": (CREATED_AT,),
    "sanctions": (CREATED_AT,),
    "decisions": (CREATED_AT,),
}
NUMERIC_COLUMNS: Final = {"orders": (AMOUNT, DISCOUNT)}

SANCTION_ACTIONS: Final = ("warning", "rating_revoked", "restricted", "suspended", "banned")
BLOCKING_ACTIONS: Final = ("suspended", "banned")
DECISION_VALUES: Final = ("cleared", "confirmed", "sanctioned", "escalated")
CLEARED: Final = "cleared"
NEW_USER: Final = "new_user"

# --- rejects ----------------------------------------------------------------

TABLE: Final = "table"
ROW: Final = "row"  # 1-based data row in the source file (header excluded)
COLUMN: Final = "column"
VALUE: Final = "value"
REJECT_COLUMNS: Final = (TABLE, ROW, COLUMN, REASON, VALUE)

# --- identifiers (normalize) --------------------------------------------------

KIND: Final = "kind"
MASKED: Final = "masked"
FIRST_SEEN: Final = "first_seen"
LAST_SEEN: Final = "last_seen"
SOURCE: Final = "source"
SUPPRESSED: Final = "suppressed"

# identifier kinds
K_EMAIL: Final = "email"
K_PHONE: Final = "phone"
K_DEVICE: Final = "device"
K_CARD: Final = "card"  # the payment provider's fingerprint
K_CARD_DIGITS: Final = "card_digits"  # bin + last4 + expiry, when no fingerprint
K_ADDRESS: Final = "address"
K_IP: Final = "ip"
K_NAME: Final = "name"
KINDS: Final = (K_EMAIL, K_PHONE, K_DEVICE, K_CARD, K_CARD_DIGITS, K_ADDRESS, K_IP, K_NAME)

IDENTIFIER_COLUMNS: Final = (
    ACCOUNT_ID, KIND, VALUE, MASKED, FIRST_SEEN, LAST_SEEN, SOURCE, SUPPRESSED,
)

# --- graph ------------------------------------------------------------------

TIER: Final = "tier"
T_PERSON: Final = "person"
T_HOUSEHOLD: Final = "household"
T_WEAK: Final = "weak"
TIERS: Final = (T_PERSON, T_HOUSEHOLD, T_WEAK)
N_ACCOUNTS: Final = "n_accounts"
WEIGHT: Final = "weight"
LINKING: Final = "linking"
GAP_DAYS: Final = "gap_days"

ACCOUNT_A: Final = "account_a"
ACCOUNT_B: Final = "account_b"
PAIR_COLUMNS: Final = (
    ACCOUNT_A, ACCOUNT_B, KIND, VALUE, MASKED, TIER, WEIGHT, FIRST_SEEN, LAST_SEEN, GAP_DAYS,
)
N_PERSON_KINDS: Final = "n_person_kinds"
N_HOUSEHOLD_KINDS: Final = "n_household_kinds"
CORROBORATION: Final = "corroboration"  # words: why the pair's tier
PAIR_TIER_COLUMNS: Final = (
    ACCOUNT_A, ACCOUNT_B, TIER, WEIGHT, N_PERSON_KINDS, N_HOUSEHOLD_KINDS, CORROBORATION,
)
HUB_COLUMNS: Final = (KIND, VALUE, MASKED, N_ACCOUNTS, REASON)

# --- clusters -----------------------------------------------------------------

CLUSTER_ID: Final = "cluster_id"
PERSON_CLUSTER_ID: Final = "person_cluster_id"
N_PERSONS: Final = "n_persons"
N_BLOCKED: Final = "n_blocked"
LINK_KINDS: Final = "link_kinds"
DENSITY: Final = "density"
CHANGE: Final = "change"
PREVIOUS_CLUSTER_IDS: Final = "previous_cluster_ids"
ACCOUNTS_ADDED: Final = "accounts_added"
ACCOUNTS_REMOVED: Final = "accounts_removed"
CLUSTER_CHANGE_COLUMNS: Final = (
    CLUSTER_ID, CHANGE, PREVIOUS_CLUSTER_IDS, ACCOUNTS_ADDED, ACCOUNTS_REMOVED,
)

# --- sanctions ----------------------------------------------------------------

ACTION_REASON: Final = "action_reason"
LINKED_BLOCKED_ACCOUNT: Final = "linked_blocked_account"
EVIDENCE: Final = "evidence"
CONFIDENCE: Final = "confidence"
HOPS: Final = "hops"
RANK: Final = "rank"
#: proposed actions, weakest first
ACTIONS: Final = ("none", "watch", "review", "restrict", "suspend", "ban")
ACTION_COLUMNS: Final = (
    ACCOUNT_ID, ACTION, ACTION_REASON, LINKED_BLOCKED_ACCOUNT, EVIDENCE, CONFIDENCE, HOPS,
)

# --- score --------------------------------------------------------------------

COUPON_ABUSE_SCORE: Final = "coupon_abuse_score"
COUPON_ABUSE_REASONS: Final = "coupon_abuse_reasons"
# score: features per cluster / person cluster (counts among new-user redeemers)
N_NEW_USER_ORDERS: Final = "n_new_user_orders"
N_REDEEMERS: Final = "n_redeemers"
N_REDEEMER_PERSONS: Final = "n_redeemer_persons"
TOP_CARD_REDEEMERS: Final = "top_card_redeemers"
TOP_DEVICE_REDEEMERS: Final = "top_device_redeemers"
TOP_ADDRESS_REDEEMERS: Final = "top_address_redeemers"
TOP_PICKUP_REDEEMERS: Final = "top_pickup_redeemers"
BURST_REDEEMERS: Final = "burst_redeemers"
BURST_EXPECTED: Final = "burst_expected"
N_COUPON_ONLY: Final = "n_coupon_only"
N_NEAR_MIN_ORDERS: Final = "n_near_min_orders"
N_DISPOSABLE_EMAIL: Final = "n_disposable_email"
HUB_BURST_REDEEMERS: Final = "hub_burst_redeemers"
N_GROUP_ACCOUNTS: Final = "n_group_accounts"
N_GROUP_BLOCKED: Final = "n_group_blocked"
SCORE_FEATURE_COLUMNS: Final = (
    N_NEW_USER_ORDERS, N_REDEEMERS, N_REDEEMER_PERSONS, TOP_CARD_REDEEMERS,
    TOP_DEVICE_REDEEMERS, TOP_ADDRESS_REDEEMERS, TOP_PICKUP_REDEEMERS, BURST_REDEEMERS,
    BURST_EXPECTED, N_COUPON_ONLY, N_NEAR_MIN_ORDERS, N_DISPOSABLE_EMAIL, HUB_BURST_REDEEMERS,
    N_GROUP_ACCOUNTS, N_GROUP_BLOCKED,
)
# score: coupon_hubs.csv, one row per (kind, value) behind a burst of coupon-only redeemers
N_CLUSTERS: Final = "n_clusters"
EXPECTED_IN_WINDOW: Final = "expected_in_window"
COUPON_HUB_COLUMNS: Final = (
    KIND, VALUE, MASKED, N_REDEEMERS, N_CLUSTERS, N_COUPON_ONLY, BURST_REDEEMERS,
    EXPECTED_IN_WINDOW, REASON,
)

# --- truth (synth) --------------------------------------------------------------

PERSON_ID: Final = "person_id"
HOUSEHOLD_ID: Final = "household_id"
ROLE: Final = "role"
EXPECTED_ACTION: Final = "expected_action"
TRUTH_COLUMNS: Final = (ACCOUNT_ID, PERSON_ID, HOUSEHOLD_ID, ROLE, EXPECTED_ACTION)

# --- cluster (added by the cluster stage) ---------------------------------------

NEXT_CLUSTER_IDS: Final = "next_cluster_ids"  # retired rows: where the accounts went
ISSUED_RUN: Final = "issued_run"  # 1 for the first run, +1 each night: "older" = smaller
ID_KIND_CLUSTER: Final = "cluster"  # value of ``kind`` in issued_ids
ID_KIND_PERSON: Final = "person"
ISSUED_ID_COLUMNS: Final = (CLUSTER_ID, KIND, ISSUED_RUN)
CLUSTER_SUMMARY_COLUMNS: Final = (CLUSTER_ID, N_ACCOUNTS, N_PERSONS, N_BLOCKED, LINK_KINDS, DENSITY)
BRIDGE: Final = "bridge"  # words: the two accounts and the masked shared values
BRIDGE_ACCOUNT_A: Final = "bridge_account_a"
BRIDGE_ACCOUNT_B: Final = "bridge_account_b"
BRIDGE_KINDS: Final = "bridge_kinds"
BRIDGE_MASKED: Final = "bridge_masked"
PART_SIZES: Final = "part_sizes"  # "30+25": accounts on each side of the bridge
CLUSTER_ALERT_COLUMNS: Final = (
    CLUSTER_ID, N_ACCOUNTS, REASON, BRIDGE, BRIDGE_ACCOUNT_A, BRIDGE_ACCOUNT_B, BRIDGE_KINDS,
    BRIDGE_MASKED, PART_SIZES,
)

# --- evaluate -------------------------------------------------------------------

IS_FARMER: Final = "is_farmer"  # truth: the account belongs to a coupon farmer
#: truth: the person's accounts that share an identifier of that person (a mailbox,
#: phone, own device or card), labelled by the group's first account; two accounts
#: of one person in different groups share nothing that could link them
LINK_GROUP: Final = "link_group"
SANCTION: Final = "sanction"  # run accounts: the strongest input sanction
BLOCKED: Final = "blocked"  # run accounts: suspended or banned in the input
CLEARED_AT: Final = "cleared_at"  # run accounts: when a moderator cleared it

# --- graph: account profiles (added by the graph stage) --------------------------

N_PERSON_IDS: Final = "n_person_ids"  # person-tier values the account has (not suppressed)
N_OWN_PERSON_IDS: Final = "n_own_person_ids"  # ... of which no other account has
HAS_OWN_IDENTITY: Final = "has_own_identity"  # an own phone, card or device
DISPOSABLE_EMAIL: Final = "disposable_email"
N_ORDERS: Final = "n_orders"
COUPON_ONLY: Final = "coupon_only"  # every order used a coupon, at most 2 orders
BURST_SIZE: Final = "burst_size"  # linked accounts created within burst_days, itself included
PROFILE_COLUMNS: Final = (
    ACCOUNT_ID, CREATED_AT, N_PERSON_IDS, N_OWN_PERSON_IDS, HAS_OWN_IDENTITY, DISPOSABLE_EMAIL,
    N_ORDERS, N_NEW_USER_ORDERS, COUPON_ONLY, BURST_SIZE,
)

# an order summary: what the graph and score stages read of the orders, one row per
# account with orders (``linkgraph.score.order_summary``; ``Tables.order_facts``)
O_COUPON: Final = "n_coupon"  # orders naming a coupon (code or type)
O_WELCOME: Final = "n_welcome"  # orders of coupon type new_user (the graph's profiles)
O_NEW_USER: Final = "n_new_user"  # orders of a new-user coupon type (the coupon settings')
O_LARGE: Final = "n_large"  # orders above the small-order limit
O_LAST: Final = "last_order"  # the latest order, days since the epoch (-inf: none known)
O_NEAR_MIN: Final = "n_near_min"  # new-user orders just above their coupon's minimum
ORDER_SUMMARY_COLUMNS: Final = (
    ACCOUNT_ID, N_ORDERS, O_COUPON, O_WELCOME, O_NEW_USER, O_LARGE, O_LAST, O_NEAR_MIN,
)


# --- input checks of every stage ----------------------------------------------------


def require_columns(needed: dict[str, tuple[Any, tuple[str, ...]]], *, stage: str, hint: str) -> None:
    """Raise one :class:`~linkgraph.errors.InputError` naming every missing column.

    Args:
        needed: frame name -> (frame, the columns it must have).
        stage: who is asking, for the message (``"sanctions stage"``).
        hint: what to do about it, appended to the message.

    >>> import pandas as pd
    >>> require_columns({"accounts": (pd.DataFrame({"id": []}), ("account_id",))},
    ...                 stage="demo", hint="Rename it.")
    Traceback (most recent call last):
    ...
    linkgraph.errors.InputError: demo: accounts has no column 'account_id' (found: id). Rename it.
    """
    from linkgraph.errors import InputError

    problems = []
    for name, (frame, columns) in needed.items():
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            found = ", ".join(map(str, frame.columns)) or "no columns"
            problems.append(f"{name} has no column {', '.join(map(repr, missing))} (found: {found})")
    if problems:
        raise InputError(f"{stage}: {'; '.join(problems)}. {hint}")

# --- normalize: integer codes on the identifiers frame (for the graph stage) ----------
# Optional extra columns after IDENTIFIER_COLUMNS; codes ascend with the strings, so
# rows sorted by (account_id, kind, value) have ACCOUNT_CODE non-decreasing and
# VALUE_CODE strictly ascending within an account. No raw value is in them.

# Both are int32 (int64 past 2**31 accounts or values).
ACCOUNT_CODE: Final = "account_code"  # code of account_id, ascending with the id
VALUE_CODE: Final = "value_code"  # one code per (kind, value), ascending with both
IDENTIFIER_CODE_COLUMNS: Final = (ACCOUNT_CODE, VALUE_CODE)
# the accounts sharing the row's (kind, value) (int32), when the engine that grouped the
# identifiers counted them there (Spark: one number per value comes back with the values,
# so the graph stage's hub count ships no row); absent otherwise (the graph counts)
VALUE_ACCOUNTS: Final = "value_accounts"

# --- normalize, graph (session 4): text columns as categoricals -----------------------
# In the identifiers frame, the LinkSet frames and the Run frames taken from them,
# ACCOUNT_ID / ACCOUNT_A / ACCOUNT_B / VALUE / MASKED may be pandas categoricals whose
# categories are the distinct strings, sorted (so they sort and compare as the strings),
# with int32 codes. Read them through ``linkgraph.codes`` (positions, text_array,
# sort_ranks); the report writes them to Parquet and CSV as the plain strings.
