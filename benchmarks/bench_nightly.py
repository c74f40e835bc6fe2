"""The nightly run after a long history: what one night costs, and whether it grows with the history.

    .venv/bin/python benchmarks/bench_nightly.py --cases 1x90 1x365 1x730 10x90 10x365 10x730 30x365
    .venv/bin/python benchmarks/bench_nightly.py --backfills          # single run against several runs

Each case (scale × days of history) lives in its own folder under --workdir, kept between invocations:
1. the demo is generated for history + 1 days, ending yesterday (the chat platform's instants are then
   today's, as on a real platform), in eras of 90 days when longer (`long_demo.py`: bounded memory);
2. the history is built as nights would have built it, --chunk-days at a time: the sources as they stood at
   the end of the chunk's last day (`chatsales.demo.arrivals`), then one `daily_pipeline` run over the
   chunk's days, each chunk in its own process so that memory stays one chunk's;
3. measured, each in a fresh process, after the previous night run again (untimed: the cache as a server's
   after its previous night): the nightly partition of the last day with that day's data newly
   arrived (the 03:00 schedule's run: every source read since its watermark, the day attributed, its facts
   and KPIs published), then the `customer_snapshots` job (04:30), then the late-data sensor's tick when
   nothing is new (as the daemon evaluates it, every 30 s).

Per measure: the process's wall time from start to exit (Python, Dagster and pandas imports included), the
run's own wall time, CPU time (user + system) and the process's peak RSS (ru_maxrss). Preparation (demo,
history) is not timed.

`--backfills` times, at 1× and from scratch (demo whole, as `chatsales backfill` finds it): a year as one
run, and 90 days as one run, as three runs of 30 days and as 90 runs of one day (in one process, one after
the other, as the backfill daemon runs them with `max_concurrent_runs: 1`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
TZ = "Europe/Paris"


def _process_stats() -> dict:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"cpu_s": round(usage.ru_utime + usage.ru_stime, 1), "peak_rss_mib": round(usage.ru_maxrss / 1024)}


def _settings(case: Path, sources: Path, first_day: date):
    """The case's settings, also put in the environment: the daily partitions are built from it when
    `pipelines` is first imported, so they must start at the case's first day."""
    from chatsales.settings import load_settings

    env = {
        "CHATSALES_HOME": str(case / "home"),
        "CHATSALES_TIMEZONE": TZ,
        "CHATSALES_START_DATE": str(first_day),
        "CHATSALES_CHAT_DB_URL": f"sqlite:///{sources / 'chat.db'}",
        "CHATSALES_ORDERS_DIR": str(sources / "orders"),
        "CHATSALES_STORE_SALES_DIR": str(sources / "store_sales"),
        "CHATSALES_CAMPAIGNS_DIR": str(sources / "campaigns"),
        "CHATSALES_REPORTING_DB_URL": f"sqlite:///{case / 'home' / 'reporting.db'}",
    }
    os.environ.update(env)
    return load_settings(env)


def _quiet() -> dict:
    return {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def _run_days(settings, first: date, last: date, instance=None) -> float:
    """One daily_pipeline run over first..last; returns its wall time."""
    import dagster as dg

    from pipelines.definitions import definitions_for
    from pipelines.jobs import DAILY_JOB
    from pipelines.partitions import range_tags

    job = definitions_for(settings).resolve_job_def(DAILY_JOB)
    started = time.perf_counter()
    with dg.DagsterInstance.ephemeral() if instance is None else _kept(instance) as used:
        tags = range_tags(first, last) if first != last else {}
        result = job.execute_in_process(
            instance=used,
            tags=tags,
            partition_key=None if tags else str(first),
            run_config=_quiet(),
            raise_on_error=False,
        )
    if not result.success:
        raise SystemExit(f"the run of {first}..{last} failed")
    return time.perf_counter() - started


class _kept:
    """An instance shared by several runs, as a context manager that does not dispose of it."""

    def __init__(self, instance):
        self.instance = instance

    def __enter__(self):
        return self.instance

    def __exit__(self, *exc):
        return False


def _demo(case: Path, scale: float, days: int):
    """The case's demo (generated once, described in demo.json): `days` days ending yesterday."""
    from long_demo import long_demo

    from chatsales.demo.generator import DemoManifest
    from chatsales.settings import today_in

    saved = case / "demo.json"
    if saved.exists():
        fields = json.loads(saved.read_text())
        return DemoManifest(
            **{
                k: Path(v) if k.endswith(("_dir", "_path", "_file")) else v
                for k, v in fields.items()
                if k not in ("first_day", "last_day")
            },
            first_day=date.fromisoformat(fields["first_day"]),
            last_day=date.fromisoformat(fields["last_day"]),
        )
    last = today_in(TZ) - timedelta(days=1)
    demo = long_demo(
        case / "demo",
        last - timedelta(days=days - 1),
        days=days,
        scale=scale,
        timezone=TZ,
        withhold_late_store_file=True,
    )
    saved.write_text(json.dumps({k: str(v) if isinstance(v, (Path, date)) else v for k, v in demo.__dict__.items()}))
    return demo


def child(args) -> None:
    """One measured step, in this process (called by the parent as a subprocess)."""
    case = Path(args.case)
    from chatsales.demo.arrivals import sources_as_of

    demo = _demo(case, args.scale, args.days + 1)
    sources = case / "sources"
    step = args.child
    if step == "chunk":
        first, last = date.fromisoformat(args.first), date.fromisoformat(args.last)
        sources_as_of(demo, last, sources, TZ)
        run_s = _run_days(_settings(case, sources, demo.first_day), first, last)
        print(json.dumps({"run_s": round(run_s, 1), **_process_stats()}))
    elif step == "sources":  # the night's sources, prepared outside the measured process
        sources_as_of(demo, date.fromisoformat(args.first), sources, TZ)
        print(json.dumps({}))
    elif step == "night":
        night = date.fromisoformat(args.first)
        run_s = _run_days(_settings(case, sources, demo.first_day), night, night)
        print(
            json.dumps(
                {
                    "run_s": round(run_s, 2),
                    "import_and_run_s": round(time.perf_counter() - STARTED, 2),
                    **_process_stats(),
                }
            )
        )
    elif step == "snapshots":
        import dagster as dg

        from pipelines.definitions import definitions_for
        from pipelines.jobs import SNAPSHOTS_JOB

        job = definitions_for(_settings(case, sources, demo.first_day)).resolve_job_def(SNAPSHOTS_JOB)
        started = time.perf_counter()
        with dg.DagsterInstance.ephemeral() as instance:
            assert job.execute_in_process(instance=instance, run_config=_quiet()).success
        print(json.dumps({"run_s": round(time.perf_counter() - started, 2), **_process_stats()}))
    elif step == "tick":
        print(json.dumps(_tick(_settings(case, sources, demo.first_day))))


def _tick(settings) -> dict:
    """The sensor's tick with nothing new: first the ticks the last night leaves work for, and the runs they
    ask (re-runs of earlier days whose fluctuating indicators the night changed), until a tick asks nothing;
    then one more tick, measured."""
    import dagster as dg

    from pipelines.definitions import definitions_for
    from pipelines.sensors import LATE_SENSOR

    defs = definitions_for(settings)
    sensor = defs.get_repository_def().get_sensor_def(LATE_SENSOR)
    with dg.DagsterInstance.ephemeral() as instance:

        def tick(cursor):
            with dg.build_sensor_context(
                instance=instance, cursor=cursor, definitions=defs, resources=defs.resources
            ) as context:
                result = sensor(context)
                return result, (context.cursor if result is None else result.cursor)

        cursor, settled = None, 0
        for _ in range(8):
            result, cursor = tick(cursor)
            if not result.run_requests:
                break
            for request in result.run_requests:
                job = defs.resolve_job_def(request.job_name)
                assert job.execute_in_process(
                    instance=instance,
                    tags=dict(request.tags),
                    run_config=_quiet(),
                    asset_selection=request.asset_selection,
                ).success
                settled += 1
        started = time.perf_counter()
        result, _ = tick(cursor)
        elapsed = time.perf_counter() - started
    return {
        "tick_s": round(elapsed, 3),
        "requests": len(result.run_requests or []),
        "settled_runs": settled,
        **_process_stats(),
    }


def _step(case: Path, scale: float, days: int, step: str, first: date | None = None, last: date | None = None) -> dict:
    command = [
        sys.executable,
        __file__,
        "--child",
        step,
        "--case",
        str(case),
        "--scale",
        str(scale),
        "--days",
        str(days),
    ]
    if first is not None:
        command += ["--first", first.isoformat(), "--last", (last or first).isoformat()]
    started = time.perf_counter()
    out = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, "DAGSTER_HOME": "", "PYTHONWARNINGS": "ignore"}
    )
    if out.returncode:
        print(out.stderr[-4000:], file=sys.stderr)
        raise SystemExit(f"{case.name} {step} {first}..{last} failed")
    return {**json.loads(out.stdout.strip().splitlines()[-1]), "process_s": round(time.perf_counter() - started, 2)}


def _read_through(*folders: Path) -> None:
    """Read every file of the folders once (untimed), so that the page cache holds them as a server's holds
    the home it runs every night, rather than what copying the history from its copy left there."""
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            with open(path, "rb") as f:
                while f.read(1 << 23):
                    pass


def case(
    workdir: Path,
    scale: float,
    days: int,
    chunk_days: int,
    snapshots: bool = True,
    keep: bool = True,
    warm: bool = False,
) -> dict:
    """Build the case's history (once; an interrupted build goes on from its last chunk) and measure its
    night, snapshots (unless not asked: the job holds the whole history in memory) and idle tick. With
    `keep`, a copy of the history is kept to measure again later; without (30×: tens of GB), once."""
    from chatsales.settings import today_in

    folder = workdir / f"{scale:g}x{days}"
    night = today_in(TZ) - timedelta(days=1)
    first = night - timedelta(days=days)
    built, progress = folder / "history.json", folder / "history.progress.json"
    if not built.exists() or json.loads(built.read_text())["night"] != night.isoformat():
        done = json.loads(progress.read_text()) if progress.exists() else {}
        if done.get("night") != night.isoformat():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            done = {"night": night.isoformat(), "chunks": [], "history_s": 0}
        started = time.perf_counter() - done["history_s"]
        after = date.fromisoformat(done.get("until", str(first - timedelta(days=1))))
        for start in range((after - first).days + 1, days, chunk_days):
            chunk_first = first + timedelta(days=start)
            chunk_last = min(chunk_first + timedelta(days=chunk_days - 1), night - timedelta(days=1))
            done["chunks"].append(_step(folder, scale, days, "chunk", chunk_first, chunk_last))
            done["history_s"], done["until"] = round(time.perf_counter() - started), str(chunk_last)
            progress.write_text(json.dumps(done))
            print(f"  {folder.name}: history to {chunk_last}: {done['chunks'][-1]}", file=sys.stderr, flush=True)
        built.write_text(json.dumps(done))
        if keep:  # the night's measure needs the lake as the history left it: keep a copy to measure again
            shutil.copytree(folder / "home", folder / "home.history")
            shutil.copytree(folder / "sources", folder / "sources.history")
    elif not (folder / "home.history").exists():
        raise SystemExit(f"{folder} was measured once, without a copy of its history: delete it to build it again")
    else:
        for name in ("home", "sources"):
            shutil.rmtree(folder / name, ignore_errors=True)
            shutil.copytree(folder / f"{name}.history", folder / name)
    if warm:
        _read_through(folder / "home", folder / "sources")
    # the night before, run again (untimed; a re-run publishes the same rows): as on a server, the measured
    # night follows its previous night, not a copy of the whole history (16 GB at 10×) that evicted what a
    # night keeps in the page cache (on copies alone the 10× 730-day night cost 1.5-3 s more CPU)
    _step(folder, scale, days, "night", night - timedelta(days=1))
    _step(folder, scale, days, "sources", night)
    # the copies just written (GBs at 10×) are flushed now, not during the night, whose commits would wait
    # behind their write-back: a nightly run does not follow a copy of its whole home
    os.sync()
    nightly = _step(folder, scale, days, "night", night)
    print(f"  {folder.name}: night {nightly}", file=sys.stderr, flush=True)
    snapshots = _step(folder, scale, days, "snapshots") if snapshots else {"run_s": "—", "peak_rss_mib": "—"}
    tick = _step(folder, scale, days, "tick")
    counts = json.loads((folder / "demo.json").read_text())["counts"]
    return {
        "case": folder.name,
        "scale": scale,
        "days": days,
        "orders_per_day": round((counts.get("web_orders", 0) + counts.get("store_receipts", 0)) / (days + 1)),
        "messages_per_day": round(counts.get("messages", 0) / (days + 1)),
        "night": nightly,
        "snapshots": snapshots,
        "tick": tick,
    }


def backfills(workdir: Path) -> list[dict]:
    """From scratch at 1×: a year as one run; 90 days as one run, as 3 × 30 days, as 90 × 1 day."""
    rows = []
    for days, runs in ((365, 1), (90, 1), (90, 3), (90, 90)):
        out = subprocess.run(
            [sys.executable, __file__, "--backfill", str(days), str(runs), "--workdir", str(workdir)],
            capture_output=True,
            text=True,
            env={**os.environ, "DAGSTER_HOME": "", "PYTHONWARNINGS": "ignore"},
        )
        if out.returncode:
            print(out.stderr[-4000:], file=sys.stderr)
            raise SystemExit(f"backfill {days} days in {runs} runs failed")
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"  {rows[-1]}", file=sys.stderr, flush=True)
    return rows


def one_backfill(workdir: Path, days: int, runs: int) -> dict:
    import dagster as dg

    from chatsales.demo import generate_demo
    from chatsales.settings import today_in

    folder = workdir / f"backfill-{days}"
    last = today_in(TZ) - timedelta(days=1)
    first = last - timedelta(days=days - 1)
    if not (folder / "demo.done").exists():
        generate_demo(folder / "demo", first, days=days, scale=1.0, timezone=TZ)
        (folder / "demo.done").write_text(first.isoformat())
    case_dir = folder / f"runs-{runs}"
    shutil.rmtree(case_dir, ignore_errors=True)
    settings = _settings(case_dir, folder / "demo", first)
    size = -(-days // runs)
    started = time.perf_counter()
    with dg.DagsterInstance.ephemeral() as instance:
        for start in range(0, days, size):
            _run_days(
                settings,
                first + timedelta(days=start),
                min(first + timedelta(days=start + size - 1), last),
                instance=instance,
            )
    elapsed = time.perf_counter() - started
    return {"days": days, "runs": runs, "wall_s": round(elapsed, 1), **_process_stats()}


STARTED = time.perf_counter()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="*", default=[], help="scale x days of history, e.g. 1x90 10x730")
    parser.add_argument("--backfills", action="store_true")
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "chatsales-bench-nightly"))
    parser.add_argument("--chunk-days", type=int, default=30)
    parser.add_argument("--no-snapshots", action="store_true", help="do not run the snapshots job (30×: too big)")
    parser.add_argument("--once", action="store_true", help="keep no copy of the history (30×: tens of GB)")
    parser.add_argument(
        "--warm",
        action="store_true",
        help="read the home and the sources once before the night: the page cache of a server whose home fits",
    )
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--backfill", nargs=2, type=int, help=argparse.SUPPRESS)
    for hidden in ("--case", "--first", "--last"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    parser.add_argument("--scale", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--days", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    if args.backfill:
        print(json.dumps(one_backfill(Path(args.workdir), *args.backfill)))
        return
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    results = {"cases": [], "backfills": []}
    for spec in args.cases:
        scale, days = spec.split("x")
        results["cases"].append(
            case(workdir, float(scale), int(days), args.chunk_days, not args.no_snapshots, not args.once, args.warm)
        )
        print(f"  {results['cases'][-1]}", file=sys.stderr, flush=True)
    if args.backfills:
        results["backfills"] = backfills(workdir)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    print(table(results))


def table(results: dict) -> str:
    lines = []
    if results["cases"]:
        lines += [
            "| scale | history (days) | orders/day | messages/day | nightly run (s) | process (s) | CPU (s) | "
            "peak RSS (MiB) | snapshots job (s) | snapshots RSS (MiB) | idle sensor tick (s) |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in results["cases"]:
            n, s, t = r["night"], r["snapshots"], r["tick"]
            lines.append(
                f"| {r['scale']:g}× | {r['days']} | {r['orders_per_day']:,} | {r['messages_per_day']:,} | "
                f"{n['run_s']} | {n['process_s']} | {n['cpu_s']} | {n['peak_rss_mib']:,} | {s['run_s']} | "
                f"{s['peak_rss_mib'] if isinstance(s['peak_rss_mib'], str) else format(s['peak_rss_mib'], ',')} | "
                f"{t['tick_s']} |"
            )
    if results["backfills"]:
        lines += ["", "| backfill at 1× | runs | wall (s) | CPU (s) | peak RSS (MiB) |", "|---|---|---|---|---|"]
        for r in results["backfills"]:
            lines.append(f"| {r['days']} days | {r['runs']} | {r['wall_s']} | {r['cpu_s']} | {r['peak_rss_mib']:,} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
