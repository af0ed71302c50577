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

import numpy as np
import pandas as pd

from linkgraph.normalize.text import TEXT, as_text, extract, map_distinct

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


def card_digits(bins: pd.Series, last4: pd.Series, expiry: pd.Series) -> pd.DataFrame:
    """The ``bin|last4|MMYY`` key where all three parts are readable, else NA.

    Args:
        bins: card BINs (6 or 8 digits; spaces and dashes ignored).
        last4: the card's last four digits.
        expiry: expiry dates (see :func:`normalize_expiry`).

    Returns:
        A frame aligned with ``bins``: ``value`` and ``suppressed`` (NA).

    >>> card_digits(pd.Series(["4242 4242", "555555"]), pd.Series(["4242", "4444"]),
    ...             pd.Series(["12/2026", None])).to_numpy().tolist()
    [['424242|4242|1226', <NA>], [<NA>, <NA>]]
    """
    bin6 = as_text(bins).str.replace("[^0-9]", "", regex=True).str.slice(0, 6)
    bin6 = bin6.where(bin6.str.len() == 6)
    tail = as_text(last4).str.replace("[^0-9]", "", regex=True)
    tail = tail.where(tail.str.len() == 4)
    tail.index = bin6.index
    month_year = normalize_expiry(expiry)
    month_year.index = bin6.index
    value = (bin6 + "|" + tail + "|" + month_year).astype(TEXT)
    return pd.DataFrame({"value": value, "suppressed": pd.Series(pd.NA, index=bins.index,
                                                                  dtype=TEXT)})
