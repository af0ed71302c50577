"""Time every engine call of a real run on both engines, at sizes a whole Spark run can't
reach on one machine.

Usage::

    python benchmarks/engine_replay.py record DATA CALLS     # a local run, each call saved
    python benchmarks/engine_replay.py replay CALLS [--master 'local[2]'] [--skip CALL ...]
    python benchmarks/engine_replay.py load DATA [--master 'local[2]']

``record`` runs ``linkgraph.run(DATA)`` with an engine that hands every call to the local
engine and saves its inputs (arrays as ``.npy``, frames as Parquet, the row rule pickled)
under ``CALLS/NNN-call/``. The recording engine is not named ``local``, so the pipeline calls
it exactly as it calls the Spark engine (no work beside a stage on a second thread, the
normalisers given every distinct row at once): the calls saved are the Spark run's calls.

``replay`` runs each saved call on the local engine and on Spark (in that order, in one
process and one Spark session), checks that both give equal results (arrays equal with their
dtypes, frames equal), and prints a Markdown table: the stage, the call, its input rows,
seconds on each engine, equal or not. ``load_tables`` is skipped there (the Spark load sends
the tables to this process, which at ten million accounts holds the driver's memory): ``load``
times the Spark side of the load alone instead, every table read, checked and reduced as in a
run, written to Spark's ``noop`` sink rather than collected, next to the local load.

The point is the engine boundary at scale: each Spark call is the job a run on a cluster
would submit, on the inputs the run really has.
"""

from __future__ import annotations

import argparse
import copy
import json
import pickle
import shutil
import subprocess
import sys
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import linkgraph
from linkgraph import pipeline
from linkgraph.engine import LOCAL, Aggregation, Engine, Reach, get_engine


@dataclass
class Recorder:
    """An engine that runs every call on the local engine and saves its inputs."""

    folder: Path
    name: str = "replay"  # not "local": the pipeline calls it as it calls Spark
    stage: str = "load"
    calls: list[dict[str, Any]] = field(default_factory=list)
    #: each saved call's local result, kept when given a list (tests)
    results: list[Any] | None = None

    def started(self, stage: str) -> None:
        """The pipeline's progress callback: the stage the next calls belong to."""
        self.stage = stage

    def _record(self, call: str, arrays: Mapping[str, np.ndarray | None],
                scalars: Mapping[str, Any], run: Any, frames: Mapping[str, pd.DataFrame] = {},
                rule: Any = None) -> Any:
        where = self.folder / f"{len(self.calls):03d}-{call}"
        where.mkdir(parents=True)
        rows = 0
        for key, array in arrays.items():
            if array is not None:
                np.save(where / f"{key}.npy", np.asarray(array), allow_pickle=False)
                rows = max(rows, len(array))
        for key, frame in frames.items():
            frame.to_parquet(where / f"{key}.parquet")
            rows = max(rows, len(frame))
        if rule is not None:
            (where / "rule.pkl").write_bytes(pickle.dumps(rule))
        start = time.perf_counter()
        result = run()
        meta = {"call": call, "stage": self.stage, "rows": rows, "scalars": dict(scalars),
                "recorded_seconds": round(time.perf_counter() - start, 3)}
        (where / "meta.json").write_text(json.dumps(meta, indent=1))
        self.calls.append(meta)
        if self.results is not None:  # a copy: the stages may take from what they get
            self.results.append(copy.deepcopy(result))
        return result

    def connected_components(self, n_nodes: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        return self._record("connected_components", {"src": src, "dst": dst},
                            {"n_nodes": n_nodes},
                            lambda: LOCAL.connected_components(n_nodes, src, dst))

    def count_keys(self, keys: np.ndarray, n_keys: int) -> np.ndarray:
        return self._record("count_keys", {"keys": keys}, {"n_keys": n_keys},
                            lambda: LOCAL.count_keys(keys, n_keys))

    def bounded_reach(self, indptr: np.ndarray, target: np.ndarray, conf: np.ndarray,
                      sources: np.ndarray, *, max_hops: int, expandable: np.ndarray,
                      usable: np.ndarray | None = None) -> Reach:
        arrays = {"indptr": indptr, "target": target, "conf": conf, "sources": sources,
                  "expandable": expandable, "usable": usable}
        return self._record("bounded_reach", arrays, {"max_hops": max_hops},
                            lambda: LOCAL.bounded_reach(indptr, target, conf, sources,
                                                        max_hops=max_hops,
                                                        expandable=expandable, usable=usable))

    def labelled_reach(self, indptr: np.ndarray, target: np.ndarray, usable: np.ndarray,
                       age: np.ndarray, starts: np.ndarray, goals: np.ndarray,
                       deadlines: np.ndarray, *, passable: np.ndarray, max_hops: int
                       ) -> np.ndarray:
        arrays = {"indptr": indptr, "target": target, "usable": usable, "age": age,
                  "starts": starts, "goals": goals, "deadlines": deadlines,
                  "passable": passable}
        return self._record("labelled_reach", arrays, {"max_hops": max_hops},
                            lambda: LOCAL.labelled_reach(indptr, target, usable, age, starts,
                                                         goals, deadlines, passable=passable,
                                                         max_hops=max_hops))

    def map_rows(self, rule: Any, rows: pd.DataFrame) -> pd.DataFrame:
        return self._record("map_rows", {}, {}, lambda: LOCAL.map_rows(rule, rows),
                            frames={"rows": rows}, rule=rule)

    def group_aggregate(self, keys: np.ndarray, n_groups: int,
                        aggregations: Mapping[str, Aggregation]) -> dict[str, np.ndarray]:
        arrays: dict[str, np.ndarray | None] = {"keys": keys}
        ops = {}
        for name, agg in aggregations.items():
            arrays[f"values-{name}"] = agg.values
            ops[name] = {"op": agg.op, "fill": agg.fill}
        return self._record("group_aggregate", arrays, {"n_groups": n_groups, "ops": ops},
                            lambda: LOCAL.group_aggregate(keys, n_groups, aggregations))

    def group_quantile(self, values: np.ndarray, groups: np.ndarray, q: float
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self._record("group_quantile", {"values": values, "groups": groups}, {"q": q},
                            lambda: LOCAL.group_quantile(values, groups, q))

    def largest_window(self, keys: np.ndarray, n_groups: int, when: np.ndarray,
                       width: float) -> np.ndarray:
        return self._record("largest_window", {"keys": keys, "when": when},
                            {"n_groups": n_groups, "width": width},
                            lambda: LOCAL.largest_window(keys, n_groups, when, width))

    def window_counts(self, keys: np.ndarray, when: np.ndarray, width: float
                      ) -> tuple[np.ndarray, np.ndarray]:
        return self._record("window_counts", {"keys": keys, "when": when}, {"width": width},
                            lambda: LOCAL.window_counts(keys, when, width))

    def load_tables(self, data_dir: str | Path, *, max_reject_rate: float = 0.05,
                    reduced: bool = False) -> Any:
        return self._record("load_tables", {}, {"data_dir": str(data_dir),
                                                "max_reject_rate": max_reject_rate,
                                                "reduced": reduced},
                            lambda: LOCAL.load_tables(data_dir, max_reject_rate=max_reject_rate,
                                                      reduced=reduced))

    def __getattr__(self, call: str) -> Any:
        """A call this script does not know yet: run locally, not saved (listed as such)."""
        if call.startswith("_"):
            raise AttributeError(call)
        method = getattr(LOCAL, call)

        def unrecorded(*args: Any, **kwargs: Any) -> Any:
            self.calls.append({"call": call, "stage": self.stage, "unrecorded": True})
            return method(*args, **kwargs)
        return unrecorded


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


def arguments(where: Path, meta: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The saved call's arguments, as the engine method takes them."""
    def array(key: str) -> np.ndarray | None:
        path = where / f"{key}.npy"
        return np.load(path) if path.exists() else None

    scalars, call = meta["scalars"], meta["call"]
    if call == "connected_components":
        return (scalars["n_nodes"], array("src"), array("dst")), {}
    if call == "count_keys":
        return (array("keys"), scalars["n_keys"]), {}
    if call == "bounded_reach":
        return ((array("indptr"), array("target"), array("conf"), array("sources")),
                {"max_hops": scalars["max_hops"], "expandable": array("expandable"),
                 "usable": array("usable")})
    if call == "labelled_reach":
        return ((array("indptr"), array("target"), array("usable"), array("age"),
                 array("starts"), array("goals"), array("deadlines")),
                {"passable": array("passable"), "max_hops": scalars["max_hops"]})
    if call == "map_rows":
        rule = pickle.loads((where / "rule.pkl").read_bytes())
        return (rule, pd.read_parquet(where / "rows.parquet")), {}
    if call == "group_aggregate":
        aggregations = {name: Aggregation(op["op"], array(f"values-{name}"), op["fill"])
                        for name, op in scalars["ops"].items()}
        return (array("keys"), scalars["n_groups"], aggregations), {}
    if call == "group_quantile":
        return (array("values"), array("groups"), scalars["q"]), {}
    if call == "largest_window":
        return (array("keys"), scalars["n_groups"], array("when"), scalars["width"]), {}
    if call == "window_counts":
        return (array("keys"), array("when"), scalars["width"]), {}
    raise ValueError(f"{where}: no replay for {call}")


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


def _timed(engine: Engine, call: str, args: tuple[Any, ...], kwargs: dict[str, Any]
           ) -> tuple[Any, float]:
    start = time.perf_counter()
    result = getattr(engine, call)(*args, **kwargs)
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
        args, kwargs = arguments(where, meta)
        local, local_s = _timed(LOCAL, meta["call"], args, kwargs)
        remote, spark_s = _timed(spark, meta["call"], args, kwargs)
        same = equal(local, remote)
        totals["local"] += local_s
        totals["spark"] += spark_s
        print(f"| {where.name[:3]} | {meta['stage']} | {meta['call']} | {meta['rows']:,} | "
              f"{local_s:.2f} | {spark_s:.1f} | {'yes' if same else 'NO'} |", flush=True)
        del args, kwargs, local, remote
    print(f"| | | total | | {totals['local']:.1f} | {totals['spark']:.1f} | |")


def load(data: Path, master: str) -> None:
    """The Spark side of the load (read, checked, reduced; written to ``noop``) next to the
    local load of the same tables (in a child process, which gives its memory back before
    the Spark session starts: at ten million accounts the local load holds 17 GB)."""
    from linkgraph.engine.spark import load as spark_load
    from linkgraph.engine.spark.session import quiet_pandas_warning

    code = ("import json, sys, time\n"
            "from linkgraph import schemas\n"
            "from linkgraph.engine import LOCAL\n"
            "start = time.perf_counter()\n"
            "tables = LOCAL.load_tables(sys.argv[1])\n"
            "seconds = time.perf_counter() - start\n"
            "rows = sum(len(getattr(tables, name)) for name in schemas.TABLE_NAMES)\n"
            "print(json.dumps({'seconds': seconds, 'rows': rows}))\n")
    done = subprocess.run([sys.executable, "-c", code, str(data)], check=True,
                          capture_output=True, text=True)
    local = json.loads(done.stdout.strip().splitlines()[-1])
    spark = get_engine("spark", master=master)
    spark.session.sparkContext.setLogLevel("ERROR")  # type: ignore[attr-defined]
    start = time.perf_counter()
    with quiet_pandas_warning():
        read = spark_load.read_tables(spark.session, data)  # type: ignore[attr-defined]
        frames, _ = spark_load.reduced_tables(read)
        seconds = {}
        for name, frame in [*frames.items(), ("rejects", read.rejects)]:
            begun = time.perf_counter()
            frame.write.format("noop").mode("overwrite").save()
            seconds[name] = round(time.perf_counter() - begun, 1)
        read.unpersist()
    spark_s = time.perf_counter() - start
    print(f"load of {local['rows']:,} accepted rows: local {local['seconds']:.1f} s (every row "
          f"to pandas); Spark {spark_s:.1f} s (read, checked, reduced, not collected): "
          f"{seconds}")


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
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if args.command == "record":
        record(args.data, args.calls)
    elif args.command == "replay":
        replay(args.calls, args.master, set(args.skip))
    else:
        load(args.data, args.master)


if __name__ == "__main__":
    main()
