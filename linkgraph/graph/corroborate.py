"""The tier of an account pair, after corroboration (DESIGN.md, "one shared card").

- ``person``: two or more person-level kinds in common (email, phone, device,
  card; card fingerprint and card digits count once together), or one
  person-level value and corroboration: one of the two accounts has no
  identity of its own (no own phone, card or device), or both were created in
  a burst and both have coupon-only or disposable-mailbox histories;
- ``household``: a single person-level value nothing corroborates (a family
  card, a family tablet), or a home address;
- ``weak``: IPs and names alone. An IP never promotes a pair: a shared home IP
  must not make a family tablet "the same person".

Recycled values (a phone or IP reused after the gap limit) are not evidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from linkgraph import schemas as s
from linkgraph.config import GraphConfig
from linkgraph.graph.incidence import TIER_CODES, CodedIncidence, labels, positions, take
from linkgraph.graph.pairs import PairRows

#: evidence classes in the order the words list them (strongest first)
_CLASSES = ("card", "device", "phone", "email", "address", "ip", "name", "other")
_CLASS_OF_KIND = {s.K_CARD: "card", s.K_CARD_DIGITS: "card", s.K_DEVICE: "device",
                  s.K_PHONE: "phone", s.K_EMAIL: "email", s.K_ADDRESS: "address",
                  s.K_IP: "ip", s.K_NAME: "name"}
_PERSON_BITS = 0b1111
_HOUSEHOLD_BITS = 0b10000
_WEAK_BITS = 0b11100000

_MULTI, _NO_OWN, _BURST, _SINGLE, _HOME, _WEAK = range(6)
_TIER_CODE_OF_REASON = tuple(TIER_CODES.index(t) for t in (
    s.T_PERSON, s.T_PERSON, s.T_PERSON, s.T_HOUSEHOLD, s.T_HOUSEHOLD, s.T_WEAK))


@dataclass(frozen=True)
class PairSummary:
    """One entry per account pair with non-recycled evidence, sorted by (a, b).

    a / b: account codes; mask: bit per evidence class (``_CLASSES``); weight: sum.
    """

    a: np.ndarray
    b: np.ndarray
    mask: np.ndarray
    weight: np.ndarray

    def linking(self) -> tuple[np.ndarray, np.ndarray]:
        """(a, b) of pairs sharing a person- or household-level value."""
        chosen = (self.mask & (_PERSON_BITS | _HOUSEHOLD_BITS)) != 0
        return self.a[chosen], self.b[chosen]


def summarize_pairs(coded: CodedIncidence, pairs: PairRows) -> PairSummary:
    """Collapse pair rows (sorted by a, b) into one entry per pair; recycled rows dropped."""
    keep = ~pairs.recycled
    a = coded.account[pairs.row_a[keep]]
    b = coded.account[pairs.row_b[keep]]
    class_bit = np.array([1 << _CLASSES.index(_CLASS_OF_KIND.get(k, "other"))
                          for k in coded.kinds] or [0], dtype=np.int64)
    bits = class_bit[coded.kind[pairs.row_a[keep]]]
    weight = pairs.weight[keep]
    if len(a) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return PairSummary(a=empty, b=empty, mask=empty, weight=np.zeros(0))
    start = np.ones(len(a), dtype=bool)
    start[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    starts = np.flatnonzero(start)
    return PairSummary(
        a=a[starts], b=b[starts],
        mask=np.bitwise_or.reduceat(bits, starts),
        weight=np.add.reduceat(weight, starts),
    )


def pair_tier_frame(
    coded: CodedIncidence, summary: PairSummary, profiles: pd.DataFrame, *, config: GraphConfig
) -> pd.DataFrame:
    """One row per pair with evidence: schemas.PAIR_TIER_COLUMNS, sorted by account_a, account_b."""
    # an account missing from the accounts table gets no corroboration from its facts
    code = positions(profiles[s.ACCOUNT_ID], coded.accounts)
    present = code >= 0
    own = np.ones(len(coded.accounts), dtype=bool)
    in_burst = np.zeros(len(coded.accounts), dtype=bool)
    farmed = np.zeros(len(coded.accounts), dtype=bool)
    own[code[present]] = profiles[s.HAS_OWN_IDENTITY].to_numpy(dtype=bool)[present]
    in_burst[code[present]] = (profiles[s.BURST_SIZE].to_numpy()
                               >= config.burst_min_accounts)[present]
    farmed[code[present]] = (profiles[s.COUPON_ONLY].to_numpy(dtype=bool)
                             | profiles[s.DISPOSABLE_EMAIL].to_numpy(dtype=bool))[present]
    a, b, mask = summary.a, summary.b, summary.mask

    n_person = _popcount(mask & _PERSON_BITS)
    n_household = _popcount(mask & _HOUSEHOLD_BITS)
    reason = np.select(
        [n_person >= 2,
         (n_person == 1) & ~(own[a] & own[b]),
         (n_person == 1) & in_burst[a] & in_burst[b] & farmed[a] & farmed[b],
         n_person == 1,
         n_household >= 1],
        [_MULTI, _NO_OWN, _BURST, _SINGLE, _HOME],
        default=_WEAK,
    )
    combo = mask * 8 + reason  # the words depend on these alone: built once per combination
    distinct, inverse = np.unique(combo, return_inverse=True)
    words = [_words(int(c) // 8, int(c) % 8) for c in distinct]
    return pd.DataFrame({
        s.ACCOUNT_A: take(coded.accounts, a),
        s.ACCOUNT_B: take(coded.accounts, b),
        s.TIER: labels(np.asarray(_TIER_CODE_OF_REASON)[reason], TIER_CODES),
        s.WEIGHT: summary.weight.astype(np.float64),
        s.N_PERSON_KINDS: n_person.astype(np.int64),
        s.N_HOUSEHOLD_KINDS: n_household.astype(np.int64),
        s.CORROBORATION: labels(inverse.ravel(), words),
    })


def _popcount(values: np.ndarray) -> np.ndarray:
    counts = np.zeros(len(values), dtype=np.int64)
    for bit in range(len(_CLASSES)):
        counts += (values >> bit) & 1
    return counts


def _words(mask: int, reason: int) -> str:
    """The corroboration in words, e.g. ``card+device`` or ``single shared card: ...``."""
    names = [c for i, c in enumerate(_CLASSES) if mask >> i & 1]
    person = [c for c in names if (1 << _CLASSES.index(c)) & _PERSON_BITS]
    strong = [c for c in names if (1 << _CLASSES.index(c)) & (_PERSON_BITS | _HOUSEHOLD_BITS)]
    weak = [c for c in names if (1 << _CLASSES.index(c)) & _WEAK_BITS]
    if reason == _MULTI:
        text = "+".join(strong)
    elif reason == _NO_OWN:
        text = f"shared {person[0]}; account has no own identity"
    elif reason == _BURST:
        text = f"shared {person[0]}; burst of coupon-only or disposable-mailbox accounts"
    elif reason == _SINGLE:
        text = f"single shared {person[0]}: family or same person"
    elif reason == _HOME:
        text = "shared address: household"
    else:
        return f"shared {'+'.join(weak)} only: weak"
    also = [c for c in strong if c not in person] if reason in (_NO_OWN, _BURST, _SINGLE) else []
    also += weak
    return f"{text} (also {'+'.join(also)})" if also else text
