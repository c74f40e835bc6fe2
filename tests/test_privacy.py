"""Privacy: a demo pipeline run through Dagster, then every table of the reporting database and everything
the run left in the Dagster instance (event log records with their metadata, the run record, the job
snapshot with its resource config, the console output) scanned for the customers' raw emails, names and
phone numbers, and for the secrets (Shopify token, database password, email-hash key).

The demo has emails (chat visitors, orders, receipts, campaign clicks) but no customer names or phones, so
every order line of the test's copy also carries a customer name and a phone number, as real exports do:
fields outside the contract must be dropped, never published. Member (agent) names are published on
purpose (member_daily, the Chat-List-1 columns of outputs.md), so they are not customer data here.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa
from dagster._serdes import serialize_value

from chatsales.demo import generate_demo
from chatsales.settings import load_settings
from pipelines.definitions import definitions_for
from pipelines.jobs import DAILY_JOB
from pipelines.partitions import range_tags

FIRST, DAYS = date(2026, 3, 9), 4
TOKEN = "shpat_privacy_test_token_4242"
PASSWORD = "pg-secret-pw-8311"
PII_KEY = "pii-key-secret-5150"


def _customer(n: int) -> tuple[str, str]:
    return f"Jeanne Zorglub{n:05d}", f"+33 6 {n % 100:02d} 45 {n % 97:02d} 1{n % 10}"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("privacy")
    manifest = generate_demo(out / "data", FIRST, days=DAYS, scale=0.02, seed=3)
    for file in sorted(Path(manifest.orders_dir).glob("*.jsonl")):
        records = [json.loads(line) for line in file.read_text().splitlines() if line.strip()]
        for record in records:
            name, phone = _customer(int(record["order_id"]))
            record.update(customer_name=name, phone=phone, shipping={"name": name, "phone": phone})
        # one order per file with an email in the wrong field: a reject whose reason must not quote it
        bad = dict(records[0], order_id=f"9{records[0]['order_id']}", status=f"wrong.field{len(records)}@example.net")
        file.write_text("".join(json.dumps(r) + "\n" for r in [*records, bad]))
    return manifest


def _raw_personal_data(demo) -> dict[str, set[str]]:
    """The raw personal data of the demo, read from its files and chat database without the pipeline."""
    with sqlite3.connect(demo.chat_db_path) as conn:
        visitors = pd.read_sql("select email from visitors where email is not null", conn)["email"]
    orders = [
        json.loads(line)
        for f in sorted(Path(demo.orders_dir).glob("*.jsonl"))
        for line in f.read_text().splitlines()
        if line.strip()
    ]
    receipts = pd.concat(
        [pd.read_csv(f, dtype=str, keep_default_na=False) for f in sorted(Path(demo.store_sales_dir).glob("*.csv"))]
    )
    clicks = pd.read_csv(Path(demo.campaigns_dir) / "campaign_clicks.csv", dtype=str)["email"]
    emails = {
        *visitors,
        *(o["email"] for o in orders if o.get("email")),
        *receipts["customer_email"],
        *clicks,
        *(o["status"] for o in orders if "@" in o["status"]),
    }
    emails = {e.strip().lower() for e in emails if e and e.strip()}
    return {
        "emails": emails,
        "names": {o["customer_name"].lower() for o in orders},
        "phones": {o["phone"].lower() for o in orders},
    }


def _home_texts(folder: Path) -> dict[str, str]:
    """Every file under `folder` as text: Parquet and SQLite decoded (their bytes are compressed or paged)."""
    import pyarrow.parquet as pq

    texts = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            texts[str(path)] = pq.read_table(path).to_pandas().astype(str).to_csv(index=False).lower()
        elif path.suffix in (".sqlite", ".db"):
            with sqlite3.connect(path) as conn:
                texts[str(path)] = "\n".join(conn.iterdump()).lower()
        else:
            texts[str(path)] = path.read_bytes().decode("utf-8", errors="ignore").lower()
    return texts


def _found(texts: dict[str, str], needles: set[str]) -> dict[str, list[str]]:
    hits = {}
    for where, text in texts.items():
        found = sorted(n for n in needles if n in text)
        if found:
            hits[where] = found[:5]
    return hits


def test_no_personal_data_or_secret_leaves_the_pipeline(demo, pg_url, tmp_path, monkeypatch, capfd):
    """Checked by removal: with `customer_hash` set to the normalised email in
    chatsales/publication.attributed_order_rows, the reporting-database scan finds the emails; with a
    `preview` of the first rows added to the metadata in assets_defs/sources._publish, the event-log scan
    finds them; with ReportingDatabase(url=...) given the URL text instead of dg.EnvVar (before
    pipelines.definitions._db_url), the job snapshot holds the PostgreSQL password and the secrets scan fails:
    this test found that gap; likewise with `_secret` returning the token text instead of dg.EnvVar."""
    reporting_url = sa.make_url(pg_url).set(password=PASSWORD).render_as_string(hide_password=False)
    environ = {
        "CHATSALES_HOME": str(tmp_path / "home"),
        "CHATSALES_START_DATE": str(demo.first_day),
        "CHATSALES_CHAT_DB_URL": f"sqlite:///{demo.chat_db_path}",
        "CHATSALES_ORDERS_DIR": str(demo.orders_dir),
        "CHATSALES_STORE_SALES_DIR": str(demo.store_sales_dir),
        "CHATSALES_CAMPAIGNS_DIR": str(demo.campaigns_dir),
        "CHATSALES_REPORTING_DB_URL": reporting_url,
        "CHATSALES_PII_KEY": PII_KEY,
        "SHOPIFY_TOKEN": TOKEN,
        "CHATSALES_REJECT_THRESHOLD": "0.1",  # the run has rejects (an email in the wrong field) and publishes
    }
    for name, value in environ.items():  # dg.EnvVar reads the process environment
        monkeypatch.setenv(name, value)
    settings = load_settings(environ)
    job = definitions_for(settings).resolve_job_def(DAILY_JOB)
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        result = job.execute_in_process(instance=instance, tags=range_tags(demo.first_day, demo.last_day))
        assert result.success
        run = instance.get_run_by_id(result.run_id)
        dagster_texts = {
            f"event {n} {e.dagster_event_type}": serialize_value(e).lower()
            for n, e in enumerate(instance.all_logs(result.run_id))
        }
        dagster_texts["run record"] = serialize_value(run).lower()
        dagster_texts["job snapshot"] = serialize_value(instance.get_job_snapshot(run.job_snapshot_id)).lower()
        dagster_texts["execution plan"] = serialize_value(
            instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
        ).lower()
    out, err = capfd.readouterr()
    dagster_texts["console"] = (out + err).lower()
    # the run did publish, with hashes in place of the addresses
    engine = sa.create_engine(pg_url)
    with engine.connect() as conn:
        tables = {t: pd.read_sql(sa.text(f'SELECT * FROM "{t}"'), conn) for t in sa.inspect(conn).get_table_names()}
    engine.dispose()
    assert {"attributed_orders", "kpi_daily", "member_daily", "rejects", "fact_streams"} <= set(tables)
    from chatsales.reporting.store import ReportingDb

    with ReportingDb(pg_url) as db:  # the facts, decoded from their streams
        tables.update({f"facts.{name}": frame for name, frame in db.read_facts().items()})
    tables.pop("fact_streams")
    files = _home_texts(tmp_path / "home") | _home_texts(tmp_path / "dagster")  # the Dagster home too
    assert any(name.endswith(".parquet") for name in files) and any("catalog.sqlite" in n for n in files)
    assert tables["rejects"]["reason"].str.startswith("status: unknown value 'xxxxx").sum() == len(
        list(Path(demo.orders_dir).glob("*.jsonl"))
    )  # one per file: the run has rejects
    orders = tables["attributed_orders"]
    assert len(orders) > 40 and orders["customer_hash"].notna().sum() > 20
    assert len(dagster_texts) > 100 and any("asset_materialization" in k.lower() for k in dagster_texts)

    personal = _raw_personal_data(demo)
    assert len(personal["emails"]) > 50 and len(personal["names"]) > 40
    db_texts = {table: frame.astype(str).to_csv(index=False).lower() for table, frame in tables.items()}
    for kind, needles in personal.items():
        assert _found(db_texts, needles) == {}, f"{kind} in the reporting database"
        assert _found(files, needles) == {}, f"{kind} in a file under CHATSALES_HOME (the lake, the catalog)"
        assert _found(dagster_texts, needles) == {}, f"{kind} in the Dagster instance or console"
    secrets = {TOKEN.lower(), PASSWORD.lower(), PII_KEY.lower()}
    assert _found(dagster_texts, secrets) == {}, "a secret in the Dagster instance or console"
    assert _found(db_texts, secrets) == {}, "a secret in the reporting database"
    assert orders["customer_hash"].dropna().str.fullmatch(r"[0-9a-f]{64}").all()
    # the resources name the secrets by their environment variable, as the UI shows them
    snapshot = dagster_texts["job snapshot"]
    assert "shopify_token" in snapshot and "chatsales_pii_key" in snapshot


def _demo_emails(home: Path) -> set[str]:
    """Every email of a CLI demo's sources, read without the pipeline."""
    demo = home / "demo"
    with sqlite3.connect(demo / "chat.db") as conn:
        visitors = pd.read_sql("select email from visitors where email is not null", conn)["email"]
    orders = [
        json.loads(line)
        for f in sorted((demo / "orders").glob("*.jsonl"))
        for line in f.read_text().splitlines()
        if line.strip()
    ]
    receipts = pd.concat(
        [pd.read_csv(f, dtype=str, keep_default_na=False) for f in sorted((demo / "store_sales").glob("*.csv"))]
    )["customer_email"]
    clicks = pd.read_csv(demo / "campaigns" / "campaign_clicks.csv", dtype=str)["email"]
    found = {
        *visitors,
        *(o.get("email") or "" for o in orders),
        *(o.get("status") or "" for o in orders),
        *receipts,
        *clicks,
    }
    return {e.strip().lower() for e in found if "@" in str(e)}


def test_the_cli_and_every_file_of_both_homes_hold_no_email_or_password(pg_url, tmp_path):
    """`chatsales demo`, a `backfill` that reads rejects with an email in the wrong field, and `kpis` (text and
    JSON, and its error on a database with nothing published), with the reporting database in PostgreSQL
    behind a password: their output, every file under CHATSALES_HOME but the demo's own sources (the lake,
    its catalog, the Dagster home with its run storage and compute logs) hold no customer email and never the
    password. Seen before the fix (issue 17): a reject's reason quoted the raw value, so the email reached the
    rejects table, stderr, the event log and the compute logs."""
    from tests.test_never_worse import run_cli

    password = "pg-secret-pw-6022"
    url = sa.make_url(pg_url).set(password=password).render_as_string(hide_password=False)
    home = tmp_path / "home"
    outputs = []
    demo = run_cli(["demo", "--days", "4", "--scale", "0.02"], home, CHATSALES_REPORTING_DB_URL=url)
    assert demo.returncode == 0, demo.stderr[-3000:]
    outputs.append(demo.stdout + demo.stderr)
    info = json.loads((home / "demo" / "manifest.json").read_text())
    first, last = info["first_day"], info["last_day"]
    file = sorted((home / "demo" / "orders").glob("orders-*.jsonl"))[-1]
    order = json.loads(file.read_text().splitlines()[0])
    with file.open("a") as out:
        out.write(json.dumps(dict(order, order_id="990001", status="misplaced.person@example.net")) + "\n")
    backfill = run_cli(
        ["backfill", "--from", first, "--to", last],
        home,
        CHATSALES_REPORTING_DB_URL=url,
        CHATSALES_REJECT_THRESHOLD="0.1",
    )
    assert backfill.returncode == 0, backfill.stdout[-2000:] + backfill.stderr[-3000:]
    assert "1 rows rejected" in backfill.stderr and "first reasons: status: unknown value 'xxxxxxxx" in backfill.stderr
    outputs.append(backfill.stdout + backfill.stderr)
    for extra in ([], ["--json"]):
        kpis = run_cli(["kpis", "--from", first, "--to", last, *extra], home, CHATSALES_REPORTING_DB_URL=url)
        assert kpis.returncode == 0, kpis.stderr[-3000:]
        outputs.append(kpis.stdout + kpis.stderr)
    empty = sa.make_url(url).set(database="postgres").render_as_string(hide_password=False)
    nothing = run_cli(["kpis", "--from", first, "--to", last], tmp_path / "other", CHATSALES_REPORTING_DB_URL=empty)
    outputs.append(nothing.stdout + nothing.stderr)

    emails = _demo_emails(home)
    assert "misplaced.person@example.net" in emails and len(emails) > 50
    files = {k: v for k, v in _home_texts(home).items() if not k.startswith(str(home / "demo"))}
    assert any("compute_logs" in name or "storage" in name for name in files), sorted(files)[:20]
    texts = {**files, **{f"output {n}": text.lower() for n, text in enumerate(outputs)}}
    assert _found(texts, emails) == {}
    assert _found(texts, {password}) == {}
    engine = sa.create_engine(pg_url)
    with engine.connect() as conn:
        reasons = pd.read_sql(sa.text("select reason from rejects"), conn)["reason"]
    engine.dispose()
    assert reasons.tolist() == ["status: unknown value 'xxxxxxxxx.xxxxxx@xxxxxxx.xxx'"]
