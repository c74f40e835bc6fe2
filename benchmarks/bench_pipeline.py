"""The whole demo through Dagster at several scales: generation, then one single-run backfill of all days.

Each scale runs in its own subprocess so its peak memory (ru_maxrss) is its own. Prints a Markdown table:

    .venv/bin/python benchmarks/bench_pipeline.py --scales 1 10 30 --days 90
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one_scale(scale: float, days: int, workdir: Path) -> dict:
    sys.path.insert(0, str(ROOT))
    import dagster as dg

    from chatsales.demo import generate_demo
    from chatsales.settings import load_settings
    from pipelines.definitions import definitions_for
    from pipelines.jobs import DAILY_JOB
    from pipelines.partitions import range_tags

    # the days end yesterday: partitions stop at the last complete day, a range beyond it cannot run
    first = date.today() - timedelta(days=days)
    started = time.perf_counter()
    manifest = generate_demo(workdir / "demo", first, days=days, scale=scale, seed=7)
    generated = time.perf_counter() - started
    settings = load_settings({
        "CHATSALES_HOME": str(workdir), "CHATSALES_START_DATE": str(first),
        "CHATSALES_CHAT_DB_URL": f"sqlite:///{manifest.chat_db_path}",
        "CHATSALES_ORDERS_DIR": str(manifest.orders_dir),
        "CHATSALES_STORE_SALES_DIR": str(manifest.store_sales_dir),
        "CHATSALES_CAMPAIGNS_DIR": str(manifest.campaigns_dir),
    })
    job = definitions_for(settings).resolve_job_def(DAILY_JOB)
    dagster_home = workdir / "dagster"
    dagster_home.mkdir()
    with dg.DagsterInstance.local_temp(str(dagster_home)) as instance:
        started = time.perf_counter()
        result = job.execute_in_process(instance=instance,
                                        tags=range_tags(manifest.first_day, manifest.last_day))
        elapsed = time.perf_counter() - started
    assert result.success
    orders = manifest.counts.get("web_orders", 0) + manifest.counts.get("store_receipts", 0)
    messages = manifest.counts.get("messages", 0)
    return {"scale": scale, "days": days, "orders": orders, "messages": messages,
            "generate_s": round(generated, 1), "pipeline_s": round(elapsed, 1),
            "rows_per_s": round((orders + messages) / elapsed),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scales", type=float, nargs="+", default=[1, 10, 30])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--one", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(one_scale(args.one, args.days, Path(tmp))))
        return
    rows = []
    for scale in args.scales:
        out = subprocess.run([sys.executable, __file__, "--one", str(scale), "--days", str(args.days)],
                             capture_output=True, text=True, env={**os.environ, "DAGSTER_HOME": ""})
        if out.returncode:
            print(out.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"scale {scale} failed")
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print("| scale | days | orders+receipts | messages | generate (s) | pipeline (s) | orders+messages/s | peak RSS (MiB) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['scale']:g}× | {r['days']} | {r['orders']:,} | {r['messages']:,} | {r['generate_s']} | "
              f"{r['pipeline_s']} | {r['rows_per_s']:,} | {r['peak_rss_mib']:,} |")


if __name__ == "__main__":
    main()
