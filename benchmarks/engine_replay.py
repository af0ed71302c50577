"""Time every engine call of a real run on both engines, at sizes a whole Spark run can't
reach on one machine.

Usage::

    python benchmarks/engine_replay.py record DATA CALLS     # a local run, each call saved
    python benchmarks/engine_replay.py replay CALLS [--master 'local[2]'] [--skip CALL ...]
    python benchmarks/engine_replay.py load DATA [--master 'local[2]']
    python benchmarks/engine_replay.py identifiers DATA [--master 'local[2]']

``record`` runs ``linkgraph.run(DATA)`` with an engine that hands every call to the local
engine and saves its inputs (arrays as ``.npy``, frames as Parquet, the row rule pickled)
under ``CALLS/NNN-call/``. The recording engine is not named ``local``, so the pipeline calls
it exactly as it calls the Spark engine (no work beside a stage on a second thread, the
normalisers given every distinct row at once, the orders summarised with the load as the Spark
load sends them): the calls saved are the Spark run's calls.

``replay`` runs each saved call on the local engine and on Spark (in that order, in one
process and one Spark session), checks that both give equal results (arrays equal with their
dtypes, frames equal), and prints a Markdown table: the stage, the call, its input rows,
seconds on each engine, equal or not. ``load_tables`` is skipped there (the Spark load sends
the tables to this process, which at ten million accounts holds the driver's memory): ``load``
times the Spark side of the load alone instead, every table read, checked and reduced as in a
run, written to Spark's ``noop`` sink rather than collected (the orders: their summary per
account made and collected, as in a run), next to the local load (and the local summary of
the same orders, ``linkgraph.score.order_summary``).

``identifiers`` times the normalize stage as a Spark run makes it: the tables read, checked
and reduced on Spark, every kind's identifiers grouped there and collected as codes
(``engine.spark.identifiers.identifier_rows``), then judged and assembled in this process;
next to the local load and normalize stage of the same tables in a child process. It prints
both times, both processes' peak memory, and whether the two identifiers frames are equal
(a digest of every column: the frames are never in one process).

The point is the engine boundary at scale: each Spark call is the job a run on a cluster
would submit, on the inputs the run really has.
"""

from __future__ import annotations

import argparse
import copy
import inspect
import json
import pickle
import shutil
import subprocess
import sys
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, is_dataclass, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

import linkgraph
from linkgraph import pipeline
from linkgraph import schemas as s
from linkgraph.config import CouponConfig, NormalizeConfig
from linkgraph.engine import LOCAL, Aggregation, Engine, get_engine
from linkgraph.load import Tables
from linkgraph.score import order_summary


@dataclass
class Recorder:
    """An engine that runs every call on the local engine and saves its inputs.

    Any engine method is recorded: its arguments are bound by the local engine's own
    signature and saved by type (arrays as ``.npy``, frames as Parquet, a mapping of
    :class:`Aggregation` as one array each, a rule pickled, numbers and text in
    ``meta.json``), so a new engine call needs nothing here unless it takes a new type
    of argument: such a call runs unsaved and is listed as ``unrecorded``.
    """

    folder: Path
    name: str = "replay"  # not "local": the pipeline calls it as it calls Spark
    stage: str = "load"
    calls: list[dict[str, Any]] = field(default_factory=list)
    #: each saved call's local result, kept when given a list (tests)
    results: list[Any] | None = None

    def started(self, stage: str) -> None:
        """The pipeline's progress callback: the stage the next calls belong to."""
        self.stage = stage

    def __getattr__(self, call: str) -> Any:
        """The local engine's method ``call``, its arguments saved before it runs."""
        if call.startswith("_"):
            raise AttributeError(call)
        method = _summarised_load if call == "load_tables" else getattr(LOCAL, call)
        signature = inspect.signature(method)

        def recorded(*args: Any, **kwargs: Any) -> Any:
            arguments = signature.bind(*args, **kwargs).arguments
            if not all(map(_savable, arguments.values())):
                self.calls.append({"call": call, "stage": self.stage, "unrecorded": True})
                return method(*args, **kwargs)
            return self._record(call, arguments, lambda: method(*args, **kwargs))
        return recorded

    def _record(self, call: str, arguments: Mapping[str, Any], run: Any) -> Any:
        where = self.folder / f"{len(self.calls):03d}-{call}"
        where.mkdir(parents=True)
        saved = {name: _save(where, name, value) for name, value in arguments.items()}
        rows = max((len(v) for v in arguments.values()
                    if isinstance(v, np.ndarray | pd.DataFrame)), default=0)
        start = time.perf_counter()
        result = run()
        meta = {"call": call, "stage": self.stage, "rows": rows, "arguments": saved,
                "recorded_seconds": round(time.perf_counter() - start, 3)}
        (where / "meta.json").write_text(json.dumps(meta, indent=1))
        self.calls.append(meta)
        if self.results is not None:  # a copy: the stages may take from what they get
            self.results.append(copy.deepcopy(result))
        return result


def _summarised_load(data_dir: str | Path, *, max_reject_rate: float = 0.05,
                     reduced: bool = False, orders: CouponConfig | None = None,
                     identifiers: NormalizeConfig | None = None) -> Tables:
    """The local load, its orders then summarised as the Spark engine sends them (with
    ``reduced`` and ``orders``: ``Tables.order_facts``), so that the stages make the calls
    of a Spark run (whose order summary is part of its load). ``identifiers`` is not
    followed: the run's normalize stage groups the tables itself and makes its calls
    (``map_rows``; the graph's ``count_keys``), which a Spark run makes with its load
    (``identifiers`` times that)."""
    tables = LOCAL.load_tables(data_dir, max_reject_rate=max_reject_rate, reduced=reduced)
    if not reduced or orders is None or s.ACCOUNT_ID not in tables.orders.columns:
        return tables
    return replace(tables, orders=tables.orders.iloc[:0],
                   order_facts=order_summary(tables.orders, config=orders))


def _savable(value: Any) -> bool:
    """Whether :func:`_save` can save ``value``."""
    if isinstance(value, Mapping):
        return all(isinstance(v, Aggregation) for v in value.values())
    return (value is None or callable(value) or is_dataclass(value)
            or isinstance(value, np.ndarray | pd.DataFrame | int | float | str | Path))


def _save(where: Path, name: str, value: Any) -> dict[str, Any]:
    """``value`` saved under ``where`` as argument ``name``; what ``_loaded`` reads back."""
    if isinstance(value, np.ndarray):
        np.save(where / f"{name}.npy", value, allow_pickle=False)
        return {"type": "array"}
    if isinstance(value, pd.DataFrame):
        value.to_parquet(where / f"{name}.parquet")
        return {"type": "frame"}
    if isinstance(value, Mapping):  # group_aggregate's aggregations
        for key, agg in value.items():
            if agg.values is not None:
                np.save(where / f"{name}-{key}.npy", np.asarray(agg.values), allow_pickle=False)
        return {"type": "aggregations",
                "ops": {key: {"op": agg.op, "fill": agg.fill, "values": agg.values is not None}
                        for key, agg in value.items()}}
    if callable(value) or is_dataclass(value):  # a row rule, settings
        (where / f"{name}.pkl").write_bytes(pickle.dumps(value))
        return {"type": "pickle"}
    return {"type": "value", "value": str(value) if isinstance(value, Path) else value}


def _loaded(where: Path, name: str, saved: dict[str, Any]) -> Any:
    """The argument ``name`` that :func:`_save` saved as ``saved``."""
    kind = saved["type"]
    if kind == "array":
        return np.load(where / f"{name}.npy")
    if kind == "frame":
        return pd.read_parquet(where / f"{name}.parquet")
    if kind == "aggregations":
        return {key: Aggregation(op["op"], np.load(where / f"{name}-{key}.npy")
                                 if op["values"] else None, op["fill"])
                for key, op in saved["ops"].items()}
    if kind == "pickle":
        return pickle.loads((where / f"{name}.pkl").read_bytes())
    return saved["value"]


def record(data: Path, folder: Path, *, results: list[Any] | None = None) -> Recorder:
    """A local run of ``data`` with every engine call's inputs saved under ``folder``;
    ``results``, when given, gets each saved call's local result."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    recorder = Recorder(folder, results=results)
    original = pipeline.get_engine
    pipeline.get_engine = lambda *a, **k: recorder  # type: ignore[assignment]
    try:
        started = time.perf_counter()
        run = linkgraph.run(data, progress=recorder.started)
    finally:
        pipeline.get_engine = original
    print(f"recorded {len(recorder.calls)} calls in {time.perf_counter() - started:.1f} s; "
          f"{len(run.accounts):,} accounts")
    for meta in recorder.calls:
        print(f"  {meta['stage']:10} {meta['call']:22} rows {meta.get('rows', '-'):>12} "
              f"{'(unrecorded)' if meta.get('unrecorded') else ''}")
    return recorder


def arguments(where: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """The saved call's arguments by name, as the engine method takes them."""
    return {name: _loaded(where, name, saved) for name, saved in meta["arguments"].items()}


def equal(a: Any, b: Any) -> bool:
    """Equal results: arrays with their dtypes, frames, and tuples / dicts of them."""
    if isinstance(a, pd.DataFrame):
        return isinstance(b, pd.DataFrame) and a.equals(b) and a.index.equals(b.index)
    if isinstance(a, np.ndarray):
        return (isinstance(b, np.ndarray) and a.dtype == b.dtype
                and np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    if isinstance(a, tuple):
        return isinstance(b, tuple) and len(a) == len(b) and all(map(equal, a, b))
    return bool(a == b)


def _timed(engine: Engine, call: str, kwargs: dict[str, Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = getattr(engine, call)(**kwargs)
    return result, time.perf_counter() - start


def saved_calls(folder: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Each saved call's folder and metadata, in the order of the run."""
    return [(where, json.loads((where / "meta.json").read_text()))
            for where in sorted(p for p in folder.iterdir() if (p / "meta.json").exists())]


def replay(folder: Path, master: str, skip: set[str]) -> None:
    """Every saved call on both engines: a Markdown table of seconds and equality."""
    spark = get_engine("spark", master=master)
    start = time.perf_counter()
    spark.session.sparkContext.setLogLevel("ERROR")  # type: ignore[attr-defined]
    print(f"Spark session ({master}) started in {time.perf_counter() - start:.1f} s\n")
    print("| # | stage | call | input rows | local (s) | spark (s) | equal |")
    print("| ---: | --- | --- | ---: | ---: | ---: | --- |")
    totals = {"local": 0.0, "spark": 0.0}
    for where, meta in saved_calls(folder):
        if meta["call"] == "load_tables" or meta["call"] in skip:
            continue
        kwargs = arguments(where, meta)
        local, local_s = _timed(LOCAL, meta["call"], kwargs)
        remote, spark_s = _timed(spark, meta["call"], kwargs)
        same = equal(local, remote)
        totals["local"] += local_s
        totals["spark"] += spark_s
        print(f"| {where.name[:3]} | {meta['stage']} | {meta['call']} | {meta['rows']:,} | "
              f"{local_s:.2f} | {spark_s:.1f} | {'yes' if same else 'NO'} |", flush=True)
        del kwargs, local, remote
    print(f"| | | total | | {totals['local']:.1f} | {totals['spark']:.1f} | |")


def _in_child(code: str, data: Path) -> dict[str, Any]:
    """What ``code`` prints last as JSON, run in a fresh Python process given ``data``
    (which gives its memory back before the Spark side starts)."""
    done = subprocess.run([sys.executable, "-c", code, str(data)], check=True,
                          capture_output=True, text=True)
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def load(data: Path, master: str) -> None:
    """The Spark side of the load (read, checked, reduced; written to ``noop``) next to the
    local load of the same tables (in a child process, which gives its memory back before
    the Spark session starts: at ten million accounts the local load holds 17 GB)."""
    from linkgraph.engine.spark import load as spark_load
    from linkgraph.engine.spark.orders import order_summary as spark_summary
    from linkgraph.engine.spark.session import quiet_pandas_warning

    code = ("import json, sys, time\n"
            "from linkgraph import schemas\n"
            "from linkgraph.config import CouponConfig\n"
            "from linkgraph.score import order_summary\n"
            "from linkgraph.engine import LOCAL\n"
            "start = time.perf_counter()\n"
            "tables = LOCAL.load_tables(sys.argv[1])\n"
            "seconds = time.perf_counter() - start\n"
            "rows = sum(len(getattr(tables, name)) for name in schemas.TABLE_NAMES)\n"
            "start = time.perf_counter()\n"
            "summary = order_summary(tables.orders, config=CouponConfig())\n"
            "summarised = time.perf_counter() - start\n"
            "print(json.dumps({'seconds': seconds, 'rows': rows, 'summary': summarised,\n"
            "                  'accounts': len(summary), 'orders': len(tables.orders)}))\n")
    local = _in_child(code, data)
    spark = get_engine("spark", master=master)
    spark.session.sparkContext.setLogLevel("ERROR")  # type: ignore[attr-defined]
    start = time.perf_counter()
    with quiet_pandas_warning():
        read = spark_load.read_tables(spark.session, data)  # type: ignore[attr-defined]
        frames, _ = spark_load.reduced_tables(read)
        seconds, summary = {}, pd.DataFrame()
        for name, frame in [*frames.items(), ("rejects", read.rejects)]:
            begun = time.perf_counter()
            if name == "orders":
                summary = spark_summary(frame, CouponConfig())
            else:
                frame.write.format("noop").mode("overwrite").save()
            seconds[name] = round(time.perf_counter() - begun, 1)
        read.unpersist()
    spark_s = time.perf_counter() - start
    print(f"load of {local['rows']:,} accepted rows: local {local['seconds']:.1f} s (every row "
          f"to pandas); Spark {spark_s:.1f} s (read, checked, reduced, not collected): "
          f"{seconds}")
    print(f"orders' summary: {local['orders']:,} orders to {local['accounts']:,} accounts' "
          f"rows; local {local['summary']:.1f} s (of the loaded orders); Spark "
          f"{seconds.get('orders', 0.0):.1f} s ({len(summary):,} rows collected, with the "
          f"orders' read and checks)")


def digest(frame: pd.DataFrame) -> list[int]:
    """A digest of a frame (its rows, every column's values), the same in any process."""
    hashed = pd.util.hash_pandas_object(frame, index=False, categorize=False)
    return [len(frame), int(hashed.to_numpy().sum(dtype="uint64"))]


def identifiers(data: Path, master: str) -> None:
    """The identifiers grouped on Spark and assembled here, against the local load and
    normalize stage of the same tables (in a child process); their digests compared. The
    Spark side's phases are logged (``linkgraph.engine.spark.identifiers``)."""
    import logging
    import resource

    from linkgraph import normalize
    from linkgraph.engine.spark import load as spark_load
    from linkgraph.engine.spark.identifiers import identifier_rows
    from linkgraph.engine.spark.session import quiet_pandas_warning

    code = ("import json, resource, sys, time\n"
            f"sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})\n"
            "from engine_replay import digest\n"
            "from linkgraph import normalize\n"
            "from linkgraph.config import NormalizeConfig\n"
            "from linkgraph.engine import LOCAL\n"
            "start = time.perf_counter()\n"
            "tables = LOCAL.load_tables(sys.argv[1], reduced=True)\n"
            "loaded = time.perf_counter() - start\n"
            "start = time.perf_counter()\n"
            "handed = normalize.HandedOver(tables)\n"
            "del tables  # as the pipeline: each table goes once read\n"
            "frame = normalize.normalize_identifiers(handed, config=NormalizeConfig())\n"
            "del handed\n"
            "normalized = time.perf_counter() - start\n"
            "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20\n"
            "print(json.dumps({'load': loaded, 'normalize': normalized, 'peak_gb': peak,\n"
            "                  'digest': digest(frame)}))\n")
    local = _in_child(code, data)
    logging.basicConfig(format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("linkgraph.engine.spark.identifiers").setLevel(logging.INFO)
    spark = get_engine("spark", master=master)
    session = spark.session  # type: ignore[attr-defined]
    session.sparkContext.setLogLevel("ERROR")
    config = NormalizeConfig()
    with quiet_pandas_warning():
        start = time.perf_counter()
        read = spark_load.read_tables(session, data)
        frames, _ = spark_load.reduced_tables(read)
        present = {"accounts", *(name for name in ("logins", "addresses", "payments")
                                 if name in read.paths)}
        grouped = identifier_rows(session, frames, present, config)
        # the accounts' sorted ids, which a run's load brings with the accounts
        ids = cast(pd.DataFrame, read.tables["accounts"].select(s.ACCOUNT_ID).toPandas())
        read.unpersist()
        spark_s = time.perf_counter() - start
    rows = sum(len(g.account) for g in grouped)
    begun = time.perf_counter()
    accounts = ids.astype(read.probes["accounts"][s.ACCOUNT_ID].dtype).sort_values(
        s.ACCOUNT_ID, kind="stable", ignore_index=True)
    tables = Tables(**{name: read.probes[name] for name in s.TABLE_NAMES if name != "accounts"},
                    accounts=accounts, rejects=pd.DataFrame(), identifier_rows=grouped)
    frame = normalize.normalize_identifiers(tables, config=config)
    assembled = time.perf_counter() - begun
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    # the accounts of each value, counted on Spark for the graph's hubs: the local frame
    # has no such column (the graph counts), so it is checked against a count here
    value_code = frame[s.VALUE_CODE].to_numpy()
    counted = bool((frame.pop(s.VALUE_ACCOUNTS).to_numpy()
                    == np.bincount(value_code)[value_code]).all())
    same = digest(frame) == local["digest"] and counted
    print(f"identifiers: {len(frame):,} rows ({rows:,} grouped rows collected as codes). "
          f"Local: load {local['load']:.1f} s + normalize {local['normalize']:.1f} s, peak "
          f"{local['peak_gb']:.2f} GB. Spark: read, reduced, grouped and collected "
          f"{spark_s:.1f} s (the accounts' ids collected, for their order, included), judged "
          f"and assembled here {assembled:.1f} s, this process's peak {peak:.2f} GB. "
          f"Equal: {same}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="a local run, every engine call saved")
    rec.add_argument("data", type=Path)
    rec.add_argument("calls", type=Path)
    rep = sub.add_parser("replay", help="every saved call on both engines")
    rep.add_argument("calls", type=Path)
    rep.add_argument("--master", default="local[2]")
    rep.add_argument("--skip", nargs="*", default=[], help="calls not to replay")
    lo = sub.add_parser("load", help="the Spark side of the load, not collected")
    lo.add_argument("data", type=Path)
    lo.add_argument("--master", default="local[2]")
    ids = sub.add_parser("identifiers", help="the identifiers grouped on Spark, assembled here")
    ids.add_argument("data", type=Path)
    ids.add_argument("--master", default="local[2]")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if args.command == "record":
        record(args.data, args.calls)
    elif args.command == "replay":
        replay(args.calls, args.master, set(args.skip))
    elif args.command == "identifiers":
        identifiers(args.data, args.master)
    else:
        load(args.data, args.master)


if __name__ == "__main__":
    main()
