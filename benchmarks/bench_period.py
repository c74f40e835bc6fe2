"""The period query (`chatsales kpis`): the whole catalog for one period, from the facts stored in the
reporting database, timed over the demo's full range.

    .venv/bin/python benchmarks/bench_period.py --scale 1 --days 90      # target < 2 s
    .venv/bin/python benchmarks/bench_period.py --scale 10 --days 365    # target < 20 s

Preparation (excluded from the timings): the demo is generated and the pipeline is run on all its days
through Dagster (one single-run backfill, SQLite reporting database), in `--workdir`; a workdir that already
holds a finished preparation is reused, so the query can be timed again without redoing it. Then
`period_kpis` (what `chatsales kpis` calls) is timed over the whole range, best of `--repeat`, split into
reading the facts back and computing the catalog, with and without the chart buckets, and with a source
filter and a time slot.
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FIRST = date(2025, 1, 6)
TZ = "Europe/Paris"


def prepare(workdir: Path, scale: float, days: int) -> dict:
    """Demo + pipeline on every day, once per workdir; returns what was prepared."""
    done = workdir / "prepared.json"
    if done.exists():
        return json.loads(done.read_text())
    import dagster as dg

    from chatsales.demo import generate_demo
    from chatsales.settings import load_settings
    from pipelines.definitions import build_definitions
    from pipelines.jobs import DAILY_JOB
    from pipelines.partitions import range_tags

    started = time.perf_counter()
    manifest = generate_demo(workdir / "demo", FIRST, days=days, scale=scale, seed=7, timezone=TZ)
    generated = time.perf_counter() - started
    url = f"sqlite:///{workdir / 'reporting.db'}"
    settings = load_settings({
        "CHATSALES_HOME": str(workdir), "CHATSALES_START_DATE": str(FIRST), "CHATSALES_TIMEZONE": TZ,
        "CHATSALES_CHAT_DB_URL": f"sqlite:///{manifest.chat_db_path}",
        "CHATSALES_ORDERS_DIR": str(manifest.orders_dir),
        "CHATSALES_STORE_SALES_DIR": str(manifest.store_sales_dir),
        "CHATSALES_CAMPAIGNS_DIR": str(manifest.campaigns_dir), "CHATSALES_REPORTING_DB_URL": url,
    })
    job = build_definitions(settings).resolve_job_def(DAILY_JOB)
    (workdir / "dagster").mkdir(exist_ok=True)
    with dg.DagsterInstance.local_temp(str(workdir / "dagster")) as instance:
        started = time.perf_counter()
        result = job.execute_in_process(instance=instance, tags=range_tags(manifest.first_day, manifest.last_day))
        pipeline = time.perf_counter() - started
    assert result.success
    info = {"scale": scale, "days": days, "first_day": str(manifest.first_day), "last_day": str(manifest.last_day),
            "url": url, "generate_s": round(generated, 1), "pipeline_s": round(pipeline, 1),
            "counts": manifest.counts}
    done.write_text(json.dumps(info, indent=2))
    return info


def best(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - started)
    return min(times), out


def measure(info: dict, repeat: int) -> dict:
    from chatsales.kpis import compute_kpis
    from chatsales.kpis.charts import compute_charts
    from chatsales.period import Periods
    from pipelines.cli import period_charts, period_kpis, stored_facts

    url, first, last = info["url"], date.fromisoformat(info["first_day"]), date.fromisoformat(info["last_day"])
    out = {}
    out["read_facts_s"], facts = best(lambda: stored_facts(url), repeat)
    periods = Periods.range(first, last, TZ)
    out["compute_kpis_s"], _ = best(lambda: compute_kpis(facts, periods, dimensions=("all",)), repeat)
    out["compute_charts_s"], _ = best(lambda: compute_charts(facts, periods, dimensions=("all",)), repeat)
    out["period_kpis_s"], rows = best(lambda: period_kpis(url, first, last, TZ), repeat)
    def with_charts():   # what `chatsales kpis --charts` does: one read, the measures shared
        stored, memo = stored_facts(url), {}
        return (period_kpis(url, first, last, TZ, facts=stored, memo=memo),
                period_charts(url, first, last, TZ, facts=stored, memo=memo))
    out["period_kpis_charts_s"], _ = best(with_charts, repeat)
    out["source_and_slot_s"], _ = best(lambda: period_kpis(url, first, last, TZ, filters={"source": "direct"},
                                                           time_slot="09:00-19:00"), repeat)
    out["refs"] = int(rows["kpi"].nunique())
    out["fact_rows"] = {name: len(frame) for name, frame in facts.tables().items()}
    out["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, help="keep (and reuse) the prepared demo here")
    parser.add_argument("--prepare-only", action="store_true")
    args = parser.parse_args()
    tmp = None
    if args.workdir is None:
        tmp = tempfile.TemporaryDirectory()
        args.workdir = Path(tmp.name)
    args.workdir.mkdir(parents=True, exist_ok=True)
    info = prepare(args.workdir, args.scale, args.days)
    print(json.dumps({k: info[k] for k in ("scale", "days", "first_day", "last_day", "generate_s", "pipeline_s")}))
    if args.prepare_only:
        return
    got = measure(info, args.repeat)
    print(json.dumps(got, indent=2))
    print("\n| scale | days | fact rows | read facts (s) | KPIs (s) | charts (s) | period_kpis (s) | "
          "+ charts (s) | source + slot (s) |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| {info['scale']:g}× | {info['days']} | {sum(got['fact_rows'].values()):,} | {got['read_facts_s']:.2f} | "
          f"{got['compute_kpis_s']:.2f} | {got['compute_charts_s']:.2f} | {got['period_kpis_s']:.2f} | "
          f"{got['period_kpis_charts_s']:.2f} | {got['source_and_slot_s']:.2f} |")
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
