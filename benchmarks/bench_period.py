"""The period query (`chatsales kpis`): the whole catalog for one period, from the facts stored in the
reporting database, timed over the demo's full range.

    .venv/bin/python benchmarks/bench_period.py --scale 1 --days 90                                # < 2 s
    .venv/bin/python benchmarks/bench_period.py --scale 10 --days 365 --direct --chunk-days 31     # < 20 s

Preparation (excluded from the timings): the demo is generated and the pipeline is run on all its days
through Dagster (one single-run backfill, SQLite reporting database), in `--workdir`; a workdir that already
holds a finished preparation is reused, so the query can be timed again without redoing it. A year at 10×
does not fit one run's memory on 24 GiB, and every run reads the whole sources again, so `--direct` reads
them once and publishes the facts a month at a time with the pipeline's own functions. Then, over the whole
range, best of `--repeat`: reading the facts back, the cards alone, the chart buckets alone, `period_kpis`
(read + cards), and the whole catalog as `chatsales kpis --json` computes it (every ref: cards, charts, the
line charts' points, read from kpi_daily when no filter applies, the members list, Insi-6/7), also with a source
filter and a time slot (the lines then computed day by day), and `chatsales kpis --json` in a new process.
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
sys.path.insert(0, str(ROOT))
FIRST = date(2025, 1, 6)
TZ = "Europe/Paris"


def prepare(workdir: Path, scale: float, days: int, chunk_days: int | None = None, direct: bool = False) -> dict:
    """Demo + pipeline on every day, once per workdir; returns what was prepared. `chunk_days` splits the
    range into consecutive single-run backfills (each run reads the whole sources, so a year at 10× does
    not fit in one run's memory on a 24 GiB machine)."""
    done = workdir / "prepared.json"
    if done.exists():
        return json.loads(done.read_text())
    import dagster as dg

    from chatsales.demo import generate_demo
    from chatsales.settings import load_settings
    from pipelines.definitions import definitions_for
    from pipelines.jobs import DAILY_JOB
    from pipelines.partitions import range_tags

    started = time.perf_counter()
    manifest = generate_demo(workdir / "demo", FIRST, days=days, scale=scale, seed=7, timezone=TZ)
    generated = time.perf_counter() - started
    url = f"sqlite:///{workdir / 'reporting.db'}"
    settings = load_settings(
        {
            "CHATSALES_HOME": str(workdir),
            "CHATSALES_START_DATE": str(FIRST),
            "CHATSALES_TIMEZONE": TZ,
            "CHATSALES_CHAT_DB_URL": f"sqlite:///{manifest.chat_db_path}",
            "CHATSALES_ORDERS_DIR": str(manifest.orders_dir),
            "CHATSALES_STORE_SALES_DIR": str(manifest.store_sales_dir),
            "CHATSALES_CAMPAIGNS_DIR": str(manifest.campaigns_dir),
            "CHATSALES_REPORTING_DB_URL": url,
        }
    )
    if direct:
        pipeline = publish_facts_directly(settings, manifest, chunk_days or days)
        return _done(done, scale, days, manifest, url, generated, pipeline)
    job = definitions_for(settings).resolve_job_def(DAILY_JOB)
    (workdir / "dagster").mkdir(exist_ok=True)
    step = timedelta(days=chunk_days or days)
    with dg.DagsterInstance.local_temp(str(workdir / "dagster")) as instance:
        started, first = time.perf_counter(), manifest.first_day
        while first <= manifest.last_day:
            last = min(first + step - timedelta(days=1), manifest.last_day)
            result = job.execute_in_process(instance=instance, tags=range_tags(first, last))
            assert result.success, f"pipeline failed on {first}..{last}"
            first = last + timedelta(days=1)
        pipeline = time.perf_counter() - started
    return _done(done, scale, days, manifest, url, generated, pipeline)


def _done(done: Path, scale: float, days: int, manifest, url: str, generated: float, pipeline: float) -> dict:
    info = {
        "scale": scale,
        "days": days,
        "first_day": str(manifest.first_day),
        "last_day": str(manifest.last_day),
        "url": url,
        "generate_s": round(generated, 1),
        "pipeline_s": round(pipeline, 1),
        "counts": manifest.counts,
    }
    done.write_text(json.dumps(info, indent=2))
    return info


def publish_facts_directly(settings, manifest, chunk_days: int) -> float:
    """Sources read once, attributed and turned into facts by the pipeline's own functions (what the
    re-attribution job does), then the facts published `chunk_days` at a time. For sizes where running the
    Dagster job per range would re-read a year of sources for every range. Of the KPI day tables only the
    kpi_daily rows of the line charts are computed, by the pipeline's function: what the period query reads
    of them (the other KPI rows, charts and members list a year at 10x would take long and are not read)."""
    import numpy as np

    from chatsales.attribution import attribute
    from chatsales.customer_keys import all_orders
    from chatsales.facts import build_facts, facts_to_publish
    from chatsales.kpis import compute_kpis
    from chatsales.kpis.catalog import LINE_REFS
    from chatsales.period import Periods
    from chatsales.publication import attributed_order_rows
    from chatsales.query import FILTERS
    from chatsales.reporting.store import ReportingDb as ReportingStore
    from chatsales.sources.chat_db import read_chat_db
    from chatsales.sources.orders import read_orders_dir
    from chatsales.sources.store_sales import read_store_sales_dir

    started = time.perf_counter()
    chat = read_chat_db(settings.chat_db_url).frames
    web = read_orders_dir(Path(settings.orders_dir), settings.currency).frames
    pos = read_store_sales_dir(Path(settings.store_sales_dir), settings.timezone, settings.currency).frames
    every_order = all_orders(web["orders"], pos["orders"])
    rows = attributed_order_rows(
        every_order,
        attribute(every_order, chat, settings.window_days),
        timezone=settings.timezone,
        pii_key=settings.pii_key,
    )
    facts = build_facts(chat, rows, settings.timezone, order_lines=all_orders(web["order_lines"], pos["order_lines"]))
    print(f"sources read, attributed, facts built in {time.perf_counter() - started:.0f} s", flush=True)
    store, first = ReportingStore(settings.reporting_db_url), manifest.first_day
    while first <= manifest.last_day:
        last = min(first + timedelta(days=chunk_days - 1), manifest.last_day)
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        day_facts, state = facts_to_publish(facts.tables(), days)  # the state facts once, with the last range
        lines = compute_kpis(
            facts, Periods.daily(days, settings.timezone), dimensions=("all", *FILTERS), refs=LINE_REFS
        )  # what chatsales kpis reads of kpi_daily, and the values each filter offers
        store.publish_days(
            days,
            run_id="bench-direct",
            tables={"kpi_daily": lines.assign(day=np.array(days, dtype=object)[lines.pop("period").to_numpy()])},
            day_facts=day_facts,
            state_facts=state if last == manifest.last_day else None,
        )
        first = last + timedelta(days=1)
    store.dispose()
    return time.perf_counter() - started


def best(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - started)
    return min(times), out


def command(info: dict) -> None:
    """`chatsales kpis --json` over the whole range in a new process, as a user runs it: interpreter, imports,
    reading, every ref, Smgo-1..5 and the JSON."""
    env = {
        **os.environ,
        "CHATSALES_REPORTING_DB_URL": info["url"],
        "CHATSALES_TIMEZONE": TZ,
        "CHATSALES_HOME": str(Path(info["url"].removeprefix("sqlite:///")).parent),
    }
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.cli",
            "kpis",
            "--from",
            info["first_day"],
            "--to",
            info["last_day"],
            "--json",
        ],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def measure(info: dict, repeat: int) -> dict:
    from chatsales.kpis import compute_kpis
    from chatsales.kpis.charts import compute_charts
    from chatsales.period import Periods
    from chatsales.query import catalog_of_period, period_kpis, stored_facts

    url, first, last = info["url"], date.fromisoformat(info["first_day"]), date.fromisoformat(info["last_day"])
    out = {}
    out["read_facts_s"], facts = best(lambda: stored_facts(url, first, last), repeat)
    periods = Periods.range(first, last, TZ)
    out["compute_kpis_s"], _ = best(lambda: compute_kpis(facts, periods, dimensions=("all",)), repeat)
    out["compute_charts_s"], _ = best(lambda: compute_charts(facts, periods, dimensions=("all",)), repeat)
    out["period_kpis_s"], rows = best(lambda: period_kpis(url, first, last, TZ), repeat)

    def catalog(filters=None, time_slot=None):  # what `chatsales kpis --json` computes: every ref of the period
        return catalog_of_period(url, Periods.range(first, last, TZ, time_slot=time_slot), filters or {})

    out["catalog_s"], values = best(catalog, repeat)
    out["catalog_source_slot_s"], _ = best(lambda: catalog({"source": "direct"}, "09:00-19:00"), repeat)
    out["command_s"], _ = best(lambda: command(info), repeat)
    out["cards"] = int(rows["kpi"].nunique())
    out["refs"] = len(values)
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
    parser.add_argument("--chunk-days", type=int, help="prepare in runs of this many days (memory)")
    parser.add_argument(
        "--direct", action="store_true", help="prepare without Dagster: sources read once, facts published by chunk"
    )
    args = parser.parse_args()
    tmp = None
    if args.workdir is None:
        tmp = tempfile.TemporaryDirectory()
        args.workdir = Path(tmp.name)
    args.workdir.mkdir(parents=True, exist_ok=True)
    info = prepare(args.workdir, args.scale, args.days, args.chunk_days, args.direct)
    print(json.dumps({k: info[k] for k in ("scale", "days", "first_day", "last_day", "generate_s", "pipeline_s")}))
    if args.prepare_only:
        return
    got = measure(info, args.repeat)
    print(json.dumps(got, indent=2))
    print(
        "\n| scale | days | fact rows | read facts (s) | cards (s) | charts (s) | period_kpis (s) | "
        "whole catalog (s) | catalog, source + slot (s) | `chatsales kpis --json`, new process (s) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {info['scale']:g}× | {info['days']} | {sum(got['fact_rows'].values()):,} | {got['read_facts_s']:.2f} | "
        f"{got['compute_kpis_s']:.2f} | {got['compute_charts_s']:.2f} | {got['period_kpis_s']:.2f} | "
        f"{got['catalog_s']:.2f} | {got['catalog_source_slot_s']:.2f} | {got['command_s']:.2f} |"
    )
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
