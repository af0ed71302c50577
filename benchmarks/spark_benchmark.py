"""Benchmark the Spark engine against the local engine on the same data.

Usage::

    python benchmarks/spark_benchmark.py --accounts 100000                 # local[2]
    python benchmarks/spark_benchmark.py --accounts 1000000 --master 'local[*]'
    spark-submit --master yarn --num-executors 50 --executor-cores 4 \\
        benchmarks/spark_benchmark.py --accounts 10000000 --master yarn --skip-local

Generates (and caches, as ``run_benchmark.py`` does) a synthetic marketplace,
runs ``linkgraph.run`` once per engine, each in a fresh process, and prints a
Markdown table of wall time per stage, then whether the two runs wrote the
same ``accounts.csv``, ``clusters.csv``, ``links.csv``, ``hubs.csv`` and
``review_queue.csv``. The Spark time includes starting the session (reported
apart as ``session``).

Then (unless ``--skip-ops``) it times two routed steps on their own, each on
both engines in one fresh process: ``engine.load_tables`` (Spark's readers +
the load stage's checks, every row collected) and ``score.score_clusters(...,
engine=)`` (the coupon features as group-bys), and checks that both give equal
frames. Every engine call of a run, one by one and at sizes a whole Spark run
cannot reach on one machine: ``engine_replay.py``.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run_benchmark import dataset

COMPARED = ("accounts.csv", "clusters.csv", "links.csv", "hubs.csv", "review_queue.csv")
STAGES = ("load", "normalize", "graph", "cluster", "sanctions", "score", "assemble", "report")


def run_engine(data: Path, out: Path, engine: str, master: str | None) -> dict[str, float]:
    """Stage timings of one run in a fresh interpreter (JSON on its last stdout line)."""
    code = (
        "import json, time, warnings\n"
        "warnings.simplefilter('ignore')\n"
        "import linkgraph as lg\n"
        "from linkgraph.engine import get_engine\n"
        f"engine, master = {engine!r}, {master!r}\n"
        "started = time.perf_counter()\n"
        "session = 0.0\n"
        "if engine == 'spark':\n"
        "    get_engine('spark', master=master).session.sparkContext.setLogLevel('ERROR')\n"
        "    session = time.perf_counter() - started\n"
        f"run = lg.run({str(data)!r}, out={str(out)!r}, "
        "config=lg.Config(engine=engine, spark_master=master))\n"
        "timings = {k: v for k, v in run.manifest.get('timings', {}).items()\n"
        "           if isinstance(v, (int, float))}\n"
        "timings['session'] = round(session, 3)\n"
        "timings['total'] = round(time.perf_counter() - started, 3)\n"
        "print(json.dumps(timings))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    timings: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return timings


def run_ops(data: Path, master: str) -> dict[str, float | bool]:
    """Load and score on both engines (fresh process): seconds, and whether equal."""
    code = (
        "import json, time, warnings\n"
        "warnings.simplefilter('ignore')\n"
        "import pandas as pd\n"
        "from linkgraph import cluster, graph, normalize, sanctions, score\n"
        "from linkgraph.config import Config\n"
        "from linkgraph.engine import LOCAL, get_engine\n"
        f"data, master = {str(data)!r}, {master!r}\n"
        "spark = get_engine('spark', master=master)\n"
        "spark.session.sparkContext.setLogLevel('ERROR')\n"
        "config, out = Config(), {}\n"
        "def timed(name, call):\n"
        "    start = time.perf_counter(); value = call()\n"
        "    out[name] = round(time.perf_counter() - start, 3); return value\n"
        "tables = timed('load local', lambda: LOCAL.load_tables(data))\n"
        "on_spark = timed('load spark', lambda: spark.load_tables(data))\n"
        "out['load equal'] = all(getattr(tables, n).equals(getattr(on_spark, n)) for n in\n"
        "    ('accounts', 'addresses', 'payments', 'logins', 'orders', 'sanctions', 'rejects'))\n"
        "del on_spark\n"
        "ids = normalize.normalize_identifiers(tables, config=config.normalize)\n"
        "links = graph.build_links(ids, tables, config=config.graph)\n"
        "clusters = cluster.assign_clusters(tables.accounts, links,\n"
        "    blocked=sanctions.blocked_accounts(tables.sanctions), config=config.cluster)\n"
        "local = timed('score local', lambda: score.score_clusters(clusters, links, tables,\n"
        "    config=config.coupon))\n"
        "remote = timed('score spark', lambda: score.score_clusters(clusters, links, tables,\n"
        "    config=config.coupon, engine=spark))\n"
        "out['score equal'] = local.clusters.equals(remote.clusters) and \\\n"
        "    local.persons.equals(remote.persons)\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    found: dict[str, float | bool] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--master", default="local[2]", help="Spark master URL")
    parser.add_argument("--skip-local", action="store_true", help="time Spark only")
    parser.add_argument("--skip-ops", action="store_true",
                        help="do not time engine.load_tables and the score's group-bys")
    args = parser.parse_args()

    data = dataset(args.accounts, args.seed)
    with tempfile.TemporaryDirectory(prefix="linkgraph-spark-bench-") as tmp:
        runs = {}
        if not args.skip_local:
            runs["local"] = run_engine(data, Path(tmp) / "local", "local", None)
        runs["spark"] = run_engine(data, Path(tmp) / "spark", "spark", args.master)
        engines = list(runs)
        print(f"{args.accounts:,} accounts, Spark master {args.master}\n")
        print("| stage | " + " | ".join(f"{e} (s)" for e in engines) + " |")
        print("| --- | " + " | ".join("---:" for _ in engines) + " |")
        for stage in ("session", *STAGES, "total"):
            cells = [f"{runs[e].get(stage, 0.0):.1f}" for e in engines]
            print(f"| {stage} | " + " | ".join(cells) + " |")
        if "local" in runs:
            same = {name: filecmp.cmp(Path(tmp) / "local" / name, Path(tmp) / "spark" / name,
                                      shallow=False) for name in COMPARED}
            print("\nidentical files: " + ", ".join(f"{k} {'yes' if v else 'NO'}"
                                                    for k, v in same.items()))
    if not args.skip_ops:
        ops = run_ops(data, args.master)
        print("\n| operation | local (s) | spark (s) | equal |")
        print("| --- | ---: | ---: | --- |")
        for op in ("load", "score"):
            print(f"| {op} | {ops[op + ' local']:.1f} | {ops[op + ' spark']:.1f} | "
                  f"{'yes' if ops[op + ' equal'] else 'NO'} |")


if __name__ == "__main__":
    main()
