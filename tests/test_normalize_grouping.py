"""Grouping identifier rows on integer codes gives what a string groupby gives (issue 10)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from linkgraph.normalize.grouping import NAT, SourceRows, decode, group_kind, source_rows
from linkgraph.normalize.text import TEXT


def _lower(values: pd.Series) -> pd.DataFrame:
    value = values.str.strip().str.lower()
    return pd.DataFrame({"value": value,
                         "suppressed": value.where(value == "x").str.replace("x", "invalid")})


_ROW = st.tuples(st.integers(-1, 3), st.sampled_from([None, "a", " A", "b", "B ", "x", "X"]),
                 st.one_of(st.none(), st.integers(0, 100)))


@settings(max_examples=80, deadline=None)
@given(st.lists(_ROW, max_size=25), st.lists(_ROW, min_size=1, max_size=25))
def test_two_sources_group_like_a_string_groupby(first: list, second: list) -> None:
    def part(source: str, rows: list) -> SourceRows:
        times = np.array([NAT if t is None else t for _, _, t in rows], dtype=np.int64)
        return source_rows(source, np.array([a for a, _, _ in rows], dtype=np.int64),
                           pd.Series([v for _, v, _ in rows], dtype=TEXT), times,
                           np.where(times == NAT, NAT, times + 1))

    grouped = group_kind("k", [part("t.b", first), part("t.a", second)], _lower)
    got = pd.DataFrame({
        "account": grouped.account, "value": decode(grouped.value, grouped.values),
        "first": grouped.first, "last": grouped.last,
        "source": [grouped.sources[c] for c in grouped.source],
        "suppressed": decode(grouped.suppressed, grouped.reasons),
    }).sort_values(["account", "value"], ignore_index=True)

    rows = pd.DataFrame(
        [(a, v, t, "t.b") for a, v, t in first] + [(a, v, t, "t.a") for a, v, t in second],
        columns=["account", "raw", "time", "source"])
    rows = rows[(rows.account >= 0) & rows.raw.notna()]
    rows = rows.assign(value=rows.raw.str.strip().str.lower())
    expected = rows.groupby(["account", "value"], as_index=False).agg(
        first=("time", "min"), last=("time", "max"), source=("source", "min"))
    expected["first"] = expected["first"].fillna(NAT).astype(np.int64)
    expected["last"] = (expected["last"] + 1).fillna(NAT).astype(np.int64)
    assert got["account"].tolist() == expected["account"].tolist()
    assert got["value"].tolist() == expected["value"].tolist()
    assert got["first"].tolist() == expected["first"].tolist()
    assert got["last"].tolist() == expected["last"].tolist()
    assert got["source"].tolist() == expected["source"].tolist()
    assert got["suppressed"].fillna("").tolist() == [
        "invalid" if v == "x" else "" for v in expected["value"]]
