"""The Arrow CSV writer writes, byte for byte, what pandas' ``to_csv`` writes (issue 10)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkgraph import report

# the characters that change a cell: quoting, formula guards, blanks, controls, bidi marks
_TRICKY = st.sampled_from(list(',"\n\r=+-@ \t\u3000\u200b\uff1d\x85\xa0\u202e\x00\'ab1.é'))
_CELLS = st.one_of(st.none(), st.text(_TRICKY, max_size=6), st.text(max_size=4))


def _pandas_csv(frame: pd.DataFrame, path: Path) -> bytes:
    report.safe_csv_frame(frame).to_csv(path, index=False, encoding="utf-8", lineterminator="\n",
                                        date_format="%Y-%m-%dT%H:%M:%SZ")
    return path.read_bytes()


def _arrow_csv(frame: pd.DataFrame, path: Path) -> bytes:
    report._write_csv(frame, path, bom=False)
    return path.read_bytes()


@settings(max_examples=60, deadline=None)
@given(cells=st.lists(_CELLS, min_size=1, max_size=30), seed=st.integers(0, 2**32 - 1))
def test_text_numbers_flags_and_times_are_written_as_pandas_writes_them(
    tmp_path_factory: pytest.TempPathFactory, cells: list[str | None], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    n = len(cells)
    floats = rng.standard_normal(n) * 10.0 ** rng.integers(-8, 20, n)
    floats[rng.random(n) < 0.2] = np.nan
    frame = pd.DataFrame({
        "text": pd.Series(cells, dtype="str"),
        "object": pd.Series(cells, dtype=object),
        "category": pd.Series(cells, dtype="category"),
        "count": rng.integers(-(10**12), 10**12, n),
        "nullable": pd.Series(rng.integers(0, 9, n), dtype="Int64").mask(rng.random(n) < 0.3),
        "flag": rng.random(n) < 0.5,
        "score": floats,
        "seen": pd.Series(rng.integers(-(10**17), 4 * 10**18, n).view("M8[ns]")).dt.tz_localize(
            "UTC").mask(rng.random(n) < 0.3),
    })
    tmp = tmp_path_factory.mktemp("csv")
    assert _arrow_csv(frame, tmp / "a.csv") == _pandas_csv(frame, tmp / "b.csv")


def test_whole_numbers_and_extremes_keep_numpy_float_text(tmp_path: Path) -> None:
    floats = [0.0, -0.0, 100.0, 1e-05, 1e-4, 1e16, 123456789.125, 1.5e10, np.inf, -np.inf, np.nan]
    frame = pd.DataFrame({"x": floats, "label": ["a,b"] * len(floats)})
    assert _arrow_csv(frame, tmp_path / "a.csv") == _pandas_csv(frame, tmp_path / "b.csv")
    assert b"\n-0.0," in (tmp_path / "a.csv").read_bytes()


def test_frame_of_an_unhandled_dtype_falls_back_to_pandas(tmp_path: Path) -> None:
    frame = pd.DataFrame({"c": pd.Categorical([1 + 2j, 3j]), "n": [1, 2]})
    assert _arrow_csv(frame, tmp_path / "a.csv") == _pandas_csv(frame, tmp_path / "b.csv")
    assert (tmp_path / "a.csv").read_text() == "c,n\n(1+2j),1\n3j,2\n"


def test_categorical_text_is_written_as_its_strings(tmp_path: Path) -> None:
    frame = pd.DataFrame({"kind": pd.Categorical(["ip", None, "y,z", "=1+1", "ip"]),
                          "n": [1, 2, 3, 4, 5]})
    assert _arrow_csv(frame, tmp_path / "a.csv") == _pandas_csv(frame, tmp_path / "b.csv")
    assert (tmp_path / "a.csv").read_text() == "kind,n\nip,1\n,2\n\"y,z\",3\n'=1+1,4\nip,5\n"


def test_ids_formatted_once_per_file_read_the_same_in_every_slice(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a categorical's categories are formatted once for the whole file and each slice of
    # rows takes them: ids repeated across slices, unused and formula-like categories,
    # missing cells and the line end carried by the last (categorical) column
    monkeypatch.setattr(report.csvfile, "_CSV_CHUNK", 3)
    ids = pd.Index(["=x", "a,1", "b", "c\"q", "unused"], dtype="str")
    frame = pd.DataFrame({
        "n": np.arange(8),
        "account": pd.Categorical.from_codes([0, 1, 2, -1, 3, 0, 2, 1], dtype=pd.CategoricalDtype(ids)),
        "kind": pd.Categorical(["ip", "card", None, "ip", "card", "ip", "ip", None]),
    })
    assert _arrow_csv(frame, tmp_path / "a.csv") == _pandas_csv(frame, tmp_path / "b.csv")
    assert (tmp_path / "a.csv").read_text().splitlines()[1:3] == ["0,'=x,ip", '1,"a,1",card']


def test_both_ends_of_a_pair_coded_by_one_id_list_are_each_written_whole(tmp_path: Path) -> None:
    # account_a and account_b share their categories (the accounts' ids): the ids formatted
    # for the file are those either end uses, not only the first end's
    ids = pd.CategoricalDtype(pd.Index(["a1", "a2", "a3", "a4"], dtype="str"))
    frame = pd.DataFrame({
        "account_a": pd.Categorical.from_codes([0, 0, 1], dtype=ids),
        "account_b": pd.Categorical.from_codes([1, 2, 3], dtype=ids),
        "n": [1, 2, 3],
    })
    assert _arrow_csv(frame, tmp_path / "a.csv") == _pandas_csv(frame, tmp_path / "b.csv")
    assert (tmp_path / "a.csv").read_text() == "account_a,account_b,n\na1,a2,1\na1,a3,2\na2,a4,3\n"


def test_times_at_the_ends_of_four_digit_years_and_before_1970_read_as_pandas_writes_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # each row's date comes from a table of the days the rows span, its time of day from
    # the seconds of a day: the ends of that table, fractions floored before 1970, missing;
    # slices of two rows, one whole file
    times = pd.Series(np.array(["0001-01-01T00:00:00", "0001-01-02", "9999-12-31T23:59:59.999",
                                "9999-12-30", "1969-12-31T23:59:59.5", "1970-01-01", "NaT",
                                "2026-02-28T12:00:01"], dtype="M8[ms]"))
    for chunk in (2, 100):
        monkeypatch.setattr(report.csvfile, "_CSV_CHUNK", chunk)
        for seen in (times, times.dt.tz_localize("UTC")):
            frame = pd.DataFrame({"seen": seen, "n": range(len(seen))})
            assert _arrow_csv(frame, tmp_path / "a.csv") == _pandas_csv(frame, tmp_path / "b.csv")
    assert (tmp_path / "a.csv").read_text().splitlines()[3:6] == [
        "9999-12-31T23:59:59Z,2", "9999-12-30T00:00:00Z,3", "1969-12-31T23:59:59Z,4"]


def test_times_of_rows_far_apart_are_written_from_their_distinct_days(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # rows spanning more days than there are rows take their days' text by distinct day
    monkeypatch.setattr(report.csvfile, "_CSV_CHUNK", 4)
    seconds = np.array([0, 86_400 * 365_000, -86_400 * 300_000 - 1, 86_400 * 365_000 + 59, 7,
                        -1], dtype=np.int64)
    frame = pd.DataFrame({"seen": pd.Series(seconds.astype("M8[s]")).dt.tz_localize("UTC"),
                          "n": range(6)})
    assert _arrow_csv(frame, tmp_path / "a.csv") == _pandas_csv(frame, tmp_path / "b.csv")
    assert (tmp_path / "a.csv").read_text().splitlines()[2] == "2969-05-03T00:00:00Z,1"


def test_ids_of_one_width_with_a_missing_one_in_some_slices_are_written_as_their_strings(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # ids all of one length are gathered as fixed-width rows; a slice with a missing id
    # takes Arrow's way; both files read as those of the same ids as plain strings
    import pyarrow.parquet as pq

    monkeypatch.setattr(report.csvfile, "_CSV_CHUNK", 3)
    monkeypatch.setattr(report.parquet, "_PARQUET_ROW_GROUP", 3)
    ids = pd.CategoricalDtype(pd.Index(["A01", "A02", "A03", "A04"], dtype="str"))
    codes = [3, 0, 0, 1, -1, 2, 2, 3]
    coded = pd.DataFrame({"account_id": pd.Categorical.from_codes(codes, dtype=ids),
                          "n": range(len(codes))})
    plain = coded.assign(account_id=coded["account_id"].astype(object).astype("str"))
    for name, frame in (("coded", coded), ("plain", plain)):
        report._write_csv(frame, tmp_path / f"{name}.csv", bom=False)
        report._write_parquet(frame, tmp_path / f"{name}.parquet")
    assert (tmp_path / "coded.csv").read_text().splitlines()[4:7] == ["A02,3", ",4", "A03,5"]
    assert (tmp_path / "coded.csv").read_bytes() == (tmp_path / "plain.csv").read_bytes()
    assert (tmp_path / "coded.parquet").read_bytes() == (tmp_path / "plain.parquet").read_bytes()
    assert pq.read_table(tmp_path / "coded.parquet")["account_id"].to_pylist()[3:6] == [
        "A02", None, "A03"]
