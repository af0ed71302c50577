"""Word rules and text primitives: the fast paths give exactly what the plain rules give."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkgraph.normalize.address import ABBREVIATIONS
from linkgraph.normalize.text import _COMBINING, SPACES, TEXT, as_text, fold
from linkgraph.normalize.words import latin_words, replace_words, word_rules


def _regex_passes(text: pd.Series, abbreviations: dict[str, tuple[str, ...]]) -> pd.Series:
    """The abbreviation table as the regular-expression passes it stands for."""
    padded = " " + text.str.replace(" +", "  ", regex=True) + " "
    for canonical, spellings in abbreviations.items():
        alternatives = "|".join(re.escape(s).replace("\\ ", "  ") for s in spellings)
        target = f" {canonical} " if canonical else " "
        padded = padded.str.replace(f" (?:{alternatives}) ", target, regex=True)
    return padded.str.replace(" +", " ", regex=True).str.strip()


_VOCABULARY = sorted({w for spellings in ABBREVIATIONS.values() for s in spellings
                      for w in s.split(" ")} | set(ABBREVIATIONS) - {""}
                     | {"mira", "5", "12a", "б", "р", "t", "т", "lenina"})
_text = st.lists(st.sampled_from(_VOCABULARY), max_size=7).map(" ".join)


@settings(max_examples=60, deadline=None)
@given(st.lists(_text, min_size=1, max_size=30))
def test_word_table_gives_what_the_regex_passes_give(values):
    text = pd.Series(values, dtype=TEXT)
    rules = word_rules(ABBREVIATIONS)
    assert replace_words(text, rules).str.strip().tolist() == \
        _regex_passes(text, ABBREVIATIONS).tolist()


@pytest.mark.parametrize(("street", "expected"), [
    ("12 main st", "12 main street"),
    ("pr t mira 5", "prospekt t mira 5"),  # "pr" takes the word before "pr t" can
    ("цветной б р 2", "цветной boulevard 2"),
    ("б б р", "б boulevard"),
    ("d 5 kv", "5 kv"),
    ("", ""),
])
def test_word_table_examples(street, expected):
    rules = word_rules(ABBREVIATIONS)
    assert replace_words(pd.Series([street], dtype=TEXT), rules).tolist() == [expected]


def test_a_two_word_spelling_the_table_cannot_express_is_refused():
    with pytest.raises(ValueError, match="unsupported"):
        word_rules({"": ("d",), "boulevard": ("b r",)})  # words removed before the pair


@pytest.mark.parametrize(("cyrillic", "latin"), [
    ("ленина", "lenina"),
    ("большая садовая", "bolshaya sadovaya"),
    ("щорса", "shchorsa"),
    ("жукова", "zhukova"),
    ("хохлова", "khokhlova"),
    ("юбилейная", "yubileynaya"),
    ("подъездная", "podezdnaya"),
    ("4а", "4a"),
    ("ленина ulitsa 5", "lenina ulitsa 5"),
    ("hauptstrasse 5", "hauptstrasse 5"),  # no Cyrillic: unchanged
    ("東京 1", "東京 1"),  # other scripts are not transliterated
])
def test_cyrillic_words_are_written_in_latin_letters(cyrillic, latin):
    assert latin_words(pd.Series([cyrillic], dtype=TEXT)).tolist() == [latin]


def _plain_fold(values: pd.Series) -> pd.Series:
    text = as_text(values)
    text = text.str.normalize("NFKD").str.replace(_COMBINING, "", regex=True)
    text = text.str.lower().str.replace("ß", "ss", regex=False)
    return text.str.replace(SPACES, " ", regex=True).str.strip()


_CHARS = list("aZ9 ß\t\n\r\x0b\x0c\u00a0\u2000\u200b\u3000\u1680ÉéёЁ\u212a\u0301.-") + ["  "]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.none(), st.lists(st.sampled_from(_CHARS), max_size=8).map("".join),
                          st.text(max_size=8)), min_size=1, max_size=30))
def test_fold_fast_paths_give_what_the_plain_fold_gives(values):
    series = pd.Series(values, dtype=object)
    assert fold(series).tolist() == _plain_fold(series).tolist()
