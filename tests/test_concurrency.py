"""Two runs of the same partition at once cannot interleave their writes: the database lock (PostgreSQL
advisory lock, SQLite's write lock taken at the start of the publication) with two real processes, and the
Dagster concurrency pool on the reporting push."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import yaml

from assets_defs.reporting import PUSH_POOL
from chatsales.reporting.store import ReportingDb as ReportingStore
from tests.publish_worker import DAY, N_ORDERS, day_frames
from tests.test_crash_safety import assert_one_version, finish, start_worker, wait_for

ROOT = Path(__file__).resolve().parents[1]
PAUSE = 0.5


def _two_publishers_at_once(url: str, tmp_path: Path) -> None:
    store = ReportingStore(url)
    store.publish_days([DAY], run_id="r0", **day_frames(0))
    # A takes the lock, writes its first tables and holds its transaction open until B has started
    # publishing, then PAUSE seconds more; B publishes the same day (same content) meanwhile
    b_started = tmp_path / "rB.started"
    a, a_inside, a_timings = start_worker(
        url, "rA", 1, tmp_path, pause_after="attributed_orders", pause=PAUSE, extra=("--wait-for", str(b_started))
    )
    wait_for(a_inside, a)
    b, _, b_timings = start_worker(url, "rB", 1, tmp_path, extra=("--started-marker", str(b_started)))
    finish(a)
    finish(b)
    ta, tb = (json.loads(p.read_text()) for p in (a_timings, b_timings))
    assert tb["started"] < ta["resumed"]  # B was publishing while A was inside its transaction
    assert tb["first_insert"] >= ta["resumed"], (ta, tb)  # and B wrote nothing until A went on (and committed)
    # one complete version (B's, the last one), no duplicates anywhere
    rows = assert_one_version(store, 1, "rB")
    ledger = rows["attribution_ledger"]
    # B read what A had published, so it found nothing changed: no duplicate ledger entries
    assert ledger.groupby("run_id").size().to_dict() == {"r0": N_ORDERS, "rA": len(ledger) - N_ORDERS}
    assert not ledger.duplicated(["order_id", "run_id"]).any()
    store.dispose()


def test_two_processes_publishing_the_same_day_on_sqlite_are_serialised(sqlite_url, tmp_path):
    """Checked by removal: without the `BEGIN IMMEDIATE` of ReportingStore._lock (pysqlite then takes the
    write lock only at the first write), B read the published attribution before A committed and reached its
    first insert 0.46 s before A resumed: the wait assertion fails. Its ledger would then repeat A's changes.
    This test found that gap; the fix is in _lock."""
    _two_publishers_at_once(sqlite_url, tmp_path)


def test_two_processes_publishing_the_same_day_on_postgres_are_serialised(pg_url, tmp_path):
    """Checked by removal: without the pg_advisory_xact_lock of ReportingStore._lock, B computes its
    ledger from the old rows, waits only on A's row locks at its DELETE, then its COPY into attributed_orders
    hits A's committed rows: B fails with UniqueViolation on attributed_orders_pkey and the test fails."""
    _two_publishers_at_once(pg_url, tmp_path)


def test_two_first_publications_on_a_fresh_database_do_not_collide(reporting_url, tmp_path):
    """The very first night, two publishers on an empty database: each checks which tables exist, then
    (after a 1 s pause, between the check and the CREATE TABLEs) creates the missing ones. Both succeed and
    the day holds one complete version. Checked by removal: with ensure_schema's create_all outside the
    locked transaction (as it was), the second CREATE fails: on PostgreSQL UniqueViolation on
    pg_type_typname_nsp_index, on SQLite `table attributed_orders already exists`. This test found that gap
    (seen first without the pause, in one of two tries on PostgreSQL)."""
    workers = [
        start_worker(reporting_url, run_id, 1, tmp_path, extra=("--pause-before-create", "1.0"))
        for run_id in ("rA", "rB")
    ]
    for process, _, _ in workers:
        finish(process)
    store = ReportingStore(reporting_url)
    last = max(("rA", "rB"), key=lambda r: json.loads((tmp_path / f"{r}.timings.json").read_text())["returned"])
    rows = assert_one_version(store, 1, last)
    assert len(rows["attribution_ledger"]) == N_ORDERS  # the first publication's "first" rows, once
    store.dispose()


def test_the_reporting_push_is_in_a_dagster_pool_limited_to_one(tmp_path):
    """Checked by removal: without `pool=` on reporting_db (or without `concurrency: pools:` in dagster.yaml)
    the assertions below fail; Dagster then lets two runs' pushes execute at the same time."""
    from chatsales.settings import load_settings
    from pipelines.definitions import definitions_for

    defs = definitions_for(load_settings({"CHATSALES_HOME": str(tmp_path)}))
    pools = {
        key.to_user_string(): defs.resolve_assets_def(key).op.pool
        for key in defs.resolve_asset_graph().get_all_asset_keys()
    }
    # only the push is serialised; everything upstream of it may run side by side
    assert pools.pop("reporting_db") == "reporting_db"
    assert {key for key, pool in pools.items() if pool == "lake"} == {
        "chat_platform",
        "web_orders",
        "store_sales",
        "marketing_touchpoints",
        "conversation_state",
    }
    assert {pools[key] for key in pools if pools[key] != "lake"} == {None}
    for config_file in ("dagster.yaml", "dagster-postgres.yaml"):
        config = yaml.safe_load((ROOT / config_file).read_text())
        assert config["concurrency"]["pools"]["default_limit"] == 1, config_file
    # the instance the CLI and `dagster dev` use reads that limit
    (tmp_path / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text())
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
        assert instance.event_log_storage.supports_global_concurrency_limits


POOL_RUN = """
import os, sys, time
import dagster as dg
from assets_defs.reporting import PUSH_POOL

@dg.asset(pool=PUSH_POOL)
def push(context):
    started = time.time()
    try:    # the first run to get the slot keeps it until the other run's step is queued for it
        os.close(os.open(os.path.join(sys.argv[1], "holder"), os.O_CREAT | os.O_EXCL))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            info = context.instance.event_log_storage.get_concurrency_info(PUSH_POOL)
            if info.pending_run_ids - {context.run_id}:
                print("SAW_PENDING", flush=True)
                break
            time.sleep(0.25)
    except FileExistsError:
        pass
    time.sleep(0.2)
    print("SPAN", started, time.time(), flush=True)

with dg.DagsterInstance.from_config(sys.argv[1]) as instance:
    # the second run asks for the slot while the first one's step holds it
    deadline = time.monotonic() + 120
    while sys.argv[2] == "second" and not os.path.exists(os.path.join(sys.argv[1], "holder")):
        assert time.monotonic() < deadline, "the first run never held the slot"
        time.sleep(0.05)
    assert dg.materialize([push], instance=instance).success
"""


def test_two_dagster_runs_in_the_push_pool_never_overlap(tmp_path, pg_url, monkeypatch):
    """Two real processes, each a Dagster run on one instance configured by the repo's production
    dagster-postgres.yaml (PostgreSQL storage), each materialising an asset in the push's pool (a stand-in:
    the test above shows the real reporting_db asset is in that pool). The first run's step holds the slot
    until the instance shows the second run's step queued for the pool (the second run starts once the first
    holds it); the second step starts only after the first ended. Two claims at the very same instant (both
    runs started behind a barrier) once let both steps through on PostgreSQL storage too: the pool spares a
    worker the wait, and the publication's own lock (an advisory lock; the tests above) is what serialises
    the writes. Checked by removal: with
    `pools: default_limit: 1` deleted from dagster.yaml the pool gets no slot limit (slot_count 0, the
    assertion before the runs fails); before that assertion was added, both steps ran at once and the
    spans overlapped. On the embedded SQLite instance storage the same barrier start let both runs claim
    the slot at once (spans overlapped in 3 of 3 tries under load): there the database lock
    (test_two_processes_publishing_the_same_day_on_sqlite_are_serialised) is what serialises the writes."""
    # the pool can only be seen at work when the two runs contend for the slot; on a loaded machine one run
    # may finish before the other reaches its step, so an uncontended attempt (still without overlap) is
    # tried again, at most three times
    for attempt in range(3):
        home = tmp_path / f"dagster_home_{attempt}"
        home.mkdir()
        (home / "dagster.yaml").write_text((ROOT / "dagster-postgres.yaml").read_text())
        monkeypatch.setenv("DAGSTER_PG_URL", pg_url)
        outputs = _pool_scenario(home, tmp_path)
        if any("Step blocked by limit for pool reporting_db" in out for out in outputs):
            break
    assert sum("Step blocked by limit for pool reporting_db" in out for out in outputs) == 1, outputs


def _pool_scenario(home: Path, tmp_path: Path) -> list[str]:
    """Two runs in the push pool at once; returns their outputs after asserting their pushes never overlap."""
    # the instance's storage, and the pool's slots at dagster.yaml's default limit, exist before the two runs
    # (left to the runs, the lazy first allocation of the slots raced now and then under load: one run
    # never saw the other queued)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.event_log_storage.initialize_concurrency_limit_to_default(PUSH_POOL)
        assert instance.event_log_storage.get_concurrency_info(PUSH_POOL).slot_count == 1
    script = tmp_path / "pool_run.py"
    script.write_text(POOL_RUN)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    runs = [
        subprocess.Popen(
            [sys.executable, str(script), str(home), role],
            cwd=ROOT,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for role in ("first", "second")
    ]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs[0][-2000:] + outputs[1][-2000:]
    spans = sorted(
        tuple(map(float, line.split()[1:])) for out in outputs for line in out.splitlines() if line.startswith("SPAN")
    )
    assert len(spans) == 2, "\n=====\n".join(o[-6000:] for o in outputs)
    assert spans[1][0] >= spans[0][1], spans  # the second push started after the first ended
    return outputs
