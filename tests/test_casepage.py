"""HTML case pages: self-contained, readable offline, every value escaped."""

from __future__ import annotations

import base64
import csv
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from linkgraph.casepage import render_case_page, write_case_page, write_case_pages
from linkgraph.cli import main
from linkgraph.errors import LinkgraphError
from linkgraph.report import read_run
from linkgraph.run import Run

# the hostile accounts of conftest's feed
HOSTILE = "<script>alert(1)</script>"
FORMULA = '=HYPERLINK("http://evil.example","click")'
VOID = {"meta", "img", "br", "hr", "link", "input"}
ALLOWED = {"html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "h3", "p",
           "code", "main", "section", "div", "b", "figure", "img", "figcaption", "table",
           "thead", "tbody", "tr", "th", "td", "span", "ul", "li", "footer"}


class _Page(HTMLParser):
    """Every tag, attribute and text of a page, and whether the tags nest."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.open: list[str] = []
        self.misnested: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open.pop() != tag:
            self.misnested.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture(scope="module")
def run_dir(hostile_run: Callable[..., Path]) -> Path:
    return hostile_run("casepage", formula=True)


@pytest.fixture(scope="module")
def run(run_dir: Path) -> Run:
    return read_run(run_dir)


@pytest.fixture(scope="module")
def farm_page(run: Run) -> _Page:
    farm = run.accounts.loc[run.accounts["account_id"] == HOSTILE, "cluster_id"].iloc[0]
    return _Page(render_case_page(run, farm))


def test_hostile_feed_gives_csvs_without_formula_cells_or_raw_identifiers(run_dir: Path) -> None:
    starts = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d")
    for path in sorted(run_dir.glob("*.csv")):
        with open(path, newline="", encoding="utf-8") as fh:
            cells = [cell for row in csv.reader(fh) for cell in row]
        assert not [c for c in cells if c.lstrip().startswith(starts)], path.name
        assert not [c for c in cells if "\ufeff" in c or "\u200b" in c], path.name
        if path.name == "links.csv":
            assert "'" + FORMULA in cells  # the account id is there, neutralised
    moderator = "".join((run_dir / f).read_text() for f in
                        ("review_queue.csv", "links.csv", "hubs.csv"))
    for raw in ("mallory.x@evil.example", "JohnFarm@googlemail.com", "fp_farm_card_10",
                "and-fa4f00d1", "176.59.1.14", "79990001122"):
        assert raw not in moderator


def test_page_has_every_section_and_well_nested_tags(farm_page: _Page) -> None:
    sections = [attrs.get("id") for tag, attrs in farm_page.tags if tag == "section"]
    assert sections == ["summary", "drawing", "accounts", "actions", "coupon", "links",
                        "ignored", "alerts"]
    assert farm_page.misnested == [] and farm_page.open == []
    assert sum(tag == "table" for tag, _ in farm_page.tags) >= 4


def test_hostile_names_are_text_never_markup(farm_page: _Page) -> None:
    tags = {tag for tag, _ in farm_page.tags}
    assert tags <= ALLOWED, tags - ALLOWED
    assert not any(name.startswith("on") for _, attrs in farm_page.tags for name in attrs)
    text = "".join(farm_page.text)
    assert HOSTILE in text  # shown, as text


def test_drawing_is_an_inline_png_and_nothing_is_fetched(farm_page: _Page) -> None:
    images = [attrs for tag, attrs in farm_page.tags if tag == "img"]
    assert len(images) == 1
    src = images[0]["src"] or ""
    assert src.startswith("data:image/png;base64,")
    assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    urls = [v for _, attrs in farm_page.tags for k, v in attrs.items() if k in ("src", "href")]
    assert all((v or "").startswith(("data:", "#")) for v in urls)


def test_page_shows_no_raw_identifier_from_the_input(run: Run) -> None:
    farm = run.accounts.loc[run.accounts["account_id"] == "A12", "cluster_id"].iloc[0]
    page = render_case_page(run, farm)
    for raw in ("mallory.x@evil.example", "JohnFarm@googlemail.com", "fp_farm_card_10",
                "and-fa4f00d1", "176.59.1.14", "+79990001122"):
        assert raw not in page


def test_page_tables_hold_the_accounts_actions_and_coupon_reasons(farm_page: _Page) -> None:
    text = "".join(farm_page.text)
    for account in ("A10", "A11", "A17", HOSTILE):
        assert account in text
    assert "same person as A10" in text
    assert "NEW_USER_x" in text and "redeemers on one device" in text


def test_unknown_cluster_is_an_error_naming_it(run: Run, tmp_path: Path) -> None:
    with pytest.raises(LinkgraphError, match="cluster 'nope' is not in this run"):
        write_case_page(run, "nope", tmp_path / "x.html")
    assert not (tmp_path / "x.html").exists()


def test_top_pages_follow_the_review_queue_one_per_cluster(run: Run, tmp_path: Path) -> None:
    pages = write_case_pages(run, tmp_path, top=2)
    queue = run.review_queue.sort_values("rank")
    expected = list(dict.fromkeys(queue["cluster_id"]))[:2]
    assert [p.stem for p in pages] == expected


def test_cli_report_top_3_writes_3_pages(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "cases"
    result = CliRunner().invoke(main, ["report", "--run", str(run_dir), "--top", "3",
                                       "--html-dir", str(out)])
    assert result.exit_code == 0, result.output
    assert len(list(out.glob("*.html"))) == 3
    assert result.stdout.splitlines()[-1] == f"wrote 3 case pages to {out}"


def test_cli_report_one_cluster_writes_the_file(run_dir: Path, run: Run, tmp_path: Path) -> None:
    cluster = run.accounts.loc[run.accounts["account_id"] == "A02", "cluster_id"].iloc[0]
    page = tmp_path / "case.html"
    result = CliRunner().invoke(main, ["report", cluster, "--run", str(run_dir),
                                       "--html", str(page)])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"wrote {page}\n"
    assert _Page(page.read_text()).misnested == []


def test_cli_report_unknown_cluster_exits_1_and_mixed_options_exit_2(
    run_dir: Path, tmp_path: Path
) -> None:
    unknown = CliRunner().invoke(main, ["report", "nope", "--run", str(run_dir),
                                        "--html", str(tmp_path / "x.html")])
    assert unknown.exit_code == 1
    assert unknown.output.startswith("Error: cluster 'nope' is not in this run")
    mixed = CliRunner().invoke(main, ["report", "nope", "--run", str(run_dir), "--top", "3"])
    assert mixed.exit_code == 2


def test_formula_behind_blanks_or_invisible_characters_is_neutralised_in_csv() -> None:
    # report.safe_text (issue 8, point 2): Sheets trims leading blanks on import,
    # U+2028 and NEL end a line for some readers, zero-width marks disguise text
    from linkgraph.report import safe_text

    cells = pd.Series(["\n=cmd|' /C calc'!A0", "\ufeff=1+1", " \uff1d1", "a\u2028b\x85c",
                       "ad\u200bmin"], dtype=object)
    assert safe_text(cells).tolist() == ["' =cmd|' /C calc'!A0", "' =1+1", "' \uff1d1",
                                         "a b c", "ad min"]
