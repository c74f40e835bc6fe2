"""Crash safety of the publication, with a real process killed by SIGKILL in the middle of its transaction,
on SQLite and on PostgreSQL: readers keep the previous complete version, the next run completes the day,
and re-running a day any number of times gives identical rows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from chatsales.reporting.engine import lock, make_engine
from chatsales.reporting.store import ReportingDb as ReportingStore
from tests.publish_worker import DAY, N_FACTS, N_MEMBERS, N_ORDERS, day_frames
from tests.test_never_worse import published_demo  # noqa: F401  (a fixture)

ROOT = Path(__file__).resolve().parents[1]
VOLATILE = ["run_id", "computed_at"]


def start_worker(
    url: str,
    run_id: str,
    version: int,
    tmp_path: Path,
    *,
    pause_after: str | None = None,
    pause: float = 0.0,
    name: str | None = None,
    extra: tuple[str, ...] = (),
) -> tuple[subprocess.Popen, Path, Path]:
    name = name or run_id
    marker, timings = tmp_path / f"{name}.inside", tmp_path / f"{name}.timings.json"
    args = [sys.executable, "-m", "tests.publish_worker", url, run_id, str(version), "--timings", str(timings), *extra]
    if pause_after:
        args += ["--pause-after", pause_after, "--marker", str(marker), "--pause", str(pause)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return process, marker, timings


def wait_for(marker: Path, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if process.poll() is not None:
            raise AssertionError(f"worker ended before {marker.name}: {process.stderr.read().decode()[-3000:]}")
        assert time.monotonic() < deadline, f"no {marker.name} after {timeout} s"
        time.sleep(0.02)


def finish(process: subprocess.Popen, timeout: float = 120) -> None:
    _, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err.decode()[-3000:]


def day_rows(store: ReportingStore) -> dict[str, pd.DataFrame]:
    rows = {
        table: store.read_table(table, days=[DAY]) for table in ("attributed_orders", "kpi_daily", "attribution_ledger")
    }
    messages = store.read_facts(DAY, DAY, bounded=("messages",)).get("messages")
    rows["messages"] = messages if messages is not None else pd.DataFrame(columns=["message_id", "version"])
    return rows


def assert_one_version(store: ReportingStore, version: int, run_id: str) -> dict[str, pd.DataFrame]:
    """The day holds exactly the rows of `version`, all written by `run_id`, no duplicates."""
    rows = day_rows(store)
    orders, kpis, facts = rows["attributed_orders"], rows["kpi_daily"], rows["messages"]
    assert len(orders) == N_ORDERS and not orders.duplicated(["order_id", "sales_channel"]).any()
    assert sorted(orders["total"]) == [float(i + version) for i in range(N_ORDERS)]
    assert len(kpis) == N_MEMBERS and set(kpis["value"]) == {float(version)}
    assert len(facts) == N_FACTS and not facts.duplicated("message_id").any()
    assert set(facts["version"]) == {version}
    assert set(orders["run_id"]) == set(kpis["run_id"]) == {run_id}
    return rows


def _crash_then_complete(url: str, tmp_path: Path) -> None:
    store = ReportingStore(url)
    store.publish_days([DAY], run_id="r0", **day_frames(0))
    before = assert_one_version(store, 0, "r0")

    # version 1, killed once the ledger, attributed_orders and kpi_daily rows are in (facts not yet)
    process, marker, _ = start_worker(url, "r1", 1, tmp_path, pause_after="kpi_daily", pause=120)
    wait_for(marker, process)
    assert_one_version(store, 0, "r0")  # a reader during the open transaction: the old version
    started = time.monotonic()  # and a reader that connects now does not wait for it
    newcomer = ReportingStore(url)
    assert_one_version(newcomer, 0, "r0")
    newcomer.dispose()
    assert time.monotonic() - started < 10
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    after_crash = assert_one_version(store, 0, "r0")
    for table, frame in before.items():  # the previous version, byte for byte
        pd.testing.assert_frame_equal(frame, after_crash[table])

    # the next run completes the day (on PostgreSQL it first waits for the dead session's lock to go)
    process, _, _ = start_worker(url, "r2", 1, tmp_path)
    finish(process)
    first = assert_one_version(store, 1, "r2")
    ledger = first["attribution_ledger"]
    assert set(ledger["run_id"]) == {"r0", "r2"}  # nothing of the killed run r1
    assert len(ledger[ledger["run_id"] == "r0"]) == N_ORDERS

    # re-running the day any number of times: identical rows, no duplicates, nothing new in the ledger
    for n in range(3):
        store.publish_days([DAY], run_id=f"again{n}", **day_frames(1))
        again = assert_one_version(store, 1, f"again{n}")
        for table in ("attributed_orders", "kpi_daily", "messages"):
            key = list(first[table].columns.drop(VOLATILE, errors="ignore"))
            pd.testing.assert_frame_equal(
                first[table].drop(columns=VOLATILE, errors="ignore").sort_values(key).reset_index(drop=True),
                again[table].drop(columns=VOLATILE, errors="ignore").sort_values(key).reset_index(drop=True),
            )
        pd.testing.assert_frame_equal(ledger.reset_index(drop=True), again["attribution_ledger"].reset_index(drop=True))
    store.dispose()


def test_sigkill_mid_publication_on_sqlite_keeps_the_previous_day(sqlite_url, tmp_path):
    """Checked by removal: with publish_days run without a transaction (`engine.connect()` with
    isolation_level="AUTOCOMMIT" instead of `engine.begin()`), the reader during the paused publication
    already sees version 1 of attributed_orders (totals 1.0.. instead of 0.0..) and the test fails there."""
    _crash_then_complete(sqlite_url, tmp_path)


def test_sigkill_mid_publication_on_postgres_keeps_the_previous_day(pg_url, tmp_path):
    """Checked by removal: the same autocommit publish_days fails here the same way on PostgreSQL. With
    ensure_schema taking the publication lock even when no table is missing, the newcomer reader waits for
    the paused publication's advisory lock, 120 s, and then reads its version 1: the test fails."""
    _crash_then_complete(pg_url, tmp_path)


# --- a real `chatsales backfill` killed inside its reporting_db step (issue 17, "Why" 2) ----------------------


def _tables_without_volatile(url: str) -> dict[str, pd.DataFrame]:
    from tests.test_never_worse import KEPT

    with ReportingStore(url) as store:
        out = {}
        for name in KEPT:
            frame = store.read_table(name).drop(columns=[*VOLATILE, "changed_at", "lake_seq"], errors="ignore")
            out[name] = frame.sort_values(list(frame.columns), key=lambda c: c.map(repr)).reset_index(drop=True)
        return out


class publication_lock_held:  # noqa: N801  (reads as what it holds)
    """The publication lock (SQLite's write lock, PostgreSQL's advisory lock), taken as a publishing run takes
    it, from `enter()` until `release()`: a run that reaches its publication meanwhile waits for it."""

    def __init__(self, url: str):
        self.engine, self.entered, self._transaction = make_engine(url), False, None

    def enter(self) -> None:
        self._transaction = self.engine.begin()
        lock(self._transaction.__enter__())
        self.entered = True

    def release(self) -> None:
        if self._transaction is not None:
            self._transaction.__exit__(None, None, None)
        self.engine.dispose()


SOURCE_STEPS = {"chat_platform", "web_orders", "store_sales", "marketing_touchpoints"}  # write their rejects


def _kill_backfill_inside_reporting_db(env: dict, days: list[str], dagster_home: Path, url: str) -> str:
    """Start `chatsales backfill`, poll the instance's event log until its run's source steps are done (they
    write their rejects under the publication lock), then hold the publication lock as another publishing run
    would: the run's reporting_db step starts and waits for it, so it cannot finish before the test sees its
    start and SIGKILLs the process. Returns the dead run's id (still STARTED, still holding the pool slot)."""
    import dagster as dg

    from assets_defs.reporting import PUSH_POOL
    from pipelines.runs import slot_holders

    process = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "backfill", "--from", days[0], "--to", days[-1]],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    run_id, held = None, publication_lock_held(url)
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        try:
            while run_id is None:
                assert process.poll() is None, f"backfill ended first: {process.stdout.read().decode()[-3000:]}"
                assert time.monotonic() < deadline, "reporting_db never started"
                for run in instance.get_runs(filters=dg.RunsFilter(tags={"chatsales/pid": str(process.pid)})):
                    steps = {
                        (event.dagster_event.event_type, event.step_key)
                        for event in instance.all_logs(run.run_id)
                        if event.is_dagster_event
                    }
                    succeeded = {key for kind, key in steps if kind == dg.DagsterEventType.STEP_SUCCESS}
                    if SOURCE_STEPS <= succeeded and not held.entered:
                        held.enter()
                    if (dg.DagsterEventType.STEP_START, "reporting_db") in steps:
                        assert held.entered, "reporting_db started before the test held the publication lock"
                        run_id = run.run_id
                time.sleep(0.02)
        finally:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
            held.release()
        assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.STARTED
        assert slot_holders(instance, PUSH_POOL) == [run_id]  # the stuck state the issue saw
    return run_id


def _one_publication_per_day(url: str) -> None:
    """Each day's tables all come from one publication: never a new product_daily beside an old kpi_daily."""
    with ReportingStore(url) as store:
        runs = pd.concat(
            [
                store.read_table(name)[["day", "run_id"]].drop_duplicates()
                for name in ("attributed_orders", "kpi_daily", "member_daily", "product_daily")
            ]
        )
    assert runs.groupby("day")["run_id"].nunique().max() == 1, runs


def _next_backfill_completes(env: dict, days: list[str], dagster_home: Path, dead: str) -> None:
    import dagster as dg

    started = time.monotonic()
    again = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "backfill", "--from", days[0], "--to", days[-1]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-3000:]
    assert f"succeeded for {days[0]}..{days[-1]}" in again.stdout
    assert time.monotonic() - started < 240
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        assert instance.get_run_by_id(dead).status == dg.DagsterRunStatus.FAILURE


def test_a_backfill_killed_inside_reporting_db_does_not_block_the_next_one_on_sqlite(published_demo, tmp_path):
    """Seen before the fix (issue 17): the dead run kept its reporting_db pool slot and the next backfill
    spun at 90% CPU with no output. Checked by removal: without free_dead_runs in launch_range the next
    backfill is refused (the slot is still held by the dead run) and this test fails on its exit code."""
    import shutil

    from tests.test_never_worse import run_cli

    home, days = published_demo
    copy = tmp_path / "home"
    shutil.copytree(home, copy)
    url = f"sqlite:///{copy / 'reporting.db'}"
    before = _tables_without_volatile(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATSALES_", "DAGSTER_"))}
    env["CHATSALES_HOME"] = str(copy)
    dead = _kill_backfill_inside_reporting_db(env, days, copy / "dagster", url)
    _one_publication_per_day(url)
    _next_backfill_completes(env, days, copy / "dagster", dead)
    after = _tables_without_volatile(url)
    for name, frame in before.items():
        pd.testing.assert_frame_equal(after[name], frame, obj=name)
    assert run_cli(["kpis", "--from", days[0], "--to", days[-1], "--json"], copy).returncode == 0


def test_a_backfill_killed_inside_reporting_db_does_not_block_the_next_one_on_postgres(pg_url, tmp_path, monkeypatch):
    """The same with the production instance (dagster-postgres.yaml: runs, events and pool slots in
    PostgreSQL) and the reporting database in PostgreSQL."""
    from tests.test_never_worse import run_cli

    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text((ROOT / "dagster-postgres.yaml").read_text())
    monkeypatch.setenv("DAGSTER_PG_URL", pg_url)
    home = tmp_path / "home"
    settings = dict(CHATSALES_REPORTING_DB_URL=pg_url, DAGSTER_HOME=str(dagster_home), DAGSTER_PG_URL=pg_url)
    demo = run_cli(["demo", "--days", "4", "--scale", "0.02"], home, **settings)
    assert demo.returncode == 0, demo.stderr[-3000:]
    days = sorted({str(d) for d in ReportingStore(pg_url).read_table("kpi_daily")["day"]})
    before = _tables_without_volatile(pg_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATSALES_", "DAGSTER_"))}
    env.update(CHATSALES_HOME=str(home), **settings)
    dead = _kill_backfill_inside_reporting_db(env, days, dagster_home, pg_url)
    _one_publication_per_day(pg_url)
    _next_backfill_completes(env, days, dagster_home, dead)
    after = _tables_without_volatile(pg_url)
    for name, frame in before.items():
        pd.testing.assert_frame_equal(after[name], frame, obj=name)
