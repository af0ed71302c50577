from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkgraph import report
from linkgraph.config import Config, ReportConfig
from linkgraph.errors import RunDirectoryError
from linkgraph.run import Run


def two_accounts_share_a_card() -> Run:
    """The smallest run with something in every moderator file."""
    accounts = pd.DataFrame({
        "account_id": ["A1", "A2"], "cluster_id": ["C1", "C1"], "person_cluster_id": ["P1", "P1"],
        "action": ["none", "ban"], "action_reason": ["blocked in input", "same person as A1"],
        "linked_blocked_account": [None, "A1"], "coupon_abuse_score": [0.0, 0.0],
    })
    links = pd.DataFrame({
        "cluster_id": ["C1"], "account_a": ["A1"], "account_b": ["A2"], "kind": ["card"],
        "value": ["tok_4111111111114242"], "masked": ["****4242"], "tier": ["person"],
        "weight": [1.0],
    })
    hubs = pd.DataFrame({"kind": ["ip"], "value": ["198.18.0.1"], "masked": ["198.18.0.x"],
                         "n_accounts": [5000], "reason": ["shared by 5000 accounts"]})
    review = pd.DataFrame({"rank": [1], "account_id": ["A2"], "action": ["ban"],
                           "evidence": ["=HYPERLINK(\"http://evil\")"]})
    empty = pd.DataFrame()
    return Run(
        accounts=accounts, clusters=pd.DataFrame({"cluster_id": ["C1"], "n_accounts": [2]}),
        links=links, review_queue=review, hubs=hubs, rejects=pd.DataFrame(
            {"table": [], "row": [], "column": [], "reason": [], "value": []}),
        cluster_changes=empty, cluster_alerts=empty, coupon_hubs=empty,
        identifiers=pd.DataFrame({"account_id": ["A1"], "kind": ["card"],
                                  "value": ["tok_4111111111114242"], "masked": ["****4242"]}),
        issued_ids=pd.DataFrame({"cluster_id": ["C1"]}),
    )


def test_formula_cells_are_neutralised() -> None:
    cells = pd.Series(["=1+1", "+7***", "-2", "@SUM(A1)", "\tx", "\rx", "plain", None])
    assert report.safe_text(cells).tolist() == [
        "'=1+1", "'+7***", "'-2", "'@SUM(A1)", "' x", "' x", "plain", None]


def test_newlines_and_bidi_marks_cannot_break_or_disguise_a_cell() -> None:
    cells = pd.Series(["Ann\nLee", "evil\u202efdp.exe", "a\x00b"])
    assert report.safe_text(cells).tolist() == ["Ann Lee", "evil fdp.exe", "a b"]


@given(st.lists(st.text(), min_size=1, max_size=20))
def test_no_safe_cell_starts_with_a_formula_character(cells: list[str]) -> None:
    for cell in report.safe_text(pd.Series(cells)).tolist():
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
        assert "\n" not in cell


def test_run_directory_holds_every_contract_file(tmp_path: Path) -> None:
    out = tmp_path / "run"
    written = report.write_run(two_accounts_share_a_card(), out, timings={"load": 0.1}, config=Config())
    names = {p.name for p in out.iterdir()}
    for stem in ("accounts", "clusters", "review_queue", "links", "rejects", "hubs", "cluster_changes"):
        assert f"{stem}.csv" in names
    for stem in ("accounts", "clusters", "links"):
        assert f"{stem}.parquet" in names
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["accounts"] == 2
    assert manifest["timings"]["load"] == 0.1
    assert written.path == out


def test_moderator_files_hold_no_raw_identifier(tmp_path: Path) -> None:
    out = tmp_path / "run"
    report.write_run(two_accounts_share_a_card(), out, timings={}, config=Config())
    for name in ("links.csv", "hubs.csv", "review_queue.csv"):
        text = (out / name).read_text()
        assert "tok_4111111111114242" not in text
        assert "198.18.0.1," not in text
    assert "'=HYPERLINK" in (out / "review_queue.csv").read_text()


def test_raw_values_reach_parquet_only_when_asked(tmp_path: Path) -> None:
    plain = report.write_run(two_accounts_share_a_card(), tmp_path / "a", timings={}, config=Config())
    assert "value" not in pd.read_parquet(tmp_path / "a" / "links.parquet").columns
    config = Config(report=ReportConfig(keep_raw=True))
    report.write_run(two_accounts_share_a_card(), tmp_path / "b", timings={}, config=config)
    assert "value" in pd.read_parquet(tmp_path / "b" / "links.parquet").columns
    assert plain.path is not None


def test_failure_mid_write_leaves_no_partial_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    earlier = tmp_path / "last-night"
    report.write_run(two_accounts_share_a_card(), earlier, timings={}, config=Config())
    before = {p.name: p.read_bytes() for p in earlier.iterdir()}

    def disk_full(frame: pd.DataFrame, path: Path, *, bom: bool) -> None:
        if path.name == "links.csv":
            raise OSError(28, "No space left on device")
        frame.to_csv(path)

    monkeypatch.setattr(report, "_write_csv", disk_full)
    with pytest.raises(OSError):
        report.write_run(two_accounts_share_a_card(), tmp_path / "tonight", timings={}, config=Config())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last-night"]
    assert {p.name: p.read_bytes() for p in earlier.iterdir()} == before


def test_existing_run_directory_is_never_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "run"
    report.write_run(two_accounts_share_a_card(), out, timings={}, config=Config())
    with pytest.raises(RunDirectoryError, match="already exists"):
        report.write_run(two_accounts_share_a_card(), out, timings={}, config=Config())


def test_read_run_returns_what_was_written(tmp_path: Path) -> None:
    out = tmp_path / "run"
    report.write_run(two_accounts_share_a_card(), out, timings={}, config=Config())
    again = report.read_run(out)
    assert again.accounts["account_id"].tolist() == ["A1", "A2"]
    assert again.manifest["counts"]["links"] == 1


def test_read_run_on_a_plain_directory_says_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(RunDirectoryError, match="not a linkgraph run directory"):
        report.read_run(tmp_path)


def test_categorical_ids_and_values_are_written_as_the_strings_they_stand_for(
        tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    from linkgraph.codes import coded_text
    from linkgraph.report import _write_csv, _write_parquet

    ids = pd.Index(["=cmd", "a1", "a2", "a3"], dtype="str")  # more ids than rows use
    coded = pd.DataFrame({
        "account_a": coded_text(np.array([1, 0, -1]), ids),
        "kind": pd.Categorical(["card", "ip", "card"]),
        "weight": [1.0, 0.5, 0.25],
    })
    plain = coded.assign(account_a=pd.Series(["a1", "=cmd", None], dtype="str"))
    for name, frame in (("coded", coded), ("plain", plain)):
        _write_parquet(frame, tmp_path / f"{name}.parquet")
        _write_csv(frame, tmp_path / f"{name}.csv", bom=False)
    assert (tmp_path / "coded.csv").read_bytes() == (tmp_path / "plain.csv").read_bytes()
    assert (tmp_path / "coded.parquet").read_bytes() == (tmp_path / "plain.parquet").read_bytes()
    schema = pq.read_schema(tmp_path / "coded.parquet")
    assert pa.types.is_large_string(schema.field("account_a").type)
    assert pa.types.is_dictionary(schema.field("kind").type)


def _read_back_the_same(ours: Path, theirs: Path) -> None:
    """``ours`` reads back as ``theirs``: the Arrow table (schema and pandas metadata
    included) and the pandas frame."""
    mine, pandas_file = pq.read_table(ours), pq.read_table(theirs)
    assert mine.equals(pandas_file)
    assert mine.schema.equals(pandas_file.schema, check_metadata=True)
    pd.testing.assert_frame_equal(pd.read_parquet(ours), pd.read_parquet(theirs))


def test_a_parquet_file_written_a_row_group_at_a_time_reads_as_one_pandas_wrote_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the identifiers of ten million accounts are decoded and written one row group at a
    # time; the file must read back as the one pandas would write, row groups of the
    # same size
    monkeypatch.setattr(report.parquet, "_PARQUET_ROW_GROUP", 1000)
    ids = [f"u{i:05d}" for i in range(2600)]
    frame = pd.DataFrame({
        "account_id": pd.Categorical(ids[::-1], categories=ids),
        "kind": pd.Categorical(["email", "phone"] * 1300, categories=["email", "phone"]),
        "masked": [f"j***{i % 7}@x.com" for i in range(2600)],
        "first_seen": pd.date_range("2026-01-01", periods=2600, freq="h", tz="UTC"),
        "weight": np.linspace(0, 1, 2600),
    })
    report._write_parquet(frame, tmp_path / "parts.parquet")
    whole = frame.assign(account_id=frame["account_id"].astype(str).astype("str"))
    pq.write_table(pa.Table.from_pandas(whole, preserve_index=False),
                   tmp_path / "whole.parquet", compression="zstd", row_group_size=1000)
    _read_back_the_same(tmp_path / "parts.parquet", tmp_path / "whole.parquet")
    assert pq.ParquetFile(tmp_path / "parts.parquet").num_row_groups == 3
    assert pd.read_parquet(tmp_path / "parts.parquet")["account_id"].tolist() == ids[::-1]


def test_coded_masked_values_read_back_as_the_strings_pandas_would_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # masked values repeat on the rows of the accounts sharing them: each row group holds
    # the distinct strings its rows use once (a dictionary built from the codes, not the
    # writer's hashing), yet the file reads back as the plain strings, in every dtype
    from linkgraph.codes import coded_text

    monkeypatch.setattr(report.parquet, "_PARQUET_ROW_GROUP", 4)
    masked = pd.Index(["+7***89", "=x", "j***@x.com", "unused"], dtype="str")
    ids = pd.Index(["A1", "A2", "A3"], dtype="str")
    frame = pd.DataFrame({
        "account_id": coded_text(np.array([0, 0, 1, 1, 2, 2, 2, 0, 1]), ids),
        "kind": pd.Categorical(["phone", "card", "phone", "email", "phone", "email", "card",
                                "card", "email"]),
        "masked": coded_text(np.array([0, 1, 0, 2, 0, 2, -1, 1, 2]), masked),
        "first_seen": pd.date_range("2026-01-01", periods=9, freq="D", tz="UTC"),
        "hops": pd.array([1, None, 2, 3, 4, 5, 6, 7, 8], dtype="Int64"),
        "weight": np.linspace(0, 1, 9),
    })
    report._write_parquet(frame, tmp_path / "coded.parquet")
    plain = frame.assign(account_id=frame["account_id"].astype(object).astype("str"),
                         masked=frame["masked"].astype(object).astype("str"))
    plain.to_parquet(tmp_path / "pandas.parquet", index=False, row_group_size=4)
    _read_back_the_same(tmp_path / "coded.parquet", tmp_path / "pandas.parquet")
    values = pd.read_parquet(tmp_path / "coded.parquet")["masked"].tolist()[4:8]
    assert values[:2] == ["+7***89", "j***@x.com"] and pd.isna(values[2]) and values[3] == "=x"
    # each row group's dictionary: the strings its rows use, in the categories' order
    groups = pq.read_table(tmp_path / "coded.parquet", read_dictionary=["masked"])["masked"]
    assert [chunk.dictionary.to_pylist() for chunk in groups.chunks] == [
        ["+7***89", "=x", "j***@x.com"], ["+7***89", "=x", "j***@x.com"], ["j***@x.com"]]
    # the same frame, the same bytes
    report._write_parquet(frame, tmp_path / "again.parquet")
    assert (tmp_path / "again.parquet").read_bytes() == (tmp_path / "coded.parquet").read_bytes()


@given(st.lists(st.integers(-1, 5), max_size=12), st.lists(st.integers(-1, 5), max_size=12),
       st.integers(1, 5))
@settings(max_examples=40, deadline=None)
def test_frames_of_coded_values_alone_read_back_as_pandas_writes_their_strings(
    values: list[int], masked: list[int], group: int,
) -> None:
    # any codes (-1 missing), any row group size, columns all coded or not
    import tempfile

    from linkgraph.codes import coded_text

    rows = min(len(values), len(masked))
    words = pd.Index(["", "+1***", "a,b", "a***", "z", "\u00e9***"], dtype="str")
    frame = pd.DataFrame({"value": coded_text(np.array(values[:rows], dtype=np.int64), words),
                          "masked": coded_text(np.array(masked[:rows], dtype=np.int64), words)})
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as patch:
        patch.setattr(report.parquet, "_PARQUET_ROW_GROUP", group)
        report._write_parquet(frame, Path(tmp) / "coded.parquet")
        frame.astype(object).astype("str").to_parquet(Path(tmp) / "pandas.parquet", index=False,
                                                      row_group_size=group)
        _read_back_the_same(Path(tmp) / "coded.parquet", Path(tmp) / "pandas.parquet")


def test_row_groups_of_many_and_of_one_distinct_masked_value_share_one_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the first row group's dictionary needs indices past int8, the last one's not: all
    # of a file's row groups must be of one type
    from linkgraph.codes import coded_text

    monkeypatch.setattr(report.parquet, "_PARQUET_ROW_GROUP", 256)
    words = pd.Index([f"m{i:03d}***" for i in range(300)], dtype="str")
    codes = np.r_[np.arange(256), np.full(44, 7)]
    frame = pd.DataFrame({"masked": coded_text(codes, words), "n": np.arange(300)})
    report._write_parquet(frame, tmp_path / "coded.parquet")
    assert pd.read_parquet(tmp_path / "coded.parquet")["masked"].tolist() == [
        words[c] for c in codes]


def test_a_run_directory_reads_back_with_the_dtypes_it_was_written_with(tmp_path: Path) -> None:
    from linkgraph.codes import coded_text

    run = two_accounts_share_a_card()
    ids = pd.Index(["A1", "A2"], dtype="str")
    links = run.links.assign(account_a=coded_text(np.array([0]), ids),
                             account_b=coded_text(np.array([1]), ids),
                             masked=coded_text(np.array([0]), pd.Index(["****4242"], dtype="str")),
                             kind=pd.Categorical(["card"]))
    out = tmp_path / "run"
    report.write_run(dataclasses.replace(run, links=links), out, timings={}, config=Config())
    back = report.read_run(out).links
    assert back["masked"].tolist() == ["****4242"] and back["account_b"].tolist() == ["A2"]
    assert str(back["masked"].dtype) == str(back["account_a"].dtype) == "str"
    assert isinstance(back["kind"].dtype, pd.CategoricalDtype)


def test_an_empty_frame_still_writes_its_parquet_schema(tmp_path: Path) -> None:
    frame = pd.DataFrame({"account_id": pd.Series(dtype="str"), "score": pd.Series(dtype=float)})
    report._write_parquet(frame, tmp_path / "empty.parquet")
    back = pd.read_parquet(tmp_path / "empty.parquet")
    assert back.empty and list(back.columns) == ["account_id", "score"]
