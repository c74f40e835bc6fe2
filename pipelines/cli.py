"""`chatsales`: the project's own commands beside Dagster's (outputs.md, Command line)."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from chatsales.settings import PROJECT_ROOT, Settings, load_settings

DEMO_DAYS = 90


def ensure_dagster_home(settings: Settings) -> Path:
    """DAGSTER_HOME, defaulting to a folder in CHATSALES_HOME that holds this repo's dagster.yaml."""
    if os.environ.get("DAGSTER_HOME"):
        return Path(os.environ["DAGSTER_HOME"])
    home = settings.home / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def run_days(settings: Settings, first: date, last: date):
    """Materialise every asset for first..last as ONE Dagster run (single-run backfill), in this process."""
    import dagster as dg

    from pipelines.definitions import build_definitions
    from pipelines.jobs import DAILY_JOB
    from pipelines.partitions import range_tags

    ensure_dagster_home(settings)
    job = build_definitions(settings).resolve_job_def(DAILY_JOB)
    with dg.DagsterInstance.get() as instance:
        return job.execute_in_process(instance=instance, tags=range_tags(first, last))


def demo_range(settings: Settings, days: int) -> tuple[date, date]:
    """The `days` complete days up to yesterday in the reporting timezone."""
    today = datetime.now(ZoneInfo(settings.timezone)).date()
    return today - timedelta(days=days), today - timedelta(days=1)


def cmd_demo(args) -> int:
    from chatsales.demo import generate_demo

    settings = load_settings()
    manifest_file = settings.demo_dir / "manifest.json"
    if args.fresh or not manifest_file.exists():
        first, _ = demo_range(settings, args.days)
        started = time.perf_counter()
        manifest = generate_demo(settings.demo_dir, first, days=args.days, scale=args.scale, seed=args.seed,
                                 timezone=settings.timezone, currency=settings.currency)
        manifest_file.write_text(json.dumps({"first_day": str(manifest.first_day),
                                             "last_day": str(manifest.last_day),
                                             "counts": manifest.counts}, indent=2))
        print(f"demo data written to {settings.demo_dir} in {time.perf_counter() - started:.1f} s: "
              + ", ".join(f"{k} {v:,}" for k, v in manifest.counts.items()))
    info = json.loads(manifest_file.read_text())
    first, last = date.fromisoformat(info["first_day"]), date.fromisoformat(info["last_day"])
    started = time.perf_counter()
    result = run_days(settings, first, last)
    elapsed = time.perf_counter() - started
    if not result.success:
        print("the demo run failed; see the Dagster logs above", file=sys.stderr)
        return 1
    print(f"\npipeline run {result.run_id} over {first}..{last} took {elapsed:.1f} s")
    print_summary(settings, first, last)
    print(f"\nreporting database: {settings.reporting_db_url}")
    print(f"Dagster instance:   {os.environ['DAGSTER_HOME']}")
    print("open the UI:        DAGSTER_HOME=" + os.environ["DAGSTER_HOME"] + " .venv/bin/dagster dev")
    return 0


def print_summary(settings: Settings, first: date, last: date) -> None:
    from chatsales.publication import attribution_summary
    from resources.reporting_db import ReportingStore

    store = ReportingStore(settings.reporting_db_url)
    orders = store.read_table("attributed_orders", first_day=first, last_day=last)
    flags = orders.assign(is_sale=~orders["is_cancelled"] & (orders["total"] > 0))
    s = attribution_summary(flags)
    print(f"orders and receipts: {s['orders']:,} ({s['sales']:,} sales)")
    print(f"attributed share:    {s['attributed_share']:.1%} of sales ({s['attributed_sales']:,})")
    print(f"sales after a conversation: {s['attributed_sales_amount']:,.2f} {settings.currency} "
          f"of {s['total_sales_amount']:,.2f}")
    sales = flags[flags["is_sale"] & flags["attributed"]]
    top = sales.groupby("member_id")["total"].agg(["count", "sum"]).nlargest(5, "sum")
    print("top members:")
    for member, row in top.iterrows():
        print(f"  {member:<12} {int(row['count']):>6,} sales {row['sum']:>14,.2f} {settings.currency}")
    store.dispose()


def cmd_backfill(args) -> int:
    settings = load_settings()
    first, last = date.fromisoformat(args.from_), date.fromisoformat(args.to)
    if last < first:
        print(f"--to {last} is before --from {first}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    result = run_days(settings, first, last)
    print(f"run {result.run_id}: {'succeeded' if result.success else 'FAILED'} for {first}..{last} "
          f"in {time.perf_counter() - started:.1f} s")
    return 0 if result.success else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chatsales", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="write the demo dataset (if missing) and run the pipeline on all of it")
    demo.add_argument("--fresh", action="store_true", help="regenerate the demo dataset")
    demo.add_argument("--days", type=int, default=DEMO_DAYS)
    demo.add_argument("--scale", type=float, default=1.0)
    demo.add_argument("--seed", type=int, default=7)
    demo.set_defaults(func=cmd_demo)
    backfill = sub.add_parser("backfill", help="materialise every asset for a date range, as one run")
    backfill.add_argument("--from", dest="from_", required=True, metavar="DAY")
    backfill.add_argument("--to", required=True, metavar="DAY")
    backfill.set_defaults(func=cmd_backfill)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
