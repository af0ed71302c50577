"""A finished run: the output frames, and what an analyst does with them.

A :class:`Run` is a value: the frames of the output contract plus the
manifest. It comes from :func:`linkgraph.pipeline.run` (in memory) or from
:func:`linkgraph.load_run` (a run directory written earlier).
"""

from __future__ import annotations

import dataclasses
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from linkgraph import schemas as s
from linkgraph.codes import index_dtype, positions, sort_ranks
from linkgraph.memory import release_freed_memory

if TYPE_CHECKING:
    import networkx as nx
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from linkgraph.analysis import ClusterView, Comparison, PolicyWhatIf
    from linkgraph.cluster import Clustering
    from linkgraph.config import Config, PolicyConfig
    from linkgraph.explain import Explanation
    from linkgraph.graph import LinkSet
    from linkgraph.load import Tables
    from linkgraph.sanctions import Actions
    from linkgraph.score import Scores

logger = logging.getLogger(__name__)

#: the columns of ``Run.pairs`` (``value`` becomes ``value_code``): what propagation reads
_CODED_PAIR_COLUMNS = (s.ACCOUNT_A, s.ACCOUNT_B, s.KIND, s.MASKED, s.TIER, s.WEIGHT, s.FIRST_SEEN)

#: strongest input sanction first, for the ``sanction`` column of accounts
_SANCTION_ORDER = {a: i for i, a in enumerate(s.SANCTION_ACTIONS)}


@dataclass(frozen=True)
class Run:
    """The output of one run, as DataFrames.

    accounts: one row per valid input account: ``account_id, cluster_id,
        person_cluster_id, action, action_reason, linked_blocked_account``,
        the evidence, the input ``sanction`` and ``blocked`` flag, the
        coupon-abuse score of the account's person (``coupon_abuse_score``,
        the ranking of accounts: a farmer's family sharing his home address
        is not a farmer) and of its family cluster (``cluster_coupon_abuse_score``).
    clusters: one row per cluster (a singleton is its own cluster).
    links: one row per (account pair, kind, value) inside a cluster.
    review_queue, hubs, rejects, cluster_changes, cluster_alerts, coupon_hubs:
        as in the output contract.
    identifiers: one row per (account, kind, value), masked, with its tier,
        sharing count and why it was suppressed, for explanations.
    issued_ids: every cluster id ever issued, carried to the next run.
    pairs: every linked pair of accounts, inside clusters or not, weak tiers
        included: ``account_a, account_b, kind, value_code, masked, tier,
        weight, first_seen``; ``value_code`` stands in for the raw value (equal
        codes = equal values within this run), so what-if sanctions can be
        recomputed from a run directory without raw identifiers.
    pair_tiers: one row per linked pair with its tier after corroboration.
    sanctions, decisions: the input sanctions and moderators' decisions.
    config: the settings the run used (``None`` when unknown).

    The methods are for analysts in Jupyter: :meth:`cluster`, :meth:`explain`,
    :meth:`to_networkx`, :meth:`draw`, :meth:`compare`, :meth:`with_policy`.

    >>> import linkgraph as lg
    >>> run = lg.analysis.example_run()  # the run of a four-account example input
    >>> run
    Run(4 accounts, 2 clusters, 3 links, 2 in the review queue, in memory)
    >>> run.accounts[["account_id", "action"]].to_numpy().tolist()
    [['A1', 'none'], ['A2', 'ban'], ['A3', 'review'], ['A4', 'none']]
    """

    accounts: pd.DataFrame
    clusters: pd.DataFrame
    links: pd.DataFrame
    review_queue: pd.DataFrame
    hubs: pd.DataFrame
    rejects: pd.DataFrame
    cluster_changes: pd.DataFrame
    cluster_alerts: pd.DataFrame
    coupon_hubs: pd.DataFrame
    identifiers: pd.DataFrame
    issued_ids: pd.DataFrame
    manifest: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    pairs: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    pair_tiers: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    sanctions: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    decisions: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    config: Config | None = field(default=None, repr=False)

    @classmethod
    def from_stages(
        cls,
        *,
        tables: Tables,
        links: LinkSet,
        clusters: Clustering,
        actions: Actions,
        scores: Scores,
        config: Config,
        start: AssemblyStart | None = None,
    ) -> Run:
        """Join the stages' outputs into the frames of the output contract; ``start``: the
        :func:`start_assembly` of these links and clusters, when it was made before."""
        if start is None:
            start = start_assembly(links, clusters)
        accounts = _account_frame(start, actions, scores, tables)
        cluster_frame = _cluster_frame(clusters.clusters, scores.clusters)
        inside = _links_inside_clusters(links.pairs, accounts, start.cluster_codes,
                                        order=start.link_order())
        return cls(
            accounts=accounts,
            clusters=cluster_frame,
            links=inside,
            review_queue=actions.review_queue,
            hubs=links.hubs,
            rejects=tables.rejects,
            cluster_changes=clusters.changes,
            cluster_alerts=clusters.alerts,
            coupon_hubs=scores.coupon_hubs,
            identifiers=links.incidence,
            issued_ids=clusters.issued_ids,
            manifest={"inputs": [dataclasses.asdict(source) for source in tables.sources]},
            pairs=coded_pairs(links.pairs),
            pair_tiers=links.pair_tiers,
            sanctions=tables.sanctions,
            decisions=tables.decisions,
            config=config,
        )

    # --- for analysts (the work is done in linkgraph.analysis) -----------------

    @property
    def policy(self) -> PolicyConfig:
        """The sanction policy this run used (the default policy when unknown)."""
        from linkgraph.config import PolicyConfig

        return self.config.policy if self.config is not None else PolicyConfig()

    def cluster(self, cluster_id: str) -> ClusterView:
        """One cluster: its accounts, links, proposed actions, score and reasons.

        Args:
            cluster_id: a cluster id, or an account id (its cluster is shown).

        Returns:
            A :class:`~linkgraph.analysis.ClusterView` (shown as tables in Jupyter).

        Raises:
            LinkgraphError: no cluster and no account has that id.

        >>> import linkgraph as lg
        >>> run = lg.analysis.example_run()
        >>> view = run.cluster("A2")
        >>> view.accounts["account_id"].tolist(), len(view.links), view.n_accounts
        (['A1', 'A2', 'A3'], 3, 3)
        """
        from linkgraph.analysis import cluster_view

        return cluster_view(self, cluster_id)

    def explain(self, account_id: str) -> Explanation:
        """Why an account is in its cluster and why it has its action.

        Args:
            account_id: an account of this run.

        Returns:
            An :class:`~linkgraph.explain.Explanation` (``.to_text()``, ``.to_dict()``).

        Raises:
            LinkgraphError: the account is not in this run.
        """
        from linkgraph.explain import explain_account

        return explain_account(self, account_id)

    def to_networkx(self, cluster_id: str) -> nx.Graph:
        """The graph of one cluster: accounts and the identifiers they share.

        Account nodes carry ``type="account"`` and the account's row
        (``action``, ``person_cluster_id``...); identifier nodes are keyed
        ``"kind:masked"`` and carry ``type="identifier"``, ``kind``, ``masked``,
        ``tier`` and ``n_accounts``; edges carry ``kind``, ``tier`` and
        ``weight``. Hubs and junk values link nothing and are left out; no raw
        identifier appears.

        Args:
            cluster_id: a cluster id, or an account id (its cluster).

        Returns:
            A ``networkx.Graph``.

        Raises:
            LinkgraphError: no such cluster or account.

        >>> import linkgraph as lg
        >>> graph = lg.analysis.example_run().to_networkx("A2")
        >>> sorted(n for n, kind in graph.nodes(data="type") if kind == "identifier")
        ['address:*** main street, 12345, US', 'device:***9c21', 'phone:+1********01']
        >>> graph.edges["A2", "device:***9c21"]["tier"]
        'person'
        """
        return self.cluster(cluster_id).to_networkx()

    def draw(self, cluster_id: str, ax: Axes | None = None) -> Figure:
        """Draw one cluster: node colour by action, edge style by link kind, masked labels.

        Works without a display (the figure is not registered with pyplot, so
        nothing opens a window); in Jupyter the returned figure is shown.

        Args:
            cluster_id: a cluster id, or an account id (its cluster).
            ax: matplotlib axes to draw into; a new figure when ``None``.

        Returns:
            The ``matplotlib.figure.Figure`` drawn into.

        Raises:
            LinkgraphError: no such cluster or account.

        >>> import linkgraph as lg
        >>> figure = lg.analysis.example_run().draw("A4")
        >>> type(figure).__name__, len(figure.axes)
        ('Figure', 1)
        """
        return self.cluster(cluster_id).draw(ax=ax)

    def compare(self, other: Run) -> Comparison:
        """What changed since ``other`` (an earlier night): ``tonight.compare(last_night)``.

        Args:
            other: the earlier run.

        Returns:
            A :class:`~linkgraph.analysis.Comparison`: accounts added and
            removed, clusters by kind of change, actions that changed, and a
            ``summary`` frame.

        >>> import linkgraph as lg
        >>> run = lg.analysis.example_run()
        >>> int(run.compare(run).summary["n"].sum())
        0
        """
        from linkgraph.analysis import compare_runs

        return compare_runs(self, other)

    def with_policy(self, policy: PolicyConfig | None = None, **changes: Any) -> PolicyWhatIf:
        """Recompute the proposed actions under another sanction policy (what-if).

        Args:
            policy: the policy to try; this run's policy when ``None``.
            **changes: fields of :class:`~linkgraph.config.PolicyConfig` to
                change, e.g. ``family_action="watch"``.

        Returns:
            A :class:`~linkgraph.analysis.PolicyWhatIf`: the new actions, the
            accounts whose action changes, and how many go from which action to which.

        Raises:
            ConfigError: a field name or value is not valid.
            LinkgraphError: the run holds no pairs (written by an older version).

        >>> import linkgraph as lg
        >>> run = lg.analysis.example_run()
        >>> run.with_policy(family_action="watch").transitions.to_numpy().tolist()
        [['review', 'watch', 1]]
        """
        from linkgraph.analysis import policy_what_if

        return policy_what_if(self, policy, **changes)

    def _repr_html_(self) -> str:
        from linkgraph.analysis import run_html

        return run_html(self)

    def __repr__(self) -> str:
        where = str(self.path) if self.path is not None else "in memory"
        return (f"Run({len(self.accounts):,} accounts, {len(self.clusters):,} clusters, "
                f"{len(self.links):,} links, {len(self.review_queue):,} in the review queue, "
                f"{where})")


def load_run(run_dir: str | Path) -> Run:
    """Read a run directory written by ``linkgraph run --out`` (or ``lg.run(..., out=...)``).

    The frames come back typed as they were written: ids and text as strings,
    timestamps as UTC ``datetime64``, scores and weights as ``float64``.

    Args:
        run_dir: the run directory.

    Returns:
        The :class:`Run`, with ``path`` set and ``config`` read from the manifest.

    Raises:
        RunDirectoryError: not a run directory, or a file is missing.

    >>> import tempfile, linkgraph as lg
    >>> out = Path(tempfile.mkdtemp()) / "tonight"
    >>> _ = lg.run(lg.analysis.example_data(), out=out)
    >>> run = lg.load_run(out)
    >>> run.path == out, str(run.accounts["account_id"].dtype), run.policy.family_action
    (True, 'str', 'review')
    """
    from linkgraph.config import config_from_dict
    from linkgraph.errors import ConfigError
    from linkgraph.report import read_run

    run = read_run(run_dir)
    try:
        config = config_from_dict(run.manifest["config"]) if "config" in run.manifest else None
    except ConfigError as e:
        logger.warning("run %s: manifest config not readable (%s); using the defaults", run_dir, e)
        config = None
    return dataclasses.replace(run, config=config)


def coded_pairs(pairs: pd.DataFrame) -> pd.DataFrame:
    """The pairs frame with each raw value replaced by a code (equal values, equal codes).

    What-if sanctions need only to know which pairs share a value, never the
    value itself, so the run directory can hold every pair without a raw identifier.

    >>> pairs = pd.DataFrame({"account_a": ["A1", "A1", "A2"], "account_b": ["A2", "A3", "A3"],
    ...     "kind": ["card", "card", "ip"], "value": ["tok_1", "tok_1", "10.0.0.1"]})
    >>> coded_pairs(pairs)[["kind", "value_code"]].to_numpy().tolist()
    [['card', 0], ['card', 0], ['ip', 1]]
    """
    if s.VALUE not in pairs.columns:
        return pairs
    kept = [c for c in _CODED_PAIR_COLUMNS if c in pairs.columns]
    coded = pairs[kept]  # copy-on-write: the columns are shared, not copied
    coded.insert(kept.index(s.KIND) + 1 if s.KIND in kept else 0, "value_code",
                 _value_codes(pairs[s.VALUE]))
    return coded


def _value_codes(values: pd.Series) -> np.ndarray:
    """Codes in order of first appearance, -1 for a missing value. The value alone is
    coded, not (kind, value): every consumer keys on kind and value together."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        # equal values, equal category codes: renumbered in order of first appearance
        category = np.asarray(values.array.codes)
        if category.min(initial=0) >= 0:  # nothing missing: the narrow codes, not a copy
            return pd.factorize(category)[0].astype(np.int64, copy=False)
        codes = np.full(len(category), -1, dtype=np.int64)
        present = category >= 0
        codes[present] = pd.factorize(category[present])[0]
        return codes
    try:
        encoded = pa.array(values, from_pandas=True).dictionary_encode()  # Arrow strings: no copy
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed objects: pandas hashes them
        return pd.factorize(values)[0].astype(np.int64)
    return encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


@dataclass
class AssemblyStart:
    """What the assembly reads of the graph's and the cluster stage's outputs alone:
    made by :func:`start_assembly` (beside the later stages, by the pipeline).

    accounts: the clustering's accounts, sorted by account_id, a fresh range index.
    cluster_codes: each account's cluster rank, its place among the sorted cluster
        ids (-1 when missing): equal ranks mean equal ids, and ranks sort as the ids do.
    cluster_ids: the sorted distinct cluster ids.
    link_rows: the rows of the graph's pairs whose accounts share a cluster, in the
        order of the links (int32 below two billion rows).
    link_accounts: per such link, the position of its first account in ``accounts``.

    The links' rows and accounts are read once (:meth:`link_order`): they go as the
    links frame is built, the assembly's peak.
    """

    accounts: pd.DataFrame
    cluster_codes: np.ndarray
    cluster_ids: pd.Series
    link_rows: np.ndarray | None
    link_accounts: np.ndarray | None

    def link_order(self) -> tuple[np.ndarray, np.ndarray]:
        """``(link_rows, link_accounts)``, taken out of the start.

        Raises:
            ValueError: they were taken before.
        """
        if self.link_rows is None or self.link_accounts is None:
            raise ValueError("this assembly start was used before; start another")
        order = (self.link_rows, self.link_accounts)
        self.link_rows = self.link_accounts = None
        return order


def start_assembly(links: LinkSet, clusters: Clustering) -> AssemblyStart:
    """The accounts sorted, their clusters ranked and the links inside clusters ordered:
    the assembly's work that needs no sanction and no score.

    Args:
        links: the graph stage's links (``pairs``: account_a, account_b, kind, value).
        clusters: the cluster stage's clustering (``accounts``: account_id, cluster_id,
            person_cluster_id).

    Returns:
        :class:`AssemblyStart`, for :meth:`Run.from_stages`.

    Raises:
        pandas.errors.MergeError: an account id repeats.

    >>> from linkgraph.cluster import Clustering
    >>> from linkgraph.graph import LinkSet
    >>> accounts = pd.DataFrame({"account_id": ["b", "a"], "cluster_id": ["c1", "c1"],
    ...                          "person_cluster_id": ["p2", "p1"]})
    >>> pairs = pd.DataFrame({"account_a": ["a"], "account_b": ["b"], "kind": ["card"],
    ...                       "value": ["fp1"]})
    >>> none = pd.DataFrame()
    >>> start = start_assembly(
    ...     LinkSet(incidence=none, pairs=pairs, pair_tiers=none, hubs=none, profiles=none),
    ...     Clustering(accounts=accounts, clusters=none, changes=none, alerts=none,
    ...                issued_ids=none))
    >>> start.accounts["account_id"].tolist(), start.link_order()[0].tolist()
    (['a', 'b'], [0])
    """
    base = clusters.accounts
    if _strictly_increasing(base[s.ACCOUNT_ID]):  # sorted and unique: the usual case
        base = base.reset_index(drop=True)
    else:
        base = base.sort_values(s.ACCOUNT_ID, kind="stable", ignore_index=True)
        _check_unique(base[s.ACCOUNT_ID], "left")
    cluster_codes, cluster_ids = _factorized_sorted(base[s.CLUSTER_ID])
    link_rows, link_accounts = _inside_order(links.pairs, base, cluster_codes)
    return AssemblyStart(accounts=base, cluster_codes=cluster_codes, cluster_ids=cluster_ids,
                         link_rows=link_rows, link_accounts=link_accounts)


def _account_frame(
    start: AssemblyStart, actions: Actions, scores: Scores, tables: Tables,
) -> pd.DataFrame:
    """The accounts frame (sorted by account_id).

    Every join goes through integer row positions found by Arrow hashing,
    never a merge on strings.
    """
    base = start.accounts
    account_ids = base[s.ACCOUNT_ID]

    parts = [base, _joined(_row_of(account_ids, actions.accounts[s.ACCOUNT_ID]),
                           actions.accounts.drop(columns=s.ACCOUNT_ID))]
    for frame in (_strongest_sanction(tables.sanctions), _last_cleared(tables.decisions)):
        parts.append(_joined(_row_of(account_ids, frame[s.ACCOUNT_ID]),
                             frame.drop(columns=s.ACCOUNT_ID)))
    persons = scores.persons
    person_rows = positions(base[s.PERSON_CLUSTER_ID], persons[s.PERSON_CLUSTER_ID])
    parts.append(_joined(person_rows, persons[[s.COUPON_ABUSE_SCORE, s.COUPON_ABUSE_REASONS]]))
    cluster_codes = start.cluster_codes
    cluster_rows = positions(start.cluster_ids, scores.clusters[s.CLUSTER_ID])
    cluster_rows = np.where(cluster_codes >= 0, cluster_rows[cluster_codes], -1)
    parts.append(_joined(cluster_rows, scores.clusters[[s.COUPON_ABUSE_SCORE]].rename(
        columns={s.COUPON_ABUSE_SCORE: "cluster_coupon_abuse_score"})))
    accounts = pd.concat(parts, axis=1)
    accounts["blocked"] = accounts["sanction"].isin(s.BLOCKING_ACTIONS)
    accounts[s.ACTION] = accounts[s.ACTION].fillna("none")
    for column in (s.COUPON_ABUSE_SCORE, "cluster_coupon_abuse_score"):
        accounts[column] = accounts[column].fillna(0.0)
    return accounts


def _cluster_frame(clusters: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """The clusters with their scores (a left 1:1 join on cluster_id), sorted by cluster_id.

    Joined on row positions: a merge on the string ids costs seconds at a million accounts.
    """
    if set(clusters.columns) & set(scores.columns) != {s.CLUSTER_ID}:  # merge would suffix
        joined = clusters.merge(scores, on=s.CLUSTER_ID, how="left", validate="1:1")
    else:
        ids = clusters[s.CLUSTER_ID].reset_index(drop=True)
        _check_unique(ids, "left")
        joined = pd.concat([clusters.reset_index(drop=True),
                            _joined(_row_of(ids, scores[s.CLUSTER_ID]),
                                    scores.drop(columns=s.CLUSTER_ID))], axis=1)
    if joined[s.CLUSTER_ID].is_monotonic_increasing:
        return joined
    return joined.sort_values(s.CLUSTER_ID, kind="stable", ignore_index=True)


def _strictly_increasing(values: pd.Series) -> bool:
    """Whether every value is greater than the one before (no missing value): sorted and
    unique. Compared in Arrow for text (pandas would build a Python string per value)."""
    try:
        array = pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        array = None
    if array is None or not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return bool(values.is_monotonic_increasing and values.is_unique and not values.hasnans)
    if array.null_count:
        return False
    if len(array) < 2:
        return True
    return bool(pc.all(pc.less(array[:-1], array[1:])).as_py())


def _factorized_sorted(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """``pd.factorize(values, sort=True)``: codes (-1 for missing) and the sorted distinct
    values, ranked by Arrow for text."""
    ranks, size = _sort_rank(values)
    missing = ranks == size - 1
    codes = np.where(missing, -1, ranks)
    distinct = np.zeros(size - 1, dtype=np.int64)
    present = np.flatnonzero(~missing)
    distinct[ranks[present]] = present  # a row holding each distinct value
    return codes, values.take(distinct).reset_index(drop=True)


def _row_of(account_ids: pd.Series, keys: pd.Series) -> np.ndarray:
    """For each account, the row of ``keys`` holding its id (-1: none).

    ``keys`` is hashed, not the accounts: the sanctions and decisions are small.
    """
    n = len(account_ids)
    if len(keys) == n and account_ids.reset_index(drop=True).equals(keys.reset_index(drop=True)):
        return np.arange(n)  # the same accounts in the same order: nothing to hash
    _check_unique(keys, "right")
    at = positions(keys, account_ids)
    found = at >= 0
    rows = np.full(n, -1, dtype=np.intp)
    rows[at[found]] = np.flatnonzero(found)
    return rows


def _check_unique(keys: pd.Series, side: str) -> None:
    """Raise what ``merge(validate=...)`` raises when ``keys`` repeat a value."""
    try:
        n_distinct = pc.count_distinct(pa.array(keys, from_pandas=True), mode="all").as_py()
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        n_distinct = keys.nunique(dropna=False)
    if n_distinct != len(keys):
        raise pd.errors.MergeError(f"merge keys are not unique in {side} dataset")


def _joined(rows: np.ndarray, right: pd.DataFrame) -> pd.DataFrame:
    """``right``'s rows at ``rows`` (-1: missing values), as a left merge would type them."""
    right = right.reset_index(drop=True)
    if len(rows) and rows.min() >= 0:
        return right.take(rows).reset_index(drop=True)
    return right.reindex(rows).reset_index(drop=True)


def _links_inside_clusters(
    pairs: pd.DataFrame, accounts: pd.DataFrame, cluster_codes: np.ndarray, *,
    order: tuple[np.ndarray, np.ndarray] | None = None,
) -> pd.DataFrame:
    """The pairs whose accounts share a cluster, with ``cluster_id`` first, sorted by
    (cluster_id, account_a, account_b, kind, value); ``order``: their
    :func:`_inside_order`, when it was found before.
    """
    picked, cluster_at = _inside_order(pairs, accounts, cluster_codes) if order is None \
        else order
    del order
    picked = picked.astype(np.intp)  # as pandas takes them
    release_freed_memory()
    inside = _taken(pairs, picked)
    del picked
    release_freed_memory()
    inside.insert(0, s.CLUSTER_ID, accounts[s.CLUSTER_ID].take(cluster_at).reset_index(drop=True))
    return inside


def _inside_order(
    pairs: pd.DataFrame, accounts: pd.DataFrame, cluster_codes: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The rows of the pairs whose accounts share a cluster, in the order (cluster_id,
    account_a, account_b, kind, value), and the position of each one's account_a in
    ``accounts`` (sorted by account_id; ``cluster_codes`` their clusters' ranks).

    The sort runs on integer ranks, each sorting as its string column does
    (accounts are sorted by id, clusters coded in sorted order), stable, so
    the order is the one a sort on the strings gives.
    """
    ends = pairs[s.ACCOUNT_A], pairs[s.ACCOUNT_B]
    # positions, clusters and rows as int32 below two billion: each a column of the pairs
    narrow = index_dtype(max(len(accounts), len(pairs)) + 1)
    if any(isinstance(end.dtype, pd.CategoricalDtype) for end in ends):
        # each end by its categories (a concat of categoricals would hash them all)
        at_a, at_b = (positions(end, accounts[s.ACCOUNT_ID], dtype=narrow) for end in ends)
    else:
        # both ends in one lookup: the account ids are hashed once
        both = positions(pd.concat(ends, ignore_index=True), accounts[s.ACCOUNT_ID])
        at_a, at_b = both[:len(pairs)], both[len(pairs):]
        del both  # the halves keep it until they are filtered below
    # each account's cluster, -1 for none, at position -1 too (an end not among the accounts)
    cluster_of = np.append(cluster_codes, -1).astype(narrow)
    code_a = cluster_of[at_a]
    same_cluster = code_a >= 0
    same_cluster &= code_a == cluster_of[at_b]
    del cluster_of
    rows = np.flatnonzero(same_cluster).astype(narrow)
    del same_cluster
    # each key freed once it has ordered the rows: at a million accounts every one is
    # a column of the 3.6M pairs, and the links frame built last is the stage's peak
    at_a, at_b, code_a = at_a[rows], at_b[rows], code_a[rows]
    n = len(accounts)
    kind = _kind_ranks(pairs[s.KIND], rows)
    if _ascending([(at_a, n), (at_b, n), kind]):
        # the graph stage's pairs come sorted by (account_a, account_b, kind, value): a
        # stable sort on the cluster alone then gives the full order (one key, not four)
        order = np.argsort(code_a, kind="stable")
    else:
        order = _lexsort([(code_a, n), (at_a, n), (at_b, n), kind])
    # the value only breaks ties (two shared values of one kind): rank it on those rows alone
    same = np.ones(max(len(order) - 1, 0), dtype=bool)
    for key in (code_a, at_a, at_b, kind[0]):
        ordered = key[order]
        same &= ordered[1:] == ordered[:-1]
    del code_a, at_b, kind, ordered
    if same.any():
        tied = np.zeros(len(order), dtype=bool)
        tied[1:] |= same
        tied[:-1] |= same
        at = np.flatnonzero(tied)  # positions in ``order``; each group of ties contiguous
        # each row's group number, counted in place in one narrow column of the links
        group = np.zeros(len(order), dtype=index_dtype(len(order)))
        np.logical_not(same, out=group[1:], casting="unsafe")
        np.cumsum(group, out=group)
        group = group[at]
        value_rank, _ = _sort_rank(pairs[s.VALUE].take(rows[order[at]]))
        order[at] = order[at][np.lexsort((value_rank, group))]
        del tied, at, group, value_rank
    del same
    # the rows to take and their accounts, in order: the sort's keys all go before the
    # links frame is built
    return rows[order], at_a[order]


def _kind_ranks(kinds: pd.Series, rows: np.ndarray) -> tuple[np.ndarray, int]:
    """:func:`_sort_rank` of ``kinds.take(rows)``: ranks that sort as the kinds do, missing
    last, and how many ranks. A categorical's few categories are ranked and its rows
    follow their codes (int32 ranks: no int64 column of every link, 0.1 GB at a million
    accounts, is made)."""
    if not isinstance(kinds.dtype, pd.CategoricalDtype):
        return _sort_rank(kinds.take(rows))
    category_rank, size = _sort_rank(pd.Series(kinds.dtype.categories))
    rank_of = np.append(category_rank, size - 1).astype(index_dtype(size))
    return rank_of[np.asarray(kinds.array.codes)[rows]], size


def _taken(frame: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """``frame.take(rows)`` with a fresh range index, every other column taken on a second
    thread: the takes (numpy's and Arrow's) release the GIL, and at a million accounts
    the links' columns are 3.6M rows each, the strings among them alternating."""
    columns = list(frame.columns)
    if frame.columns.has_duplicates or len(columns) < 2:
        return frame.take(rows).reset_index(drop=True)

    def taken(names: list[str]) -> dict[str, pd.api.extensions.ExtensionArray | np.ndarray]:
        return {name: frame[name].array.take(rows) for name in names}

    with ThreadPoolExecutor(max_workers=1) as pool:
        later = pool.submit(taken, columns[1::2])
        first = taken(columns[0::2])
        second = later.result()
    return pd.DataFrame({name: (first | second)[name] for name in columns}, copy=False)


def _sort_rank(values: pd.Series) -> tuple[np.ndarray, int]:
    """Integer ranks that sort as ``values`` do, missing values last; and how many ranks
    (a categorical's by its codes, text by Arrow: :func:`linkgraph.codes.sort_ranks`)."""
    return sort_ranks(values)


def _ascending(keys: list[tuple[np.ndarray, int]]) -> bool:
    """Whether the rows already ascend by the keys (first key first), ties allowed; keys
    as for :func:`_lexsort`. False, unchecked, when the keys do not fold into 63 bits."""
    folded, bound = np.zeros(len(keys[0][0]), dtype=np.int64), 1
    for ranks, size in keys:
        size = max(size, 1)
        if bound * size >= 2**62:
            return False
        # in place: at a million accounts each temporary is a column of the 3M links
        folded *= size
        folded += ranks
        bound *= size
    return bool(np.all(folded[1:] >= folded[:-1]))


def _lexsort(keys: list[tuple[np.ndarray, int]]) -> np.ndarray:
    """The stable order sorting by each key in turn (first key first); keys are
    ``(ranks in [0, size), size)``. Neighbouring keys are folded into one
    integer while it fits in 63 bits: one key sorts much faster than five."""
    folded: list[np.ndarray] = []
    current, bound = None, 1
    for ranks, size in keys:
        size = max(size, 1)
        if current is not None and bound * size < 2**62:
            current, bound = current * size + ranks, bound * size
        else:
            if current is not None:
                folded.append(current)
            current, bound = ranks.astype(np.int64), size
    if current is not None:
        folded.append(current)
    if not folded or len(folded[0]) == 0:
        return np.arange(0)
    if len(folded) == 1:
        return np.argsort(folded[0], kind="stable")
    return np.lexsort(folded[::-1])


def _last_cleared(decisions: pd.DataFrame) -> pd.DataFrame:
    """account_id, cleared_at: the latest `cleared` decision of each account."""
    cleared = decisions[decisions[s.DECISION] == s.CLEARED]
    latest = cleared.groupby(s.ACCOUNT_ID, sort=True)[s.CREATED_AT].max()
    return latest.rename("cleared_at").reset_index()


def _strongest_sanction(sanctions: pd.DataFrame) -> pd.DataFrame:
    """account_id, sanction (the strongest input action), sanctioned_at."""
    if sanctions.empty:
        return pd.DataFrame({s.ACCOUNT_ID: pd.Series(dtype="str"),
                             "sanction": pd.Series(dtype="str"),
                             "sanctioned_at": pd.Series(dtype="datetime64[ns, UTC]")})
    ranked = sanctions.assign(_rank=sanctions[s.ACTION].map(_SANCTION_ORDER))
    ranked = ranked.sort_values([s.ACCOUNT_ID, "_rank", s.CREATED_AT], kind="stable")
    strongest = ranked.drop_duplicates(s.ACCOUNT_ID, keep="last")
    return strongest.rename(columns={s.ACTION: "sanction", s.CREATED_AT: "sanctioned_at"})[
        [s.ACCOUNT_ID, "sanction", "sanctioned_at"]
    ].reset_index(drop=True)
