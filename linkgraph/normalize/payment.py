"""Payment methods: the provider's card fingerprint, else bin + last4 + expiry.

- ``card``: the payment provider's fingerprint (the same card gives the same
  token whatever account adds it), trimmed, case kept (tokens are
  case-sensitive): `` fp_9Xa1 `` -> ``fp_9Xa1``;
- ``card_digits``, only when there is no fingerprint and all three parts are
  present: ``bin|last4|MMYY`` with the BIN cut to its first 6 digits (8-digit
  and 6-digit BINs of one card meet) and the expiry read from ``MM/YY``,
  ``MM/YYYY``, ``MMYY``, ``M/YY``, ``MM-YY`` or ``YYYY-MM``:
  (``4242 42``, ``4242``, ``12/2026``) -> ``424242|4242|1226``. Many cards share
  a BIN and last4; the expiry makes the key rarer but it stays weaker than a
  fingerprint.
"""

from __future__ import annotations

import string
from itertools import pairwise

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from linkgraph.normalize.name import names_agree, normalize_names
from linkgraph.normalize.text import TEXT, as_text, extract, keep_ascii, map_distinct

_EXPIRY = (
    r"^(?:(?P<month>[0-9]{1,2})[ /.\-]*(?P<year>[0-9]{4}|[0-9]{2})"
    r"|(?P<year4>[0-9]{4})[/\-](?P<month2>[0-9]{1,2}))$"
)


def normalize_fingerprints(values: pd.Series) -> pd.DataFrame:
    """Provider card fingerprints -> ``value`` (trimmed) and ``suppressed`` (NA).

    >>> normalize_fingerprints(pd.Series([" fp_9Xa1 ", None])).to_numpy().tolist()
    [['fp_9Xa1', <NA>], [<NA>, <NA>]]
    """
    value = as_text(values).str.strip()
    return pd.DataFrame({"value": value, "suppressed": pd.Series(pd.NA, index=values.index,
                                                                  dtype=TEXT)})


def normalize_expiry(values: pd.Series) -> pd.Series:
    """Card expiry dates -> ``MMYY`` (NA when unreadable or the month is not 1-12).

    >>> normalize_expiry(pd.Series(["12/26", "12/2026", "1226", "1/27", "2026-12", "13/26"])).tolist()
    ['1226', '1226', '1226', '0127', '1226', <NA>]
    """

    def _parse(raw: pd.Series) -> pd.Series:
        parts = extract(raw.str.strip(), _EXPIRY).replace("", pd.NA)
        month = parts["month"].fillna(parts["month2"])
        year = parts["year"].fillna(parts["year4"]).str.slice(-2)
        number = pd.to_numeric(month, errors="coerce")
        ok = np.array(number.between(1, 12).fillna(False), dtype=bool)
        return (month.str.zfill(2) + year).where(ok).astype(TEXT)

    result = map_distinct(as_text(values), _parse)
    assert isinstance(result, pd.Series)
    return result


def card_digits(bins: pd.Series, last4: pd.Series, expiry: pd.Series,
                holders: pd.Series | None = None, *, namesakes: bool = True) -> pd.DataFrame:
    """The ``bin|last4|MMYY`` key where all three parts are readable, else NA.

    With ``holders``, the holder's initials (:func:`holder_initials`) are appended
    (``bin|last4|MMYY|AP``): at a marketplace's scale strangers' cards share a
    BIN, last four digits and expiry, and the name embossed on the card tells
    them apart (``PETRA KOENIG`` and ``Nicole Fischer`` hold two cards).

    Args:
        bins: card BINs (6 or 8 digits; spaces and dashes ignored).
        last4: the card's last four digits.
        expiry: expiry dates (see :func:`normalize_expiry`).
        holders: the names on the cards, aligned with ``bins``.
        namesakes: tell apart the holders of one key who are not one person
            (:func:`namesakes_apart`). That rule reads every row of a key: without it
            the result is per row, and a caller holding the rows in parts (the Spark
            engine) applies it to each key's distinct holders.

    Returns:
        A frame aligned with ``bins``: ``value`` and ``suppressed`` (NA).

    >>> card_digits(pd.Series(["4242 4242", "555555"]), pd.Series(["4242", "4444"]),
    ...             pd.Series(["12/2026", None])).to_numpy().tolist()
    [['424242|4242|1226', <NA>], [<NA>, <NA>]]
    >>> card_digits(pd.Series(["424242"] * 2), pd.Series(["4242"] * 2), pd.Series(["12/26"] * 2),
    ...             pd.Series(["A. Petrova", None]))["value"].tolist()
    ['424242|4242|1226|AP', '424242|4242|1226']
    """
    bin6 = keep_ascii(as_text(bins), string.digits).str.slice(0, 6)
    bin6 = bin6.where(bin6.str.len() == 6)
    tail = keep_ascii(as_text(last4), string.digits)
    tail = tail.where(tail.str.len() == 4)
    tail.index = bin6.index
    month_year = normalize_expiry(expiry)
    month_year.index = bin6.index
    value = (bin6 + "|" + tail + "|" + month_year).astype(TEXT)
    if holders is not None:
        holders = as_text(holders).set_axis(bin6.index)
        initials = map_distinct(holders, holder_initials)
        value = value.where(initials.isna(), value + "|" + initials)
        if namesakes:
            value = namesakes_apart(value, holders)
    return pd.DataFrame({"value": value, "suppressed": pd.Series(pd.NA, index=bins.index,
                                                                  dtype=TEXT)})


def namesakes_apart(keys: pd.Series, holders: pd.Series) -> pd.Series:
    """``keys``, with the holders of one key who are not one person told apart.

    Two strangers' cards can share a BIN, last four, expiry and initials
    (``MEGAN WHITE`` and ``Michael Wright``, both ``MW``); at ten million
    accounts they do. Where a key's holders are several names, they are
    grouped by :func:`~linkgraph.normalize.name.names_agree` (equal, or one
    initial apart: ``J. Doe`` and ``JOHN DOE`` stay one card), and each group
    after the first in sorted order gets its smallest name appended
    (``...|MW|michael wright``). A key with one name, or holders that are no
    valid name, is unchanged. Only the few keys with several spellings meet
    the name rules.

    >>> keys = pd.Series(["k|MW", "k|MW", "k|MW", "k|DJ", "k|DJ"])
    >>> holders = pd.Series(["Megan White", "Michael Wright", "MEGAN WHITE", "J. Doe", "JOHN DOE"])
    >>> namesakes_apart(keys, holders).tolist()
    ['k|MW', 'k|MW|michael wright', 'k|MW', 'k|DJ', 'k|DJ']
    """
    key_code, _ = pd.factorize(keys)
    holder_code, holder_names = pd.factorize(holders)
    width = len(holder_names) + 1  # a (key, holder) pair is key * width + holder
    known = (key_code >= 0) & (holder_code >= 0)
    pairs = _distinct(key_code[known] * width + holder_code[known])
    pair_key = pairs // width
    several = np.bincount(pair_key, minlength=1) > 1
    if not several.any():
        return keys
    pairs = pairs[several[pair_key]]
    pair_key, pair_holder = pairs // width, pairs % width
    names = normalize_names(pd.Series(np.asarray(holder_names)[pair_holder], dtype=TEXT))
    valid = names["suppressed"].isna().to_numpy() & names["value"].notna().to_numpy()
    # the pairs are sorted by key: each key's valid spellings are one run
    at = np.flatnonzero(valid)
    run_key = pair_key[at]
    spelled_all = names["value"].to_numpy(dtype=object, na_value=None)[at].tolist()
    bounds = np.flatnonzero(np.r_[True, run_key[1:] != run_key[:-1], True]).tolist()
    split_pairs: list[int] = []
    suffixes: list[str] = []
    # a Python loop over the keys that several spellings share (a few percent of the
    # cards); the names are compared only where a key has two different spellings
    for start, end in pairwise(bounds):
        spelled = spelled_all[start:end]
        distinct = sorted(set(spelled))
        if len(distinct) < 2:
            continue
        groups = _agreeing_groups(distinct)
        first = distinct[0]  # the group of the smallest name keeps the key as it is
        for offset, name in enumerate(spelled):
            if groups[name] != first:
                split_pairs.append(int(run_key[start]) * width
                                   + int(pair_holder[at[start + offset]]))
                suffixes.append(groups[name])
    if not split_pairs:
        return keys
    order = np.argsort(split_pairs)
    split_pairs_sorted = np.asarray(split_pairs, dtype=np.int64)[order]
    row_pair = np.where(known, key_code * width + holder_code, -1)
    slot = np.clip(np.searchsorted(split_pairs_sorted, row_pair), 0, len(order) - 1)
    split = known & (split_pairs_sorted[slot] == row_pair)
    suffix = np.asarray(suffixes, dtype=object)[order][slot[split]]
    out = keys.copy()
    out[split] = (keys[split] + "|" + pd.Series(suffix, index=keys.index[split], dtype=TEXT))
    return out


def _distinct(codes: np.ndarray) -> np.ndarray:
    """The sorted distinct ``codes`` (``np.unique``'s answer, by a sort: numpy 2.4's hashed
    unique of integers is ~20x slower at a million codes).

    >>> _distinct(np.array([3, 1, 3])).tolist()
    [1, 3]
    """
    ordered = np.sort(codes)
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]] if len(ordered) else ordered


def _agreeing_groups(names: list[str]) -> dict[str, str]:
    """Each of the sorted ``names``, mapped to the smallest name it is joined to by a
    chain of agreeing names (equal, or one initial apart).

    >>> _agreeing_groups(["a petrova", "alla petrova", "anna petrova", "ivan petrov"])["anna petrova"]
    'a petrova'
    """
    parent = list(range(len(names)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, left in enumerate(names):
        for j in range(i + 1, len(names)):
            if names_agree(left, names[j]):
                a, b = root(i), root(j)
                parent[max(a, b)] = min(a, b)  # names are sorted: the smaller index is the root
    return {name: names[root(i)] for i, name in enumerate(names)}


def holder_initials(holders: pd.Series) -> pd.Series:
    """A card holder's name as the card key uses it: the initials of its words, sorted
    (``PETRA KOENIG`` -> ``KP``); NA without a word.

    Word order, case, spelled-out or initialled first names and punctuation do
    not matter (``J. Doe``, ``JOHN DOE``, ``Doe, John``): they are how one card is
    written in two feeds, while two strangers' names rarely share all initials.

    >>> holder_initials(pd.Series(["Paul Mayer", " MAYER, P.", "Nicole Fischer", "-", None])
    ...                 ).tolist()
    ['MP', 'MP', 'FN', <NA>, <NA>]
    """
    text = pa.array(as_text(holders).to_numpy(dtype=object, na_value=None), type=pa.string())
    letters = pc.replace_substring_regex(pc.utf8_upper(text), pattern=r"[^\p{L}]+",
                                         replacement=" ")
    words = pc.utf8_split_whitespace(pc.utf8_trim_whitespace(letters)).to_pylist()
    initials = ["".join(sorted(w[0] for w in ws if w)) or None if ws else None
                for ws in words]
    return pd.Series(initials, index=holders.index, dtype=TEXT)
