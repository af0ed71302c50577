"""A cluster's case page: one self-contained HTML file a moderator reads offline.

The page holds a drawing of the cluster (a PNG made with matplotlib, inlined
as base64: no scripts, no external URLs), and tables of its accounts, the
actions with their evidence, the coupon-abuse reasons, the links and the
values that did not link. Only masked values and account ids are shown, and
every value is HTML-escaped (an account id ``<script>`` is text, never code)
and stripped of the control and bidi characters that could disguise it.

Checking that a page renders (done by hand; the test suite parses the HTML
with ``html.parser`` and does not need a browser)::

    linkgraph report --run RUN_DIR --top 3 --html-dir /tmp/cases
    chromium --headless --no-sandbox --disable-gpu --screenshot=/tmp/page.png \
        --window-size=1200,1600 file:///tmp/cases/<cluster_id>.html
"""

from __future__ import annotations

import base64
import html
import logging
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from linkgraph import __version__
from linkgraph import schemas as s
from linkgraph.casepage._drawing import _SEVERITY, _UNSAFE, draw_png
from linkgraph.errors import LinkgraphError
from linkgraph.explain import KIND_ORDER, Link, describe_coupon_reason, did_you_mean
from linkgraph.explain.words import (
    float_or_none,
    is_missing,
    iso_time,
    seen_words,
    text_or_none,
    value_words,
)
from linkgraph.run import Run

logger = logging.getLogger(__name__)

__all__ = ["render_case_page", "write_case_page", "write_case_pages"]

#: beyond this the drawing is skipped (a layout of thousands helps nobody)
_MAX_DRAWN = 300
_MAX_LINK_ROWS = 500
_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;
max-width:1160px;padding:0 16px;color:#1d2329;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde1e6;
padding-bottom:4px}.meta{color:#5b6570;margin:0 0 12px}code{font:12px/1.3 ui-monospace,Menlo,monospace}
.facts{display:flex;flex-wrap:wrap;gap:8px;margin:12px 0}.fact{border:1px solid #dde1e6;
border-radius:6px;padding:6px 12px}.fact b{display:block;font-size:18px}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border:1px solid #dde1e6;
padding:4px 6px;text-align:left;vertical-align:top}th{background:#f3f5f7}
tr:nth-child(even) td{background:#fafbfc}td.num{text-align:right;white-space:nowrap}
.pill{display:inline-block;border-radius:9px;padding:0 8px;font-size:12px;color:#fff}
.pill.none{background:#8a929c}.pill.watch{background:#b7950b}.pill.review{background:#d35400}
.pill.restrict{background:#8e44ad}.pill.suspend{background:#c0392b}.pill.ban{background:#7b1010}
figure{margin:0}figure img{max-width:100%;border:1px solid #dde1e6;border-radius:6px}
.note{color:#5b6570;font-style:italic}footer{margin-top:32px;color:#8a929c;font-size:12px}
"""


def write_case_page(run: Run, cluster_id: str, path: str | Path) -> Path:
    """Write the case page of one cluster as a self-contained HTML file.

    Args:
        run: a finished run.
        cluster_id: the family-level cluster to show.
        path: the HTML file to write (its directory is created).

    Returns:
        The path written.

    Raises:
        LinkgraphError: the run has no such cluster (the message suggests close ids).

    >>> import tempfile
    >>> accounts = pd.DataFrame({"account_id": ["A1", "<b>A2</b>"], "cluster_id": ["C1", "C1"],
    ...     "person_cluster_id": ["P1", "P1"], "action": ["none", "ban"]})
    >>> empty = pd.DataFrame()
    >>> run = Run(accounts=accounts, clusters=empty, links=empty, review_queue=empty,
    ...     hubs=empty, rejects=empty, cluster_changes=empty, cluster_alerts=empty,
    ...     coupon_hubs=empty, identifiers=empty, issued_ids=empty)
    >>> page = write_case_page(run, "C1", Path(tempfile.mkdtemp()) / "C1.html")
    >>> text = page.read_text()
    >>> "&lt;b&gt;A2&lt;/b&gt;" in text, "<b>A2" in text
    (True, False)
    """
    html_text = render_case_page(run, cluster_id)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # a page appears whole or not at all, like a run directory
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(html_text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    logger.info("wrote case page %s", path)
    return path


def write_case_pages(run: Run, out_dir: str | Path, *, top: int) -> list[Path]:
    """Write the case pages of the clusters of the review queue's first ``top`` clusters.

    The queue is read in rank order and each cluster counts once, so ``top``
    pages are written when the queue spans that many clusters.

    Args:
        run: a finished run.
        out_dir: the directory for the pages (``<cluster_id>.html``; created).
        top: how many clusters.

    Returns:
        The pages written, most urgent first.
    """
    queue = run.review_queue
    if queue.empty or s.CLUSTER_ID not in queue.columns:
        return []
    if "rank" in queue.columns:
        queue = queue.sort_values("rank", kind="stable")
    clusters = pd.unique(queue[s.CLUSTER_ID].dropna().astype(str))[:top]
    return [write_case_page(run, cid, Path(out_dir) / f"{_file_stem(cid)}.html")
            for cid in clusters]


def render_case_page(run: Run, cluster_id: str) -> str:
    """The case page of one cluster as an HTML string (see :func:`write_case_page`)."""
    accounts = run.accounts[run.accounts[s.CLUSTER_ID] == cluster_id]
    if accounts.empty:
        raise LinkgraphError(f"cluster {cluster_id!r} is not in this run"
                             f"{did_you_mean(cluster_id, run.accounts[s.CLUSTER_ID])}; "
                             "check the id in clusters.csv of the run directory")
    accounts = _ranked(accounts)
    links = run.links
    if not links.empty and s.CLUSTER_ID in links.columns:
        links = links[links[s.CLUSTER_ID] == cluster_id]
    cluster = _cluster_row(run.clusters, cluster_id)
    sections = [
        _facts(accounts, cluster),
        _section("Graph", "drawing", _drawing(accounts, links)),
        _section("Accounts", "accounts", _accounts_table(accounts)),
        _section("Actions and evidence", "actions", _actions_table(accounts)),
        _section("Coupon abuse", "coupon", _coupon_html(accounts, cluster)),
        _section("Links", "links", _links_table(links)),
        _section("Values that did not link", "ignored",
                 _ignored_table(run.identifiers, accounts[s.ACCOUNT_ID])),
        _section("Alerts and changes", "alerts", _alerts_html(run, cluster_id)),
    ]
    run_name = run.path.name if run.path is not None else "in memory"
    finished = str(run.manifest.get("timings", {}).get("finished_at", ""))
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Cluster {_e(cluster_id)} - linkgraph case page</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<header><h1>Cluster <code>{_e(cluster_id)}</code></h1>",
        (f'<p class="meta">run directory {_e(run_name)}'
         f'{", finished " + _e(finished) if finished else ""}; identifiers are masked</p></header>'),
        "<main>", *sections, "</main>",
        (f"<footer>linkgraph {_e(__version__)}. A proposed action is a proposal: the evidence "
         "above is what it rests on.</footer>"),
        "</body></html>",
        "",
    ])


def _ranked(accounts: pd.DataFrame) -> pd.DataFrame:
    """Blocked sources first, then the strongest actions, then by id."""
    blocked = accounts["blocked"].fillna(False).astype(bool) if "blocked" in accounts else False
    severity = accounts[s.ACTION].map(_SEVERITY).fillna(0) if s.ACTION in accounts else 0
    return (accounts.assign(_blocked=blocked, _severity=severity)
            .sort_values(["_blocked", "_severity", s.ACCOUNT_ID],
                         ascending=[False, False, True], kind="stable"))


def _cluster_row(clusters: pd.DataFrame, cluster_id: str) -> dict[str, Any]:
    if clusters.empty or s.CLUSTER_ID not in clusters.columns:
        return {}
    hit = clusters[clusters[s.CLUSTER_ID] == cluster_id]
    return {} if hit.empty else hit.iloc[0].to_dict()


def _facts(accounts: pd.DataFrame, cluster: dict[str, Any]) -> str:
    actions = accounts[s.ACTION].fillna("none").value_counts()
    blocked = int(accounts["blocked"].fillna(False).astype(bool).sum()) if "blocked" in accounts else 0
    facts = [("accounts", len(accounts)),
             ("persons", accounts[s.PERSON_CLUSTER_ID].nunique()),
             ("blocked in input", blocked)]
    facts += [(action, int(actions[action])) for action in sorted(
        actions.index, key=lambda a: -_SEVERITY.get(a, 0)) if action != "none"]
    if cluster.get(s.COUPON_ABUSE_SCORE) is not None:
        facts.append(("coupon-abuse score", f"{float(cluster[s.COUPON_ABUSE_SCORE]):g}"))
    if cluster.get(s.LINK_KINDS):
        facts.append(("linked by", str(cluster[s.LINK_KINDS]).replace(";", ", ")))
    cells = "".join(f'<div class="fact"><b>{_e(v)}</b>{_e(k)}</div>' for k, v in facts)
    return f'<section id="summary"><div class="facts">{cells}</div></section>'


def _section(title: str, anchor: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{_e(title)}</h2>\n{body}\n</section>'


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *,
           numeric: Sequence[int] = (), raw: Sequence[int] = ()) -> str:
    """An HTML table; every cell escaped except the columns in ``raw`` (built here, escaped)."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for i, value in enumerate(row):
            text = value if i in raw else _e(value)
            cls = ' class="num"' if i in numeric else ""
            cells.append(f"<td{cls}>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    if not body:
        return '<p class="note">none</p>'
    return f"<table><thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(body) + "\n</tbody></table>"


def _pill(action: Any) -> str:
    action = text_or_none(action) or "none"
    css = action if action in _SEVERITY else "none"
    return f'<span class="pill {css}">{_e(action)}</span>'


def _accounts_table(accounts: pd.DataFrame) -> str:
    rows = [(r[s.ACCOUNT_ID], r.get(s.PERSON_CLUSTER_ID), text_or_none(r.get("sanction")) or "",
             _pill(r.get(s.ACTION)), r.get(s.ACTION_REASON), _score(r.get(s.COUPON_ABUSE_SCORE)))
            for _, r in accounts.iterrows()]
    return _table(["account", "person cluster", "input sanction", "action", "reason",
                   "coupon score"], rows, numeric=(5,), raw=(3,))


def _actions_table(accounts: pd.DataFrame) -> str:
    acted = accounts[accounts[s.ACTION].fillna("none") != "none"] if s.ACTION in accounts else accounts[:0]
    rows = [(r[s.ACCOUNT_ID], _pill(r.get(s.ACTION)), r.get(s.LINKED_BLOCKED_ACCOUNT),
             text_or_none(r.get(s.HOPS)) or "", _confidence(r.get(s.CONFIDENCE)), r.get(s.EVIDENCE))
            for _, r in acted.iterrows()]
    return _table(["account", "action", "blocked account", "hops", "confidence", "evidence"],
                  rows, numeric=(3, 4), raw=(1,))


def _coupon_html(accounts: pd.DataFrame, cluster: dict[str, Any]) -> str:
    score = cluster.get(s.COUPON_ABUSE_SCORE)
    reasons = _reasons(cluster.get(s.COUPON_ABUSE_REASONS))
    head = (f"<p>Cluster score <b>{_e(_score(score))}</b> of 100.</p>" if score is not None
            else '<p class="note">no cluster score in this run</p>')
    items = "".join(f"<li><code>{_e(r.code)}</code>: {_e(r.words)}</li>" for r in reasons)
    listing = f"<ul>{items}</ul>" if items else '<p class="note">no reasons (not eligible or no signal)</p>'
    if s.COUPON_ABUSE_SCORE not in accounts or s.COUPON_ABUSE_REASONS not in accounts:
        return head + listing
    persons = accounts.groupby(s.PERSON_CLUSTER_ID, sort=True).agg(
        n=(s.ACCOUNT_ID, "size"), score=(s.COUPON_ABUSE_SCORE, "max"),
        reasons=(s.COUPON_ABUSE_REASONS, "first"))
    rows = [(pid, int(r["n"]), _score(r["score"]),
             "; ".join(x.words for x in _reasons(r["reasons"])))
            for pid, r in persons.iterrows()]
    return head + listing + "<h3>Person clusters</h3>" + _table(
        ["person cluster", "accounts", "score", "reasons"], rows, numeric=(1, 2))


def _links_table(links: pd.DataFrame) -> str:
    if links.empty:
        return '<p class="note">none: the cluster is a single account</p>'
    order = links[s.KIND].map(KIND_ORDER).fillna(len(KIND_ORDER))
    ordered = links.assign(_order=order).sort_values(
        [s.ACCOUNT_A, s.ACCOUNT_B, "_order"], kind="stable")
    rows = []
    for _, r in ordered.head(_MAX_LINK_ROWS).iterrows():
        link = Link(str(r[s.ACCOUNT_B]), str(r[s.KIND]), text_or_none(r.get(s.MASKED)),
                    text_or_none(r.get(s.TIER)), float_or_none(r.get(s.WEIGHT)),
                    iso_time(r.get(s.FIRST_SEEN)), iso_time(r.get(s.LAST_SEEN)), float_or_none(r.get(s.GAP_DAYS)))
        rows.append((r[s.ACCOUNT_A], r[s.ACCOUNT_B], value_words(link.kind, link.masked),
                     link.tier or "", "" if link.weight is None else f"{link.weight:.2f}",
                     seen_words(link)))
    note = ""
    if len(links) > _MAX_LINK_ROWS:
        note = (f'<p class="note">the first {_MAX_LINK_ROWS} of {len(links)} links; '
                "all are in links.csv</p>")
    return _table(["account", "account", "shared value", "tier", "weight", "when"], rows,
                  numeric=(4,)) + note


def _ignored_table(identifiers: pd.DataFrame, account_ids: pd.Series) -> str:
    if identifiers.empty or s.SUPPRESSED not in identifiers.columns:
        return '<p class="note">none</p>'
    own = identifiers[identifiers[s.ACCOUNT_ID].isin(account_ids)
                      & identifiers[s.SUPPRESSED].notna()]
    if own.empty:
        return '<p class="note">none</p>'
    n_all = own[s.N_ACCOUNTS] if s.N_ACCOUNTS in own else pd.Series(0, index=own.index)
    grouped = (own.assign(_n=n_all, _masked=own[s.MASKED].fillna("") if s.MASKED in own else "")
               .groupby([s.KIND, "_masked", s.SUPPRESSED], sort=True)
               .agg(here=(s.ACCOUNT_ID, "nunique"), everywhere=("_n", "max"))
               .reset_index().sort_values("everywhere", ascending=False, kind="stable"))
    rows = [(value_words(str(r[s.KIND]), text_or_none(r["_masked"])), r[s.SUPPRESSED], int(r["here"]),
             int(r["everywhere"])) for _, r in grouped.iterrows()]
    return _table(["value", "why it did not link", "accounts here", "accounts in the run"],
                  rows, numeric=(2, 3))


def _alerts_html(run: Run, cluster_id: str) -> str:
    parts = []
    for frame, columns in ((run.cluster_alerts, (s.REASON, s.BRIDGE, s.PART_SIZES)),
                           (run.cluster_changes, ("change", "previous_cluster_ids"))):
        if frame.empty or s.CLUSTER_ID not in frame.columns:
            continue
        hit = frame[frame[s.CLUSTER_ID] == cluster_id]
        present = [c for c in columns if c in hit.columns]
        if not hit.empty and present:
            parts.append(_table(present, hit[present].itertuples(index=False)))
    return "\n".join(parts) or '<p class="note">none</p>'


def _drawing(accounts: pd.DataFrame, links: pd.DataFrame) -> str:
    if len(accounts) > _MAX_DRAWN:
        return (f'<p class="note">{len(accounts)} accounts: too many to draw legibly; '
                "see the tables</p>")
    png = draw_png(accounts, links)
    alt = f"graph of {len(accounts)} accounts and their links"
    return (f'<figure><img alt="{_e(alt)}" src="data:image/png;base64,'
            f'{base64.b64encode(png).decode("ascii")}"><figcaption class="note">node colour: '
            "action (black: blocked in the input); line: the strongest kind the two accounts "
            "share</figcaption></figure>")


def _file_stem(cluster_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", cluster_id).lstrip(".") or "cluster"


def _reasons(text: Any) -> list[Any]:
    return [describe_coupon_reason(c) for c in (text_or_none(text) or "").split(";") if c.strip()]


def _e(value: Any) -> str:
    """Text for HTML: escaped, with control and bidi characters blanked ("" for missing)."""
    text = text_or_none(value)
    return "" if text is None else html.escape(_UNSAFE.sub(" ", text), quote=True)


def _score(value: Any) -> str:
    return "" if is_missing(value) else f"{float(value):g}"


def _confidence(value: Any) -> str:
    return "" if is_missing(value) else f"{float(value):.2f}"