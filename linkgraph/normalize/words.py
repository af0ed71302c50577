"""Word-level rules for address text: abbreviation tables and Cyrillic in Latin letters.

Both work on the space-separated words of many values at once: the values are
split in Arrow, every *distinct* word is looked up or transliterated once, and
the words are joined again, so a rule costs one hash per word, not one Python
call per value.

- :func:`replace_words` writes abbreviations one way from a table of
  canonical word -> spellings (``St``/``Str``/``Street`` -> ``street``);
- :func:`latin_words` writes Cyrillic words in Latin letters (``ленина`` ->
  ``lenina``) with the ``anyascii`` tables (ISC licence), so that one street
  typed in either script (``ул. Ленина 5``, ``ul. Lenina 5``) gives one key.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from anyascii import anyascii

from linkgraph.normalize.text import TEXT, apply_where, to_text

#: Cyrillic letters (Russian, Ukrainian, Belarusian, Kazakh... U+0400-U+04FF)
CYRILLIC = "[\u0400-\u04ff]"
#: soft and hard signs: dropped, as Latin spellings do (``Большая`` -> ``bolshaya``)
_SIGNS = str.maketrans("", "", "ьъЬЪ")


@dataclass(frozen=True)
class WordRules:
    """An abbreviation table folded for one lookup per word (see :func:`word_rules`)."""

    spellings: pa.Array
    canonical: pa.Array
    pairs: dict[tuple[str, str], str]


def word_rules(abbreviations: dict[str, tuple[str, ...]]) -> WordRules:
    """An abbreviation table as one word table and a table of two-word spellings.

    The table reads as passes over the words, one per canonical word in table
    order: a whole word (or two adjacent words) equal to one of the spellings
    becomes the canonical word (``""``: the word is dropped), the first listed
    spelling winning (so ``pr t`` after ``pr`` never applies: ``pr`` already
    took the word). The passes are folded into one lookup per word.

    Raises:
        ValueError: a two-word spelling the single lookup cannot express (one
            whose words earlier passes change, or that shares a word with another).

    >>> rules = word_rules({"street": ("st", "str"), "boulevard": ("blvd", "b r"), "": ("d",)})
    >>> replace_words(pd.Series([" 5  st ", "d 2 b r", None], dtype=TEXT), rules).tolist()
    ['5 street', '2 boulevard', <NA>]
    """
    passes = list(abbreviations.items())

    def after(word: str, start: int) -> str:
        for canonical, spellings in passes[start:]:
            if word and word in spellings:
                word = canonical
        return word

    words: dict[str, str] = {}
    pairs: dict[tuple[str, str], str] = {}
    for j, (canonical, spellings) in enumerate(passes):
        earlier = {s for _, spelt in passes[:j] for s in spelt} | {c for c, _ in passes[:j]}
        for position, spelling in enumerate(spellings):
            parts = tuple(spelling.split(" "))
            if len(parts) == 1:
                words.setdefault(spelling, after(spelling, 0))
                continue
            if parts[0] in spellings[:position]:
                continue  # the first word alone matches first
            if (len(parts) != 2 or parts[0] == parts[1] or set(parts) & earlier
                    or any(not c for c, _ in passes[:j])):
                raise ValueError(f"abbreviation {spelling!r}: unsupported rule shape")
            pairs[(parts[0], parts[1])] = after(canonical, j + 1)
    paired = [w for pair in pairs for w in pair]
    if len(paired) != len(set(paired)):
        raise ValueError("abbreviations: a word starts or ends two two-word spellings")
    return WordRules(
        spellings=pa.array(list(words), type=pa.large_string()),
        canonical=pa.array(list(words.values()), type=pa.large_string()),
        pairs=pairs,
    )


@dataclass(frozen=True)
class _Split:
    """The non-empty words of ``n`` values, in order, with the value each belongs to."""

    words: pa.Array
    parent: np.ndarray
    nulls: pa.Array
    n: int


def _split(text: pd.Series) -> _Split:
    array = to_text(text).array.__arrow_array__()
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    lists = pc.split_pattern(array, " ")
    words = pc.list_flatten(lists)
    parent = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False)
    present = _flags(pc.not_equal(words, ""))
    return _Split(words.filter(pa.array(present)), parent[present], array.is_null(), len(array))


def _joined(split: _Split, words: pa.Array, keep: np.ndarray, index: pd.Index) -> pd.Series:
    """``words`` (aligned with ``split.words``) where ``keep``, joined by single spaces."""
    words = words.filter(pa.array(keep))
    counts = np.bincount(split.parent[keep], minlength=split.n)
    offsets = pa.array(np.r_[0, np.cumsum(counts)], type=pa.int64())
    joined = pc.binary_join(pa.LargeListArray.from_arrays(offsets, words),
                            pa.scalar(" ", pa.large_string()))
    joined = pc.if_else(split.nulls, pa.scalar(None, pa.large_string()), joined)
    return pd.Series(TEXT.__from_arrow__(pa.chunked_array([joined])), index=index)


def _flags(array: pa.Array) -> np.ndarray:
    return np.asarray(array.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def replace_words(text: pd.Series, rules: WordRules) -> pd.Series:
    """Abbreviations written one way, words joined by single spaces (NA stays NA).

    Equal to running the passes of :func:`word_rules` as regular expressions
    over space-padded text, one per canonical word (the tests check both ways
    agree), at the cost of one lookup per word.
    """
    if not len(text):
        return text
    split = _split(text)
    tokens = split.words
    pair_start = np.zeros(len(tokens), dtype=bool)
    pair_code = np.full(len(tokens), -1, dtype=np.int64)
    for number, (first, second) in enumerate(rules.pairs):
        starts = np.flatnonzero(_flags(pc.equal(tokens, first))[:-1]
                                & _flags(pc.equal(tokens, second))[1:]
                                & (split.parent[:-1] == split.parent[1:]))
        pair_start[starts] = True
        pair_code[starts] = number
    pair_end = np.r_[False, pair_start[:-1]]
    found = pc.index_in(tokens, value_set=rules.spellings).fill_null(-1)
    code = np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.int64)
    code[pair_start | pair_end] = -1
    words = pc.if_else(pa.array(code >= 0),
                       rules.canonical.take(pa.array(np.maximum(code, 0))), tokens)
    if pair_start.any():
        outputs = list(rules.pairs.values())
        starts = np.flatnonzero(pair_start)
        words = pc.replace_with_mask(words, pa.array(pair_start), pa.array(
            [outputs[c] for c in pair_code[starts]], type=pa.large_string()))
    keep = ~pair_end & _flags(pc.not_equal(words, ""))
    return _joined(split, words, keep, text.index)


def latin_words(text: pd.Series) -> pd.Series:
    """Cyrillic words of folded text in Latin letters; other values unchanged.

    Each distinct Cyrillic word is transliterated once (``anyascii``, soft
    and hard signs dropped, lower case); words are then joined by single
    spaces. Only Cyrillic is transliterated: it reads one way in Latin
    letters, while other scripts (Chinese, say) would merge different words.

    >>> latin_words(pd.Series(["ленина ulitsa 5", "4а", "bolshaya", "большая", None],
    ...                       dtype=TEXT)).tolist()
    ['lenina ulitsa 5', '4a', 'bolshaya', 'bolshaya', <NA>]
    """
    text = to_text(text)
    if not len(text):
        return text
    cyrillic = _flags(pc.match_substring_regex(text.array.__arrow_array__(), CYRILLIC))
    return apply_where(text, cyrillic, _latin)


def _latin(text: pd.Series) -> pd.Series:
    split = _split(text)
    encoded = split.words.dictionary_encode()
    distinct = encoded.dictionary.to_pylist()
    latin = pa.array([anyascii(w.translate(_SIGNS)).lower() if _is_cyrillic(w) else w
                      for w in distinct], type=pa.large_string())
    words = latin.take(encoded.indices)
    return _joined(split, words, _flags(pc.not_equal(words, "")), text.index)


def _is_cyrillic(word: str) -> bool:
    return any("\u0400" <= c <= "\u04ff" for c in word)
