"""The late-data sensor in process: a published demo, late data written into its sources (a late rating, a
store file three days late, a refund), the sensor's ticks and the runs they request; plus its plan alone, its
cursor, and the re-attribution job. The webserver + daemon version of the story is tests/test_e2e_dagster.py."""

from __future__ import annotations

import builtins
import json
import logging
import os
import re
import sqlite3
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from chatsales.demo import generate_demo
from chatsales.late_runs import plan_late_runs
from chatsales.reporting.store import ReportingDb
from pipelines.definitions import definitions_for
from pipelines.sensors import LATE_SENSOR, REASONS_TAG
from tests.late_arrivals import answer_a_rating_late, deliver_late_store_file, refund_an_attributed_order
from tests.nights import demo_sources, execute, run, settings_for, tick

FIRST, DAYS = date(2026, 5, 4), 10
LAST = FIRST + timedelta(days=DAYS - 1)
TZ = "Europe/Paris"


def _kpi(db: ReportingDb, ref: str, day: date, column: str = "value") -> float:
    rows = db.read_table("kpi_daily", days=[day])
    row = rows[(rows["kpi"] == ref) & (rows["dimension"] == "all")]
    assert len(row) == 1, (ref, day)
    return float(row[column].iloc[0])


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    home = tmp_path_factory.mktemp("late")
    demo = generate_demo(home / "demo", FIRST, days=DAYS, scale=0.03, seed=5, withhold_late_store_file=True)
    settings = settings_for(home, demo_sources(demo), CHATSALES_LATE_HORIZON_DAYS="100000")  # the demo is past
    defs = definitions_for(settings)
    instance = dg.DagsterInstance.ephemeral()
    run(defs, instance, first=FIRST, last=LAST)
    return demo, settings, defs, instance


def _tick_logged(defs, instance, cursor):
    """One tick of the sensor, as the daemon runs it, with the lines its log shows on the sensor's page."""
    lines = []
    handler = logging.Handler(level=logging.INFO)
    handler.emit = lambda record: lines.append(record.getMessage())
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, definitions=defs, resources=defs.resources
    ) as context:
        context.log.addHandler(handler)
        result = defs.get_repository_def().get_sensor_def(LATE_SENSOR)(context)
    return result, result.cursor, lines


def _request_days(request) -> list[date]:
    first = date.fromisoformat(request.tags["dagster/asset_partition_range_start"])
    last = date.fromisoformat(request.tags["dagster/asset_partition_range_end"])
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def test_late_data_reruns_exactly_the_affected_days(world, monkeypatch):
    demo, settings, defs, instance = world
    db = ReportingDb(settings.reporting_db_url)
    # nothing new: the tick reads no file content and asks for nothing; its cursor is small
    real_open = builtins.open
    sources = [str(Path(p).resolve()) for p in (demo.orders_dir, demo.store_sales_dir, demo.campaigns_dir)]

    def no_source_content(file, *args, **kwargs):
        assert not str(Path(file).resolve()).startswith(tuple(sources)), f"the tick read {file}"
        return real_open(file, *args, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(builtins, "open", no_source_content)
        result, cursor = tick(defs, instance, None)
    assert not result.run_requests, result.skip_reason
    assert len(cursor) < 200 and set(json.loads(cursor)) == {"lake_seq", "ledger", "moved"}

    rating_day = answer_a_rating_late(demo, FIRST, score=5)
    given_before = _kpi(db, "Chat-Card-72", rating_day)
    store_day, late_receipts = deliver_late_store_file(demo)
    refunded = refund_an_attributed_order(demo, db)
    net_before = _kpi(db, "Chat-Card-80-net", refunded["day"])

    # 1. the sources moved: one extraction run, nothing published yet
    result, cursor = tick(defs, instance, cursor)
    assert [r.job_name for r in result.run_requests] == ["extract_sources"]
    assert result.run_requests[0].tags[REASONS_TAG] == "changed: chat_platform, store_sales, web_orders"
    execute(defs, instance, result.run_requests[0])
    assert _kpi(db, "Chat-Card-72", rating_day) == given_before
    # a source moves again while those changes wait: the tick reads it first and plans the days after
    touched = min(Path(demo.store_sales_dir).glob("*.csv"))
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    result, cursor = tick(defs, instance, cursor)
    assert [r.job_name for r in result.run_requests] == ["extract_sources"]
    assert result.run_requests[0].tags[REASONS_TAG] == "changed: store_sales"
    execute(defs, instance, result.run_requests[0])

    # 2. the days those changes affect, each once, each run saying why
    result, cursor, lines = _tick_logged(defs, instance, cursor)
    # the sensor's page reads like a log: what the sources did, then each run with its days and reasons
    assert lines[0] == "no source changed since its last read"
    for request in result.run_requests:
        first, last = (request.tags[f"dagster/asset_partition_range_{end}"] for end in ("start", "end"))
        label = first if first == last else f"{first}..{last}"
        assert f"{label} [{request.tags[REASONS_TAG]}]" in lines[1], lines
    days = sorted(d for r in result.run_requests for d in _request_days(r))
    assert {r.job_name for r in result.run_requests} == {"daily_pipeline"}
    assert set(days) == {rating_day, store_day, refunded["day"]} and len(days) == len(set(days)), days
    reasons = " ".join(r.tags[REASONS_TAG] for r in result.run_requests)
    assert "late_rating" in reasons and "new_receipt" in reasons and "order_update" in reasons
    again, _ = tick(defs, instance, cursor)  # a retried tick asks for the very same runs
    assert [r.run_key for r in again.run_requests] == [r.run_key for r in result.run_requests]
    for request in result.run_requests:
        assert dg.AssetKey("chat_platform") not in request.asset_selection  # the sources were read already
        execute(defs, instance, request)
    assert _kpi(db, "Chat-Card-72", rating_day) == given_before + 1
    published = db.read_table("attributed_orders")
    assert set(late_receipts) <= set(published.loc[published["sales_channel"] == "store", "order_id"])
    after = published.set_index(["sales_channel", "order_id"]).loc[("web", refunded["order_id"])]
    assert after["net_total"] == 0.0
    assert _kpi(db, "Chat-Card-80-net", refunded["day"]) == pytest.approx(net_before - refunded["net_total"])

    # 3. then only the days whose dialogues the new receipts credited (Chat-Card-86), then nothing
    result, cursor = tick(defs, instance, cursor)
    assert result.run_requests, "this demo has a late receipt on a dialogue established on another day"
    assert all(r.tags[REASONS_TAG].startswith("sale_on_older_dialogue") for r in result.run_requests)
    for request in result.run_requests:
        execute(defs, instance, request)
    result, cursor, lines = _tick_logged(defs, instance, cursor)
    assert not result.run_requests, result.run_requests
    # the days the changes touched are named as left alone, with the reason
    rerun = ", ".join(map(str, sorted({rating_day, store_day, refunded["day"]})))
    assert result.skip_reason.skip_message == (
        "no source changed since its last read; nothing to re-run; 3 days "
        f"already computed after the change left alone: {rerun}"
    )
    assert lines[1].endswith(result.skip_reason.skip_message.split("; ", 1)[1])
    db.dispose()


def test_plan_respects_horizon_publication_and_what_was_computed_after():
    changes = pd.DataFrame(
        {
            "seq": [5, 6, 7, 8],
            "what": ["late_rating"] * 4,
            "first_day": [date(2026, 1, 1), date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 9)],
            "last_day": [date(2026, 1, 1), date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 9)],
        }
    )
    published = pd.DataFrame(
        {"day": [date(2026, 1, 1), date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)], "lake_seq": [0, 0, 4, 9]}
    )
    no_ledger = pd.DataFrame({"what": pd.Series(dtype="str"), "day": pd.Series(dtype="object")})
    plan = plan_late_runs(changes, published, no_ledger, today=date(2026, 3, 10), horizon_days=30)
    assert [r.days for r in plan.runs] == [(date(2026, 3, 1), date(2026, 3, 2))]
    assert plan.beyond_horizon == 1 and plan.not_published == 1
    assert plan.summary() == (
        "re-run 2026-03-01..2026-03-02 [late_rating (2 days)]; 1 day beyond the late horizon "
        "left alone: 2026-01-01; 1 day not published yet (the schedule's or a backfill's) left "
        "alone: 2026-03-09"
    )
    assert plan.runs[0].why == "late_rating (2 days)"
    # a span reaches every published day in it; a day computed from a newer change is up to date
    span = pd.DataFrame(
        {"seq": [7], "what": ["message_before_orders"], "first_day": [date(2026, 3, 1)], "last_day": [date(2026, 3, 5)]}
    )
    plan = plan_late_runs(span, published, no_ledger, today=date(2026, 3, 10), horizon_days=30)
    assert [r.days for r in plan.runs] == [(date(2026, 3, 1), date(2026, 3, 2))] and plan.up_to_date == 1
    assert "1 day already computed after the change left alone: 2026-03-03" in plan.summary()


def test_reattribution_dry_run_then_publish(world):
    """The Launchpad job: a shorter window loses orders; the dry run reports it (rounded to cents, members
    named, the changed orders listed) and writes nothing but its list of changes; the real run publishes it."""
    from pipelines.reattribution import REATTRIBUTE_JOB, REATTRIBUTE_OP

    demo, settings, defs, instance = world
    db = ReportingDb(settings.reporting_db_url)
    before = db.read_table("attributed_orders")
    ledger_before = len(db.read_table("attribution_ledger"))
    gap = before["placed_at"] - before["last_message_at"]
    expected_lost = int((before["attributed"] & (gap > pd.Timedelta(days=1))).sum())
    assert expected_lost > 0
    job = defs.resolve_job_def(REATTRIBUTE_JOB)
    config = {
        "ops": {
            REATTRIBUTE_OP: {"config": {"from_day": str(FIRST), "to_day": str(LAST), "window_days": 1, "dry_run": True}}
        }
    }
    dry = job.execute_in_process(run_config=config, instance=instance)
    summary = dry.output_for_node(REATTRIBUTE_OP)
    assert summary["orders_lost"] == expected_lost and summary["orders_gained"] == 0
    assert summary["sales_delta"] < 0 and summary["sales_delta"] == round(summary["sales_delta"], 2)
    assert len(db.read_table("attribution_ledger")) == ledger_before  # nothing published
    pd.testing.assert_frame_equal(db.read_table("attributed_orders"), before)
    changes = db.read_table("reattribution_changes")
    mine = changes[changes["run_id"] == dry.run_id]
    assert (mine["change"] == "lost").sum() == expected_lost and mine["dry_run"].all()
    output = next(e for e in dry.all_events if e.event_type_value == "STEP_OUTPUT")
    metadata = output.event_specific_data.metadata
    # the counts are numbers the run page shows; the tables name members and show amounts with two decimals
    assert metadata["orders_lost"] == dg.IntMetadataValue(expected_lost)
    assert isinstance(metadata["sales_delta"], dg.FloatMetadataValue)
    with sqlite3.connect(demo.chat_db_path) as chat:  # the names, read from the source
        people = pd.read_sql("select first_name, last_name from members", chat)
    names = set(people["first_name"] + " " + people["last_name"])
    members = _markdown_rows(metadata["members"].value)
    assert list(members[0][:2]) == ["member_id", "name"] and {row[1] for row in members[2:]} <= names
    assert all(re.fullmatch(r"-?[\d,]+\.\d\d", v) for row in members[2:] for v in row[4:])
    changed = _markdown_rows(metadata["changed_orders"].value)
    header = changed[0]
    assert header == [
        "order_id",
        "sales_channel",
        "day",
        "change",
        "old_chatroom_id",
        "old_member",
        "new_chatroom_id",
        "new_member",
        "old_reason",
        "new_reason",
        "total",
    ]
    lost = [dict(zip(header, row)) for row in changed[2:]]
    assert len(lost) == min(expected_lost, 50) and {r["change"] for r in lost} == {"lost"}
    assert all(r["old_member"] in names and r["new_member"] == "" and r["new_reason"] == "outside_window" for r in lost)
    stored = mine.set_index("order_id")
    assert all(
        float(r["total"].replace(",", "")) == round(stored.loc[r["order_id"], "total"], 2)
        and r["old_chatroom_id"] == stored.loc[r["order_id"], "old_chatroom_id"]
        for r in lost
    )

    config["ops"][REATTRIBUTE_OP]["config"]["dry_run"] = False
    real = job.execute_in_process(run_config=config, instance=instance)
    assert real.output_for_node(REATTRIBUTE_OP) == summary
    ledger = db.read_table("attribution_ledger")
    new_rows = ledger[ledger["run_id"] == real.run_id]
    assert (new_rows["change"] == "lost").sum() == expected_lost and set(new_rows["window_days"]) == {1}
    assert (
        int(db.read_table("attributed_orders")["attributed"].sum()) == int(before["attributed"].sum()) - expected_lost
    )
    job.execute_in_process(run_config=config, instance=instance)  # unchanged: the ledger does not grow
    assert len(db.read_table("attribution_ledger")) == len(ledger)
    db.dispose()


def _markdown_rows(table: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines() if line.startswith("|")
    ]


def test_a_long_list_of_changes_is_capped_with_the_count_of_the_rest():
    from pipelines.reattribution import SHOWN, _markdown

    frame = pd.DataFrame({"order_id": [f"{n:05d}" for n in range(SHOWN + 7)], "total": 1234.5})
    text = _markdown(frame, "changed orders")
    rows = _markdown_rows(text)
    assert len(rows) == 2 + SHOWN and rows[2] == ["00000", "1,234.50"]  # ids kept as stored
    assert text.endswith("…and 7 more changed orders (all of them: table reattribution_changes)")
    assert _markdown(frame.head(0), "changed orders") == "No changed orders."


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"window_days": -3}, "re-attribution: window_days=-3: must be at least 1"),
        ({"from_day": str(LAST), "to_day": str(FIRST)}, f"re-attribution: to_day {FIRST} is before from_day {LAST}"),
        ({"from_day": "May 4th"}, "re-attribution: from_day='May 4th', to_day='2026-05-13': use dates as YYYY-MM-DD"),
        ({"to_day": "2999-01-01"}, "re-attribution: to_day 2999-01-01 is not a complete day yet (today is "),
    ],
)
def test_bad_reattribution_config_is_refused_before_launch_in_one_line(world, change, problem):
    """The job's config mapping refuses a bad range or window when the run is launched (the UI's Launch button
    runs it in the code server): no run is created, the error is one line. The op's config refuses the same
    values itself (pydantic: ge=1, a validator), for any other way in."""
    from pydantic import ValidationError

    from pipelines.reattribution import REATTRIBUTE_JOB, REATTRIBUTE_OP, ReattributeConfig

    _, _, defs, instance = world
    config = {"from_day": str(FIRST), "to_day": str(LAST), "window_days": 14, "dry_run": True, **change}
    run_config = {"ops": {REATTRIBUTE_OP: {"config": config}}}
    job = defs.resolve_job_def(REATTRIBUTE_JOB)
    with pytest.raises(dg.DagsterInvalidConfigError) as refused:
        dg.validate_run_config(job, run_config)
    assert str(refused.value).startswith(problem) and "\n" not in str(refused.value)
    runs_before = len(instance.get_runs(dg.RunsFilter(job_name=REATTRIBUTE_JOB)))
    with pytest.raises(dg.DagsterInvalidConfigError, match="^re-attribution: "):
        job.execute_in_process(run_config=run_config, instance=instance)
    assert len(instance.get_runs(dg.RunsFilter(job_name=REATTRIBUTE_JOB))) == runs_before
    if "to_day" not in change or "2999" not in change["to_day"]:  # the date of today is the launch's
        with pytest.raises(ValidationError, match=next(iter(change))):
            ReattributeConfig(**config)


def test_the_launchpad_opens_on_a_valid_config():
    """The job's config mapping keeps the Launchpad's pre-filled range (the last 30 complete days) and the
    in-process executor."""
    from pipelines.definitions import defs
    from pipelines.reattribution import REATTRIBUTE_JOB, REATTRIBUTE_OP

    resolved = dg.validate_run_config(defs.resolve_job_def(REATTRIBUTE_JOB), {})
    config = resolved["ops"][REATTRIBUTE_OP]["config"]
    first, last = date.fromisoformat(config["from_day"]), date.fromisoformat(config["to_day"])
    assert (last - first).days == 29 and config["dry_run"] is True and config["window_days"] == 14
    assert list(resolved["execution"]) == ["in_process"]
