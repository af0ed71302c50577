"""Benchmark the whole pipeline against the obvious approach.

Usage::

    python benchmarks/run_benchmark.py --accounts 1000000            # full pipeline
    python benchmarks/run_benchmark.py --accounts 1000000 --baseline # + networkx side by side

Generates the marketplace once with ``linkgraph synth`` (Parquet, cached under
``benchmarks/cache/``, git-ignored), runs ``linkgraph.run`` in a fresh process
(so peak RSS is the pipeline's own), and prints per stage the wall time, the
CPU seconds and the peak RSS seen while it ran, and input rows per second, as a
Markdown table
(also saved as JSON under ``benchmarks/results/``). With ``--baseline`` it
also times, each in its own process on the same data:

* connected components over the pairs the cluster stage joins (person and
  household tiers, from the run's ``pair_tiers.parquet``): scipy's sparse
  ``connected_components`` (what the pipeline uses) against
  ``networkx.connected_components``, graph construction included for both;
* the obvious approach: link accounts on raw shared values (no
  normalisation, no hubs, no tiers, no reports) with networkx and take its
  components.

On a shared machine wall time depends on the load: compare the CPU column,
and run the benchmark alone for the headline number.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = HERE / "cache"
RESULTS = HERE / "results"
STAGES = ("load", "normalize", "graph", "cluster", "sanctions", "score", "assemble")


def dataset(accounts: int, seed: int) -> Path:
    """The cached synthetic marketplace (Parquet) for ``accounts`` and ``seed``."""
    path = CACHE / f"market-{accounts}-{seed}"
    if not (path / "truth.csv").is_file():  # synth writes it after every table
        from linkgraph.synth import synthesize

        started = time.perf_counter()
        # above a million accounts the world is drawn in shards (Parquet parts; ~3 GB per
        # shard, a second process writes one while the next is drawn), so that ten million
        # fit in memory; a million or fewer stays one file per table
        synthesize(path, accounts=accounts, seed=seed, fmt="parquet", shard_size=1_000_000,
                   processes=2)
        print(f"generated {path} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return path


def _in_child(code: str) -> dict[str, float]:
    """Run ``code`` in a fresh interpreter; it fills ``result``. Adds peak RSS and CPU time."""
    wrapped = (
        "import resource, json\n" + code
        + "\nusage = resource.getrusage(resource.RUSAGE_SELF)\n"
        "result['peak_rss_mb'] = usage.ru_maxrss / 1024\n"
        "result['cpu_s'] = usage.ru_utime + usage.ru_stime\n"
        "print(json.dumps(result))\n"
    )
    done = subprocess.run([sys.executable, "-c", wrapped], capture_output=True, text=True,
                          check=False)
    if done.returncode < 0:  # killed: SIGKILL is what the kernel's OOM killer sends
        raise SystemExit(f"benchmark child killed by signal {-done.returncode}"
                         f"{' (out of memory?)' if done.returncode == -9 else ''}:\n"
                         f"{done.stderr[-4000:]}")
    if done.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{done.stderr[-4000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# Per stage: CPU seconds (the process's, Arrow's threads included) and the peak RSS
# seen while it ran, sampled every 50 ms by a thread; stages start at the pipeline's
# progress callback, and "report" ends when lg.run returns.
_STAGE_PROBE = """
import threading
def _rss_mb():
    with open('/proc/self/status') as fh:
        for line in fh:
            if line.startswith('VmRSS'):
                return int(line.split()[1]) / 1024
    return 0.0
def _cpu():
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime
probe = {'stage': None, 'peak': 0.0, 'cpu': 0.0, 'cpu_s': {}, 'peak_mb': {}}
def _sample():
    while True:
        probe['peak'] = max(probe['peak'], _rss_mb())
        time.sleep(0.05)
threading.Thread(target=_sample, daemon=True).start()
def _close():
    if probe['stage'] is not None:
        probe['cpu_s'][probe['stage']] = _cpu() - probe['cpu']
        probe['peak_mb'][probe['stage']] = max(probe['peak'], _rss_mb())
def progress(name):
    _close()
    probe.update(stage=name, peak=_rss_mb(), cpu=_cpu())
"""


def pipeline(data: Path, out: Path) -> dict[str, float]:
    """``linkgraph.run`` end to end, run directory written; stage timings from its manifest,
    CPU seconds and peak RSS per stage from a probe in the child."""
    return _in_child(
        "import time, linkgraph as lg\n" + _STAGE_PROBE +
        "t = time.perf_counter()\n"
        f"run = lg.run({str(data)!r}, out={str(out)!r}, progress=progress)\n"
        "_close()\n"
        "result = dict(run.manifest['timings'])\n"
        "result.pop('finished_at', None)\n"
        "result['wall_s'] = time.perf_counter() - t\n"
        "result['stage_cpu_s'] = probe['cpu_s']\n"
        "result['stage_peak_mb'] = probe['peak_mb']\n"
        "result['accounts'] = len(run.accounts)\n"
        "result['clusters'] = len(run.clusters)\n"
        "result['links'] = len(run.links)\n"
        "result['input_rows'] = sum(i['rows_read'] for i in run.manifest['inputs'])\n"
    )


def components_side_by_side(run_dir: Path) -> dict[str, float]:
    """scipy (what the pipeline uses) vs networkx on the pairs the cluster stage joins."""
    return _in_child(
        "import time, numpy as np, pandas as pd, networkx as nx\n"
        "from scipy.sparse import coo_matrix\n"
        "from scipy.sparse.csgraph import connected_components\n"
        f"tiers = pd.read_parquet({str(run_dir / 'pair_tiers.parquet')!r},"
        " columns=['account_a', 'account_b', 'tier'])\n"
        "pairs = tiers[tiers.tier.isin(['person', 'household'])]\n"
        f"accounts = pd.read_parquet({str(run_dir / 'accounts.parquet')!r}, columns=['account_id'])\n"
        "codes = pd.Index(accounts.account_id)\n"
        "a = codes.get_indexer(pairs.account_a); b = codes.get_indexer(pairs.account_b)\n"
        "n = len(codes)\n"
        "t = time.perf_counter()\n"
        "g = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))\n"
        "k, _ = connected_components(g, directed=False)\n"
        "scipy_s = time.perf_counter() - t\n"
        "t = time.perf_counter()\n"
        "G = nx.Graph(); G.add_nodes_from(range(n)); G.add_edges_from(zip(a.tolist(), b.tolist()))\n"
        "k_nx = sum(1 for _ in nx.connected_components(G))\n"
        "nx_s = time.perf_counter() - t\n"
        "assert k == k_nx, (k, k_nx)\n"
        "result = {'pairs': len(a), 'components': int(k), 'scipy_components_s': scipy_s,"
        " 'networkx_components_s': nx_s, 'ratio': nx_s / max(scipy_s, 1e-9)}\n"
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
        "accounts = set(acc.account_id)\n"
        "largest = max(sum(1 for n in c if n in accounts) for c in nx.connected_components(G))\n"
        "result = {'wall_s': time.perf_counter() - t, 'largest_cluster_accounts': largest}\n"
    )


def table(args: argparse.Namespace, result: dict, side: dict | None, naive: dict | None) -> str:
    """The Markdown table of one benchmark."""
    rows = [("linkgraph run, end to end", f"{result['wall_s']:.1f} s", f"{result['cpu_s']:.1f} s",
             f"{result['peak_rss_mb']:,.0f} MB")]
    staged = 0.0
    cpu, peak = result.get("stage_cpu_s", {}), result.get("stage_peak_mb", {})

    def probed(stage: str) -> tuple[str, str]:
        return (f"{cpu[stage]:.1f} s" if stage in cpu else "",
                f"{peak[stage]:,.0f} MB" if stage in peak else "")

    for stage in STAGES:
        if stage in result:
            staged += result[stage]
            rows.append((f"  {stage}", f"{result[stage]:.1f} s", *probed(stage)))
    rows.append(("  report (write files) + rest", f"{result['wall_s'] - staged:.1f} s",
                 *probed("report")))
    rows.append(("input rows / s", f"{result['input_rows'] / result['wall_s']:,.0f}", "", ""))
    if side is not None:
        rows += [
            (f"components, scipy ({side['pairs']:,} pairs)", f"{side['scipy_components_s']:.2f} s",
             "", ""),
            ("components, networkx (same pairs)", f"{side['networkx_components_s']:.2f} s", "",
             f"{side['peak_rss_mb']:,.0f} MB (both)"),
            ("components speed-up, scipy vs networkx", f"{side['ratio']:.0f}x", "", ""),
        ]
    if naive is not None:
        rows += [
            ("obvious approach (raw values + networkx)", f"{naive['wall_s']:.1f} s",
             f"{naive['cpu_s']:.1f} s", f"{naive['peak_rss_mb']:,.0f} MB"),
            ("  its largest cluster", f"{naive['largest_cluster_accounts']:,} accounts", "", ""),
        ]
    head = (f"{args.accounts:,} accounts, {result['input_rows']:,} input rows, "
            f"{result['links']:,} links, {result['clusters']:,} clusters (seed {args.seed}, "
            f"{os.cpu_count()} cores)\n\n")
    lines = ["| what | wall | CPU | peak RSS |", "| --- | --- | --- | --- |"]
    lines += [f"| {what} | {wall} | {cpu} | {rss} |" for what, wall, cpu, rss in rows]
    return head + "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--baseline", action="store_true", help="also time networkx side by side")
    args = parser.parse_args()

    data = dataset(args.accounts, args.seed)
    side = naive = None
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        result = pipeline(data, out)
        if args.baseline:
            side = components_side_by_side(out)
            naive = obvious_approach(data)
    text = table(args, result, side, naive)
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    (RESULTS / f"{args.accounts}-{args.seed}-{stamp}.json").write_text(json.dumps(
        {"pipeline": result, "components": side, "obvious": naive}, indent=2) + "\n")
    print("\n" + text)


if __name__ == "__main__":
    main()
