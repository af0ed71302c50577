"""Personal names: case-folded, accents stripped, tokens sorted.

``  José   DOE `` -> ``doe jose``; ``Doe, John`` = ``John Doe`` -> ``doe john``;
``Jean-Luc O'Neil`` -> ``jean luc oneil``; courtesy titles (Mr, Mrs, Dr...)
are dropped. A name of one token (``John``) identifies no one:
``suppressed = "invalid"``. Names are weak evidence whatever their form.
"""

from __future__ import annotations

import pandas as pd

from linkgraph.normalize.text import TEXT, as_text, fold, map_distinct, reasons

#: courtesy titles and honorifics dropped from names; generational suffixes (Jr, II, III)
#: are kept: they tell a father from his son, whom the same-name rule would otherwise join
TITLES: frozenset[str] = frozenset({
    "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "madam", "herr", "frau",
    "mme", "mlle", "m", "sr", "sra", "srta",
})


def normalize_names(values: pd.Series, *, distinct: bool = False) -> pd.DataFrame:
    """Names -> ``value`` (sorted folded tokens) and ``suppressed`` (``invalid`` for one token).

    Args:
        values: raw names (any index; NA and blanks stay NA).
        distinct: the non-NA values are distinct already (not hashed again).

    Returns:
        A frame aligned with ``values``.

    >>> names = pd.Series(["John Doe", "DOE,  john", "Zoë O'Neil-Smith", "Mr. John", "!!"])
    >>> normalize_names(names).to_numpy().tolist()  # doctest: +NORMALIZE_WHITESPACE
    [['doe john', <NA>], ['doe john', <NA>], ['oneil smith zoe', <NA>], ['john', 'invalid'],
     ['!!', 'invalid']]
    """
    result = map_distinct(as_text(values), _normalize_distinct, distinct=distinct)
    assert isinstance(result, pd.DataFrame)
    return result


def _normalize_distinct(raw: pd.Series) -> pd.DataFrame:
    folded = fold(raw)
    # apostrophes join (O'Neil = ONeil); any other non-letter separates tokens
    letters = folded.str.replace("['’`´]", "", regex=True)
    letters = letters.str.replace("[^a-z\u00c0-\U0010ffff]+", " ", regex=True).str.strip()
    tokens = letters.str.split(" ").to_numpy(dtype=object, na_value=None)
    keys = [
        None if t is None else " ".join(sorted(w for w in t if w and w not in TITLES))
        for t in tokens
    ]
    key = pd.Series(keys, dtype=TEXT).replace("", pd.NA)
    n_tokens = key.str.count(" ").fillna(-1).to_numpy() + 1
    valid = n_tokens >= 2
    value = key.where(valid, key.fillna(folded))
    suppressed = reasons(~valid, "invalid")
    return pd.DataFrame({"value": value.astype(TEXT), "suppressed": suppressed})


def names_agree(left: str, right: str) -> bool:
    """True when two normalised names are equal or differ by one initial.

    Keys are sorted tokens (``anna petrova``); ``A. Petrova`` is ``a petrova``.

    >>> names_agree("anna petrova", "anna petrova")
    True
    >>> names_agree("a petrova", "anna petrova"), names_agree("a petrova", "ivan petrova")
    (True, False)
    >>> names_agree("anna petrova", "anna ivanova"), names_agree("b petrova", "anna petrova")
    (False, False)
    """
    if left == right:
        return True
    left_tokens, right_tokens = left.split(), right.split()
    if len(left_tokens) != len(right_tokens):
        return False
    only_left = list(left_tokens)
    only_right = []
    for token in right_tokens:
        if token in only_left:
            only_left.remove(token)
        else:
            only_right.append(token)
    if len(only_left) != 1 or len(only_right) != 1:
        return False
    short, long = sorted((only_left[0], only_right[0]), key=len)
    return len(short) == 1 and len(long) > 1 and long.startswith(short)
