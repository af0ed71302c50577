"""Benchmark the whole pipeline against the obvious approach.

Usage::

    python benchmarks/run_benchmark.py --accounts 1000000            # full pipeline
    python benchmarks/run_benchmark.py --accounts 1000000 --baseline # + networkx side by side

Generates the marketplace once with ``linkgraph synth`` (cached under
``benchmarks/cache/``), runs ``linkgraph.run`` in a fresh process (so peak RSS
is the pipeline's own), and prints wall time per stage, peak RSS and rows per
second as a Markdown table. With ``--baseline`` it also times, in separate
processes on the same data:

* networkx connected components over the same links the pipeline clustered
  (the component stage alone, scipy vs networkx), and
* the obvious approach: link accounts on raw shared values (no normalisation,
  no hubs, no tiers) with networkx and take its components.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = HERE / "cache"


def dataset(accounts: int, seed: int) -> Path:
    """The cached synthetic marketplace (Parquet) for ``accounts`` and ``seed``."""
    path = CACHE / f"market-{accounts}-{seed}"
    if not (path / "accounts.parquet").is_file():
        from linkgraph.synth import synthesize

        started = time.perf_counter()
        synthesize(path, accounts=accounts, seed=seed, fmt="parquet")
        print(f"generated {path} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return path


def _in_child(code: str) -> dict[str, float]:
    """Run ``code`` in a fresh interpreter; it prints a JSON dict. Adds peak RSS in MB."""
    wrapped = code + (
        "\nimport resource, json, sys\n"
        "result['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "print(json.dumps(result))\n"
    )
    done = subprocess.run([sys.executable, "-c", wrapped], check=True, capture_output=True, text=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def pipeline(data: Path, out: Path) -> dict[str, float]:
    return _in_child(
        "import time, json, linkgraph as lg\n"
        "t = time.perf_counter()\n"
        f"run = lg.run({str(data)!r}, out={str(out)!r})\n"
        "result = dict(run.manifest['timings'])\n"
        "result.pop('finished_at', None)\n"
        "result['wall_s'] = time.perf_counter() - t\n"
        "result['accounts'] = len(run.accounts)\n"
        "result['links'] = len(run.links)\n"
        "result['input_rows'] = sum(i['rows_read'] for i in run.manifest['inputs'])\n"
    )


def components_side_by_side(run_dir: Path) -> dict[str, float]:
    """scipy (what the pipeline uses) vs networkx on the pipeline's own pair links."""
    return _in_child(
        "import time, numpy as np, pandas as pd, networkx as nx\n"
        "from scipy.sparse import coo_matrix\n"
        "from scipy.sparse.csgraph import connected_components\n"
        f"pairs = pd.read_parquet({str(run_dir / 'links.parquet')!r}, columns=['account_a','account_b'])\n"
        f"accounts = pd.read_parquet({str(run_dir / 'accounts.parquet')!r}, columns=['account_id'])\n"
        "codes = pd.Index(accounts.account_id)\n"
        "a = codes.get_indexer(pairs.account_a); b = codes.get_indexer(pairs.account_b)\n"
        "t = time.perf_counter()\n"
        "n = len(codes)\n"
        "g = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))\n"
        "connected_components(g, directed=False)\n"
        "scipy_s = time.perf_counter() - t\n"
        "t = time.perf_counter()\n"
        "G = nx.Graph(); G.add_nodes_from(range(n)); G.add_edges_from(zip(a.tolist(), b.tolist()))\n"
        "list(nx.connected_components(G))\n"
        "nx_s = time.perf_counter() - t\n"
        "result = {'scipy_components_s': scipy_s, 'networkx_components_s': nx_s,"
        " 'ratio': nx_s / max(scipy_s, 1e-9)}\n"
    )


def obvious_approach(data: Path) -> dict[str, float]:
    """Raw shared values, networkx, components: what one writes first."""
    return _in_child(
        "import time, pandas as pd, networkx as nx\n"
        "t = time.perf_counter()\n"
        f"d = {str(data)!r}\n"
        "acc = pd.read_parquet(d + '/accounts.parquet')\n"
        "G = nx.Graph()\n"
        "G.add_nodes_from(acc.account_id)\n"
        "def link(frame, col, kind):\n"
        "    f = frame[['account_id', col]].dropna()\n"
        "    G.add_edges_from(zip(f.account_id, kind + ':' + f[col].astype(str)))\n"
        "for col in ['email', 'phone', 'device_id', 'registration_ip']: link(acc, col, col)\n"
        "link(pd.read_parquet(d + '/addresses.parquet'), 'line1', 'addr')\n"
        "link(pd.read_parquet(d + '/payments.parquet'), 'fingerprint', 'card')\n"
        "logins = pd.read_parquet(d + '/logins.parquet', columns=['account_id', 'ip', 'device_id'])\n"
        "link(logins, 'ip', 'registration_ip'); link(logins, 'device_id', 'device_id')\n"
        "comps = list(nx.connected_components(G))\n"
        "largest = max(len([n for n in c if not str(n).count(':')]) for c in comps)\n"
        "result = {'wall_s': time.perf_counter() - t, 'largest_cluster_accounts': largest}\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--baseline", action="store_true", help="also time networkx side by side")
    args = parser.parse_args()

    data = dataset(args.accounts, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        result = pipeline(data, out)
        rows = [("linkgraph run (end to end)", f"{result['wall_s']:.1f} s", f"{result['peak_rss_mb']:,.0f} MB")]
        for stage in ("load", "normalize", "graph", "cluster", "sanctions", "score", "assemble", "report"):
            if stage in result:
                rows.append((f"  stage {stage}", f"{result[stage]:.2f} s", ""))
        rate = result["input_rows"] / result["wall_s"]
        rows.append(("input rows / s", f"{rate:,.0f}", ""))
        if args.baseline:
            side = components_side_by_side(out)
            rows.append(("components: scipy", f"{side['scipy_components_s']:.2f} s", ""))
            rows.append(("components: networkx", f"{side['networkx_components_s']:.2f} s",
                         f"{side['peak_rss_mb']:,.0f} MB"))
            rows.append(("components speed-up", f"{side['ratio']:.0f}x", ""))
            naive = obvious_approach(data)
            rows.append(("obvious approach (raw values + networkx)", f"{naive['wall_s']:.1f} s",
                         f"{naive['peak_rss_mb']:,.0f} MB"))
            rows.append(("  its largest cluster", f"{naive['largest_cluster_accounts']:,} accounts", ""))
    print(f"\n{args.accounts:,} accounts, {result['input_rows']:,} input rows, "
          f"{result['links']:,} links (seed {args.seed})\n")
    print("| what | time | peak RSS |\n| --- | --- | --- |")
    for what, t, rss in rows:
        print(f"| {what} | {t} | {rss} |")


if __name__ == "__main__":
    main()
