"""Identifier values and reasons in the words a moderator reads (shared by explain and case pages).

Only masked values are ever worded. Also the small conversions of frame cells
(NA, timestamps) to plain Python values that explanations and pages show.
"""

from __future__ import annotations

import difflib
import math
import re
from typing import TYPE_CHECKING, Any

import pandas as pd

from linkgraph import schemas as s

if TYPE_CHECKING:
    from linkgraph.explain._model import CouponReason, Link

__all__ = [
    "KIND_ORDER", "accounts_words", "describe_coupon_reason", "did_you_mean", "float_or_none",
    "int_or_none", "is_missing", "iso_time", "kind_label", "link_words", "plain_data",
    "seen_words", "text_or_none", "value_words",
]

#: strongest evidence first (as the sanctions stage words it)
KIND_ORDER = {k: i for i, k in enumerate(
    (s.K_CARD, s.K_CARD_DIGITS, s.K_DEVICE, s.K_PHONE, s.K_EMAIL, s.K_ADDRESS, s.K_IP, s.K_NAME))}

#: how a kind reads to a moderator (card digits are a card)
_KIND_LABEL = {s.K_CARD_DIGITS: "card", s.K_IP: "IP"}

_COUPON_WORDS = {
    "NEW_USER": "{0} new-user coupon redemptions by {1} distinct person(s)",
    "SHARED_CARD": "{0} redeemers on one card",
    "SHARED_DEVICE": "{0} redeemers on one device",
    "SHARED_ADDRESS": "{0} redeemers at one delivery address",
    "PICKUP": "{0} redeemers at one pickup point",
    "BURST": "{0} redeemers created within days of each other",
    "COUPON_ONLY": "{0} redeemers placed only small coupon orders and went quiet",
    "NEAR_MIN": "{0} new-user orders just above the coupon's minimum",
    "DISPOSABLE_EMAIL": "{0} redeemers with a disposable mailbox",
    "COUPON_HUB": "in a burst of {0} coupon-only redeemers at one shared identifier",
    "BLOCKED": "{0} of {1} accounts are blocked",
}

_COUPON_CODE = re.compile(r"^(?P<code>[A-Z_]+?)_x(?P<n>[0-9]+)(?:_(?:BY|OF)_(?P<m>[0-9]+))?$")

#: above this many known ids, suggestions look only at ids that sort near the typo
_FULL_SCAN_IDS = 20_000


def describe_coupon_reason(code: str) -> CouponReason:
    """A coupon-abuse reason code (``NEW_USER_x8_BY_1``) with its meaning in words.

    >>> describe_coupon_reason("NEW_USER_x8_BY_1").words
    '8 new-user coupon redemptions by 1 distinct person(s)'
    >>> describe_coupon_reason(" BLOCKED_x1_OF_8").words
    '1 of 8 accounts are blocked'
    """
    from linkgraph.explain._model import CouponReason

    code = code.strip()
    match = _COUPON_CODE.match(code)
    if match is None or match["code"] not in _COUPON_WORDS:
        return CouponReason(code, code)
    return CouponReason(code, _COUPON_WORDS[match["code"]].format(match["n"], match["m"]))


def did_you_mean(value: str, known: pd.Series) -> str:
    """`` (did you mean 'X' or 'Y'?)`` for the known ids closest to ``value``, else ``""``.

    On a big run only the ids sorting next to ``value`` (a typo near the end)
    and those of the same length and ending (a typo near the start) are compared.

    >>> did_you_mean("A1O", pd.Series(["A10", "A11", "B99"]))
    " (did you mean 'A11' or 'A10'?)"
    """
    ids = pd.Series(known.dropna().astype(str).unique())
    if len(ids) > _FULL_SCAN_IDS:
        ordered = ids.sort_values(ignore_index=True)
        at = int(ordered.searchsorted(value))
        near = ordered.iloc[max(at - 500, 0):at + 500]
        same_shape = ids[(ids.str.len() == len(value)) & ids.str.endswith(value[-3:])]
        ids = pd.concat([near, same_shape.head(5000)]).drop_duplicates()
    matches = difflib.get_close_matches(value, ids.tolist(), n=3, cutoff=0.6)
    if not matches:
        return ""
    quoted = [f"'{m}'" for m in matches]
    return f" (did you mean {', '.join(quoted[:-1]) + ' or ' if len(quoted) > 1 else ''}{quoted[-1]}?)"


def value_words(kind: str, masked: str | None) -> str:
    """A masked value as a moderator reads it: ``device ***9c21``, ``card ****4242``.

    >>> value_words("card", "card ****4242"), value_words("card_digits", "****4242")
    ('card ****4242', 'card ****4242')
    """
    label = kind_label(kind)
    if masked is None:
        return f"{label} (masked)"
    return masked if masked.startswith(f"{label} ") else f"{label} {masked}"


def seen_words(link: Link) -> str:
    """When the two accounts used the value: together, or how far apart (``""`` when unknown).

    >>> from linkgraph.explain import Link
    >>> seen_words(Link("A2", "ip", "1.2.3.x", "weak", 0.1, "2026-01-05T00:00:00Z",
    ...                 "2026-01-01T00:00:00Z", 4.0))
    'used 4 days apart (one until 2026-01-01, the other from 2026-01-05)'
    """
    if not link.first_seen or not link.last_seen:
        return ""
    if link.first_seen <= link.last_seen:
        return f"both used it {link.first_seen[:10]} .. {link.last_seen[:10]}"
    return (f"used {_gap_words(link.gap_days)} apart (one until {link.last_seen[:10]}, "
            f"the other from {link.first_seen[:10]})")


def _gap_words(days: float | None) -> str:
    if days is None:
        return "some time"
    if days < 1:
        hours = max(round(days * 24), 1)
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{days:.0f} day{'s' if round(days) != 1 else ''}"


def link_words(link: Link) -> str:
    """One link on one line: the other account, the value, tier, weight, when."""
    weight = f"weight {link.weight:.2f}" if link.weight is not None else "weight ?"
    seen = seen_words(link)
    return (f"{link.other_account}: {value_words(link.kind, link.masked)} "
            f"({link.tier or '?'} tier, {weight}{', ' + seen if seen else ''})")


def kind_label(kind: str) -> str:
    """How a kind reads to a moderator: ``card_digits`` is a card, ``ip`` an IP."""
    return _KIND_LABEL.get(kind, kind)


def accounts_words(n: int) -> str:
    """``1 account``, ``2 accounts``."""
    return f"{n} account{'s' if n != 1 else ''}"


def is_missing(value: Any) -> bool:
    """Whether a frame cell is missing (None, NaN, NA, NaT); a list is not."""
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):  # a list or an array is not missing
        return False


def text_or_none(value: Any) -> str | None:
    """A cell as text; None when missing or empty."""
    return None if is_missing(value) or str(value) == "" else str(value)


def int_or_none(value: Any) -> int | None:
    """A cell as an int; None when missing."""
    return None if is_missing(value) else int(value)


def float_or_none(value: Any) -> float | None:
    """A cell as a float; None when missing."""
    return None if is_missing(value) else float(value)


def iso_time(value: Any) -> str | None:
    """A timestamp cell as ``2026-10-02T12:00:00Z`` (UTC); None when missing."""
    if is_missing(value):
        return None
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC")
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def plain_data(value: Any) -> Any:
    """Nested dicts and sequences as JSON-ready lists and dicts (NaN and inf -> None)."""
    if isinstance(value, dict):
        return {k: plain_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_data(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value

