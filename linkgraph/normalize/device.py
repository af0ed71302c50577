"""Device ids: trimmed and lower-cased; placeholder ids are junk (see ``junk.py``).

``  A1B2C3D4-E5F6-0000-1111-222233334444 `` -> ``a1b2c3d4-e5f6-0000-1111-222233334444``.
An advertising id switched off by the user (``00000000-0000-0000-0000-000000000000``),
``unknown`` or an id shorter than a few characters identifies no one: the
junk rules suppress them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from linkgraph.normalize.text import TEXT, as_text, map_distinct


def normalize_devices(values: pd.Series, *, distinct: bool = False) -> pd.DataFrame:
    """Device ids -> ``value`` (trimmed, lower case, inner whitespace removed) and ``suppressed``.

    Args:
        values: raw device ids (any index; NA and blanks stay NA).
        distinct: the non-NA values are distinct already (not hashed again).

    Returns:
        A frame aligned with ``values``: ``value`` and ``suppressed`` (always
        NA here: placeholder ids are the junk rules' business).

    >>> normalize_devices(pd.Series([" Dev-9F8E7D6C ", "dev-9f8e7d6c", None])).to_numpy().tolist()
    [['dev-9f8e7d6c', <NA>], ['dev-9f8e7d6c', <NA>], [<NA>, <NA>]]
    """

    def _normalize(raw: pd.Series) -> pd.DataFrame:
        value = raw.str.strip().str.lower().str.replace(r"[ \t\r\n]+", "", regex=True)
        value = value.mask(value.str.len() == 0)
        return pd.DataFrame({
            "value": value,
            "suppressed": pd.Series(np.full(len(raw), None), dtype=TEXT),
        })

    result = map_distinct(as_text(values), _normalize, distinct=distinct)
    assert isinstance(result, pd.DataFrame)
    return result
