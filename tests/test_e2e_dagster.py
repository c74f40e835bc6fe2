"""The data team's story through real Dagster processes: dagster-webserver and dagster-daemon on 127.0.0.1
against a temporary instance with PostgreSQL storage (dagster-postgres, as in production; the UI tour,
test_dagster_ui_tour.py, drives the same processes on the default SQLite storage).

A partition backfill of the demo is launched through the webserver's GraphQL API and waited for; then late
data is written into the sources (a late rating, a store file three days late, a refund); the daemon ticks
the late-data sensor, which must re-run exactly the affected partitions (then, in a second wave, only days
whose Chat-Card-86 the new sales change); the reporting DB must hold the new values and the ledger the
changes. Every process is stopped, also when the test fails.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import pytest
import requests

from chatsales.demo import generate_demo
from chatsales.reporting.store import ReportingDb as ReportingStore
from tests.late_arrivals import answer_a_rating_late, deliver_late_store_file, refund_an_attributed_order

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
FIRST, DAYS, TZ = date(2026, 6, 1), 6, "Europe/Paris"
# at least these: the backfill selects every partitioned asset the webserver lists (see the test)
ASSETS = {
    "chat_platform",
    "web_orders",
    "store_sales",
    "marketing_touchpoints",
    "conversation_state",
    "chat_activity",
    "customer_identities",
    "order_attribution",
    "conversation_facts",
    "kpi_daily",
    "campaign_attribution",
    "reporting_db",
    "campaign_stats",
    "customer_segments",
}
TIMEOUT = 240


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _default_signals():
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


class Dagster:
    def __init__(self, url: str):
        self.url = url

    def graphql(self, query: str, **variables) -> dict:
        answer = requests.post(f"{self.url}/graphql", json={"query": query, "variables": variables}, timeout=30)
        assert answer.ok, f"{answer.status_code}: {answer.text[:2000]}"
        body = answer.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    SENSOR = {"repositoryLocationName": "chatsales", "repositoryName": "__repository__", "sensorName": "late_data"}

    def sensor(self, running: bool) -> None:
        """Start or stop the late-data sensor, as the Automation page's toggle does."""
        if running:
            done = self.graphql(
                """mutation($s: SensorSelector!) { startSensor(sensorSelector: $s) {
                __typename } }""",
                s=self.SENSOR,
            )["startSensor"]
        else:
            sensor_id = self.graphql(
                """query($s: SensorSelector!) { sensorOrError(sensorSelector: $s) {
                ... on Sensor { id } } }""",
                s=self.SENSOR,
            )["sensorOrError"]["id"]
            done = self.graphql("""mutation($id: String) { stopSensor(id: $id) { __typename } }""", id=sensor_id)[
                "stopSensor"
            ]
        assert "Error" not in done["__typename"], done

    def failure(self, run_id: str) -> list[str]:
        """The messages of a run's failed steps (what a person reads on the run's page)."""
        logs = self.graphql(
            """query($id: ID!) { logsForRun(runId: $id) { ... on EventConnection { events {
            __typename ... on ExecutionStepFailureEvent { stepKey error { message causes { message } } } } } } }""",
            id=run_id,
        )["logsForRun"]["events"]
        return [
            f"{e['stepKey']}: {e['error']['message']} {[c['message'] for c in e['error']['causes']]}"[:1500]
            for e in logs
            if e["__typename"] == "ExecutionStepFailureEvent"
        ]

    def runs(self, key: str, value: str) -> list[dict]:
        data = self.graphql(
            """query($filter: RunsFilter) { runsOrError(filter: $filter) {
            ... on Runs { results { runId status tags { key value } } } } }""",
            filter={"tags": [{"key": key, "value": value}]},
        )
        return [{**r, "tags": {t["key"]: t["value"] for t in r["tags"]}} for r in data["runsOrError"]["results"]]

    def launch(self, job: str, tag: str) -> None:
        """Launch an unpartitioned job, as its page's Materialize button does, tagged to be found again."""
        launched = self.graphql(
            """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
            __typename ... on PythonError { message } } }""",
            params={
                "selector": {"repositoryLocationName": "chatsales", "repositoryName": "__repository__", "jobName": job},
                "executionMetadata": {"tags": [{"key": "test", "value": tag}]},
            },
        )["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched


def _wait(what: str, condition, timeout: float = TIMEOUT, every: float = 2.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _day_runs(runs: list[dict]) -> list[dict]:
    return [r for r in runs if "dagster/asset_partition_range_start" in r["tags"] or "dagster/partition" in r["tags"]]


def _first_wave(runs: list[dict]) -> list[dict]:
    """The day runs for the late data itself: every reason but Chat-Card-86's, which follows from them."""
    reasons = [{part.split(" (")[0] for part in r["tags"]["chatsales/late_data"].split(", ")} for r in runs]
    return [r for r, why in zip(_day_runs(runs), reasons) if why - {"sale_on_older_dialogue"}]


def _run_days(run: dict) -> list[date]:
    tags = run["tags"]
    if "dagster/partition" in tags:
        return [date.fromisoformat(tags["dagster/partition"])]
    first = date.fromisoformat(tags["dagster/asset_partition_range_start"])
    last = date.fromisoformat(tags["dagster/asset_partition_range_end"])
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def demo_env(tmp_path: Path, demo, first: date) -> dict:
    """The environment of the Dagster processes over a demo: a home, the demo's sources, a SQLite reporting DB."""
    return {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "PYTHONPATH": str(ROOT),
        "CHATSALES_HOME": str(tmp_path),
        "CHATSALES_START_DATE": str(first),
        "CHATSALES_CHAT_DB_URL": f"sqlite:///{demo.chat_db_path}",
        "CHATSALES_ORDERS_DIR": str(demo.orders_dir),
        "CHATSALES_STORE_SALES_DIR": str(demo.store_sales_dir),
        "CHATSALES_CAMPAIGNS_DIR": str(demo.campaigns_dir),
        "CHATSALES_REPORTING_DB_URL": f"sqlite:///{tmp_path / 'reporting.db'}",
        "CHATSALES_LATE_HORIZON_DAYS": "100000",
        "CHATSALES_SENSOR_INTERVAL_SECONDS": "5",
    }


@contextmanager
def dagster_processes(env: dict, logs: Path, instance_yaml: str = "dagster.yaml"):
    """dagster-webserver and dagster-daemon on 127.0.0.1 with `env` (its DAGSTER_HOME gets `instance_yaml`);
    yields the client once the code location is loaded, and stops both processes whatever happens."""
    home = Path(env["DAGSTER_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / instance_yaml, home / "dagster.yaml")
    port = _free_port()
    logs.mkdir(parents=True, exist_ok=True)
    processes = []
    try:

        def start(name: str, command: list[str]) -> None:
            processes.append(
                subprocess.Popen(
                    command,
                    cwd=ROOT,
                    env=env,
                    preexec_fn=_default_signals,
                    start_new_session=True,
                    stdout=open(logs / f"{name}.log", "w"),
                    stderr=subprocess.STDOUT,
                )
            )

        client = Dagster(f"http://127.0.0.1:{port}")

        def up():
            assert all(p.poll() is None for p in processes), (logs / "webserver.log").read_text()[-3000:]
            try:
                return requests.get(f"{client.url}/server_info", timeout=2).ok
            except requests.ConnectionError:
                return False

        # the webserver creates the instance's storage; the daemon starts once it exists (not both at once)
        start(
            "webserver",
            [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-w", str(ROOT / "workspace.yaml")],
        )
        _wait("the webserver", up, timeout=90, every=1)
        start("daemon", [str(BIN / "dagster-daemon"), "run", "-w", str(ROOT / "workspace.yaml")])

        def loaded():
            entries = client.graphql("""{ workspaceOrError { ... on Workspace { locationEntries {
                name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }""")
            entries = entries["workspaceOrError"]["locationEntries"]
            errors = [
                e["locationOrLoadError"]
                for e in entries
                if (e["locationOrLoadError"] or {}).get("__typename") == "PythonError"
            ]
            assert not errors, errors
            return entries and all(e["loadStatus"] == "LOADED" and e["locationOrLoadError"] for e in entries)

        _wait("the code location", loaded, timeout=90, every=1)
        yield client
    finally:
        for process in processes:
            _stop(process)


@pytest.fixture
def dagster(tmp_path, pg_url):
    """Webserver + daemon on a fresh PostgreSQL instance (the production set-up; the UI tour,
    test_dagster_ui_tour.py, runs them on the default SQLite one) and a small demo; yields (client, demo,
    reporting store)."""
    demo = generate_demo(tmp_path / "demo", FIRST, days=DAYS, scale=0.03, seed=8, withhold_late_store_file=True)
    env = {**demo_env(tmp_path, demo, FIRST), "DAGSTER_PG_URL": pg_url}
    with dagster_processes(env, tmp_path / "logs", "dagster-postgres.yaml") as client:
        yield client, demo, ReportingStore(env["CHATSALES_REPORTING_DB_URL"])


def _late_data(demo, store: ReportingStore) -> tuple[dict, set[date]]:
    """Write a late rating, the late store file and a refund; return the values before and the days hit."""
    rating_day = answer_a_rating_late(demo, FIRST, score=4)
    store_day, late_receipts = deliver_late_store_file(demo)
    refunded = refund_an_attributed_order(demo, store)
    kpis = store.read_table("kpi_daily")
    ratings_given = kpis[(kpis["kpi"] == "Chat-Card-72") & (kpis["dimension"] == "all") & (kpis["day"] == rating_day)][
        "value"
    ].iloc[0]
    before = {
        "rating_day": rating_day,
        "ratings_given": ratings_given,
        "refunded": refunded,
        "late_receipts": late_receipts,
    }
    return before, {rating_day, store_day, refunded["day"]}


def test_backfill_then_late_data_through_webserver_and_daemon(dagster):
    client, demo, store = dagster
    last = FIRST + timedelta(days=DAYS - 1)
    nodes = client.graphql("{ assetNodes { assetKey { path } isMaterializable isPartitioned } }")["assetNodes"]
    selection = [n["assetKey"]["path"] for n in nodes if n["isMaterializable"]]
    assert {"/".join(path) for path in selection} >= ASSETS, selection  # "materialize all", as in the UI
    launched = client.graphql(
        """mutation($params: LaunchBackfillParams!) {
        launchPartitionBackfill(backfillParams: $params) {
          __typename ... on LaunchBackfillSuccess { backfillId } ... on Error { message } } }""",
        params={
            "partitionNames": [str(FIRST + timedelta(days=n)) for n in range(DAYS)],
            "selector": {
                "partitionSetName": "daily_pipeline_partition_set",
                "repositorySelector": {"repositoryName": "__repository__", "repositoryLocationName": "chatsales"},
            },
        },
    )["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    backfill = launched["backfillId"]

    def backfill_done():
        status = client.graphql(
            """query($id: String!) { partitionBackfillOrError(backfillId: $id) {
            ... on PartitionBackfill { status } } }""",
            id=backfill,
        )["partitionBackfillOrError"]["status"]
        runs = client.runs("dagster/backfill", backfill)
        return (
            runs
            and status not in ("REQUESTED", "CANCELING")
            and all(r["status"] in ("SUCCESS", "FAILURE", "CANCELED") for r in runs)
            and (status, runs)
        )

    status, runs = _wait("the backfill", backfill_done)
    assert {r["status"] for r in runs} == {"SUCCESS"}, [client.failure(r["runId"]) for r in runs]
    ranged = [r for r in runs if "dagster/asset_partition_range_start" in r["tags"]]
    assert len(ranged) == 1 and _run_days(ranged[0]) == [FIRST + timedelta(days=n) for n in range(DAYS)]
    assert sorted(set(store.read_table("kpi_daily")["day"])) == [FIRST + timedelta(days=n) for n in range(DAYS)]
    assert set(store.read_table("product_daily")["day"]) <= {FIRST + timedelta(days=n) for n in range(DAYS)}
    assert len(store.read_table("product_daily")) > 0 and store.read_table("customer_segments").empty
    client.launch("customer_snapshots", "snapshots")  # the whole-history snapshots are their own job
    done = _wait(
        "the snapshots",
        lambda: (
            (rs := client.runs("test", "snapshots")) and rs[0]["status"] in ("SUCCESS", "FAILURE", "CANCELED") and rs[0]
        ),
    )
    assert done["status"] == "SUCCESS", client.failure(done["runId"])
    assert len(store.read_table("customer_segments")) > 0 and len(store.read_table("campaign_stats")) > 0
    assert client.runs("chatsales/trigger", "late_data") == []

    client.sensor(running=False)  # the late data lands at once, not between two ticks
    before, affected = _late_data(demo, store)
    client.sensor(running=True)

    def settled():
        runs = client.runs("chatsales/trigger", "late_data")
        finished = runs and all(r["status"] in ("SUCCESS", "FAILURE", "CANCELED") for r in runs)
        covered = {d for r in _first_wave(runs or []) for d in _run_days(r)} >= affected
        return finished and covered and runs

    _wait(f"the sensor's runs (the days hit: {sorted(affected)}, before: {before})", settled)
    time.sleep(12)  # two more ticks: a second wave (Chat-Card-86 of other days) may follow, then nothing
    runs = _wait(
        "the second wave",
        lambda: (
            (rs := client.runs("chatsales/trigger", "late_data"))
            and all(r["status"] in ("SUCCESS", "FAILURE", "CANCELED") for r in rs)
            and rs
        ),
    )
    assert all(r["status"] == "SUCCESS" for r in runs), runs
    extractions = [r for r in runs if r not in _day_runs(runs)]
    assert extractions and all(r["tags"]["chatsales/late_data"].startswith("changed: ") for r in extractions)
    first = _first_wave(runs)
    second = [r for r in _day_runs(runs) if r not in first]
    first_days = [d for r in first for d in _run_days(r)]
    assert sorted(first_days) == sorted(affected), [
        (r["tags"].get("dagster/run_key"), r["tags"]["chatsales/late_data"], r in first and _run_days(r)) for r in runs
    ]  # exactly those, each once
    second_days = [d for r in second for d in _run_days(r)]
    assert len(second_days) == len(set(second_days))

    kpis = store.read_table("kpi_daily")
    given = kpis[
        (kpis["kpi"] == "Chat-Card-72") & (kpis["dimension"] == "all") & (kpis["day"] == before["rating_day"])
    ]["value"].iloc[0]
    assert given == before["ratings_given"] + 1
    orders = store.read_table("attributed_orders")
    assert before["late_receipts"] <= set(orders.loc[orders["sales_channel"] == "store", "order_id"])
    refunded = orders[(orders["sales_channel"] == "web") & (orders["order_id"] == before["refunded"]["order_id"])]
    assert refunded["net_total"].tolist() == [0.0]
    ledger = store.read_table("attribution_ledger")
    late_runs = {r["runId"] for r in first}
    assert before["late_receipts"] <= set(
        ledger.loc[ledger["run_id"].isin(late_runs) & (ledger["change"] == "first"), "order_id"]
    )
    assert last in set(kpis["day"])
