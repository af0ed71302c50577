"""The tier of an account pair, after corroboration (DESIGN.md, "one shared card").

A pair sharing person-level values (card, device, phone, mailbox; a card's
fingerprint and its digits count once together) is the same person or two
members of one family; the evidence decides, first rule that applies wins:

1. ``person``, *burst*: both accounts were created in a burst of linked
   accounts and both have coupon-only or disposable-mailbox histories, and
   they share a person-level value (a farmer's accounts carry made-up names,
   so names are not asked) or a home address under one registered name (a
   naive farmer; a family signing up together registers its members' names);
2. ``person``, *throwaway*: one of the two has no phone number or card of
   its own (a fresh device id is free: an emulator gives one to every
   account), was created in a burst and only farmed coupons (or signed up
   with a disposable mailbox), and it used the other's card or device:
   somebody's throwaway, whatever name it was given. A mailbox or phone
   number it only typed in does not count here (anyone can type one);
3. ``person``, *several kinds*: the same mailbox and the same phone number,
   whatever the registered names say (``Sam Lee`` and ``Samuel Lee``): a
   family may share a mailbox, or a parent's phone may sit on a child's
   account, but not both;
4. registered names that conflict (both accounts registered a valid full
   name and the names differ by more than an initial: two people, see
   :mod:`~linkgraph.graph.names`):
   ``weak`` when they share only phone numbers or mailboxes and no home (no
   address, no IP): a mistyped or borrowed contact is no family;
   ``household`` otherwise (a family card or tablet, a parent's phone on a
   child's account), or ``weak`` when the only person-level value is a phone
   the two never held at the same time (a number that changed hands);
5. ``person``, *several kinds*: two or more person-level kinds in common;
6. ``household``, *two phones*: a single card or device under matching
   registered names, and each account has a phone number, not the same one:
   a father and son of one name with the family card are two people as
   often as one person keeps two numbers; a moderator decides;
7. ``person``, *same name*: one person-level value and registered names that
   match (equal, or one initial apart). Only ``accounts.full_name`` counts: a
   family card carries its holder's name to every member;
8. ``person``, *no own identity*: one of the two has no phone, card or
   device that nobody else has, nor one the other account lacks (a sibling
   whose card and phone are shared with their own second account is someone);
9. ``person``, *personal identifier*: the shared value is a phone number or
   mailbox (``GraphConfig.personal_kinds``: one person's, rarely a family's),
   unless both accounts have a phone number besides, not the same one (two
   people who share a family mailbox);
10. ``household``: a single card or device nothing corroborates (a family
   card, a family tablet: the platform's discretion);
11. ``household``: a home address; ``weak``: IPs and names alone. An IP never
   promotes a pair: a shared home IP must not make a family tablet "the same
   person".

Recycled values (a phone or IP used by the two accounts further apart than
``recycle_gap_days``) are not evidence, unless the two accounts registered the
same name: a number changes owner, not its owner's name.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from linkgraph import schemas as s
from linkgraph.codes import categorical
from linkgraph.config import GraphConfig
from linkgraph.graph.incidence import TIER_CODES, CodedIncidence, account_column
from linkgraph.graph.names import NameAgreement
from linkgraph.graph.pairs import PairRows
from linkgraph.graph.profiles import identity_kinds

#: evidence classes in the order the words list them (strongest first)
_CLASSES = ("card", "device", "phone", "email", "address", "ip", "name", "other")
_CLASS_OF_KIND = {s.K_CARD: "card", s.K_CARD_DIGITS: "card", s.K_DEVICE: "device",
                  s.K_PHONE: "phone", s.K_EMAIL: "email", s.K_ADDRESS: "address",
                  s.K_IP: "ip", s.K_NAME: "name"}
_PERSON_BITS = 0b1111
_HOUSEHOLD_BITS = 0b10000
_WEAK_BITS = 0b11100000

(_BURST, _CONFLICT, _RECYCLED, _MULTI, _NAME, _NO_OWN, _PERSONAL, _SINGLE, _HOME,
 _WEAK, _ELSEWHERE, _THROWAWAY, _TWO_PHONES) = range(13)
_N_REASONS = 16
_TIER_CODE_OF_REASON = tuple(TIER_CODES.index(t) for t in (
    s.T_PERSON, s.T_HOUSEHOLD, s.T_WEAK, s.T_PERSON, s.T_PERSON, s.T_PERSON, s.T_PERSON,
    s.T_HOUSEHOLD, s.T_HOUSEHOLD, s.T_WEAK, s.T_WEAK, s.T_PERSON, s.T_HOUSEHOLD))
_IP_BIT = 1 << _CLASSES.index("ip")
PERSON_TIER_CODE = TIER_CODES.index(s.T_PERSON)


@dataclass(frozen=True)
class PairSummary:
    """One entry per account pair sharing a value, sorted by (a, b).

    a / b: account codes; mask: bit per evidence class (``_CLASSES``); weight: sum.
    held_together: bits of the classes with a value both accounts held at the
    same time (every non-recyclable value; a phone or IP only without a gap).
    stale: bits of the classes the pair shares only through values used
    further apart than the recycling limit (see :func:`resolve_recycled`).
    """

    a: np.ndarray
    b: np.ndarray
    mask: np.ndarray
    weight: np.ndarray
    held_together: np.ndarray
    stale: np.ndarray
    shared_identities: np.ndarray

    def person_level(self) -> np.ndarray:
        """Per pair: it shares a person-level value (the pairs whose names matter)."""
        return (self.mask & _PERSON_BITS) != 0

    def linking(self) -> tuple[np.ndarray, np.ndarray]:
        """(a, b) of pairs sharing a person- or household-level value."""
        chosen = (self.mask & (_PERSON_BITS | _HOUSEHOLD_BITS)) != 0
        return self.a[chosen], self.b[chosen]

    def take(self, entries: np.ndarray) -> PairSummary:
        """The summary of the pairs at ``entries`` (positions, ascending)."""
        return PairSummary(a=self.a[entries], b=self.b[entries], mask=self.mask[entries],
                           weight=self.weight[entries],
                           held_together=self.held_together[entries],
                           stale=self.stale[entries],
                           shared_identities=self.shared_identities[entries])


@dataclass(frozen=True)
class AccountFacts:
    """Per account code, the facts corroboration asks (see :func:`account_facts`)."""

    own_identity: np.ndarray
    identities: np.ndarray
    own_number_or_card: np.ndarray
    phone: np.ndarray
    in_burst: np.ndarray
    farmed: np.ndarray


def summarize_pairs(coded: CodedIncidence, pairs: PairRows) -> PairSummary:
    """Collapse pair rows (sorted by a, b) into one entry per pair.

    Values past the recycling limit are kept apart in ``stale`` and weigh
    nothing: :func:`resolve_recycled` decides whether they are evidence.
    """
    a = coded.account[pairs.row_a]
    b = coded.account[pairs.row_b]
    # eight class bits: a 16-bit mask a pair (signed, so that ~mask stays a mask)
    class_bit = np.array([1 << _CLASSES.index(_CLASS_OF_KIND.get(k, "other"))
                          for k in coded.kinds] or [0], dtype=np.int16)
    bits = class_bit[coded.kind[pairs.row_a]]
    if len(a) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return PairSummary(a=empty, b=empty, mask=empty, weight=np.zeros(0), held_together=empty,
                           stale=empty, shared_identities=empty)
    start = np.ones(len(a), dtype=bool)
    start[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    starts = np.flatnonzero(start)
    fresh = np.bitwise_or.reduceat(np.where(pairs.recycled, 0, bits), starts)
    mask = np.bitwise_or.reduceat(bits, starts)
    return PairSummary(
        a=a[starts], b=b[starts], mask=mask,
        weight=np.add.reduceat(np.where(pairs.recycled, 0.0, pairs.weight), starts),
        held_together=np.bitwise_or.reduceat(np.where(pairs.gapped, 0, bits), starts),
        stale=mask & ~fresh,
        shared_identities=np.add.reduceat(
            identity_kinds(coded)[coded.kind[pairs.row_a]].astype(np.int32), starts),
    )


def resolve_recycled(
    summary: PairSummary, names: NameAgreement
) -> tuple[PairSummary, NameAgreement]:
    """The pairs and their evidence once values used years apart are judged.

    A phone number used by two accounts further apart than the recycling
    limit changed hands, unless both accounts registered the same name: a
    number changes owner, not its owner's name. Such a value is dropped from
    the other pairs' evidence, and a pair it was the only evidence of is left
    out (with its entry of ``names``); ``stale`` then holds the dropped
    classes (the two did write down the same number, years apart).
    """
    dropped = np.where(names.agree, 0, summary.stale)
    kept = np.flatnonzero((summary.mask & ~dropped) != 0)
    resolved = summary.take(kept)
    resolved = replace(resolved, mask=resolved.mask & ~dropped[kept],
                       stale=dropped[kept])
    return resolved, names.take(kept)


def account_facts(
    profiles: pd.DataFrame, code: np.ndarray, own_number_or_card: np.ndarray,
    phone: np.ndarray, identities: np.ndarray, *, config: GraphConfig
) -> AccountFacts:
    """The per-account facts of ``profiles`` as arrays over account codes.

    ``code`` is each profile's account code (-1 for an account with no
    identifiers); ``own_number_or_card`` (a phone number or a card nobody else
    has), ``phone`` (any phone number that links) and ``identities`` (phone
    numbers, cards and devices that are no hub or junk) are per account code
    already. An account missing from the accounts table gets no corroboration
    from its facts (it counts as having an identity, as outside any burst).
    """
    present = code >= 0
    n_codes = len(phone)
    own = np.ones(n_codes, dtype=bool)
    in_burst = np.zeros(n_codes, dtype=bool)
    farmed = np.zeros(n_codes, dtype=bool)
    own[code[present]] = profiles[s.HAS_OWN_IDENTITY].to_numpy(dtype=bool)[present]
    in_burst[code[present]] = (profiles[s.BURST_SIZE].to_numpy()
                               >= config.burst_min_accounts)[present]
    farmed[code[present]] = (profiles[s.COUPON_ONLY].to_numpy(dtype=bool)
                             | profiles[s.DISPOSABLE_EMAIL].to_numpy(dtype=bool))[present]
    return AccountFacts(own_identity=own, identities=identities,
                        own_number_or_card=own_number_or_card, phone=phone,
                        in_burst=in_burst, farmed=farmed)


def pair_reasons(
    summary: PairSummary, facts: AccountFacts, names: NameAgreement, *, config: GraphConfig
) -> np.ndarray:
    """Per pair of ``summary``, the code of the rule that decides its tier (module docstring)."""
    a, b, mask = summary.a, summary.b, summary.mask
    person_mask = mask & _PERSON_BITS
    n_person = _popcount(person_mask)
    n_household = _popcount(mask & _HOUSEHOLD_BITS)
    personal_bits = 0
    for kind in config.personal_kinds:
        if kind in _CLASS_OF_KIND:
            personal_bits |= 1 << _CLASSES.index(_CLASS_OF_KIND[kind])
    burst = facts.in_burst[a] & facts.in_burst[b] & facts.farmed[a] & facts.farmed[b]
    # an account with no phone number or card of its own, created in a burst, that only
    # ever farmed coupons (or signed up with a throwaway mailbox) is the throwaway of
    # whoever's card or device it used, whatever name it was given. A device id of its own
    # proves nothing here (an emulator gives every account a fresh one; a number or card
    # costs money), and a mailbox or number it merely typed in proves less (anyone can
    # type one)
    throwaway = ~facts.own_number_or_card & facts.farmed & facts.in_burst
    physical = (person_mask & ~personal_bits) != 0
    throwaway = (throwaway[a] | throwaway[b]) & physical
    # a phone two differently named accounts never held at the same time changed hands
    recycled = (person_mask & summary.held_together) == 0
    shares_personal = (person_mask & personal_bits) != 0
    # a number both wrote down, even years apart, is no second phone of either
    shares_phone = ((person_mask | summary.stale) & (1 << _CLASSES.index("phone"))) != 0
    # both have a phone number, and (the pair sharing none) not the same one
    two_phones = facts.phone[a] & facts.phone[b] & ~shares_phone
    shares_physical_only = ~shares_personal & (n_person >= 1)
    # two people sharing only a phone number or mailbox and no home (address, home IP) are
    # no family on the evidence: a mistyped or borrowed contact, not a household
    elsewhere = (((person_mask & ~personal_bits) == 0)
                 & ((mask & (_HOUSEHOLD_BITS | _IP_BIT)) == 0))
    # one registered name at one home in a burst of coupon-only accounts: a naive farmer
    # (a family signing up together for its coupons registers its members' own names)
    burst_evidence = (n_person >= 1) | ((n_household >= 1) & names.agree)
    # the same mailbox AND the same phone number (both held at one time) are one person
    # whatever the registered names say ("Sam Lee" and "Samuel Lee"): a family may share a
    # mailbox, or a parent's phone may sit on a child's account, but not both
    both_personal = (1 << _CLASSES.index("email")) | (1 << _CLASSES.index("phone"))
    same_mailbox = ((person_mask & both_personal) == both_personal) & ~recycled

    def no_identity_apart(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        # x has no phone, card or device of its own, nor one the other lacks: a family
        # member whose card and phone sit on their own second account is someone apart
        return ~facts.own_identity[x] & (facts.identities[x] <= summary.shared_identities)
    return np.select(
        [burst_evidence & burst,
         (n_person >= 1) & throwaway,
         same_mailbox,
         (n_person >= 1) & names.conflict & elsewhere,
         (n_person >= 1) & names.conflict & ~recycled,
         (n_person >= 1) & names.conflict & (n_household >= 1),
         (n_person >= 1) & names.conflict,
         n_person >= 2,
         (n_person == 1) & shares_physical_only & two_phones & names.compatible,
         (n_person == 1) & names.compatible,
         (n_person == 1) & (no_identity_apart(a, b) | no_identity_apart(b, a)),
         (n_person == 1) & shares_personal & ~two_phones,
         n_person == 1,
         n_household >= 1],
        [_BURST, _THROWAWAY, _MULTI, _ELSEWHERE, _CONFLICT, _HOME, _RECYCLED, _MULTI,
         _TWO_PHONES, _NAME,
         _NO_OWN, _PERSONAL, _SINGLE, _HOME],
        default=_WEAK,
    )


def pair_tier_codes(reasons: np.ndarray) -> np.ndarray:
    """Tier code (index into ``TIER_CODES``) per pair, from :func:`pair_reasons`."""
    return np.asarray(_TIER_CODE_OF_REASON, dtype=np.int64)[reasons]


def pair_tier_frame(
    coded: CodedIncidence, summary: PairSummary, reasons: np.ndarray
) -> pd.DataFrame:
    """One row per pair with evidence: schemas.PAIR_TIER_COLUMNS, sorted by account_a, account_b."""
    a, b, mask = summary.a, summary.b, summary.mask
    n_person = _popcount(mask & _PERSON_BITS)
    n_household = _popcount(mask & _HOUSEHOLD_BITS)
    # the words depend on (mask, reason) alone: built once per combination
    combo = mask.astype(np.int64) * _N_REASONS + reasons
    # combinations are small integers: a counting pass, not a sort, finds the distinct ones
    distinct = np.flatnonzero(np.bincount(combo)) if len(combo) else combo
    inverse = np.zeros(int(distinct.max(initial=0)) + 1, dtype=np.int64)
    inverse[distinct] = np.arange(len(distinct))
    inverse = inverse[combo]
    words = [_words(int(c) // _N_REASONS, int(c) % _N_REASONS) for c in distinct]
    return pd.DataFrame({
        s.ACCOUNT_A: account_column(coded, a),
        s.ACCOUNT_B: account_column(coded, b),
        s.TIER: categorical(pair_tier_codes(reasons), TIER_CODES),
        s.WEIGHT: summary.weight.astype(np.float64),
        s.N_PERSON_KINDS: n_person.astype(np.int64),
        s.N_HOUSEHOLD_KINDS: n_household.astype(np.int64),
        s.CORROBORATION: categorical(inverse, words),
    }, copy=False)  # the new arrays as they are, not copied again


def _popcount(values: np.ndarray) -> np.ndarray:
    counts = np.zeros(len(values), dtype=np.int8)  # at most eight classes
    for bit in range(len(_CLASSES)):
        counts += (values >> bit) & 1
    return counts


#: the words of each rule, ``{shared}`` the person-level kinds the pair shares
_REASON_WORDS = {
    _BURST: "shared {shared}; burst of coupon-only or disposable-mailbox accounts",
    _CONFLICT: "shared {shared}; registered names differ: family",
    _RECYCLED: "shared {shared} never held at the same time by differently named accounts: "
               "recycled, weak",
    _THROWAWAY: "shared {shared}; account has no own phone or card and only farmed coupons",
    _ELSEWHERE: "shared {shared} only, registered names differ, no home in common: weak",
    _NAME: "shared {shared}; same registered name",
    _NO_OWN: "shared {shared}; account has no own identity",
    _PERSONAL: "shared {shared}; one person's identifier",
    _SINGLE: "single shared {shared}: family or same person",
    _TWO_PHONES: "shared {shared}; each account has its own phone: family or same person",
    _HOME: "shared address: household",
}


def _words(mask: int, reason: int) -> str:
    """The corroboration in words, e.g. ``card+device`` or ``single shared card: ...``."""
    names = [c for i, c in enumerate(_CLASSES) if mask >> i & 1]
    person = [c for c in names if (1 << _CLASSES.index(c)) & _PERSON_BITS]
    strong = [c for c in names if (1 << _CLASSES.index(c)) & (_PERSON_BITS | _HOUSEHOLD_BITS)]
    weak = [c for c in names if (1 << _CLASSES.index(c)) & _WEAK_BITS]
    shared = "+".join(person)
    if reason == _MULTI:
        text = "+".join(strong)
    elif reason == _BURST and not person:
        text = "shared address under one registered name; burst of coupon-only or " \
               "disposable-mailbox accounts"
        also = [c for c in weak if c != "name"]
        return f"{text} (also {'+'.join(also)})" if also else text
    elif reason in _REASON_WORDS:
        text = _REASON_WORDS[reason].format(shared=shared)
    else:
        return f"shared {'+'.join(weak)} only: weak"
    if reason == _MULTI:
        also = weak
    elif reason == _HOME:
        also = person + weak
    else:
        also = [c for c in strong if c not in person] + weak
    return f"{text} (also {'+'.join(also)})" if also else text
