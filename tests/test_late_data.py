"""The late-data sensor end to end in process: a published demo, then late data written into the sources
(a late rating, a late store file, a refund), the sensor's ticks, the runs it requests executed, and the
reporting database checked. The webserver + daemon version of this story is tests/test_e2e_dagster.py."""
from __future__ import annotations

from datetime import date

import dagster as dg
import pandas as pd
import pytest

from chatsales.demo import generate_demo
from chatsales.late_runs import plan_late_runs
from chatsales.settings import load_settings
from chatsales.watermarks import Watermarks, local_days
from pipelines.definitions import definitions_for
from pipelines.jobs import DAILY_JOB
from pipelines.partitions import range_tags
from pipelines.sensors import LATE_SENSOR, RANGE_END, RANGE_START, REASONS_TAG
from chatsales.reporting.store import ReportingDb as ReportingStore
from tests.late_arrivals import answer_a_rating_late, deliver_late_store_file, refund_an_attributed_order

FIRST, DAYS = date(2026, 5, 4), 10
TZ = "Europe/Paris"


def _kpi(store: ReportingStore, ref: str, day: date, column: str = "value") -> float:
    rows = store.read_table("kpi_daily", days=[day])
    row = rows[(rows["kpi"] == ref) & (rows["dimension"] == "all")]
    assert len(row) == 1, (ref, day)
    return float(row[column].iloc[0])


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    home = tmp_path_factory.mktemp("late")
    demo = generate_demo(home / "demo", FIRST, days=DAYS, scale=0.03, seed=5, withhold_late_store_file=True)
    settings = load_settings({
        "CHATSALES_HOME": str(home), "CHATSALES_START_DATE": str(FIRST),
        "CHATSALES_CHAT_DB_URL": f"sqlite:///{demo.chat_db_path}", "CHATSALES_ORDERS_DIR": str(demo.orders_dir),
        "CHATSALES_STORE_SALES_DIR": str(demo.store_sales_dir), "CHATSALES_CAMPAIGNS_DIR": str(demo.campaigns_dir),
        "CHATSALES_REPORTING_DB_URL": f"sqlite:///{home / 'reporting.db'}",
        "CHATSALES_LATE_HORIZON_DAYS": "100000",      # the demo lies in the past; the horizon is tested alone
    })
    defs = definitions_for(settings)
    instance = dg.DagsterInstance.ephemeral()
    last = date.fromordinal(FIRST.toordinal() + DAYS - 1)
    assert defs.resolve_job_def(DAILY_JOB).execute_in_process(instance=instance,
                                                              tags=range_tags(FIRST, last)).success
    return demo, settings, defs, instance, ReportingStore(settings.reporting_db_url)


def _tick(defs, instance, cursor):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs,
                                      resources=defs.resources)
    result = defs.get_repository_def().get_sensor_def(LATE_SENSOR)(context)
    return result, context.cursor if result is None else result.cursor


def _execute(defs, instance, requests):
    job = defs.resolve_job_def(DAILY_JOB)
    for request in requests:
        result = job.execute_in_process(instance=instance, partition_key=request.partition_key,
                                        asset_selection=request.asset_selection, tags=request.tags)
        assert result.success


def _request_days(request) -> list[date]:
    if request.partition_key:
        return [date.fromisoformat(request.partition_key)]
    first, last = (date.fromisoformat(request.tags[k]) for k in (RANGE_START, RANGE_END))
    return [d.date() for d in pd.date_range(first, last)]


def test_late_data_reruns_exactly_the_affected_days(world):
    demo, settings, defs, instance, store = world
    # first tick: records the watermarks, requests nothing; a second one with no new data neither
    result, cursor = _tick(defs, instance, None)
    assert not result.run_requests and "first tick" in result.skip_reason.skip_message
    result, cursor = _tick(defs, instance, cursor)
    assert not result.run_requests, result.skip_reason.skip_message

    # 1. a rating answered late: its request day's Chat-Card-72 goes up by one
    rating_day = answer_a_rating_late(demo, FIRST, score=5)
    given_before = _kpi(store, "Chat-Card-72", rating_day)      # published values change only when re-run
    # 2. the store file that was 3 days late arrives
    store_day, late_receipts = deliver_late_store_file(demo)
    # 3. an attributed web order is refunded a week later (a newer version in a new export file)
    refunded = refund_an_attributed_order(demo, store)
    net_before = _kpi(store, "Chat-Card-80-net", refunded["day"])

    result, cursor_after = _tick(defs, instance, cursor)
    requested_days = sorted(d for r in result.run_requests for d in _request_days(r))
    assert sorted(set(requested_days)) == sorted({rating_day, store_day, refunded["day"]}), requested_days
    assert len(requested_days) == len(set(requested_days))            # no day twice
    reasons = " ".join(r.tags[REASONS_TAG] for r in result.run_requests)
    assert "late_rating" in reasons and "store_file" in reasons and "order_file" in reasons
    # the same tick evaluated again (a retry) asks for the very same runs: run keys dedupe them
    again, _ = _tick(defs, instance, cursor)
    assert [r.run_key for r in again.run_requests] == [r.run_key for r in result.run_requests]

    _execute(defs, instance, result.run_requests)
    assert _kpi(store, "Chat-Card-72", rating_day) == given_before + 1
    published = store.read_table("attributed_orders")
    assert set(late_receipts) <= set(published.loc[published["sales_channel"] == "store", "order_id"])
    after = published.set_index(["sales_channel", "order_id"]).loc[("web", refunded["order_id"])]
    assert after["net_total"] == 0.0
    assert _kpi(store, "Chat-Card-80-net", refunded["day"]) == pytest.approx(net_before - refunded["net_total"])

    # second wave: the sales those runs added to (or took from) chatrooms established on a day whose KPI
    # rows were computed before (an older day, or a day of the wave that ran earlier): Chat-Card-86
    ledger = store.read_table("attribution_ledger")
    wave_runs = set(published.loc[published["day"].isin(requested_days), "run_id"])
    changed = ledger[ledger["run_id"].isin(wave_runs)]
    touched = pd.concat([changed[["old_chatroom_id", "changed_at"]].set_axis(["chatroom_id", "at"], axis=1),
                         changed[["new_chatroom_id", "changed_at"]].set_axis(["chatroom_id", "at"], axis=1)])
    rooms = store.read_table("fact_chatrooms").dropna(subset=["established_at"])
    touched = touched.dropna().merge(rooms[["chatroom_id", "established_at"]], on="chatroom_id")
    touched["established_day"] = local_days(touched["established_at"].astype(str), TZ).to_numpy()
    kpis = store.read_table("kpi_daily")
    computed = kpis[(kpis["kpi"] == "Chat-Card-86") & (kpis["dimension"] == "all")].set_index("day")["computed_at"]
    expected = set(touched.loc[touched["established_day"].map(computed) < touched["at"], "established_day"])
    # the late receipts enter the ledger as first seen; the refund keeps its chatroom, so it is no change
    assert set(late_receipts) <= set(changed.loc[changed["change"] == "first", "order_id"])
    assert refunded["order_id"] not in set(changed["order_id"])
    assert expected, "this demo has a late receipt on a dialogue established on another day"
    result, cursor = _tick(defs, instance, cursor_after)
    second = sorted(d for r in result.run_requests for d in _request_days(r))
    assert set(second) == expected and len(second) == len(expected)
    assert all(r.tags[REASONS_TAG].startswith("sale_on_older_dialogue") for r in result.run_requests)
    assert all(dg.AssetKey("chat_platform") not in r.asset_selection for r in result.run_requests)
    _execute(defs, instance, result.run_requests)
    # and then nothing more: each change was acted on once
    result, cursor = _tick(defs, instance, cursor)
    assert not result.run_requests, result.run_requests


def test_plan_respects_horizon_and_publication():
    changes = pd.DataFrame({"source": ["chat_platform"] * 4, "what": ["late_rating"] * 4,
                            "day": [date(2026, 1, 1), date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 9)],
                            "forward": False})
    published = {date(2026, 1, 1), date(2026, 3, 1), date(2026, 3, 2)}
    plan = plan_late_runs(changes, published, today=date(2026, 3, 10), horizon_days=30, tick="t")
    assert [r.days for r in plan.runs] == [(date(2026, 3, 1), date(2026, 3, 2))]
    assert plan.beyond_horizon == 1 and plan.not_published == 1
    assert plan.runs[0].why == "late_rating (2 days)"


def test_identity_link_reaches_every_later_published_day():
    changes = pd.DataFrame({"source": ["chat_platform"], "what": ["identity_link"], "day": [date(2026, 3, 5)],
                            "forward": True})
    published = {date(2026, 3, d) for d in range(1, 9)}
    plan = plan_late_runs(changes, published, today=date(2026, 3, 10), horizon_days=30, tick="t")
    assert [r.days for r in plan.runs] == [tuple(date(2026, 3, d) for d in range(5, 9))]


def test_cursor_round_trip_and_bad_cursor():
    marks = Watermarks(chat={"ratings.given_at": "2026-03-01 10:00:00"}, store_files={"a.csv": "ab"})
    assert Watermarks.from_json(marks.to_json()) == marks
    assert Watermarks.from_json(None) is None
    with pytest.raises(ValueError, match="cursor"):
        Watermarks.from_json('{"nope": 1}')


def test_reattribution_dry_run_then_publish(world):
    """The Launchpad job: a shorter window loses orders; the dry run reports it and writes nothing, the
    real run publishes it, with the ledger's changes and the same diff."""
    from pipelines.reattribution import REATTRIBUTE_JOB, REATTRIBUTE_OP

    demo, settings, defs, instance, store = world
    days = [FIRST + pd.Timedelta(days=n).to_pytimedelta() for n in range(DAYS)]
    before = store.read_table("attributed_orders")
    ledger_before = len(store.read_table("attribution_ledger"))
    # what a 1-day window must lose: attributed orders whose last message is more than a day before
    gap = before["placed_at"] - before["last_message_at"]
    expected_lost = int((before["attributed"] & (gap > pd.Timedelta(days=1))).sum())
    assert expected_lost > 0
    job = defs.resolve_job_def(REATTRIBUTE_JOB)
    config = {"ops": {REATTRIBUTE_OP: {"config": {"from_day": str(days[0]), "to_day": str(days[-1]),
                                                  "window_days": 1, "dry_run": True}}}}
    dry = job.execute_in_process(run_config=config, instance=instance)
    metadata = dry.output_for_node(REATTRIBUTE_OP)
    assert metadata["orders_lost"] == expected_lost and metadata["orders_gained"] == 0
    assert metadata["sales_delta"] < 0
    assert len(store.read_table("attribution_ledger")) == ledger_before          # nothing written
    pd.testing.assert_frame_equal(store.read_table("attributed_orders"), before)
    output = next(e for e in dry.all_events if e.event_type_value == "STEP_OUTPUT")
    assert output.event_specific_data.metadata["members"].value.startswith("| member_id | orders_gained |")

    config["ops"][REATTRIBUTE_OP]["config"]["dry_run"] = False
    real = job.execute_in_process(run_config=config, instance=instance)
    assert real.output_for_node(REATTRIBUTE_OP) == metadata
    ledger = store.read_table("attribution_ledger")
    new_rows = ledger[ledger["run_id"] == real.run_id]
    assert (new_rows["change"] == "lost").sum() == expected_lost and set(new_rows["window_days"]) == {1}
    after = store.read_table("attributed_orders")
    assert int(after["attributed"].sum()) == int(before["attributed"].sum()) - expected_lost
    # unchanged inputs, same window again: the ledger does not grow
    job.execute_in_process(run_config=config, instance=instance)
    assert len(store.read_table("attribution_ledger")) == len(ledger)
